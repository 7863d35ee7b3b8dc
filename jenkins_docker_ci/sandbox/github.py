"""A GitHub Enterprise-style stand-in: the REST API under /api/v3 and git over smart HTTP, on real bare repos.

jdci talks to it through scm/github.py exactly as to GitHub; scenarios script it with plain REST calls (open a
PR, review, react, label, post a status) and plain `git push` to the repository's `clone_url`
(`{base}/{owner}/{repo}.git`, HTTP Basic, any user, a password starting with "bad" is refused).

What is real: every repository is a bare git repository under the sandbox directory; PR heads are read from the
branch ref when asked; `mergeable` comes from a trial `git merge-tree`; a merge is a real merge commit
(squash / rebase too) moved onto the base branch with a compare-and-swap `update-ref`, so a concurrent move of
the base makes the merge fail instead of losing a commit. The rules GitHub has are answered as GitHub answers
them: self-approval 422, merge with a stale `sha` 409, unmergeable 405, deleting a missing branch 422.

`GET .../compare/BASE...HEAD` answers `status`, `ahead_by` and `behind_by` from the real history (jdci's "is the
branch up to date with its target"); its commits carry no files or stats.

`mergeable_state` is "dirty" (conflict), "behind" (the base has commits the head lacks), "draft", "clean", or
"unknown" (closed, or `mergeable` forced to null). Unlike github.com, "behind" is reported whether or not the
base branch requires branches to be up to date; only with that rule on does a behind PR fail to merge.

Control API (under /_sandbox/, besides reset/faults/requests from server.py; no credentials needed):

  POST /_sandbox/repos/{o}/{r}/pulls/{n}/push        {"message"?, "files"?: {path: text}, "author"?}
        a real new commit on the PR's head branch (in the fork for fork PRs) -> 201 {"sha", "ref"}
  POST /_sandbox/repos/{o}/{r}/commits               {"branch"?, "message"?, "files"?, "author"?, "from"?}
        a new commit on any branch (default: the default branch; a new branch starts at "from") -> 201 {"sha"}
  POST /_sandbox/repos/{o}/{r}/statuses/{sha}        a commit status body + "created_at"?, "creator"?
  POST /_sandbox/repos/{o}/{r}/check-runs            a check run body + "created_at"?, "creator"?
        (late or back-dated reports, e.g. a stale success that arrives after a newer failure)
  POST /_sandbox/repos/{o}/{r}/pulls/{n}/mergeable-null  {"reads": N}: the next N reads say mergeable null
  PUT  /_sandbox/repos/{o}/{r}/branches/{branch}/up-to-date  {"required": true|false}: the "require branches to
        be up to date before merging" rule; when on, merging a PR that is behind gets 405
"""
from __future__ import annotations

import math
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from . import github_json as js
from .github_records import (CheckRunRecord, CommentRecord, Label, PullRecord, ReactionRecord, Repo,
                             ReviewRecord, StatusRecord, now_iso)
from .gitstore import GITHUB, GitStore, Person
from .server import HttpError, Request, Response, Service

API = r"/api/v3"
REPO = API + r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
CONTROL = r"/_sandbox/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
PULL = r"/pulls/(?P<number>\d+)"
ISSUE = r"/issues/(?P<number>\d+)"
GIT_PATH = r"/(?P<owner>[^/]+)/(?P<repo>[^/]+?)\.git(?P<rest>/.*)"

REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")
STATUS_STATES = ("error", "failure", "pending", "success")
CHECK_STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CHECK_CONCLUSIONS = ("action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale",
                     "timed_out")
REVIEW_EVENTS = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}
RATE_LIMIT = 5000


class GitHubService(Service):
    name = "github"

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory
        self.store = GitStore(directory / "repos")
        self.reset()
        self._routes_api()
        self._routes_control()
        self.route("GET", GIT_PATH, self.git_http)
        self.route("POST", GIT_PATH, self.git_http)

    def public_url(self) -> str:
        return f"{self.base_url}/api/v3"

    @property
    def urls(self) -> js.Urls:
        return js.Urls(self.base_url)

    def reset(self) -> None:
        # State is in memory, so repositories left on disk by an earlier run are orphans: start clean.
        self.store.remove_all()
        self.repos: dict[str, Repo] = {}
        self.orgs: set[str] = set()
        self.comments: dict[int, tuple[Repo, CommentRecord]] = {}
        self.rate: dict[str, tuple[int, int]] = {}  # user -> (window reset epoch, used)
        self.merge_cache: dict[tuple[str, str, str], dict[str, Any]] = {}
        self._next_id = 1000

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    # -- the base's hooks --------------------------------------------------------------------------------
    def error_body(self, status: int, message: str) -> Any:
        return {"message": message, "documentation_url": js.DOCS, "status": str(status)}

    @staticmethod
    def _is_git(path: str) -> bool:
        return not path.startswith(("/api/", "/_sandbox/")) and ".git/" in path

    def requires_auth(self, request: Request) -> bool:
        if request.path.startswith("/_sandbox/"):
            return False
        if self._is_git(request.path):  # clones of public repositories are anonymous; pushes are not
            return request.path.endswith("/git-receive-pack") or request.arg("service") == "git-receive-pack"
        return True

    def unauthorized(self, request: Request) -> HttpError:
        exc = super().unauthorized(request)
        if self._is_git(request.path):
            exc.headers["WWW-Authenticate"] = 'Basic realm="GitHub"'
        return exc

    def default_headers(self, request: Request) -> dict[str, str]:
        if not request.path.startswith("/api/"):
            return {}
        who = request.user or "-anonymous"
        limit = RATE_LIMIT if request.user else 60
        with self.lock:
            reset, used = self.rate.get(who, (0, 0))
            if reset <= time.time():
                reset, used = int(time.time()) + 3600, 0
            used += 1
            self.rate[who] = (reset, used)
        return {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - used)),
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Used": str(used),
            "X-RateLimit-Resource": "core",
            "X-GitHub-Media-Type": "github.v3; format=json",
            "X-GitHub-Request-Id": ":".join(secrets.token_hex(n).upper() for n in (2, 3, 4, 4, 4)),
        }

    # -- helpers -----------------------------------------------------------------------------------------
    def not_found(self) -> HttpError:
        return self.error(404, "Not Found")

    @staticmethod
    def invalid(message: str, errors: list[Any] | None = None) -> HttpError:
        return HttpError(422, js.error(message, errors))

    def repo(self, request: Request) -> Repo:
        found = self.repos.get(f"{request.params['owner']}/{request.params['repo']}".lower())
        if found is None:
            raise self.not_found()
        return found

    def pull(self, request: Request) -> tuple[Repo, PullRecord]:
        repo = self.repo(request)
        pr = repo.pulls.get(int(request.params["number"]))
        if pr is None:
            raise self.not_found()
        return repo, pr

    def body(self, request: Request) -> dict[str, Any]:
        data = request.json()
        if not isinstance(data, dict):
            raise HttpError(400, js.error("Problems parsing JSON"))
        return data

    def paginate(self, request: Request, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        per_page = min(100, max(1, request.int_arg("per_page", 30)))
        page = max(1, request.int_arg("page", 1))
        last = max(1, math.ceil(len(items) / per_page))
        chunk = items[(page - 1) * per_page: page * per_page]

        def link(number: int, rel: str) -> str:
            query = {k: v[-1] for k, v in request.query.items()}
            query["page"] = str(number)
            return f'<{self.base_url}{request.raw_path}?{urlencode(query)}>; rel="{rel}"'

        links = []
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        return chunk, ({"Link": ", ".join(links)} if links else {})

    def head_sha(self, pr: PullRecord) -> str:
        if pr.state == "open" and pr.head_repo is not None:
            sha = self.store.branch(pr.head_repo.path, pr.head_ref)
            if sha:
                pr.head_sha = sha
        return pr.head_sha

    def base_sha(self, repo: Repo, pr: PullRecord) -> str:
        if pr.state == "open":
            sha = self.store.branch(repo.path, pr.base_ref)
            if sha:
                pr.base_sha = sha
        return pr.base_sha

    def trial_merge(self, repo: Repo, base: str, head: str) -> dict[str, Any]:
        """What merging head into base would give; cached, since it only depends on the two commits."""
        key = (str(repo.path), base, head)
        cached = self.merge_cache.get(key)
        if cached is not None:
            return cached
        tree = self.store.merge_tree(repo.path, base, head)
        commits, additions, deletions, files = self.store.diff_stats(repo.path, base, head)
        result = {
            "tree": tree,
            "up_to_date": self.store.is_ancestor(repo.path, base, head),
            "commits": commits, "additions": additions, "deletions": deletions, "changed_files": files,
            "test_merge": self.store.commit_tree(repo.path, tree, [base, head], "Merge (test)", GITHUB, GITHUB)
            if tree else None,
        }
        if len(self.merge_cache) > 2000:
            self.merge_cache.clear()
        self.merge_cache[key] = result
        return result

    def pr_json(self, repo: Repo, pr: PullRecord, viewer: str | None, *, full: bool = True) -> dict[str, Any]:
        head, base = self.head_sha(pr), self.base_sha(repo, pr)
        computed: dict[str, Any] | None = None
        if full:
            computed = dict(self.trial_merge(repo, base, head))
            if pr.state != "open" or pr.null_reads > 0:
                pr.null_reads = max(0, pr.null_reads - 1) if pr.state == "open" else pr.null_reads
                computed.update(mergeable=None, rebaseable=None, mergeable_state="unknown", test_merge=None)
            else:
                clean = computed["tree"] is not None
                state = "dirty" if not clean else "draft" if pr.draft else \
                    "clean" if computed["up_to_date"] else "behind"
                computed.update(mergeable=clean, rebaseable=clean, mergeable_state=state)
        return js.pull_request(self.urls, repo, pr, viewer, head_sha=head, base_sha=base, full=full,
                               computed=computed)

    def touch(self, pr: PullRecord) -> None:
        pr.updated_at = now_iso()

    # -- routes: repositories -------------------------------------------------------------------------------
    def _routes_api(self) -> None:
        r = self.route
        r("GET", API + r"/user", self.get_user)
        r("POST", API + r"/user/repos", self.create_user_repo)
        r("POST", API + r"/orgs/(?P<org>[^/]+)/repos", self.create_org_repo)
        r("GET", REPO, self.get_repo)
        r("POST", REPO + r"/forks", self.create_fork)
        r("GET", REPO + r"/pulls", self.list_pulls)
        r("POST", REPO + r"/pulls", self.create_pull)
        r("GET", REPO + PULL, self.get_pull)
        r("PATCH", REPO + PULL, self.update_pull)
        r("GET", REPO + PULL + r"/commits", self.list_pull_commits)
        r("GET", REPO + PULL + r"/merge", self.check_merged)
        r("PUT", REPO + PULL + r"/merge", self.merge_pull)
        r("PUT", REPO + PULL + r"/update-branch", self.update_branch)
        r("GET", REPO + PULL + r"/reviews", self.list_reviews)
        r("POST", REPO + PULL + r"/reviews", self.create_review)
        r("POST", REPO + r"/statuses/(?P<sha>[^/]+)", self.create_status)
        r("GET", REPO + r"/commits/(?P<ref>.+)/status", self.combined_status)
        r("GET", REPO + r"/commits/(?P<ref>.+)/statuses", self.list_statuses)
        r("GET", REPO + r"/commits/(?P<ref>.+)/check-runs", self.list_check_runs)
        r("GET", REPO + r"/compare/(?P<basehead>.+)", self.compare)
        r("POST", REPO + r"/check-runs", self.create_check_run)
        r("GET", REPO + r"/check-runs/(?P<id>\d+)", self.get_check_run)
        r("PATCH", REPO + r"/check-runs/(?P<id>\d+)", self.update_check_run)
        r("GET", REPO + r"/issues/comments/(?P<id>\d+)", self.get_comment)
        r("PATCH", REPO + r"/issues/comments/(?P<id>\d+)", self.update_comment)
        r("GET", REPO + ISSUE + r"/comments", self.list_comments)
        r("POST", REPO + ISSUE + r"/comments", self.create_comment)
        r("GET", REPO + ISSUE + r"/reactions", self.list_reactions)
        r("POST", REPO + ISSUE + r"/reactions", self.create_reaction)
        r("GET", REPO + ISSUE + r"/labels", self.list_labels)
        r("POST", REPO + ISSUE + r"/labels", self.add_labels)
        r("DELETE", REPO + ISSUE + r"/labels/(?P<name>.+)", self.remove_label)
        r("DELETE", REPO + r"/git/refs/(?P<ref>.+)", self.delete_ref)

    def get_user(self, request: Request) -> Response:
        return Response(200, js.user(self.urls, request.user or ""))

    def create_user_repo(self, request: Request) -> Response:
        return self._create_repo(request, request.user or "", org=False)

    def create_org_repo(self, request: Request) -> Response:
        org = request.params["org"]
        self.orgs.add(org.lower())  # organisations exist on first use
        return self._create_repo(request, org, org=True)

    def _create_repo(self, request: Request, owner: str, org: bool) -> Response:
        data = self.body(request)
        name = str(data.get("name") or "").strip()
        if not name:
            raise self.invalid("Repository creation failed.",
                               [{"resource": "Repository", "code": "missing_field", "field": "name"}])
        if f"{owner}/{name}".lower() in self.repos:
            raise self.invalid("Repository creation failed.", [
                {"resource": "Repository", "code": "custom", "field": "name",
                 "message": "name already exists on this account"}])
        stamp = now_iso()
        repo = Repo(owner=owner, name=name, id=self.new_id(), path=self.store.path(owner, name), org=org,
                    creator=request.user or owner, private=bool(data.get("private", False)),
                    description=data.get("description"), default_branch="main", created_at=stamp,
                    updated_at=stamp, pushed_at=None)
        self.store.init(repo.path, repo.default_branch)
        if data.get("auto_init"):
            sha = self.store.commit_files(repo.path, None, {"README.md": f"# {name}\n"}, "Initial commit",
                                          Person.of(repo.creator))
            self.store.update_ref(repo.path, f"refs/heads/{repo.default_branch}", sha, None)
            repo.pushed_at = stamp
        self.repos[repo.full_name.lower()] = repo
        body = js.repository(self.urls, repo, request.user)
        return Response(201, body, {"Location": body["url"]})

    def get_repo(self, request: Request) -> Response:
        return Response(200, js.repository(self.urls, self.repo(request), request.user))

    def create_fork(self, request: Request) -> Response:
        source = self.repo(request)
        data = self.body(request)
        owner = str(data.get("organization") or request.user)
        name = str(data.get("name") or source.name)
        existing = self.repos.get(f"{owner}/{name}".lower())
        if existing is not None:
            if existing.parent is source:
                return Response(202, js.repository(self.urls, existing, request.user))
            raise self.invalid("Validation Failed", [{"resource": "Repository", "code": "custom", "field": "name",
                                                      "message": "name already exists on this account"}])
        stamp = now_iso()
        fork = Repo(owner=owner, name=name, id=self.new_id(), path=self.store.path(owner, name),
                    org=bool(data.get("organization")), creator=request.user or owner, private=source.private,
                    description=source.description, default_branch=source.default_branch, created_at=stamp,
                    updated_at=stamp, pushed_at=source.pushed_at, parent=source)
        if fork.org:
            self.orgs.add(owner.lower())
        self.store.fork(source.path, fork.path)
        source.forks.append(fork)
        self.repos[fork.full_name.lower()] = fork
        return Response(202, js.repository(self.urls, fork, request.user))

    # -- routes: pull requests ------------------------------------------------------------------------------
    def _network(self, repo: Repo) -> Repo:
        while repo.parent is not None:
            repo = repo.parent
        return repo

    def create_pull(self, request: Request) -> Response:
        repo = self.repo(request)
        data = self.body(request)
        missing = [name for name in ("title", "head", "base") if not data.get(name)]
        if missing:
            raise self.invalid("Validation Failed", [{"resource": "PullRequest", "code": "missing_field",
                                                      "field": name} for name in missing])
        head_owner, _, head_ref = str(data["head"]).rpartition(":")
        head_owner = head_owner or repo.owner
        base_ref = str(data["base"])
        head_repo = repo
        if head_owner.lower() != repo.owner.lower():
            candidates = [r for r in self.repos.values() if r.owner.lower() == head_owner.lower()
                          and r.parent is not None and self._network(r) is self._network(repo)]
            if not candidates:
                raise self.invalid("Validation Failed", [{"resource": "PullRequest", "field": "head",
                                                          "code": "invalid"}])
            head_repo = candidates[0]
            head_owner = head_repo.owner
        head = self.store.branch(head_repo.path, head_ref)
        if head is None:
            raise self.invalid("Validation Failed", [{"resource": "PullRequest", "field": "head", "code": "invalid"}])
        base = self.store.branch(repo.path, base_ref)
        if base is None:
            raise self.invalid("Validation Failed", [{"resource": "PullRequest", "field": "base", "code": "invalid"}])
        for other in repo.pulls.values():
            if other.state == "open" and other.head_repo is head_repo and other.head_ref == head_ref \
                    and other.base_ref == base_ref:
                raise self.invalid("Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                   "message": f"A pull request already exists for {head_owner}:{head_ref}."}])
        if head_repo is not repo:
            self.store.share_objects(repo.path, head_repo.path)
        if self.store.is_ancestor(repo.path, head, base):
            raise self.invalid("Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                                      "message": f"No commits between {base_ref} and {head_ref}"}])
        stamp = now_iso()
        pr = PullRecord(number=repo.next_number, id=self.new_id(), title=str(data["title"]),
                        body=data.get("body"), author=request.user or "", head_owner=head_owner,
                        head_repo=head_repo, head_ref=head_ref, base_ref=base_ref, draft=bool(data.get("draft")),
                        created_at=stamp, updated_at=stamp, head_sha=head, base_sha=base)
        repo.next_number += 1
        repo.pulls[pr.number] = pr
        body = self.pr_json(repo, pr, request.user)
        return Response(201, body, {"Location": body["url"]})

    def list_pulls(self, request: Request) -> Response:
        repo = self.repo(request)
        state = request.arg("state", "open")
        head = request.arg("head")
        base = request.arg("base")
        found = []
        for pr in repo.pulls.values():
            if state != "all" and pr.state != state:
                continue
            if base and pr.base_ref != base:
                continue
            if head:
                owner, _, ref = head.rpartition(":")
                if ref != pr.head_ref or (owner and owner.lower() != pr.head_owner.lower()):
                    continue
            found.append(pr)
        key = "updated_at" if request.arg("sort") == "updated" else "created_at"
        found.sort(key=lambda p: (getattr(p, key), p.number), reverse=request.arg("direction", "desc") != "asc")
        chunk, headers = self.paginate(request, found)
        return Response(200, [self.pr_json(repo, pr, request.user, full=False) for pr in chunk], headers)

    def get_pull(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        return Response(200, self.pr_json(repo, pr, request.user))

    def update_pull(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        data = self.body(request)
        if "title" in data:
            pr.title = str(data["title"])
        if "body" in data:
            pr.body = data["body"]
        if "base" in data:
            if self.store.branch(repo.path, str(data["base"])) is None:
                raise self.invalid("Validation Failed", [{"resource": "PullRequest", "field": "base",
                                                          "code": "invalid"}])
            pr.base_ref = str(data["base"])
        state = data.get("state")
        if state == "closed" and pr.state == "open":
            self.head_sha(pr)
            self.base_sha(repo, pr)
            pr.state, pr.closed_at = "closed", now_iso()
        elif state == "open" and pr.state == "closed":
            if pr.merged:
                raise self.invalid("Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                   "field": "state", "message": "state cannot be changed. The pull request "
                                                                "cannot be reopened"}])
            pr.state, pr.closed_at = "open", None
        elif state not in (None, "open", "closed"):
            raise self.invalid("Validation Failed", [{"resource": "PullRequest", "field": "state",
                                                      "code": "invalid"}])
        self.touch(pr)
        return Response(200, self.pr_json(repo, pr, request.user))

    def list_pull_commits(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        head, base = self.head_sha(pr), self.base_sha(repo, pr)
        api = self.urls.repo_api(repo.full_name)
        raw = self.store.git(repo.path, "log", "--reverse", "--format=%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn"
                             "%x00%ce%x00%cI%x00%B%x1e", f"{base}..{head}")
        commits = []
        for record in filter(None, (r.strip("\n") for r in raw.split("\x1e"))):
            sha, tree, parents, an, ae, ad, cn, ce, cd, message = record.split("\x00", 9)
            commits.append({
                "url": f"{api}/commits/{sha}", "sha": sha, "node_id": js.node_id("Commit", int(sha[:7], 16)),
                "html_url": f"{self.urls.repo_html(repo.full_name)}/commit/{sha}",
                "comments_url": f"{api}/commits/{sha}/comments",
                "commit": {"url": f"{api}/git/commits/{sha}", "author": {"name": an, "email": ae, "date": ad},
                           "committer": {"name": cn, "email": ce, "date": cd}, "message": message.rstrip("\n"),
                           "tree": {"url": f"{api}/git/trees/{tree}", "sha": tree}, "comment_count": 0},
                "author": None, "committer": None,
                "parents": [{"url": f"{api}/commits/{p}", "sha": p} for p in parents.split()],
            })
        chunk, headers = self.paginate(request, commits)
        return Response(200, chunk, headers)

    def check_merged(self, request: Request) -> Response:
        _, pr = self.pull(request)
        if pr.merged:
            return Response(204)
        raise self.not_found()

    def merge_pull(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        data = self.body(request)
        method = data.get("merge_method", "merge")
        if method not in ("merge", "squash", "rebase"):
            raise self.invalid("Validation Failed", [{"resource": "PullRequest", "field": "merge_method",
                                                      "code": "invalid"}])
        if pr.state != "open":
            raise HttpError(405, {"message": "Pull Request is not mergeable"})
        head, base = self.head_sha(pr), self.base_sha(repo, pr)
        if data.get("sha") and data["sha"] != head:
            raise HttpError(409, {"message": "Head branch was modified. Review and try the merge again."})
        if pr.draft:
            raise HttpError(405, {"message": "Pull Request is still a draft"})
        trial = self.trial_merge(repo, base, head)
        if trial["tree"] is None:
            raise HttpError(405, {"message": "Pull Request is not mergeable"})
        if pr.base_ref in repo.up_to_date_branches and not trial["up_to_date"]:
            raise HttpError(405, {"message": "Head branch is not up to date with the base branch"})
        merger = Person.of(request.user or "")
        if method == "merge":
            title = data.get("commit_title") or f"Merge pull request #{pr.number} from {pr.head_owner}/{pr.head_ref}"
            message = data.get("commit_message", pr.title)
            sha = self.store.commit_tree(repo.path, trial["tree"], [base, head],
                                         f"{title}\n\n{message}".rstrip() + "\n", merger, GITHUB)
        elif method == "squash":
            title = data.get("commit_title") or f"{pr.title} (#{pr.number})"
            message = data.get("commit_message") or "\n".join(
                f"* {line}" for line in self.store.git(repo.path, "log", "--format=%s", f"{base}..{head}")
                .splitlines())
            sha = self.store.commit_tree(repo.path, trial["tree"], [base],
                                         f"{title}\n\n{message}".rstrip() + "\n", Person.of(pr.author), GITHUB)
        else:
            rebased = self.store.rebase(repo.path, base, base, head, GITHUB)
            if rebased is None:
                raise HttpError(405, {"message": "This branch can't be rebased"})
            sha = rebased
        if not self.store.update_ref(repo.path, f"refs/heads/{pr.base_ref}", sha, base):
            raise HttpError(405, {"message": "Base branch was modified. Review and try the merge again."})
        stamp = now_iso()
        pr.state, pr.merged, pr.merged_at, pr.closed_at = "closed", True, stamp, stamp
        pr.merge_commit_sha, pr.merged_by, pr.updated_at = sha, request.user, stamp
        repo.pushed_at = stamp
        return Response(200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"})

    def update_branch(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        data = self.body(request)
        if pr.state != "open" or pr.head_repo is None:
            raise self.invalid("Pull request is not open")
        head, base = self.head_sha(pr), self.base_sha(repo, pr)
        expected = data.get("expected_head_sha")
        if expected and expected != head:
            raise self.invalid("expected head sha didn\u2019t match current head ref.")
        html = f"{self.urls.repo_html(repo.full_name)}/pull/{pr.number}"
        answer = Response(202, {"message": "Updating pull request branch.", "url": html})
        target = pr.head_repo.path
        if self.store.is_ancestor(target, base, head):
            return answer
        tree = self.store.merge_tree(target, head, base)
        if tree is None:
            raise self.invalid("merge conflict between base and head")
        merged = self.store.commit_tree(target, tree, [head, base],
                                        f"Merge branch '{pr.base_ref}' into {pr.head_ref}\n",
                                        Person.of(request.user or ""), GITHUB)
        if not self.store.update_ref(target, f"refs/heads/{pr.head_ref}", merged, head):
            raise self.invalid("expected head sha didn\u2019t match current head ref.")
        self.touch(pr)
        return answer

    def delete_ref(self, request: Request) -> Response:
        repo = self.repo(request)
        ref = request.params["ref"]
        if ref.startswith("heads/") and ref[len("heads/"):] == repo.default_branch:
            raise self.invalid("Cannot delete the default branch")
        orphans = self._pulls_from(repo, ref[len("heads/"):]) if ref.startswith("heads/") else []
        for pr in orphans:
            self.head_sha(pr)  # remember the last head before the branch goes
        if not self.store.resolve(repo.path, f"refs/{ref}") or not self.store.delete_ref(repo.path, f"refs/{ref}"):
            raise self.invalid("Reference does not exist")
        for pr in orphans:  # GitHub closes the PRs whose head branch is deleted
            pr.state, pr.closed_at = "closed", now_iso()
        return Response(204)

    def _pulls_from(self, repo: Repo, branch: str) -> list[PullRecord]:
        network = [r for r in self.repos.values() if self._network(r) is self._network(repo)]
        return [pr for r in network for pr in r.pulls.values()
                if pr.state == "open" and pr.head_repo is repo and pr.head_ref == branch]

    # -- routes: reviews -----------------------------------------------------------------------------------
    def review_json(self, repo: Repo, pr: PullRecord, review: ReviewRecord) -> dict[str, Any]:
        html = f"{self.urls.repo_html(repo.full_name)}/pull/{pr.number}#pullrequestreview-{review.id}"
        pr_url = f"{self.urls.repo_api(repo.full_name)}/pulls/{pr.number}"
        return {
            "id": review.id,
            "node_id": js.node_id("PullRequestReview", review.id),
            "user": js.user(self.urls, review.user),
            "body": review.body,
            "state": review.state,
            "html_url": html,
            "pull_request_url": pr_url,
            "_links": {"html": {"href": html}, "pull_request": {"href": pr_url}},
            "submitted_at": review.submitted_at,
            "commit_id": review.commit_id,
            "author_association": js.association(repo, review.user),
        }

    def list_reviews(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        visible = [r for r in pr.reviews if r.state != "PENDING" or r.user == request.user]
        chunk, headers = self.paginate(request, visible)
        return Response(200, [self.review_json(repo, pr, r) for r in chunk], headers)

    def create_review(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        data = self.body(request)
        event = data.get("event")
        if event is not None and event not in REVIEW_EVENTS:
            raise self.invalid("Validation Failed", [{"resource": "PullRequestReview", "field": "event",
                                                      "code": "invalid"}])
        if request.user == pr.author and event in ("APPROVE", "REQUEST_CHANGES"):
            what = "approve" if event == "APPROVE" else "request changes on"
            raise self.invalid("Unprocessable Entity", [f"Can not {what} your own pull request"])
        review = ReviewRecord(id=self.new_id(), user=request.user or "",
                              state=REVIEW_EVENTS[event] if event else "PENDING", body=str(data.get("body") or ""),
                              commit_id=str(data.get("commit_id") or self.head_sha(pr)),
                              submitted_at=now_iso() if event else None)
        pr.reviews.append(review)
        self.touch(pr)
        return Response(200, self.review_json(repo, pr, review))

    # -- routes: statuses and check runs ----------------------------------------------------------------------
    def status_json(self, repo: Repo, status: StatusRecord, *, creator: bool = True) -> dict[str, Any]:
        body = {
            "url": f"{self.urls.repo_api(repo.full_name)}/statuses/{status.sha}",
            "avatar_url": f"{self.base_url}/avatars/{status.creator}",
            "id": status.id,
            "node_id": js.node_id("StatusContext", status.id),
            "state": status.state,
            "description": status.description,
            "target_url": status.target_url,
            "context": status.context,
            "created_at": status.created_at,
            "updated_at": status.updated_at,
        }
        if creator:
            body["creator"] = js.user(self.urls, status.creator)
        return body

    def _add_status(self, repo: Repo, sha_or_ref: str, data: dict[str, Any], creator: str,
                    created_at: str | None = None) -> StatusRecord:
        state = data.get("state")
        if state not in STATUS_STATES:
            raise self.invalid("Validation Failed", [{"resource": "Status", "code": "custom", "field": "state",
                                                      "message": "state is not included in the list"}])
        sha = self.store.resolve(repo.path, sha_or_ref)
        if sha is None:
            raise self.invalid(f"No commit found for SHA: {sha_or_ref}")
        stamp = created_at or now_iso()
        status = StatusRecord(id=self.new_id(), sha=sha, state=state, context=str(data.get("context") or "default"),
                              description=data.get("description"), target_url=data.get("target_url"),
                              creator=creator, created_at=stamp, updated_at=stamp)
        repo.statuses.append(status)
        return status

    def create_status(self, request: Request) -> Response:
        repo = self.repo(request)
        status = self._add_status(repo, request.params["sha"], self.body(request), request.user or "")
        body = self.status_json(repo, status)
        return Response(201, body, {"Location": body["url"]})

    def _commit(self, repo: Repo, ref: str) -> str:
        sha = self.store.resolve(repo.path, ref)
        if sha is None:
            raise self.invalid(f"No commit found for SHA: {ref}")
        return sha

    @staticmethod
    def _newest_first(records: list[Any], stamp: str) -> list[Any]:
        return sorted(records, key=lambda r: (getattr(r, stamp), r.id), reverse=True)

    def compare(self, request: Request) -> Response:
        """GET /repos/{o}/{r}/compare/BASE...HEAD: how far HEAD is ahead of and behind BASE (the `behind_by` jdci
        reads for "up to date with the target"). Commits are listed without files or stats."""
        repo = self.repo(request)
        base_ref, sep, head_ref = request.params["basehead"].partition("...")
        if not sep or not base_ref or not head_ref:
            raise self.not_found()
        base = self.store.resolve(repo.path, base_ref)
        head = self.store.resolve(repo.path, head_ref)
        if base is None or head is None:
            raise self.not_found()
        merge_base = self.store.git(repo.path, "merge-base", base, head, check=False)
        if not merge_base:
            raise self.invalid(f"No common ancestor between {base_ref} and {head_ref}.")
        ahead = [sha for sha in self.store.git(repo.path, "rev-list", "--reverse", f"{base}..{head}").split() if sha]
        behind = int(self.store.git(repo.path, "rev-list", "--count", f"{head}..{base}") or 0)
        status = "identical" if base == head else "diverged" if ahead and behind else \
            "ahead" if ahead else "behind"
        api, html = self.urls.repo_api(repo.full_name), self.urls.repo_html(repo.full_name)

        def commit(sha: str) -> dict[str, Any]:
            message = self.store.git(repo.path, "log", "-1", "--format=%B", sha)
            return {"sha": sha, "url": f"{api}/commits/{sha}", "html_url": f"{html}/commit/{sha}",
                    "commit": {"message": message}}

        spec = request.params["basehead"]
        return Response(200, {
            "url": f"{api}/compare/{spec}", "html_url": f"{html}/compare/{spec}",
            "permalink_url": f"{html}/compare/{base}...{head}", "diff_url": f"{html}/compare/{spec}.diff",
            "patch_url": f"{html}/compare/{spec}.patch", "base_commit": commit(base),
            "merge_base_commit": commit(merge_base), "status": status, "ahead_by": len(ahead),
            "behind_by": behind, "total_commits": len(ahead), "commits": [commit(sha) for sha in ahead[:250]],
        })

    def combined_status(self, request: Request) -> Response:
        repo = self.repo(request)
        sha = self._commit(repo, request.params["ref"])
        latest: dict[str, StatusRecord] = {}
        for status in self._newest_first([s for s in repo.statuses if s.sha == sha], "created_at"):
            latest.setdefault(status.context, status)
        states = {s.state for s in latest.values()}
        state = "pending" if not states else "failure" if states & {"error", "failure"} else \
            "pending" if "pending" in states else "success"
        chunk, headers = self.paginate(request, list(latest.values()))
        api = self.urls.repo_api(repo.full_name)
        return Response(200, {
            "state": state,
            "statuses": [self.status_json(repo, s, creator=False) for s in chunk],
            "sha": sha,
            "total_count": len(latest),
            "repository": js.repository(self.urls, repo, request.user, keys=js.MINIMAL_REPO_KEYS),
            "commit_url": f"{api}/commits/{sha}",
            "url": f"{api}/commits/{sha}/status",
        }, headers)

    def list_statuses(self, request: Request) -> Response:
        repo = self.repo(request)
        sha = self._commit(repo, request.params["ref"])
        found = self._newest_first([s for s in repo.statuses if s.sha == sha], "created_at")
        chunk, headers = self.paginate(request, found)
        return Response(200, [self.status_json(repo, s) for s in chunk], headers)

    def check_run_json(self, repo: Repo, run: CheckRunRecord) -> dict[str, Any]:
        api = self.urls.repo_api(repo.full_name)
        app_owner = js.user(self.urls, run.creator)
        pulls = [pr for pr in repo.pulls.values() if pr.state == "open" and pr.head_sha == run.head_sha]

        def minimal(ref: str, sha: str, r: Repo) -> dict[str, Any]:
            return {"ref": ref, "sha": sha, "repo": {"id": r.id, "url": self.urls.repo_api(r.full_name),
                                                     "name": r.name}}

        return {
            "id": run.id,
            "head_sha": run.head_sha,
            "node_id": js.node_id("CheckRun", run.id),
            "external_id": run.external_id,
            "url": f"{api}/check-runs/{run.id}",
            "html_url": f"{self.urls.repo_html(repo.full_name)}/runs/{run.id}",
            "details_url": run.details_url,
            "status": run.status,
            "conclusion": run.conclusion,
            "started_at": run.started_at,
            "completed_at": run.completed_at,
            "output": {
                "title": run.output.get("title"),
                "summary": run.output.get("summary"),
                "text": run.output.get("text"),
                "annotations_count": 0,
                "annotations_url": f"{api}/check-runs/{run.id}/annotations",
            },
            "name": run.name,
            "check_suite": {"id": run.id + 500_000},
            "app": {
                "id": js.user_id(run.creator),
                "slug": run.creator,
                "node_id": js.node_id("Integration", js.user_id(run.creator)),
                "owner": app_owner,
                "name": run.creator,
                "description": "",
                "external_url": self.base_url,
                "html_url": f"{self.base_url}/apps/{run.creator}",
                "created_at": repo.created_at,
                "updated_at": repo.created_at,
                "permissions": {"metadata": "read", "contents": "read", "issues": "write", "single_file": "write"},
                "events": ["push", "pull_request"],
            },
            "pull_requests": [
                {"url": f"{api}/pulls/{pr.number}", "id": pr.id, "number": pr.number,
                 "head": minimal(pr.head_ref, pr.head_sha, pr.head_repo or repo),
                 "base": minimal(pr.base_ref, pr.base_sha, repo)}
                for pr in pulls
            ],
        }

    def _apply_check_fields(self, run: CheckRunRecord, data: dict[str, Any], stamp: str) -> None:
        status = data.get("status")
        conclusion = data.get("conclusion")
        if status is not None and status not in CHECK_STATUSES:
            raise self.invalid("Validation Failed", [{"resource": "CheckRun", "field": "status", "code": "invalid"}])
        if conclusion is not None and conclusion not in CHECK_CONCLUSIONS:
            raise self.invalid("Validation Failed", [{"resource": "CheckRun", "field": "conclusion",
                                                      "code": "invalid"}])
        if status == "completed" and conclusion is None and run.conclusion is None:
            raise self.invalid("Validation Failed", [{"resource": "CheckRun", "field": "conclusion",
                                                      "code": "missing_field"}])
        for name in ("name", "details_url", "external_id"):
            if name in data:
                setattr(run, name, data[name] if name != "external_id" else str(data[name] or ""))
        if isinstance(data.get("output"), dict):
            run.output = data["output"]
        if status is not None:
            run.status = status
        if conclusion is not None:
            run.conclusion, run.status = conclusion, "completed"
        if data.get("started_at"):
            run.started_at = str(data["started_at"])
        if run.status == "completed":
            run.completed_at = str(data.get("completed_at") or run.completed_at or stamp)

    def _add_check_run(self, repo: Repo, data: dict[str, Any], creator: str,
                       created_at: str | None = None) -> CheckRunRecord:
        if not data.get("name") or not data.get("head_sha"):
            raise self.invalid("Validation Failed", [{"resource": "CheckRun", "code": "missing_field",
                                                      "field": "name" if not data.get("name") else "head_sha"}])
        sha = self._commit(repo, str(data["head_sha"]))
        stamp = created_at or now_iso()
        run = CheckRunRecord(id=self.new_id(), head_sha=sha, name=str(data["name"]), status="queued",
                             conclusion=None, details_url=None, external_id="", started_at=stamp,
                             completed_at=None, output={}, creator=creator)
        self._apply_check_fields(run, data, stamp)
        repo.check_runs.append(run)
        return run

    def create_check_run(self, request: Request) -> Response:
        repo = self.repo(request)
        run = self._add_check_run(repo, self.body(request), request.user or "")
        return Response(201, self.check_run_json(repo, run))

    def _check_run(self, request: Request) -> tuple[Repo, CheckRunRecord]:
        repo = self.repo(request)
        for run in repo.check_runs:
            if run.id == int(request.params["id"]):
                return repo, run
        raise self.not_found()

    def get_check_run(self, request: Request) -> Response:
        repo, run = self._check_run(request)
        return Response(200, self.check_run_json(repo, run))

    def update_check_run(self, request: Request) -> Response:
        repo, run = self._check_run(request)
        self._apply_check_fields(run, self.body(request), now_iso())
        return Response(200, self.check_run_json(repo, run))

    def list_check_runs(self, request: Request) -> Response:
        repo = self.repo(request)
        sha = self._commit(repo, request.params["ref"])
        runs = self._newest_first([r for r in repo.check_runs if r.head_sha == sha], "started_at")
        if request.arg("check_name"):
            runs = [r for r in runs if r.name == request.arg("check_name")]
        if request.arg("status"):
            runs = [r for r in runs if r.status == request.arg("status")]
        if request.arg("filter", "latest") == "latest":
            seen: set[str] = set()
            runs = [r for r in runs if not (r.name in seen or seen.add(r.name))]  # type: ignore[func-returns-value]
        chunk, headers = self.paginate(request, runs)
        return Response(200, {"total_count": len(runs), "check_runs": [self.check_run_json(repo, r) for r in chunk]},
                        headers)

    # -- routes: comments, reactions, labels -----------------------------------------------------------------------
    def comment_json(self, repo: Repo, comment: CommentRecord, *, single: bool = True) -> dict[str, Any]:
        api = self.urls.repo_api(repo.full_name)
        body: dict[str, Any] = {
            "id": comment.id,
            "node_id": js.node_id("IssueComment", comment.id),
            "url": f"{api}/issues/comments/{comment.id}",
            "html_url": f"{self.urls.repo_html(repo.full_name)}/pull/{comment.number}#issuecomment-{comment.id}",
            "body": comment.body,
            "user": js.user(self.urls, comment.user),
            "created_at": comment.created_at,
            "updated_at": comment.updated_at,
            "issue_url": f"{api}/issues/{comment.number}",
            "author_association": js.association(repo, comment.user),
        }
        if single:
            body["pin"] = None
        body["minimized"] = None
        return body

    def list_comments(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        chunk, headers = self.paginate(request, [self.comments[i][1] for i in pr.comment_ids])
        return Response(200, [self.comment_json(repo, c, single=False) for c in chunk], headers)

    def create_comment(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        data = self.body(request)
        if not data.get("body"):
            raise self.invalid("Validation Failed", [{"resource": "IssueComment", "code": "missing_field",
                                                      "field": "body"}])
        stamp = now_iso()
        comment = CommentRecord(id=self.new_id(), number=pr.number, user=request.user or "",
                                body=str(data["body"]), created_at=stamp, updated_at=stamp)
        self.comments[comment.id] = (repo, comment)
        pr.comment_ids.append(comment.id)
        self.touch(pr)
        body = self.comment_json(repo, comment)
        return Response(201, body, {"Location": body["url"]})

    def _comment(self, request: Request) -> tuple[Repo, CommentRecord]:
        repo = self.repo(request)
        found = self.comments.get(int(request.params["id"]))
        if found is None or found[0] is not repo:
            raise self.not_found()
        return found

    def get_comment(self, request: Request) -> Response:
        repo, comment = self._comment(request)
        return Response(200, self.comment_json(repo, comment))

    def update_comment(self, request: Request) -> Response:
        repo, comment = self._comment(request)
        data = self.body(request)
        if not data.get("body"):
            raise self.invalid("Validation Failed", [{"resource": "IssueComment", "code": "missing_field",
                                                      "field": "body"}])
        comment.body = str(data["body"])
        comment.updated_at = now_iso()
        return Response(200, self.comment_json(repo, comment))

    def reaction_json(self, reaction: ReactionRecord) -> dict[str, Any]:
        return {"id": reaction.id, "node_id": js.node_id("Reaction", reaction.id),
                "user": js.user(self.urls, reaction.user), "content": reaction.content,
                "created_at": reaction.created_at}

    def list_reactions(self, request: Request) -> Response:
        _, pr = self.pull(request)
        content = request.arg("content")
        found = [r for r in pr.reactions if content is None or r.content == content]
        chunk, headers = self.paginate(request, found)
        return Response(200, [self.reaction_json(r) for r in chunk], headers)

    def create_reaction(self, request: Request) -> Response:
        _, pr = self.pull(request)
        content = self.body(request).get("content")
        if content not in REACTIONS:
            raise self.invalid("Validation Failed", [{"resource": "Reaction", "code": "custom", "field": "content",
                                                      "message": "content is not included in the list"}])
        for reaction in pr.reactions:
            if reaction.user == request.user and reaction.content == content:
                return Response(200, self.reaction_json(reaction))
        reaction = ReactionRecord(id=self.new_id(), user=request.user or "", content=content, created_at=now_iso())
        pr.reactions.append(reaction)
        return Response(201, self.reaction_json(reaction))

    def _labels_json(self, repo: Repo, pr: PullRecord) -> list[dict[str, Any]]:
        return [js.label(self.urls, repo, repo.labels[name]) for name in pr.labels]

    def list_labels(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        chunk, headers = self.paginate(request, self._labels_json(repo, pr))
        return Response(200, chunk, headers)

    def add_labels(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        data = request.json()
        names = data.get("labels", []) if isinstance(data, dict) else data
        if not isinstance(names, list) or not names:
            raise self.invalid("Invalid request.\n\nNo subschema in \"anyOf\" matched.")
        for item in names:
            name = str(item.get("name") if isinstance(item, dict) else item)
            if name not in repo.labels:
                repo.labels[name] = Label(id=self.new_id(), name=name)
            if name not in pr.labels:
                pr.labels.append(name)
        self.touch(pr)
        return Response(200, self._labels_json(repo, pr))

    def remove_label(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        name = request.params["name"]
        if name not in pr.labels:
            raise self.error(404, "Label does not exist")
        pr.labels.remove(name)
        self.touch(pr)
        return Response(200, self._labels_json(repo, pr))

    # -- git over smart HTTP ----------------------------------------------------------------------------------
    def git_http(self, request: Request) -> Response:
        repo = self.repos.get(f"{request.params['owner']}/{request.params['repo']}".lower())
        if repo is None:
            return Response(404, b"Repository not found.\n", {"Content-Type": "text/plain"})
        pushing = request.path.endswith("/git-receive-pack")
        status, headers, body = self.store.http_backend(
            path_info=f"/{repo.owner}/{repo.name}.git{request.params['rest']}",
            method=request.method,
            query=urlencode({k: v[-1] for k, v in request.query.items()}),
            content_type=request.headers.get("Content-Type", ""),
            body=request.body,
            remote_user=request.user,
            content_encoding=request.headers.get("Content-Encoding", ""),
            git_protocol=request.headers.get("Git-Protocol", ""),
        )
        if pushing and status == 200:
            repo.pushed_at = now_iso()
        return Response(status, body, headers)

    # -- control API ----------------------------------------------------------------------------------------
    def _routes_control(self) -> None:
        r = self.route
        r("POST", CONTROL + PULL + r"/push", self.control_push)
        r("POST", CONTROL + r"/commits", self.control_commit)
        r("POST", CONTROL + r"/statuses/(?P<sha>[^/]+)", self.control_status)
        r("POST", CONTROL + r"/check-runs", self.control_check_run)
        r("POST", CONTROL + PULL + r"/mergeable-null", self.control_mergeable_null)
        r("PUT", CONTROL + r"/branches/(?P<branch>.+)/up-to-date", self.control_up_to_date)

    def _files(self, data: dict[str, Any], default_name: str, message: str) -> dict[str, str]:
        files = data.get("files")
        if isinstance(files, dict) and files:
            return {str(k): str(v) for k, v in files.items()}
        return {default_name: f"{message}\n{secrets.token_hex(8)}\n"}

    def control_push(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        if pr.head_repo is None:
            raise self.error(422, "the head repository is gone")
        data = self.body(request)
        message = str(data.get("message") or f"Update {pr.head_ref}")
        parent = self.store.branch(pr.head_repo.path, pr.head_ref)
        files = self._files(data, f"sandbox/{pr.head_ref.replace('/', '-')}-{self.new_id()}.txt", message)
        sha = self.store.commit_files(pr.head_repo.path, parent, files, message,
                                      Person.of(str(data.get("author") or pr.author)))
        if not self.store.update_ref(pr.head_repo.path, f"refs/heads/{pr.head_ref}", sha, parent):
            raise self.error(409, "the head branch moved meanwhile; try again")
        self.touch(pr)
        return Response(201, {"sha": sha, "ref": pr.head_ref})

    def control_commit(self, request: Request) -> Response:
        repo = self.repo(request)
        data = self.body(request)
        branch = str(data.get("branch") or repo.default_branch)
        message = str(data.get("message") or f"Update {branch}")
        parent = self.store.branch(repo.path, branch)
        if parent is None and data.get("from"):
            parent = self.store.resolve(repo.path, str(data["from"]))
            if parent is None:
                raise self.error(422, f"no commit {data['from']!r} to start branch {branch} from")
        elif parent is None:
            parent = self.store.branch(repo.path, repo.default_branch)
        files = self._files(data, f"sandbox/{branch.replace('/', '-')}-{self.new_id()}.txt", message)
        sha = self.store.commit_files(repo.path, parent, files, message,
                                      Person.of(str(data.get("author") or repo.owner)))
        old = self.store.branch(repo.path, branch)
        if not self.store.update_ref(repo.path, f"refs/heads/{branch}", sha, old):
            raise self.error(409, f"branch {branch} moved meanwhile; try again")
        repo.pushed_at = now_iso()
        return Response(201, {"sha": sha, "ref": branch})

    def control_status(self, request: Request) -> Response:
        repo = self.repo(request)
        data = self.body(request)
        status = self._add_status(repo, request.params["sha"], data, str(data.get("creator") or "sandbox"),
                                  data.get("created_at"))
        return Response(201, self.status_json(repo, status))

    def control_check_run(self, request: Request) -> Response:
        repo = self.repo(request)
        data = self.body(request)
        run = self._add_check_run(repo, data, str(data.get("creator") or "sandbox"), data.get("created_at"))
        return Response(201, self.check_run_json(repo, run))

    def control_mergeable_null(self, request: Request) -> Response:
        _, pr = self.pull(request)
        pr.null_reads = int(self.body(request).get("reads", 1))
        return Response(200, {"reads": pr.null_reads})

    def control_up_to_date(self, request: Request) -> Response:
        repo = self.repo(request)
        branch = request.params["branch"]
        if self.body(request).get("required", True):
            repo.up_to_date_branches.add(branch)
        else:
            repo.up_to_date_branches.discard(branch)
        return Response(200, {"branch": branch, "required": branch in repo.up_to_date_branches})
