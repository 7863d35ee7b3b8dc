"""GitHub sandbox routes for repositories: the user, creating repositories (user and organisation), forks,
compare, and git over smart HTTP (clone, fetch, push) on the bare repositories."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from . import github_json as js
from .github_core import API, REPO, GitHubCore
from .github_records import Repo, now_iso
from .gitstore import Person
from .server import Request, Response

GIT_PATH = r"/(?P<owner>[^/]+)/(?P<repo>[^/]+?)\.git(?P<rest>/.*)"
NAME_TAKEN = js.field_error("Repository", "custom", "name", "name already exists on this account")


class RepositoryRoutes(GitHubCore):
    def _routes_repositories(self) -> None:
        r = self.route
        r("GET", API + r"/user", self.get_user)
        r("POST", API + r"/user/repos", self.create_user_repo)
        r("POST", API + r"/orgs/(?P<org>[^/]+)/repos", self.create_org_repo)
        r("GET", REPO, self.get_repo)
        r("POST", REPO + r"/forks", self.create_fork)
        r("GET", REPO + r"/compare/(?P<basehead>.+)", self.compare)
        r("GET", GIT_PATH, self.git_http)
        r("POST", GIT_PATH, self.git_http)

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
            raise self.invalid("Repository creation failed.", [js.field_error("Repository", "missing_field", "name")])
        if self.find_repo(owner, name) is not None:
            raise self.invalid("Repository creation failed.", [NAME_TAKEN])
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
        self.add_repo(repo)
        return self.created(js.repository(self.urls, repo, request.user))

    def get_repo(self, request: Request) -> Response:
        return Response(200, js.repository(self.urls, self.repo(request), request.user))

    def create_fork(self, request: Request) -> Response:
        source = self.repo(request)
        data = self.body(request)
        owner = str(data.get("organization") or request.user)
        name = str(data.get("name") or source.name)
        existing = self.find_repo(owner, name)
        if existing is not None:
            if existing.parent is source:
                return Response(202, js.repository(self.urls, existing, request.user))
            raise self.invalid("Validation Failed", [NAME_TAKEN])
        stamp = now_iso()
        fork = Repo(owner=owner, name=name, id=self.new_id(), path=self.store.path(owner, name),
                    org=bool(data.get("organization")), creator=request.user or owner, private=source.private,
                    description=source.description, default_branch=source.default_branch, created_at=stamp,
                    updated_at=stamp, pushed_at=source.pushed_at, parent=source)
        if fork.org:
            self.orgs.add(owner.lower())
        self.store.fork(source.path, fork.path)
        source.forks.append(fork)
        self.add_repo(fork)
        return Response(202, js.repository(self.urls, fork, request.user))

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

    def git_http(self, request: Request) -> Response:
        repo = self.find_repo(request.params["owner"], request.params["repo"])
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
