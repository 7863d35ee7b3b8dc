"""GitHub (github.com or Enterprise at https://HOST/api/v3) behind the ScmHost protocol, over jdci's HttpClient.

This adapter is where GitHub's status codes get their meaning: 401 = the token is wrong (ConfigError), 404 on a
pull request = a wrong number (UsageError), merge 409 = the head moved (HeadMoved), merge 405 = GitHub refuses
(NotMergeable), branch delete 422 = already gone, 5xx after retries = GitHub is failing (ServiceError).
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import quote

from ..errors import ConfigError, JdciError, ServiceError, UsageError
from . import Comment, CommitCheck, Comparison, HeadMoved, MergeResult, NotMergeable, PullRequest, Reaction, Review

if TYPE_CHECKING:
    import requests

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
        body = response.json()
    except ValueError:
        return response.text[:200]
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

    def _repo_missing(self, what: str) -> ConfigError:
        return ConfigError(f"repository {self.repository} not found at {self.api_url} (or GITHUB_TOKEN cannot see "
                           f"it) while trying to {what}; check [scm] repository and [scm] api_url")

    def _pr_missing(self, number: int) -> UsageError:
        return UsageError(f"pull request #{number} not found in {self.repository} at {self.api_url}; "
                          f"check the number (--pr, CHANGE_ID) and [scm] repository")

    def _unexpected(self, response: "requests.Response", what: str) -> JdciError:
        return ServiceError("GitHub", f"GitHub at {self.api_url} answered HTTP {response.status_code} "
                                      f"({_message(response)}) when asked to {what}")

    def _pages(self, path: str, what: str, *, key: str | None = None, number: int | None = None,
               params: dict[str, str] | None = None) -> Iterator[Any]:
        """Every item of a paginated list, following Link rel="next"."""
        url: str | None = path
        query: dict[str, str] | None = {"per_page": "100", **(params or {})}
        for _ in range(1000):  # bounded: 100,000 items is far beyond any PR
            if url is None:
                return
            response = self._call("GET", url, what, params=query)
            if response.status_code == 404:
                raise self._pr_missing(number) if number is not None else self._repo_missing(what)
            if response.status_code != 200:
                raise self._unexpected(response, what)
            body = response.json()
            yield from (body[key] if key else body)
            url = response.links.get("next", {}).get("url")
            query = None  # the next link carries the query

    # -- pull requests ----------------------------------------------------------------------------------------
    def pull_request(self, number: int) -> PullRequest:
        """The PR; while GitHub is still computing `mergeable` (null), asks again with backoff for a while."""
        from ..http import backoff_delays

        end = time.monotonic() + self.mergeable_wait
        delays = backoff_delays(first=0.1, cap=2.0)
        while True:
            response = self._call("GET", f"{self._repo}/pulls/{number}", f"read pull request #{number}")
            if response.status_code == 404:
                raise self._pr_missing(number)
            if response.status_code != 200:
                raise self._unexpected(response, f"read pull request #{number}")
            pr = pull_request_from(response.json())
            if pr.mergeable is not None or pr.state != "open":
                return pr
            delay = next(delays)
            if time.monotonic() + delay > end:
                return pr  # still unknown: the caller treats None as "wait", never as "yes"
            time.sleep(delay)

    def open_pull_requests(self) -> list[PullRequest]:
        return [pull_request_from(item) for item in
                self._pages(f"{self._repo}/pulls", "list open pull requests", params={"state": "open"})]

    def find_pull_request(self, branch: str) -> PullRequest | None:
        for pr in self.open_pull_requests():
            if pr.head_ref == branch:
                return self.pull_request(pr.number)  # the listed shape lacks mergeable and friends
        return None

    def reviews(self, number: int) -> list[Review]:
        return [Review(user=(item.get("user") or {}).get("login", ""), state=item["state"],
                       commit_sha=item.get("commit_id") or "", submitted_at=item.get("submitted_at") or "",
                       author_association=item.get("author_association") or "")
                for item in self._pages(f"{self._repo}/pulls/{number}/reviews", f"list reviews of #{number}",
                                        number=number)]

    def reactions(self, number: int) -> list[Reaction]:
        return [Reaction(user=(item.get("user") or {}).get("login", ""), content=item["content"])
                for item in self._pages(f"{self._repo}/issues/{number}/reactions", f"list reactions on #{number}",
                                        number=number)]

    def commit_messages(self, number: int) -> list[str]:
        """The messages of the PR's commits, oldest first (for ticket keys when there is no checkout)."""
        return [item["commit"]["message"] for item in
                self._pages(f"{self._repo}/pulls/{number}/commits", f"list the commits of #{number}", number=number)]

    def compare(self, base: str, head: str) -> Comparison:
        """How `head` relates to `base` (a branch or SHA each): for "is the PR up to date with its target".
        GitHub's own `mergeable_state: behind` appears only under branch protection, so it cannot be relied on."""
        what = f"compare {head[:12]} with {base}"
        response = self._call("GET", f"{self._repo}/compare/{quote(base, safe='/')}...{quote(head, safe='/')}", what)
        if response.status_code == 404:
            raise UsageError(f"GitHub cannot compare {head[:12]} with {base} in {self.repository}: one of them does "
                             f"not exist (is the target branch right?)")
        if response.status_code != 200:
            raise self._unexpected(response, what)
        data = response.json()
        return Comparison(status=data.get("status") or "", ahead_by=int(data.get("ahead_by") or 0),
                          behind_by=int(data.get("behind_by") or 0),
                          base_sha=(data.get("base_commit") or {}).get("sha") or "")

    # -- checks ---------------------------------------------------------------------------------------------
    def checks(self, sha: str) -> list[CommitCheck]:
        found = [CommitCheck(name=item["context"], state=item["state"], url=item.get("target_url") or "",
                             description=item.get("description") or "", created_at=item.get("created_at") or "",
                             kind="status")
                 for item in self._pages(f"{self._repo}/commits/{sha}/status", f"read the statuses of {sha[:12]}",
                                         key="statuses")]
        for run in self._pages(f"{self._repo}/commits/{sha}/check-runs", f"read the check runs of {sha[:12]}",
                               key="check_runs"):
            found.append(CommitCheck(
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
            raise self._repo_missing(what)
        if response.status_code != 201:
            raise self._unexpected(response, what)

    # -- comments ------------------------------------------------------------------------------------------
    @staticmethod
    def _comment(item: dict[str, Any]) -> Comment:
        return Comment(id=int(item["id"]), body=item.get("body") or "", user=(item.get("user") or {}).get("login", ""),
                       url=item.get("html_url") or "")

    def comments(self, number: int) -> list[Comment]:
        return [self._comment(item) for item in
                self._pages(f"{self._repo}/issues/{number}/comments", f"list comments on #{number}", number=number)]

    def create_comment(self, number: int, body: str) -> Comment:
        what = f"comment on #{number}"
        response = self._call("POST", f"{self._repo}/issues/{number}/comments", what, json={"body": body})
        if response.status_code == 404:
            raise self._pr_missing(number)
        if response.status_code != 201:
            raise self._unexpected(response, what)
        return self._comment(response.json())

    def update_comment(self, comment_id: int, body: str) -> Comment:
        what = f"edit comment {comment_id}"
        response = self._call("PATCH", f"{self._repo}/issues/comments/{comment_id}", what, json={"body": body})
        if response.status_code == 404:
            raise UsageError(f"comment {comment_id} not found in {self.repository}")
        if response.status_code != 200:
            raise self._unexpected(response, what)
        return self._comment(response.json())

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
            data = response.json()
            return MergeResult(merged=bool(data.get("merged", True)), sha=data.get("sha"),
                               message=data.get("message") or "")
        if status == 409:
            raise HeadMoved(f"pull request #{number} in {self.repository} moved: its head is no longer "
                            f"{sha[:12]} ({_message(response)}); not merging untested code - the new head needs "
                            f"its own checks")
        if status == 405:
            raise NotMergeable(f"GitHub refuses to merge pull request #{number} in {self.repository}: "
                               f"{_message(response)}")
        if status == 404:
            raise self._pr_missing(number)
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
            raise self._pr_missing(number)
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
            raise self._repo_missing(what)
        raise self._unexpected(response, what)
