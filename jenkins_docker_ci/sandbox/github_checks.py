"""GitHub sandbox routes for what CI reports on a commit: commit statuses (one, the combined state, the list) and
check runs (create, read, update, list per commit)."""
from __future__ import annotations

from typing import Any

from . import github_json as js
from .github_core import REPO, GitHubCore
from .github_records import CheckRunRecord, Repo, StatusRecord, now_iso
from .server import Request, Response

STATUS_STATES = ("error", "failure", "pending", "success")
CHECK_STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CHECK_CONCLUSIONS = ("action_required", "cancelled", "failure", "neutral", "success", "skipped", "stale",
                     "timed_out")


class CheckRoutes(GitHubCore):
    def _routes_checks(self) -> None:
        r = self.route
        r("POST", REPO + r"/statuses/(?P<sha>[^/]+)", self.create_status)
        r("GET", REPO + r"/commits/(?P<ref>.+)/status", self.combined_status)
        r("GET", REPO + r"/commits/(?P<ref>.+)/statuses", self.list_statuses)
        r("GET", REPO + r"/commits/(?P<ref>.+)/check-runs", self.list_check_runs)
        r("POST", REPO + r"/check-runs", self.create_check_run)
        r("GET", REPO + r"/check-runs/(?P<id>\d+)", self.get_check_run)
        r("PATCH", REPO + r"/check-runs/(?P<id>\d+)", self.update_check_run)

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
            raise self.failed("Status", "custom", "state", "state is not included in the list")
        sha = self._commit(repo, sha_or_ref)
        stamp = created_at or now_iso()
        status = StatusRecord(id=self.new_id(), sha=sha, state=state, context=str(data.get("context") or "default"),
                              description=data.get("description"), target_url=data.get("target_url"),
                              creator=creator, created_at=stamp, updated_at=stamp)
        repo.statuses.append(status)
        return status

    def create_status(self, request: Request) -> Response:
        repo = self.repo(request)
        status = self._add_status(repo, request.params["sha"], self.body(request), request.user or "")
        return self.created(self.status_json(repo, status))

    def _commit(self, repo: Repo, ref: str) -> str:
        sha = self.store.resolve(repo.path, ref)
        if sha is None:
            raise self.invalid(f"No commit found for SHA: {ref}")
        return sha

    @staticmethod
    def _newest_first(records: list[Any], stamp: str) -> list[Any]:
        return sorted(records, key=lambda r: (getattr(r, stamp), r.id), reverse=True)

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
            raise self.failed("CheckRun", "invalid", "status")
        if conclusion is not None and conclusion not in CHECK_CONCLUSIONS:
            raise self.failed("CheckRun", "invalid", "conclusion")
        if status == "completed" and conclusion is None and run.conclusion is None:
            raise self.failed("CheckRun", "missing_field", "conclusion")
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
            raise self.failed("CheckRun", "missing_field", "name" if not data.get("name") else "head_sha")
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
