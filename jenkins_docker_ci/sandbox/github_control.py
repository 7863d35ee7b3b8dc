"""The GitHub sandbox's own control API (documented in github.py): scripted pushes and commits, back-dated
statuses and check runs, a `mergeable: null` window, the "require branches to be up to date" rule and the
members of organisations.

It builds on CheckRoutes because a back-dated status or check run is the same record the REST API writes."""
from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from .github_checks import CheckRoutes
from .github_core import CONTROL, PULL
from .github_records import now_iso
from .gitstore import Person
from .server import Request, Response

ORG_MEMBER = r"/_sandbox/orgs/(?P<org>[^/]+)/members/(?P<user>[^/]+)"


class ControlRoutes(CheckRoutes):
    def _routes_control(self) -> None:
        r = self.route
        r("POST", CONTROL + PULL + r"/push", self.control_push)
        r("POST", CONTROL + r"/commits", self.control_commit)
        r("POST", CONTROL + r"/statuses/(?P<sha>[^/]+)", self.control_status)
        r("POST", CONTROL + r"/check-runs", self.control_check_run)
        r("POST", CONTROL + PULL + r"/mergeable-null", self.control_mergeable_null)
        r("PUT", CONTROL + r"/branches/(?P<branch>.+)/up-to-date", self.control_up_to_date)
        r("PUT", ORG_MEMBER, self.control_add_member)
        r("DELETE", ORG_MEMBER, self.control_remove_member)

    def _commit_to_branch(self, path: Path, branch: str, data: dict[str, Any], author: str,
                          start: str | None = None) -> str:
        """A real commit on `branch` from the body's message, files and author (a new branch starts at `start`);
        the branch moves only if it still is where the commit was built on."""
        message = str(data.get("message") or f"Update {branch}")
        files = data.get("files")
        if not (isinstance(files, dict) and files):
            name = f"sandbox/{branch.replace('/', '-')}-{self.new_id()}.txt"
            files = {name: f"{message}\n{secrets.token_hex(8)}\n"}
        old = self.store.branch(path, branch)
        sha = self.store.commit_files(path, old or start, {str(k): str(v) for k, v in files.items()}, message,
                                      Person.of(str(data.get("author") or author)))
        if not self.store.update_ref(path, f"refs/heads/{branch}", sha, old):
            raise self.error(409, f"branch {branch} moved meanwhile; try again")
        return sha

    def control_push(self, request: Request) -> Response:
        _, pr = self.pull(request)
        if pr.head_repo is None:
            raise self.error(422, "the head repository is gone")
        sha = self._commit_to_branch(pr.head_repo.path, pr.head_ref, self.body(request), pr.author)
        self.touch(pr)
        return Response(201, {"sha": sha, "ref": pr.head_ref})

    def control_commit(self, request: Request) -> Response:
        repo = self.repo(request)
        data = self.body(request)
        branch = str(data.get("branch") or repo.default_branch)
        start = None
        if self.store.branch(repo.path, branch) is None:  # a new branch
            if data.get("from"):
                start = self.store.resolve(repo.path, str(data["from"]))
                if start is None:
                    raise self.error(422, f"no commit {data['from']!r} to start branch {branch} from")
            else:
                start = self.store.branch(repo.path, repo.default_branch)
        sha = self._commit_to_branch(repo.path, branch, data, repo.owner, start)
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

    def control_add_member(self, request: Request) -> Response:
        org = request.params["org"]
        self.orgs.add(org.lower())
        members = self.members_of(org)
        members.add(request.params["user"].lower())
        return Response(200, {"org": org, "members": sorted(members)})

    def control_remove_member(self, request: Request) -> Response:
        self.members_of(request.params["org"]).discard(request.params["user"].lower())
        return Response(204)
