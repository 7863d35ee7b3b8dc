"""GitHub (github.com or Enterprise at https://HOST/api/v3) behind the ScmHost protocol, over jdci's HttpClient.

This adapter is where GitHub's status codes get their meaning: 401 = the token is wrong (ConfigError), 404 on a
pull request = a wrong number (UsageError), merge 409 = the head moved (HeadMoved), merge 405 = GitHub refuses
(NotMergeable), branch delete 422 = already gone, 5xx after retries = GitHub is failing (ServiceError).

A 404 names its object only once the repository and the API root are known to be right: the first 404 of a run
checks `GET /repos/{owner}/{name}` and, if that is missing too, whether [scm] api_url answers as a GitHub API
root at all - so a GitHub Enterprise URL without /api/v3 is reported as that, not as "pull request #1 not found".
Answers are decoded in ONE place (`_decode`): a body that is not JSON, or JSON not in GitHub's shape (an SSO or
proxy page answering in GitHub's place), is a ServiceError that says so.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar
from urllib.parse import quote

from ..errors import ConfigError, JdciError, ServiceError, UsageError
from ..http import content_type, json_body, snippet
from . import Comment, CommitCheck, Comparison, HeadMoved, MergeResult, NotMergeable, PullRequest, Reaction, Review

if TYPE_CHECKING:
    import requests

T = TypeVar("T")
STATUS_STATES = ("success", "failure", "error", "pending")
_CHECK_RUN_SUCCESS = frozenset({"success", "neutral", "skipped"})
_CHECK_RUN_FAILURE = frozenset({"failure", "timed_out", "cancelled", "action_required"})


def check_run_state(status: str | None, conclusion: str | None) -> str:
    """A check run as a commit-status state: not completed = pending; its conclusion otherwise."""
    if status != "completed":
        return "pending"
    if conclusion in _CHECK_RUN_SUCCESS:
        return "success"
    if conclusion in _CHECK_RUN_FAILURE:
        return "failure"
    return "pending"  # "stale" or unknown: nobody vouches for this commit


def rate_limit_wait(remaining: str | None, reset: str | None, now: float) -> float:
    """Seconds to wait before the next call under GitHub's primary rate limit (0 when calls are left)."""
    if remaining != "0" or not reset:
        return 0.0
    try:
        return max(0.0, float(reset) - now)
    except ValueError:
        return 0.0


def pull_request_from(data: dict[str, Any]) -> PullRequest:
    head, base = data["head"], data["base"]
    head_repo = (head.get("repo") or {}).get("full_name")
    base_repo = (base.get("repo") or {}).get("full_name")
    # The listed ("simple") shape has no "merged": there merged_at says it.
    merged = bool(data["merged"]) if "merged" in data else bool(data.get("merged_at"))
    return PullRequest(
        number=int(data["number"]),
        title=data.get("title") or "",
        head_sha=head["sha"],
        head_ref=head["ref"],
        base_ref=base["ref"],
        base_sha=base.get("sha") or "",
        state=data.get("state", "open"),
        merged=merged,
        merge_sha=data.get("merge_commit_sha") if merged else None,
        draft=bool(data.get("draft")),
        author=(data.get("user") or {}).get("login", ""),
        url=data.get("html_url") or "",
        fork=head_repo != base_repo,  # a deleted fork (repo null) counts as a fork too
        mergeable=data.get("mergeable"),
        mergeable_state=data.get("mergeable_state") or "unknown",
        labels=tuple(label["name"] for label in data.get("labels") or ()),
        body=data.get("body") or "",
    )


def _message(response: "requests.Response") -> str:
    try:
        body = json_body(response)
    except ValueError:
        return f"{content_type(response)}: {snippet(response)}"
    if isinstance(body, dict):
        message = str(body.get("message") or "")
        errors = body.get("errors")
        if errors:
            details = [e if isinstance(e, str) else e.get("message") or e.get("code", "") for e in errors]
            message = f"{message}: {'; '.join(str(d) for d in details if d)}"
        return message
    return ""


class GitHub:
    """One repository on one GitHub host. `token` is sent as a Bearer token and never logged."""

    def __init__(self, api_url: str, repository: str, token: str, *, deadline: float = 30.0, timeout: float = 10.0,
                 mergeable_wait: float = 10.0) -> None:
        from ..http import HttpClient

        if repository.count("/") != 1:
            raise ConfigError(f"[scm] repository {repository!r} is not owner/name")
        self.repository = repository
        self.api_url = api_url.rstrip("/")
        self.deadline = deadline
        self.mergeable_wait = mergeable_wait
        self.http = HttpClient("GitHub", self.api_url, timeout=timeout, deadline=deadline, headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "jenkins-docker-ci",
        })
        self._rate: tuple[str | None, str | None] = (None, None)  # last (remaining, reset) GitHub reported
        self._location: list[tuple[str, str] | None] = []  # [] = not checked yet; [(problem, fix) or None]

    def __repr__(self) -> str:  # never the token
        return f"GitHub({self.api_url!r}, {self.repository!r})"

    # -- plumbing -------------------------------------------------------------------------------------------
    @property
    def _repo(self) -> str:
        return f"repos/{self.repository}"

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> "requests.Response":
        wait = rate_limit_wait(*self._rate, now=time.time())
        if wait > self.deadline:
            raise ServiceError("GitHub", f"GitHub API rate limit at {self.api_url} is used up for "
                                         f"{wait:.0f} s more (over the {self.deadline:.0f} s deadline) while trying "
                                         f"to {what}; try again later or use a token with a higher limit")
        if wait > 0:
            time.sleep(wait)  # GitHub says exactly when calls are allowed again
        response = self.http.request(method, path, **kwargs)
        self._rate = (response.headers.get("X-RateLimit-Remaining"), response.headers.get("X-RateLimit-Reset"))
        status = response.status_code
        if status == 401:
            raise ConfigError(f"GitHub at {self.api_url} refused the token in GITHUB_TOKEN ({_message(response)}) "
                              f"while trying to {what}; export a valid token that can read and merge pull requests "
                              f"in {self.repository}")
        if status == 403:
            raise ConfigError(f"GITHUB_TOKEN may not {what} in {self.repository} at {self.api_url} "
                              f"({_message(response)}); give the token write access to the repository")
        if status >= 500:
            detail = _message(response)
            raise ServiceError("GitHub", f"GitHub at {self.api_url} failed to {what}: HTTP {status}"
                                         + (f" ({detail})" if detail else ""))
        return response


    def _decode(self, response: "requests.Response", what: str, parse: Callable[[Any], T] = lambda body: body) -> T:
        """The ONE place a GitHub answer becomes data: `parse(body)`. A body that is not JSON, or JSON that `parse`
        cannot read (a missing key, a wrong type), is a ServiceError naming the answer - never a KeyError."""
        status = response.status_code
        try:
            body = json_body(response)
        except ValueError:
            raise ServiceError("GitHub", f"GitHub at {self.api_url} answered HTTP {status} with a body that is not "
                                         f"JSON ({content_type(response)}: {snippet(response)}) when asked to "
                                         f"{what}: is [scm] api_url the API root, and is no proxy or single sign-on "
                                         f"page answering in GitHub's place?") from None
        try:
            return parse(body)
        except (KeyError, IndexError, TypeError, AttributeError, ValueError) as exc:
            # `parse` only reads fields GitHub documents for this call: failing means the answer is not GitHub's
            raise ServiceError("GitHub", f"GitHub at {self.api_url} answered HTTP {status} with JSON that is not "
                                         f"what GitHub sends when asked to {what} ({type(exc).__name__}: {exc}; "
                                         f"body: {snippet(response)}): is [scm] api_url the API root?") from None

    def _not_found(self, what: str, error: JdciError) -> JdciError:
        """What a 404 means: `error` (about the object asked for) once the repository and the API root are known
        to be right, else the ConfigError naming the setting that is wrong."""
        if not self._location:
            self._location.append(self._locate())
        if self._location[0] is None:
            return error
        problem, fix = self._location[0]
        return ConfigError(f"{problem} while trying to {what}; {fix}")

    def _locate(self) -> tuple[str, str] | None:
        """Checked once per run, on the first 404: does [scm] repository exist at [scm] api_url, and if not, is
        api_url a GitHub API root at all? (A GitHub Enterprise URL without /api/v3 answers 404 everywhere.)"""
        response = self._call("GET", self._repo, f"read repository {self.repository}")
        if response.status_code == 200 and self._answers_as_github(response, "full_name"):
            return None
        root = self._root_status(self.api_url)
        if root is None or root[0]:
            return (f"repository {self.repository} not found at {self.api_url} (GET /repos/{self.repository} "
                    f"answered HTTP {response.status_code}; or GITHUB_TOKEN cannot see it)",
                    "check [scm] repository (owner/name)")
        answer = root[1]
        fix = "fix [scm] api_url (github.com: https://api.github.com; GitHub Enterprise: https://HOST/api/v3)"
        if not self.api_url.endswith("/api/v3"):
            enterprise = self._root_status(self.api_url + "/api/v3")
            if enterprise is not None and enterprise[0]:
                fix = f'GitHub Enterprise serves its API under /api/v3: set [scm] api_url = "{self.api_url}/api/v3"'
        return (f"[scm] api_url {self.api_url} does not look like a GitHub API root: GET /user answered {answer} "
                f"and GET /repos/{self.repository} HTTP {response.status_code}", fix)

    @staticmethod
    def _answers_as_github(response: "requests.Response", field: str) -> bool:
        try:
            body = json_body(response)
        except ValueError:
            return False
        return isinstance(body, dict) and field in body

    def _root_status(self, api_url: str) -> tuple[bool, str] | None:
        """(whether `api_url` answers as a GitHub API root, what it answered); None when that cannot be told
        (the server is failing). `GET /user` answers 200 with a login, or 403 with a message for a token that
        may not read users (a GitHub App's) - a page that is not GitHub's answers neither."""
        response = self.http.request("GET", f"{api_url}/user")
        status = response.status_code
        if status >= 500:
            return None
        if (status == 200 and self._answers_as_github(response, "login")) or (
                status in (401, 403) and self._answers_as_github(response, "message")):
            return True, f"HTTP {status}"
        return False, f"HTTP {status} ({content_type(response)})"

    def _pr_missing(self, number: int) -> UsageError:
        # raised once _not_found has seen the repository exist: the number is what is wrong
        return UsageError(f"pull request #{number} not found in {self.repository} at {self.api_url}; "
                          f"check the number (--pr, CHANGE_ID)")

    def _unexpected(self, response: "requests.Response", what: str, note: str = "") -> JdciError:
        return ServiceError("GitHub", f"GitHub at {self.api_url} answered HTTP {response.status_code} "
                                      f"({_message(response)}) when asked to {what}" + (f", {note}" if note else ""))

    def _pages(self, path: str, what: str, *, key: str | None = None, number: int | None = None,
               params: dict[str, str] | None = None, parse: Callable[[dict[str, Any]], Any] = lambda item: item
               ) -> Iterator[Any]:
        """Every item of a paginated list (each an object, read by `parse`), following Link rel="next".
        A 404 is about PR `number` when given, else about whatever `what` names."""
        url: str | None = path
        query: dict[str, str] | None = {"per_page": "100", **(params or {})}
        for _ in range(1000):  # bounded: 100,000 items is far beyond any PR
            if url is None:
                return
            response = self._call("GET", url, what, params=query)
            if response.status_code == 404:
                raise self._not_found(what, self._pr_missing(number) if number is not None else
                                      self._unexpected(response, what, f"though {self.repository} exists there"))
            if response.status_code != 200:
                raise self._unexpected(response, what)
            yield from self._decode(response, what, lambda body: [parse(_object(item)) for item in
                                                                  _array(body[key] if key else body)])
            url = response.links.get("next", {}).get("url")
            query = None  # the next link carries the query

    # -- pull requests ----------------------------------------------------------------------------------------
    def pull_request(self, number: int) -> PullRequest:
        """The PR; while GitHub is still computing `mergeable` (null), asks again with backoff for a while."""
        from ..http import backoff_delays

        end = time.monotonic() + self.mergeable_wait
        delays = backoff_delays(first=0.1, cap=2.0)
        while True:
            what = f"read pull request #{number}"
            response = self._call("GET", f"{self._repo}/pulls/{number}", what)
            if response.status_code == 404:
                raise self._not_found(what, self._pr_missing(number))
            if response.status_code != 200:
                raise self._unexpected(response, what)
            pr = self._decode(response, what, pull_request_from)
            if pr.mergeable is not None or pr.state != "open":
                return pr
            delay = next(delays)
            if time.monotonic() + delay > end:
                return pr  # still unknown: the caller treats None as "wait", never as "yes"
            time.sleep(delay)

    def open_pull_requests(self) -> list[PullRequest]:
        return list(self._pages(f"{self._repo}/pulls", "list open pull requests", params={"state": "open"},
                                parse=pull_request_from))

    def find_pull_request(self, branch: str) -> PullRequest | None:
        for pr in self.open_pull_requests():
            if pr.head_ref == branch:
                return self.pull_request(pr.number)  # the listed shape lacks mergeable and friends
        return None

    def reviews(self, number: int) -> list[Review]:
        return list(self._pages(f"{self._repo}/pulls/{number}/reviews", f"list reviews of #{number}",
                                number=number, parse=lambda item: Review(
                                    user=(item.get("user") or {}).get("login", ""), state=item["state"],
                                    commit_sha=item.get("commit_id") or "",
                                    submitted_at=item.get("submitted_at") or "",
                                    author_association=item.get("author_association") or "")))

    def reactions(self, number: int) -> list[Reaction]:
        return list(self._pages(f"{self._repo}/issues/{number}/reactions", f"list reactions on #{number}",
                                number=number, parse=lambda item: Reaction(
                                    user=(item.get("user") or {}).get("login", ""), content=item["content"])))

    def commit_messages(self, number: int) -> list[str]:
        """The messages of the PR's commits, oldest first (for ticket keys when there is no checkout)."""
        return [str(message) for message in
                self._pages(f"{self._repo}/pulls/{number}/commits", f"list the commits of #{number}", number=number,
                            parse=lambda item: item["commit"]["message"])]

    def compare(self, base: str, head: str) -> Comparison:
        """How `head` relates to `base` (a branch or SHA each): for "is the PR up to date with its target".
        GitHub's own `mergeable_state: behind` appears only under branch protection, so it cannot be relied on."""
        what = f"compare {head[:12]} with {base}"
        response = self._call("GET", f"{self._repo}/compare/{quote(base, safe='/')}...{quote(head, safe='/')}", what)
        if response.status_code == 404:
            raise self._not_found(what, UsageError(
                f"GitHub cannot compare {head[:12]} with {base} in {self.repository}: one of them does not exist "
                f"(is the target branch right?)"))
        if response.status_code != 200:
            raise self._unexpected(response, what)
        return self._decode(response, what, lambda data: Comparison(
            status=data.get("status") or "", ahead_by=int(data.get("ahead_by") or 0),
            behind_by=int(data.get("behind_by") or 0), base_sha=(data.get("base_commit") or {}).get("sha") or ""))

    # -- checks ---------------------------------------------------------------------------------------------
    def checks(self, sha: str) -> list[CommitCheck]:
        found: list[CommitCheck] = list(self._pages(
            f"{self._repo}/commits/{sha}/status", f"read the statuses of commit {sha[:12]}", key="statuses",
            parse=lambda item: CommitCheck(name=item["context"], state=item["state"], url=item.get("target_url") or "",
                                           description=item.get("description") or "",
                                           created_at=item.get("created_at") or "", kind="status")))
        found += self._pages(
            f"{self._repo}/commits/{sha}/check-runs", f"read the check runs of commit {sha[:12]}", key="check_runs",
            parse=lambda run: CommitCheck(
                name=run["name"], state=check_run_state(run.get("status"), run.get("conclusion")),
                url=run.get("details_url") or run.get("html_url") or "",
                description=((run.get("output") or {}).get("title") or ""),
                created_at=run.get("completed_at") or run.get("started_at") or "", kind="check_run"))
        return found

    def set_status(self, sha: str, context: str, state: str, description: str = "", target_url: str = "") -> None:
        if state not in STATUS_STATES:
            raise UsageError(f"commit status state {state!r} for {context} is not one of {', '.join(STATUS_STATES)}")
        body: dict[str, str] = {"state": state, "context": context, "description": description[:140]}
        if target_url:
            body["target_url"] = target_url
        what = f"set status {context} on {sha[:12]}"
        response = self._call("POST", f"{self._repo}/statuses/{sha}", what, json=body)
        if response.status_code == 404:
            raise self._not_found(what, self._unexpected(
                response, what, f"though {self.repository} exists there: may GITHUB_TOKEN write statuses?"))
        if response.status_code != 201:
            raise self._unexpected(response, what)

    # -- comments ------------------------------------------------------------------------------------------
    @staticmethod
    def _comment(item: dict[str, Any]) -> Comment:
        return Comment(id=int(item["id"]), body=item.get("body") or "", user=(item.get("user") or {}).get("login", ""),
                       url=item.get("html_url") or "")

    def comments(self, number: int) -> list[Comment]:
        return list(self._pages(f"{self._repo}/issues/{number}/comments", f"list comments on #{number}",
                                number=number, parse=self._comment))

    def create_comment(self, number: int, body: str) -> Comment:
        what = f"comment on #{number}"
        response = self._call("POST", f"{self._repo}/issues/{number}/comments", what, json={"body": body})
        if response.status_code == 404:
            raise self._not_found(what, self._pr_missing(number))
        if response.status_code != 201:
            raise self._unexpected(response, what)
        return self._decode(response, what, self._comment)

    def update_comment(self, comment_id: int, body: str) -> Comment:
        what = f"edit comment {comment_id}"
        response = self._call("PATCH", f"{self._repo}/issues/comments/{comment_id}", what, json={"body": body})
        if response.status_code == 404:
            raise self._not_found(what, UsageError(f"comment {comment_id} not found in {self.repository}"))
        if response.status_code != 200:
            raise self._unexpected(response, what)
        return self._decode(response, what, self._comment)

    # -- merging ----------------------------------------------------------------------------------------------
    def merge(self, number: int, sha: str, method: str, title: str, message: str) -> MergeResult:
        what = f"merge pull request #{number}"
        body: dict[str, str] = {"sha": sha, "merge_method": method}
        if title:
            body["commit_title"] = title
        if message:
            body["commit_message"] = message
        response = self._call("PUT", f"{self._repo}/pulls/{number}/merge", what, json=body)
        status = response.status_code
        if status == 200:
            return self._decode(response, what, lambda data: MergeResult(
                merged=bool(data.get("merged", True)), sha=data.get("sha"), message=data.get("message") or ""))
        if status == 409:
            raise HeadMoved(f"pull request #{number} in {self.repository} moved: its head is no longer "
                            f"{sha[:12]} ({_message(response)}); not merging untested code - the new head needs "
                            f"its own checks")
        if status == 405:
            raise NotMergeable(f"GitHub refuses to merge pull request #{number} in {self.repository}: "
                               f"{_message(response)}")
        if status == 404:
            raise self._not_found(what, self._pr_missing(number))
        if status == 422:
            raise UsageError(f"GitHub rejected the merge request for #{number}: {_message(response)} "
                             f"(check [merge] method = {method!r})")
        raise self._unexpected(response, what)

    def update_branch(self, number: int, expected_head_sha: str) -> None:
        what = f"update the branch of pull request #{number}"
        body = {"expected_head_sha": expected_head_sha} if expected_head_sha else {}
        response = self._call("PUT", f"{self._repo}/pulls/{number}/update-branch", what, json=body)
        if response.status_code == 202:
            return
        if response.status_code == 404:
            raise self._not_found(what, self._pr_missing(number))
        if response.status_code == 422:
            message = _message(response)
            if "expected head sha" in message.lower():
                raise HeadMoved(f"pull request #{number} in {self.repository} moved: its head is no longer "
                                f"{expected_head_sha[:12]}; not updating it")
            raise NotMergeable(f"GitHub cannot update the branch of pull request #{number}: {message}")
        raise self._unexpected(response, what)

    def delete_branch(self, branch: str) -> bool:
        what = f"delete branch {branch}"
        response = self._call("DELETE", f"{self._repo}/git/refs/heads/{quote(branch, safe='/')}", what)
        if response.status_code == 204:
            return True
        if response.status_code == 422:
            message = _message(response)
            if "does not exist" in message:  # someone (or GitHub's auto-delete) was faster
                return False
            raise UsageError(f"GitHub refuses to delete branch {branch} of {self.repository}: {message}")
        if response.status_code == 404:
            raise self._not_found(what, self._unexpected(
                response, what, f"though {self.repository} exists there: may GITHUB_TOKEN write to it?"))
        raise self._unexpected(response, what)


def _object(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise TypeError(f"a list item is a {type(item).__name__}, not an object")
    return item


def _array(items: Any) -> list[Any]:
    if not isinstance(items, list):
        raise TypeError(f"the list is a {type(items).__name__}, not an array")
    return items
