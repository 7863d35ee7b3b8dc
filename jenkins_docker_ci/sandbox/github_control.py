"""The GitHub sandbox's own control API (documented in github.py): scripted pushes and commits, back-dated
statuses and check runs, a `mergeable: null` window and the "require branches to be up to date" rule.

It builds on CheckRoutes because a back-dated status or check run is the same record the REST API writes."""
from __future__ import annotations

import secrets
from typing import Any

from .github_checks import CheckRoutes
from .github_core import CONTROL, PULL
from .github_records import now_iso
from .gitstore import Person
from .server import Request, Response


class ControlRoutes(CheckRoutes):
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
