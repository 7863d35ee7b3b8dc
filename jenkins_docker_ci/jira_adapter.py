"""How jdci talks to JIRA: the `jira` client, jdci's own retries, and status codes turned into meaning.

The client is built lazily with its own retries off (`max_retries=0`: it would sleep twice the Retry-After,
never retries 502/504 and crashes on an HTTP-date Retry-After) and without the server-info round trip; every
call goes through http.with_retries (429/502/503/504 and connection errors, Retry-After in seconds or as a
date, bounded by [jira] timeout). Afterwards: 401 -> ConfigError naming the variables (never their values),
403 -> ConfigError (the jdci user lacks a permission), still failing or 5xx -> ServiceError (exit 4), other
4xx -> JiraRefused for the caller to interpret (404 = no such ticket, 400 on a transition = not available).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from .config import JiraConfig, Secrets
from .errors import ConfigError, ServiceError
from .http import RETRY_STATUSES, retry_after_seconds, with_retries

if TYPE_CHECKING:
    import jira

T = TypeVar("T")
SERVICE = "JIRA"
COMMENT_PAGE = 100
MAX_COMMENT_PAGES = 50  # 5,000 comments on one ticket is far beyond any real PR ticket


class JiraRefused(Exception):
    """JIRA answered a 4xx other than 401/403/429: an answer about the object, for the caller to judge."""

    def __init__(self, status: int, messages: list[str]) -> None:
        super().__init__(f"HTTP {status}: {'; '.join(messages) or 'no details'}")
        self.status = status
        self.messages = messages


@dataclass
class Ticket:
    key: str
    summary: str
    status: str
    status_category: str  # "new" | "indeterminate" | "done"
    issue_type: str
    project: str
    fix_versions: list[str] = field(default_factory=list)
    resource: Any = None  # the client's Issue, for writes that need it


@dataclass(frozen=True)
class Transition:
    id: str
    name: str
    to: str  # status name


@dataclass
class Comment:
    id: str
    body: str
    resource: Any = None


def _messages(exc: Any) -> list[str]:
    """JIRA's errorMessages + errors, from a JIRAError (never its str(): that can include request headers)."""
    response = getattr(exc, "response", None)
    try:
        data = response.json() if response is not None else {}
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        return []
    found = [str(m) for m in data.get("errorMessages") or []]
    found += [f"{k}: {v}" for k, v in (data.get("errors") or {}).items()]
    return found


def _retry_on(exc: BaseException) -> float | None:
    import requests
    from jira import JIRAError

    if isinstance(exc, JIRAError) and exc.status_code in RETRY_STATUSES:
        headers = exc.response.headers if exc.response is not None else {}
        return retry_after_seconds(headers.get("Retry-After")) or 0.0
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return 0.0
    return None


class JiraAdapter:
    def __init__(self, config: JiraConfig, secrets: Secrets) -> None:
        self.config = config
        self.secrets = secrets
        self.url = config.url.rstrip("/")
        self._client: "jira.JIRA | None" = None
        self._deployment_known = config.deployment != "auto"

    # -- plumbing ------------------------------------------------------------------------------------------
    @property
    def auth_hint(self) -> str:
        if self.secrets.jira_user:
            return f"JIRA_USER ({self.secrets.jira_user!r}) + JIRA_TOKEN, sent as HTTP Basic"
        return "JIRA_TOKEN, sent as a Bearer token (set JIRA_USER too for Basic auth)"

    @property
    def client(self) -> "jira.JIRA":
        if self._client is None:
            if not self.url:
                raise ConfigError("[jira] url is not set; set it in jdci.toml to link tickets")
            if not self.secrets.jira_token:
                raise ConfigError("JIRA_TOKEN is not set; export JIRA_TOKEN (Bearer) or JIRA_USER + JIRA_TOKEN "
                                  "(Basic) so jdci can reach JIRA")
            import jira

            auth: dict[str, Any] = ({"basic_auth": (self.secrets.jira_user, self.secrets.jira_token)}
                                    if self.secrets.jira_user else {"token_auth": self.secrets.jira_token})
            self._client = jira.JIRA(self.url, max_retries=0, get_server_info=False,
                                     timeout=min(10.0, max(self.config.timeout, 1.0)), **auth)
            if self.config.deployment == "cloud":
                self._client.deploymentType = "Cloud"
        return self._client

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one JIRA operation with retries; turn the final failure into meaning (see the module doc)."""
        from jira import JIRAError

        try:
            return with_retries(fn, service=SERVICE, what=what, deadline=self.config.timeout, retry_on=_retry_on)
        except ServiceError as exc:
            raise ServiceError(SERVICE, f"{exc}; is JIRA up at {self.url}?") from None
        except JIRAError as exc:
            status = exc.status_code or 0
            detail = "; ".join(_messages(exc))
            if status == 401:
                raise ConfigError(f"JIRA at {self.url} refused the credentials (HTTP 401) for {what}; check "
                                  f"{self.auth_hint}") from None
            if status == 403:
                raise ConfigError(f"JIRA at {self.url} denied {what} (HTTP 403{': ' + detail if detail else ''}); "
                                  f"give the JIRA user of {self.auth_hint.split(',')[0]} that permission") from None
            if status >= 500 or status == 0:
                raise ServiceError(SERVICE, f"JIRA at {self.url} failed {what} (HTTP {status or '?'}"
                                            f"{': ' + detail if detail else ''})") from None
            raise JiraRefused(status, _messages(exc)) from None

    # -- reads -----------------------------------------------------------------------------------------------
    def ticket(self, key: str) -> Ticket | None:
        """The ticket, or None when JIRA says it does not exist (or the user may not see it)."""
        try:
            issue = self.call(f"GET issue {key}", lambda: self.client.issue(
                key, fields="summary,status,issuetype,project,fixVersions"))
        except JiraRefused as exc:
            if exc.status == 404:
                return None
            raise
        fields = issue.raw.get("fields", {})
        status = fields.get("status") or {}
        return Ticket(
            key=issue.key, summary=fields.get("summary") or "", status=status.get("name", ""),
            status_category=(status.get("statusCategory") or {}).get("key", ""),
            issue_type=(fields.get("issuetype") or {}).get("name", ""),
            project=(fields.get("project") or {}).get("key", issue.key.rsplit("-", 1)[0]),
            fix_versions=[v.get("name", "") for v in fields.get("fixVersions") or []], resource=issue,
        )

    def comments(self, key: str) -> list[Comment]:
        found: list[Comment] = []
        for _ in range(MAX_COMMENT_PAGES):
            start = len(found)
            page = self.call(f"GET comments of {key}", lambda: self.client.comments(
                key, start_at=start, max_results=COMMENT_PAGE))
            if not page:
                break  # servers cap page sizes differently: only an empty page means "no more"
            found += [Comment(str(c.id), c.body if isinstance(c.body, str) else str(c.body), c) for c in page]
        return found

    def remote_links(self, key: str) -> list[dict[str, Any]]:
        links = self.call(f"GET remote links of {key}", lambda: self.client.remote_links(key))
        return [link.raw for link in links]

    def transitions(self, key: str) -> list[Transition]:
        raw = self.call(f"GET transitions of {key}", lambda: self.client.transitions(key))
        return [Transition(str(t["id"]), t["name"], (t.get("to") or {}).get("name", "")) for t in raw]

    def is_cloud(self) -> bool:
        if not self._deployment_known:
            info = self.call("GET serverInfo", self.client.server_info)
            self.client.deploymentType = info.get("deploymentType")
            self._deployment_known = True
        return self.client.deploymentType == "Cloud"

    def search(self, jql: str, fields: str = "status") -> list[dict[str, Any]]:
        """Raw issues matching `jql`, every page (Server: /search; Cloud: /search/jql with nextPageToken)."""
        self.is_cloud()  # the client picks the endpoint by deployment type
        issues = self.call("search", lambda: self.client.search_issues(
            jql, maxResults=False, fields=fields, validate_query=False))
        return [issue.raw for issue in issues]

    # -- writes -------------------------------------------------------------------------------------------------
    def add_comment(self, key: str, body: str) -> str:
        comment = self.call(f"POST comment on {key}", lambda: self.client.add_comment(key, body))
        return str(comment.id)

    def update_comment(self, key: str, comment: Comment, body: str) -> None:
        self.call(f"PUT comment {comment.id} on {key}", lambda: comment.resource.update(body=body))

    def put_remote_link(self, key: str, global_id: str, obj: dict[str, Any], application: dict[str, Any],
                        relationship: str) -> None:
        def post() -> Any:
            # the client first lists application links to help with JIRA-to-JIRA links; a non-admin user
            # may not, and the client then warns - irrelevant for a link to a pull request
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return self.client.add_remote_link(key, obj, globalId=global_id, application=application,
                                                   relationship=relationship)

        self.call(f"POST remote link on {key}", post)

    def do_transition(self, key: str, transition: Transition) -> None:
        self.call(f"POST transition '{transition.name}' on {key}",
                  lambda: self.client.transition_issue(key, transition.id))

    def add_fix_version(self, ticket: Ticket, version: str) -> None:
        self.call(f"PUT fix version on {ticket.key}",
                  lambda: ticket.resource.add_field_value("fixVersions", {"name": version}))
