"""How jdci talks to JIRA: the `jira` client, jdci's own retries, and status codes turned into meaning.

The client is built lazily with its own retries off (`max_retries=0`: it would sleep twice the Retry-After,
never retries 502/504 and crashes on an HTTP-date Retry-After) and without the server-info round trip; every
call goes through http.with_retries (429/502/503/504 and connection errors, Retry-After in seconds or as a
date, bounded by [jira] timeout). Afterwards: 401 -> ConfigError naming the variables (never their values),
403 -> ConfigError (the jdci user lacks a permission), still failing or 5xx -> ServiceError (exit 4), other
4xx -> JiraRefused for the caller to interpret (404 = no such ticket, 400 on a transition = not available); a
JiraRefused no caller interprets is itself a ServiceError (exit 4) that names the call.

Every answer passes `_vet` (a response hook on the client's session) before the client decodes it: a 2xx whose
body is not JSON, or is JSON but neither an object nor an array (an SSO or proxy page answering in JIRA's place),
is a MalformedAnswer (ServiceError) naming the answer - never an AttributeError deep inside the client.
A 404 is taken at its word only once `serverInfo` answers at [jira] url (checked once per adapter): otherwise
[jira] url is wrong (ConfigError), which a wrong path would otherwise pass off as "ticket not found".
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, TypeVar
from urllib.parse import urlsplit

from .config import JiraConfig, Secrets
from .errors import ConfigError, ServiceError
from .http import RETRY_STATUSES, content_type, json_body, retry_after_seconds, snippet, with_retries

if TYPE_CHECKING:
    import jira
    import requests

T = TypeVar("T")
SERVICE = "JIRA"
COMMENT_PAGE = 100
MAX_COMMENT_PAGES = 50  # 5,000 comments on one ticket is far beyond any real PR ticket


SERVER_INFO = "/rest/api/2/serverInfo"


class JiraRefused(ServiceError):
    """JIRA answered a 4xx other than 401/403/429: an answer about the object, for the caller to judge.
    Left uncaught, it is what it says: JIRA refused the call (exit 4), with JIRA's own words."""

    def __init__(self, status: int, messages: list[str], what: str = "", url: str = "") -> None:
        detail = f"HTTP {status}: {'; '.join(messages) or 'no details'}"
        super().__init__(SERVICE, f"JIRA at {url} refused {what} ({detail})" if what else detail)
        self.status = status
        self.messages = messages


class MalformedAnswer(ServiceError):
    """A 2xx answer that is not JIRA's: not JSON, or JSON that is neither an object nor an array."""

    def __init__(self, answer: str, message: str = "") -> None:
        super().__init__(SERVICE, message or f"JIRA answered {answer}")
        self.answer = answer  # "HTTP 200 with a body that is not JSON (text/html: <html>...)"


def _vet(response: "requests.Response", *args: Any, **kwargs: Any) -> "requests.Response":
    """requests response hook: the one place JIRA's answers are checked before the client decodes them."""
    if not 200 <= response.status_code < 300 or not response.content.strip():
        return response  # errors are judged by status; an empty 2xx (204) is a plain "done"
    try:
        body = json_body(response)
    except ValueError:
        raise MalformedAnswer(f"HTTP {response.status_code} with a body that is not JSON "
                              f"({content_type(response)}: {snippet(response)})") from None
    if not isinstance(body, (dict, list)):
        raise MalformedAnswer(f"HTTP {response.status_code} with JSON that is a {type(body).__name__}, not an "
                              f"object ({snippet(response)})")
    return response


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


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


def _answers_server_info(url: str, timeout: float) -> bool:
    """Whether JIRA's serverInfo answers at `url` (anonymously, as it does on Server and Cloud): for a hint only."""
    from .http import HttpClient

    try:
        response = HttpClient(SERVICE, url, timeout=min(timeout, 5.0), deadline=min(timeout, 5.0)).get(SERVER_INFO)
        body = json_body(response) if response.status_code == 200 else None
    except (ServiceError, ValueError):
        return False
    return isinstance(body, dict) and bool(body.get("version") or body.get("baseUrl"))


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
        self._root: list[str | None] = []  # [] = not checked yet; [what serverInfo answered if wrong, or None]

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
            self._client._session.hooks["response"].append(_vet)
            if self.config.deployment == "cloud":
                self._client.deploymentType = "Cloud"
        return self._client

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one JIRA operation with retries; turn the final failure into meaning (see the module doc)."""
        from jira import JIRAError

        try:
            return with_retries(fn, service=SERVICE, what=what, deadline=self.config.timeout, retry_on=_retry_on)
        except MalformedAnswer as exc:
            raise MalformedAnswer(exc.answer, f"JIRA at {self.url} answered {exc.answer} when asked to {what}: is "
                                              f"[jira] url the JIRA base URL (as the browser shows it, without "
                                              f"/rest/...), and is no proxy or single sign-on page answering in "
                                              f"JIRA's place?") from None
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
            raise JiraRefused(status, _messages(exc), what, self.url) from None

    def root_problem(self) -> str | None:
        """None when [jira] url answers as a JIRA REST root (serverInfo), else what it answered. Checked once per
        adapter: asked only after a 404, which a wrong [jira] url path gives for every call."""
        if not self._root:
            try:
                info = self.call("GET serverInfo", self.client.server_info)
                problem = None if isinstance(info, dict) and (info.get("version") or info.get("baseUrl")) else \
                    "HTTP 200 without a JIRA version"
                if problem is None and not self._deployment_known:  # the answer says it: no need to ask again
                    self.client.deploymentType = info.get("deploymentType")
                    self._deployment_known = True
            except JiraRefused as exc:
                problem = f"HTTP {exc.status}"
            except MalformedAnswer as exc:
                problem = exc.answer
            self._root.append(problem)
        return self._root[0]

    def check_root(self, what: str) -> None:
        """Raise the ConfigError naming [jira] url when it is not a JIRA REST root (see root_problem)."""
        problem = self.root_problem()
        if problem is None:
            return
        hint = ""
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(self.url))
        if origin != self.url and _answers_server_info(origin, self.config.timeout):
            hint = f' (JIRA answers at {origin}: set [jira] url = "{origin}")'
        raise ConfigError(f"{self.url} does not look like a JIRA REST root: GET {SERVER_INFO} answered {problem} "
                          f"(while trying to {what}); fix [jira] url{hint}")

    # -- reads -----------------------------------------------------------------------------------------------
    def ticket(self, key: str) -> Ticket | None:
        """The ticket, or None when JIRA says it does not exist (or the user may not see it)."""
        what = f"GET issue {key}"
        try:
            issue = self.call(what, lambda: self.client.issue(key, fields="summary,status,issuetype,project,"
                                                                          "fixVersions"))
        except JiraRefused as exc:
            if exc.status == 404:
                self.check_root(what)  # a wrong [jira] url path answers 404 to every key
                return None
            raise
        raw = _object(issue.raw)
        found = str(raw.get("key") or key)
        fields = _object(raw.get("fields"))
        status = _object(fields.get("status"))
        versions = fields.get("fixVersions") if isinstance(fields.get("fixVersions"), list) else []
        return Ticket(
            key=found, summary=str(fields.get("summary") or ""), status=str(status.get("name", "")),
            status_category=str(_object(status.get("statusCategory")).get("key", "")),
            issue_type=str(_object(fields.get("issuetype")).get("name", "")),
            project=str(_object(fields.get("project")).get("key", found.rsplit("-", 1)[0])),
            fix_versions=[str(_object(v).get("name", "")) for v in versions], resource=issue,
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
            try:
                info = self.call("GET serverInfo", self.client.server_info)
            except JiraRefused as exc:  # serverInfo is there on every JIRA: [jira] url is wrong
                self._root[:] = [f"HTTP {exc.status}"]
                self.check_root("read serverInfo for the deployment type")
                raise
            self.client.deploymentType = _object(info).get("deploymentType")
            self._deployment_known = True
        return self.client.deploymentType == "Cloud"

    def search(self, jql: str, fields: str = "status") -> list[dict[str, Any]]:
        """Raw issues matching `jql`, every page (Server: /search; Cloud: /search/jql with nextPageToken)."""
        cloud = self.is_cloud()  # the client picks the endpoint by deployment type
        what = f"search {jql!r}"
        try:
            issues = self.call(what, lambda: self.client.search_issues(
                jql, maxResults=False, fields=fields, validate_query=False))
        except JiraRefused as exc:
            raise self._search_refused(exc, what, cloud) from None
        return [_object(issue.raw) for issue in issues]

    def _search_refused(self, exc: JiraRefused, what: str, cloud: bool) -> ServiceError | ConfigError:
        """What a refused search means: mostly a [jira] url or [jira] deployment that does not fit this JIRA."""
        deployment = f'[jira] deployment = "{self.config.deployment}"'
        if exc.status == 410 and not cloud:
            # Cloud removed the Server search endpoints: this JIRA is Cloud
            return ConfigError(f"JIRA at {self.url} answered HTTP 410 Gone to the Server/Data Center search "
                               f"(while trying to {what}): it is JIRA Cloud, yet {deployment}; set [jira] "
                               f'deployment = "cloud" (or "auto")')
        if exc.status == 404:
            self.check_root(what)
            if cloud:
                info = self._server_info()
                actual = info.get("deploymentType") or "Server/Data Center"
                if actual != "Cloud":
                    return ConfigError(f"JIRA at {self.url} has no Cloud search (/search/jql answered HTTP 404 "
                                       f"while trying to {what}): serverInfo says deploymentType {actual!r}, yet "
                                       f'{deployment}; set [jira] deployment = "server" (or "auto")')
        return exc

    def _server_info(self) -> dict[str, Any]:
        try:
            return _object(self.call("GET serverInfo", self.client.server_info))
        except ServiceError:
            return {}

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
