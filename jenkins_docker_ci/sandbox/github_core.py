"""What every route of the GitHub sandbox shares: its state, the base server's hooks (error bodies, Basic auth,
rate-limit headers) and the lookups, body parsing and pagination each endpoint starts with.

The routes themselves are mixins of GitHubCore, one module per domain (github_repos, github_pulls, ...);
github.py combines them into GitHubService.
"""
from __future__ import annotations

import math
import re
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from . import github_json as js
from .github_records import CommentRecord, PullRecord, Repo, now_iso
from .gitstore import GitStore
from .server import HttpError, Request, Response, Service

API = r"/api/v3"
REPO = API + r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
CONTROL = r"/_sandbox/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"
PULL = r"/pulls/(?P<number>\d+)"
ISSUE = r"/issues/(?P<number>\d+)"

RATE_LIMIT = 5000


class GitHubCore(Service):
    name = "github"

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory
        self.store = GitStore(directory / "repos")
        self.reset()

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
        self.org_members: dict[str, set[str]] = {}  # organisation (lower case) -> member logins (lower case)
        self.authored: dict[tuple[str, str, str], bool] = {}  # (repository, default head, login) -> contributor?
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

    @classmethod
    def failed(cls, resource: str, code: str, field: str | None = None, message: str | None = None) -> HttpError:
        """GitHub's 422 "Validation Failed" for one bad field (see js.field_error)."""
        return cls.invalid("Validation Failed", [js.field_error(resource, code, field, message)])

    @staticmethod
    def created(body: dict[str, Any]) -> Response:
        """A create's answer: 201, with the new resource's API URL also in Location."""
        return Response(201, body, {"Location": body["url"]})

    def find_repo(self, owner: str, name: str) -> Repo | None:
        return self.repos.get(f"{owner}/{name}".lower())  # GitHub's names are case-insensitive

    def add_repo(self, repo: Repo) -> None:
        self.repos[repo.full_name.lower()] = repo

    def repo(self, request: Request) -> Repo:
        found = self.find_repo(request.params["owner"], request.params["repo"])
        if found is None:
            raise self.not_found()
        return found

    def members_of(self, org: str) -> set[str]:
        """The organisation's member set, shared by all its repositories (see Repo.org_members)."""
        return self.org_members.setdefault(org.lower(), set())

    def association(self, repo: Repo, login: str) -> str:
        """`author_association` (js.association); CONTRIBUTOR costs a look at the default branch's history."""
        found = js.association(repo, login)
        if found != "NONE":
            return found
        return js.association(repo, login, contributor=self._authored_default_branch(repo, login))

    def _authored_default_branch(self, repo: Repo, login: str) -> bool:
        """Whether `login` authored a commit on the default branch. Without GitHub's verified emails, the sandbox
        knows a user's commits by the identity it writes itself (LOGIN@users.noreply.github.com) or by an author
        name equal to the login."""
        head = self.store.branch(repo.path, repo.default_branch)
        if head is None or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]*", login):  # logins need no escaping
            return False
        key = (str(repo.path), head, login.lower())
        if key not in self.authored:
            pattern = rf"^{login} <|<{login}@users\.noreply\.github\.com>$"
            found = self.store.git(repo.path, "log", "-1", "--format=%H", "-i", "-E", f"--author={pattern}", head,
                                   check=False)
            if len(self.authored) > 2000:
                self.authored.clear()
            self.authored[key] = bool(found)
        return self.authored[key]

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

    def touch(self, pr: PullRecord) -> None:
        pr.updated_at = now_iso()
