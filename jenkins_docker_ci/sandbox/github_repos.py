"""GitHub sandbox routes for repositories: the user, creating repositories (user and organisation), forks,
collaborators, branches, compare, and git over smart HTTP (clone, fetch, push) on the bare repositories."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from . import github_json as js
from .github_core import API, REPO, GitHubCore
from .github_records import PERMISSIONS, Repo, now_iso
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
        r("GET", REPO + r"/collaborators/(?P<user>[^/]+)", self.check_collaborator)
        r("PUT", REPO + r"/collaborators/(?P<user>[^/]+)", self.add_collaborator)
        r("DELETE", REPO + r"/collaborators/(?P<user>[^/]+)", self.remove_collaborator)
        r("GET", REPO + r"/branches/(?P<branch>.+)", self.get_branch)
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
                    updated_at=stamp, pushed_at=None, org_members=self.members_of(owner) if org else set())
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
            fork.org_members = self.members_of(owner)
        self.store.fork(source.path, fork.path)
        source.forks.append(fork)
        self.add_repo(fork)
        return Response(202, js.repository(self.urls, fork, request.user))

    # -- collaborators ---------------------------------------------------------------------------------------
    def _admin(self, request: Request, repo: Repo) -> None:
        if repo.permission(request.user) != "admin":
            raise self.error(403, "Must have admin rights to Repository.")

    def check_collaborator(self, request: Request) -> Response:
        """204 when the user has access beyond the public's (owner, organisation member, collaborator), else 404."""
        repo = self.repo(request)
        if repo.permission(request.params["user"]):
            return Response(204)
        raise self.not_found()

    def add_collaborator(self, request: Request) -> Response:
        """GitHub answers 201 with an invitation the invitee must accept, and 204 when the user already has access
        (an existing collaborator gets the new permission). The sandbox accepts the invitation at once: a 201 user
        is a collaborator straight away."""
        repo = self.repo(request)
        self._admin(request, repo)
        login = request.params["user"]
        permission = str(self.body(request).get("permission") or "push")
        if permission not in PERMISSIONS:
            raise self.failed("Repository", "invalid", "permission")
        if repo.owned_by(login):
            raise self.failed("Repository", "custom", message="Repository owner cannot be a collaborator")
        known = login.lower() in repo.collaborators or login.lower() in repo.org_members
        repo.collaborators[login.lower()] = permission
        if known:
            return Response(204)
        invitation = self.new_id()
        html = self.urls.repo_html(repo.full_name)
        return Response(201, {
            "id": invitation,
            "node_id": js.node_id("RepositoryInvitation", invitation),
            "repository": js.repository(self.urls, repo, request.user, keys=js.MINIMAL_REPO_KEYS),
            "invitee": js.user(self.urls, login),
            "inviter": js.user(self.urls, request.user or ""),
            "permissions": {"pull": "read", "push": "write"}.get(permission, permission),
            "created_at": now_iso(),
            "expired": False,
            "url": f"{self.urls.api}/user/repository_invitations/{invitation}",
            "html_url": f"{html}/invitations",
        })

    def remove_collaborator(self, request: Request) -> Response:
        repo = self.repo(request)
        self._admin(request, repo)
        repo.collaborators.pop(request.params["user"].lower(), None)
        return Response(204)

    # -- branches --------------------------------------------------------------------------------------------
    def get_branch(self, request: Request) -> Response:
        """GitHub's "get a branch": the branch, its head commit and its protection (the sandbox's one rule,
        "require branches to be up to date", is the strict required status check); 404 "Branch not found"."""
        repo = self.repo(request)
        name = request.params["branch"]
        sha = self.store.branch(repo.path, name)
        if sha is None:
            raise self.error(404, "Branch not found")
        api, html = self.urls.repo_api(repo.full_name), self.urls.repo_html(repo.full_name)
        raw = self.store.git(repo.path, "log", "-1", "--format=%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI"
                             "%x00%B", sha)
        tree, parents, an, ae, ad, cn, ce, cd, message = raw.split("\x00", 8)
        protected = name in repo.up_to_date_branches
        return Response(200, {
            "name": name,
            "commit": {
                "sha": sha, "node_id": js.node_id("Commit", int(sha[:7], 16)), "url": f"{api}/commits/{sha}",
                "html_url": f"{html}/commit/{sha}", "comments_url": f"{api}/commits/{sha}/comments",
                "commit": {"author": {"name": an, "email": ae, "date": ad},
                           "committer": {"name": cn, "email": ce, "date": cd}, "message": message.rstrip("\n"),
                           "tree": {"sha": tree, "url": f"{api}/git/trees/{tree}"},
                           "url": f"{api}/git/commits/{sha}", "comment_count": 0},
                "author": None, "committer": None,
                "parents": [{"sha": p, "url": f"{api}/commits/{p}", "html_url": f"{html}/commit/{p}"}
                            for p in parents.split()],
            },
            "_links": {"self": f"{api}/branches/{name}", "html": f"{html}/tree/{name}"},
            "protected": protected,
            "protection": {"enabled": protected, "required_status_checks": {
                "enforcement_level": "non_admins" if protected else "off", "contexts": [], "checks": [],
                "strict": protected}},
            "protection_url": f"{api}/branches/{name}/protection",
        })

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
