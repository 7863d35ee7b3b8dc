"""A Jenkins stand-in: answers what python-jenkins asks, in Jenkins' shapes (fixtures/jenkins/).

Served (every route needs credentials, per the sandbox identity contract: HTTP Basic JENKINS_USER:JENKINS_TOKEN;
no credentials or a token beginning with "bad" -> 401; every response carries `X-Jenkins: 2.440.3`):
  GET  /                                   200 with X-Jenkins (python-jenkins get_version)
  GET  /crumbIssuer/api/json               the user's crumb; every later POST must carry `Jenkins-Crumb: <crumb>`,
                                           else 403 "No valid crumb was included in the request", as Jenkins does
  GET  /api/json, /me/api/json             the controller (top-level jobs), the calling user
  GET  /job/A[/job/B...]/api/json          folder / WorkflowMultiBranchProject (jobs list) or WorkflowJob
                                           (builds, lastBuild, lastCompletedBuild, lastSuccessfulBuild, ...)
  GET  /job/.../N/api/json                 a WorkflowRun; the commit is in a `hudson.plugins.git.util.BuildData`
                                           action: buildsByBranchName[PR-N].marked = the PR head picked,
                                           .revision and lastBuiltRevision = what was built (a synthetic merge
                                           commit when seeded with merge_sha, as GitHub's merge strategy does)
  GET  /job/.../lastBuild|lastCompletedBuild|lastSuccessfulBuild|lastFailedBuild/api/json   permalinks
  GET  /job/.../N/consoleText              text/plain
  POST /job/.../build, /buildWithParameters   201, Location: <url>/queue/item/N/
  GET  /queue/item/N/api/json              Queue$WaitingItem, then Queue$LeftItem with `executable`
  `?tree=a,b[c,d]` is honoured (with `_class` always kept, as Jenkins does); `depth` is ignored.
  Unknown paths: 404 with Jetty's HTML error page.

Control API (besides server.py's reset/faults/requests), JSON bodies:
  POST /_sandbox/jobs    {"job": "shop/PR-7", "kind": "pipeline"|"multibranch"|"folder" (default: pipeline for
                          the leaf, multibranch/folder parents are created on the way), "auto_start": false,
                          "sha": ""}  auto_start: a triggered build starts at once (running, at `sha`)
  POST /_sandbox/builds  {"job", "number"?, "result": "SUCCESS"|"FAILURE"|"UNSTABLE"|"ABORTED"|null,
                          "sha", "merge_sha"?, "building"?: false, "console"?: "", "branch"?: leaf name,
                          "remote_url"?} -> 201 {"job", "number", "url"}; creates the job if needed
  POST /_sandbox/finish  {"job", "number", "result", "console"?}: a running build completes
  POST /_sandbox/queue/N/start {"sha"?}: a waiting queue item leaves the queue as a running build
  Scripted jobs (for `jdci jenkins trigger --wait`): POST /_sandbox/jobs with any of
                         {"queue_polls": N, "run_polls": M, "result": "FAILURE", "console": "line\nline\n"}:
                          a triggered build waits in the queue for N reads of its queue item (a BuildableItem
                          "Waiting for next available executor"), then runs for M reads of its build (JSON,
                          consoleText or progressiveText), then finishes with `result` (default SUCCESS) and
                          `console` as its log
  GET  /job/.../N/logText/progressiveText?start=K   the log from byte K; X-Text-Size (next start) and,
                          while the build runs, X-More-Data: true
"""
from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .server import HttpError, Request, Response, Service

VERSION = "2.440.3"
RESULTS = ("SUCCESS", "FAILURE", "UNSTABLE", "ABORTED", "NOT_BUILT")
_COLORS = {"SUCCESS": "blue", "FAILURE": "red", "UNSTABLE": "yellow", "ABORTED": "aborted", "NOT_BUILT": "notbuilt"}
_CLASSES = {
    "pipeline": "org.jenkinsci.plugins.workflow.job.WorkflowJob",
    "multibranch": "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject",
    "folder": "com.cloudbees.hudson.plugins.folder.Folder",
}
_RUN = "org.jenkinsci.plugins.workflow.job.WorkflowRun"
_JOB = r"(?P<job>(?:/job/[^/]+)+)"
_PERMALINKS = ("lastBuild", "lastCompletedBuild", "lastSuccessfulBuild", "lastFailedBuild", "lastStableBuild",
               "lastUnstableBuild", "lastUnsuccessfulBuild", "firstBuild")


@dataclass
class Build:
    number: int
    result: str | None
    sha: str
    merge_sha: str = ""
    building: bool = False
    console: str = ""
    branch: str = ""
    remote_url: str = ""
    queue_id: int = 0
    timestamp: int = 0  # ms
    duration: int = 0  # ms
    parameters: list[tuple[str, str]] = field(default_factory=list)
    user: str = ""
    polls_left: int = -1  # a scripted build: reads left before it finishes (-1: finished through the control API)
    final_result: str = "SUCCESS"
    final_console: str = ""


@dataclass
class Job:
    full_name: str
    kind: str
    builds: dict[int, Build] = field(default_factory=dict)
    next_build_number: int = 1
    auto_start: bool = False
    sha: str = ""
    scripted: bool = False  # triggered builds follow the script below by themselves
    queue_polls: int = 0
    run_polls: int = 0
    result: str = "SUCCESS"
    console: str = ""

    @property
    def name(self) -> str:
        return self.full_name.rsplit("/", 1)[-1]


@dataclass
class QueueItem:
    id: int
    job: str
    since: int  # ms
    parameters: list[tuple[str, str]]
    user: str
    build: int | None = None  # set once it left the queue
    polls_left: int = -1  # a scripted job's item: reads left before it starts (-1: started by the control API)


class JenkinsService(Service):
    name = "jenkins"

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory
        self.salt = hashlib.sha256(str(directory).encode()).hexdigest()[:16]
        self.jobs: dict[str, Job] = {}
        self.queue: dict[int, QueueItem] = {}
        self.next_queue_id = 1
        self.route("GET", r"/", self._root)
        self.route("GET", r"/api/json", self._controller)
        self.route("GET", r"/crumbIssuer/api/json", self._crumb)
        self.route("GET", r"/(?:me|whoAmI)/api/json", self._me)
        self.route("GET", r"/queue/item/(?P<id>\d+)/api/json", self._queue_item)
        self.route("GET", _JOB + r"/api/json", self._job)
        self.route("GET", _JOB + r"/(?P<number>\d+|" + "|".join(_PERMALINKS) + r")/api/json", self._build)
        self.route("GET", _JOB + r"/(?P<number>\d+|" + "|".join(_PERMALINKS) + r")/consoleText", self._console)
        self.route("GET", _JOB + r"/(?P<number>\d+|" + "|".join(_PERMALINKS) + r")/logText/progressiveText",
                   self._progressive)
        self.route("POST", _JOB + r"/(?P<how>build|buildWithParameters)", self._trigger)
        self.route("POST", r"/_sandbox/jobs", self._control_job)
        self.route("POST", r"/_sandbox/builds", self._control_build)
        self.route("POST", r"/_sandbox/finish", self._control_finish)
        self.route("POST", r"/_sandbox/queue/(?P<id>\d+)/start", self._control_start)

    # -- Service hooks -----------------------------------------------------------------------------------------
    def reset(self) -> None:
        self.jobs.clear()
        self.queue.clear()
        self.next_queue_id = 1

    def error_body(self, status: int, message: str) -> Any:
        reason = {401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed"}.get(
            status, "Error")
        return (
            "<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html;charset=ISO-8859-1\"/>\n"
            f"<title>Error {status} {reason}</title>\n</head>\n<body><h2>HTTP ERROR {status} {reason}</h2>\n"
            f"<table>\n<tr><th>STATUS:</th><td>{status}</td></tr>\n<tr><th>MESSAGE:</th><td>{message}</td></tr>\n"
            "<tr><th>SERVLET:</th><td>Stapler</td></tr>\n</table>\n</body>\n</html>\n"
        ).encode("iso-8859-1", "replace")

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> HttpError:
        return HttpError(status, self.error_body(status, message),
                         {"Content-Type": "text/html;charset=iso-8859-1", **(headers or {})})

    def unauthorized(self, request: Request) -> HttpError:
        if request.auth_problem == "missing":
            return self.error(401, "Authentication required", {"WWW-Authenticate": 'Basic realm="Jenkins"'})
        return self.error(401, "Invalid password/token for user", {"WWW-Authenticate": 'Basic realm="Jenkins"'})

    def default_headers(self, request: Request) -> dict[str, str]:
        return {"X-Jenkins": VERSION, "X-Hudson": "1.395", "X-Jenkins-Session": self.salt[:8],
                "X-Content-Type-Options": "nosniff"}

    def dispatch(self, request: Request) -> Response:
        # Jenkins checks the CSRF crumb on POST only; the crumb is the user's, so another user's one fails too.
        if request.method == "POST" and not request.path.startswith("/_sandbox/"):
            from .server import identify

            user, problem = identify(request.headers)
            if not problem and request.headers.get("Jenkins-Crumb") != self.crumb_for(user or ""):
                response = Response(403, self.error_body(403, "No valid crumb was included in the request"),
                                    {"Content-Type": "text/html;charset=iso-8859-1"})
                return self._finish(request, response)
        response = super().dispatch(request)
        tree = request.arg("tree")
        if tree and response.status == 200 and isinstance(response.body, (dict, list)):
            response.body = _apply_tree(response.body, _parse_tree(tree))
        return response

    def crumb_for(self, user: str) -> str:
        return hashlib.md5(f"{self.salt}:{user}".encode(), usedforsecurity=False).hexdigest()

    # -- helpers -----------------------------------------------------------------------------------------------
    def url(self, full_name: str = "") -> str:
        if not full_name:
            return self.base_url + "/"
        return self.base_url + "/" + "".join(f"job/{part}/" for part in full_name.split("/"))

    def _find(self, raw: str) -> Job:
        full = "/".join(re.findall(r"/job/([^/]+)", raw))
        job = self.jobs.get(full)
        if job is None:
            raise self.error(404, "Not Found")
        return job

    def _ensure(self, full_name: str, kind: str | None = None) -> Job:
        parts = [p for p in full_name.strip("/").split("/") if p]
        if not parts:
            raise HttpError(400, {"message": "job is empty"})
        for i in range(1, len(parts)):  # parents: a multibranch project directly above PR-N, else folders
            parent = "/".join(parts[:i])
            if parent not in self.jobs:
                parent_kind = "multibranch" if i == len(parts) - 1 else "folder"
                self.jobs[parent] = Job(parent, parent_kind)
            elif self.jobs[parent].kind == "pipeline":
                raise HttpError(400, {"message": f"{parent} is a pipeline job, it cannot hold jobs"})
        full = "/".join(parts)
        job = self.jobs.get(full)
        if job is None:
            job = self.jobs[full] = Job(full, kind or "pipeline")
        elif kind and kind != job.kind:
            raise HttpError(400, {"message": f"{full} is a {job.kind}, not a {kind}"})
        return job

    def _children(self, full_name: str) -> list[Job]:
        prefix = full_name + "/"
        return [j for name, j in sorted(self.jobs.items())
                if name.startswith(prefix) and "/" not in name[len(prefix):]]

    def _color(self, job: Job) -> str:
        if job.kind != "pipeline":
            return "notbuilt"
        completed = [b for b in job.builds.values() if not b.building]
        last = max(completed, key=lambda b: b.number) if completed else None
        color = _COLORS.get(last.result or "", "notbuilt") if last else "notbuilt"
        return color + ("_anime" if any(b.building for b in job.builds.values()) else "")

    def _job_ref(self, job: Job) -> dict[str, Any]:
        ref = {"_class": _CLASSES[job.kind], "name": job.name, "url": self.url(job.full_name)}
        if job.kind == "pipeline":
            ref["color"] = self._color(job)
        return ref

    def _build_ref(self, job: Job, build: Build | None) -> dict[str, Any] | None:
        if build is None:
            return None
        return {"_class": _RUN, "number": build.number, "displayName": f"#{build.number}",
                "url": f"{self.url(job.full_name)}{build.number}/"}

    def _permalink(self, job: Job, which: str) -> Build | None:
        builds = sorted(job.builds.values(), key=lambda b: b.number, reverse=True)
        done = [b for b in builds if not b.building]
        pick = {
            "lastBuild": builds,
            "firstBuild": builds[::-1],
            "lastCompletedBuild": done,
            "lastSuccessfulBuild": [b for b in done if b.result in ("SUCCESS", "UNSTABLE")],
            "lastStableBuild": [b for b in done if b.result == "SUCCESS"],
            "lastFailedBuild": [b for b in done if b.result == "FAILURE"],
            "lastUnstableBuild": [b for b in done if b.result == "UNSTABLE"],
            "lastUnsuccessfulBuild": [b for b in done if b.result != "SUCCESS"],
        }[which]
        return pick[0] if pick else None

    def _display(self, full_name: str) -> str:
        return " » ".join(full_name.split("/"))

    # -- routes --------------------------------------------------------------------------------------------------
    def _root(self, request: Request) -> Response:
        return Response(200, b"<html><head><title>Dashboard [Jenkins]</title></head><body></body></html>",
                        {"Content-Type": "text/html;charset=utf-8"})

    def _controller(self, request: Request) -> Response:
        top = [j for name, j in sorted(self.jobs.items()) if "/" not in name]
        view = {"_class": "hudson.model.AllView", "name": "all", "url": self.url()}
        return Response(200, {
            "_class": "hudson.model.Hudson", "assignedLabels": [{"name": "built-in"}], "mode": "NORMAL",
            "nodeDescription": "the Jenkins controller's built-in node", "nodeName": "", "numExecutors": 2,
            "description": None, "jobs": [self._job_ref(j) for j in top], "overallLoad": {},
            "primaryView": view, "quietDownReason": None, "quietingDown": False, "slaveAgentPort": -1,
            "unlabeledLoad": {"_class": "jenkins.model.UnlabeledLoadStatistics"}, "url": self.url(),
            "useCrumbs": True, "useSecurity": True, "views": [view],
        })

    def _crumb(self, request: Request) -> Response:
        return Response(200, {"_class": "hudson.security.csrf.DefaultCrumbIssuer",
                              "crumb": self.crumb_for(request.user or ""), "crumbRequestField": "Jenkins-Crumb"})

    def _me(self, request: Request) -> Response:
        user = request.user or ""
        return Response(200, {"_class": "hudson.model.User", "absoluteUrl": f"{self.base_url}/user/{user}",
                              "description": None, "fullName": user, "id": user, "property": []})

    def _job(self, request: Request) -> Response:
        job = self._find(request.params["job"])
        common: dict[str, Any] = {
            "_class": _CLASSES[job.kind], "actions": [], "description": None if job.kind != "pipeline" else "",
            "displayName": job.name, "displayNameOrNull": None, "fullDisplayName": self._display(job.full_name),
            "fullName": job.full_name, "name": job.name, "url": self.url(job.full_name),
        }
        if job.kind != "pipeline":
            view = {"_class": "jenkins.branch.MultiBranchProjectViewHolder$ViewImpl" if job.kind == "multibranch"
                    else "hudson.model.AllView", "name": "default" if job.kind == "multibranch" else "All",
                    "url": self.url(job.full_name)}
            body = {**common, "healthReport": [], "jobs": [self._job_ref(c) for c in self._children(job.full_name)],
                    "primaryView": view, "views": [view]}
            if job.kind == "multibranch":
                body["views"] = [{**view, "name": "change-requests",
                                  "url": f"{self.url(job.full_name)}view/change-requests/"}, view]
                body["sources"] = [{}]
            return Response(200, body)
        builds = sorted(job.builds.values(), key=lambda b: b.number, reverse=True)
        waiting = [q for q in self.queue.values() if q.job == job.full_name and q.build is None]
        body = {
            **common, "buildable": True,
            "builds": [{**(self._build_ref(job, b) or {}), "building": b.building} for b in builds[:100]],
            "color": self._color(job), "healthReport": [], "inQueue": bool(waiting), "keepDependencies": False,
            **{link: self._build_ref(job, self._permalink(job, link)) for link in _PERMALINKS},
            "nextBuildNumber": job.next_build_number, "property": [],
            "queueItem": self._queue_json(waiting[0]) if waiting else None,
            "concurrentBuild": True, "resumeBlocked": False,
        }
        return Response(200, body)

    def _get_build(self, request: Request) -> tuple[Job, Build]:
        job = self._find(request.params["job"])
        which = request.params["number"]
        build = job.builds.get(int(which)) if which.isdigit() else self._permalink(job, which)
        if build is None:
            raise self.error(404, "Not Found")
        return job, build

    def _build(self, request: Request) -> Response:
        job, build = self._get_build(request)
        self._tick(build)
        return Response(200, self._build_json(job, build))

    def _tick(self, build: Build) -> None:
        """A read of a scripted running build: it finishes after its `run_polls` reads."""
        if not build.building or build.polls_left < 0:
            return
        if build.polls_left > 0:
            build.polls_left -= 1
            return
        build.result, build.building = build.final_result, False
        build.duration = max(1000, int(time.time() * 1000) - build.timestamp)
        build.console += build.final_console  # a log only grows: progressiveText offsets stay valid
        build.polls_left = -1

    def _log_text(self, build: Build) -> str:
        text = build.console or f"Started\nChecking out Revision {build.merge_sha or build.sha}\n"
        if not build.building:
            text += f"Finished: {build.result}\n"
        return text

    def _progressive(self, request: Request) -> Response:
        _, build = self._get_build(request)
        self._tick(build)
        data = self._log_text(build).encode()
        start = max(0, request.int_arg("start", 0))
        headers = {"Content-Type": "text/plain;charset=utf-8", "X-Text-Size": str(len(data))}
        if build.building:
            headers["X-More-Data"] = "true"
        return Response(200, data[start:], headers)

    def _build_json(self, job: Job, build: Build) -> dict[str, Any]:
        branch_name = build.branch or job.name
        event = (f"Pull request #{branch_name.removeprefix('PR-')} updated" if branch_name.startswith("PR-")
                 else "Push event to branch " + branch_name)
        cause = ({"_class": "hudson.model.Cause$UserIdCause", "shortDescription": f"Started by user {build.user}",
                  "userId": build.user, "userName": build.user} if build.user else
                 {"_class": "jenkins.branch.BranchEventCause", "shortDescription": event})
        actions: list[dict[str, Any]] = [{"_class": "hudson.model.CauseAction", "causes": [cause]}]
        if build.parameters:
            actions.append({"_class": "hudson.model.ParametersAction", "parameters": [
                {"_class": "hudson.model.StringParameterValue", "name": k, "value": v} for k, v in build.parameters]})
        if build.sha:
            built = build.merge_sha or build.sha
            branch = build.branch or job.name

            def revision(sha: str) -> dict[str, Any]:
                return {"SHA1": sha, "branch": [{"SHA1": sha, "name": branch}]}

            actions.append({
                "_class": "hudson.plugins.git.util.BuildData",
                "buildsByBranchName": {branch: {
                    "_class": "hudson.plugins.git.util.Build", "buildNumber": build.number,
                    "buildResult": None, "marked": revision(build.sha), "revision": revision(built)}},
                "lastBuiltRevision": revision(built),
                "remoteUrls": [build.remote_url] if build.remote_url else [],
                "scmName": "",
            })
            actions.append({"_class": "jenkins.scm.api.SCMRevisionAction"})
        previous = max((n for n in job.builds if n < build.number), default=None)
        following = min((n for n in job.builds if n > build.number), default=None)
        url = f"{self.url(job.full_name)}{build.number}/"
        return {
            "_class": _RUN, "actions": actions, "artifacts": [], "building": build.building, "description": None,
            "displayName": f"#{build.number}", "duration": 0 if build.building else build.duration,
            "estimatedDuration": max(build.duration, 1000), "executor": {} if build.building else None,
            "fullDisplayName": f"{self._display(job.full_name)} #{build.number}", "id": str(build.number),
            "keepLog": False, "number": build.number, "queueId": build.queue_id,
            "result": None if build.building else build.result, "timestamp": build.timestamp, "url": url,
            "changeSets": [], "culprits": [], "inProgress": build.building,
            "nextBuild": {"number": following, "url": f"{self.url(job.full_name)}{following}/"}
            if following else None,
            "previousBuild": {"number": previous, "url": f"{self.url(job.full_name)}{previous}/"}
            if previous else None,
        }

    def _console(self, request: Request) -> Response:
        _, build = self._get_build(request)
        self._tick(build)
        return Response(200, self._log_text(build).encode(), {"Content-Type": "text/plain;charset=utf-8"})

    def _trigger(self, request: Request) -> Response:
        job = self._find(request.params["job"])
        if job.kind != "pipeline":
            raise self.error(405, "Method Not Allowed")
        parameters = [(k, v[-1]) for k, v in request.query.items() if k not in ("token", "delay")]
        if request.params["how"] == "buildWithParameters" and request.body:
            from urllib.parse import parse_qsl

            parameters += parse_qsl(request.body.decode("utf-8", "replace"))
        item = QueueItem(self.next_queue_id, job.full_name, int(time.time() * 1000), parameters, request.user or "")
        self.next_queue_id += 1
        self.queue[item.id] = item
        if job.auto_start:
            self._start(item, job.sha)
        elif job.scripted:
            item.polls_left = job.queue_polls
            if item.polls_left == 0:
                self._start(item, job.sha)
        return Response(201, None, {"Location": f"{self.base_url}/queue/item/{item.id}/"})

    def _start(self, item: QueueItem, sha: str) -> Build:
        job = self._ensure(item.job)
        build = self._new_build(job, result=None, sha=sha, building=True, parameters=item.parameters,
                                user=item.user, queue_id=item.id)
        item.build = build.number
        if job.scripted:
            build.polls_left, build.final_result = job.run_polls, job.result
            build.final_console = job.console
            build.console = f"Started by user {item.user}\n"
        return build

    def _new_build(self, job: Job, *, number: int | None = None, result: str | None, sha: str,
                   building: bool = False, **extra: Any) -> Build:
        if job.kind != "pipeline":
            raise HttpError(400, {"message": f"{job.full_name} is a {job.kind}; builds belong to pipeline jobs"})
        if result is not None and result not in RESULTS:
            raise HttpError(400, {"message": f"result must be one of {', '.join(RESULTS)} or null"})
        number = number or job.next_build_number
        if number in job.builds:
            raise HttpError(409, {"message": f"{job.full_name} #{number} exists"})
        build = Build(number=number, result=result, sha=sha, building=building or result is None,
                      timestamp=int(time.time() * 1000), duration=0 if building else 1000, **extra)
        job.builds[number] = build
        job.next_build_number = max(job.next_build_number, number + 1)
        return build

    def _queue_json(self, item: QueueItem) -> dict[str, Any]:
        job = self.jobs[item.job]
        cause = {"_class": "hudson.model.Cause$UserIdCause", "shortDescription": f"Started by user {item.user}",
                 "userId": item.user, "userName": item.user}
        actions: list[dict[str, Any]] = [{"_class": "hudson.model.CauseAction", "causes": [cause]}]
        if item.parameters:
            actions.append({"_class": "hudson.model.ParametersAction", "parameters": [
                {"_class": "hudson.model.StringParameterValue", "name": k, "value": v} for k, v in item.parameters]})
        body: dict[str, Any] = {
            "_class": "hudson.model.Queue$WaitingItem", "actions": actions, "blocked": False, "buildable": False,
            "id": item.id, "inQueueSince": item.since,
            "params": "".join(f"\n{k}={v}" for k, v in item.parameters), "stuck": False,
            "task": {"_class": _CLASSES["pipeline"], "name": job.name, "url": self.url(job.full_name),
                     "color": self._color(job)},
            "url": f"queue/item/{item.id}/", "why": "In the quiet period. Expires in 4.9 sec",
            "timestamp": item.since + 5000,
        }
        if item.build is not None:
            body["_class"] = "hudson.model.Queue$LeftItem"
            body["why"] = None
            del body["timestamp"]
            body["cancelled"] = False
            body["executable"] = {"_class": _RUN, "number": item.build,
                                  "url": f"{self.url(job.full_name)}{item.build}/"}
        return body

    def _queue_item(self, request: Request) -> Response:
        item = self.queue.get(int(request.params["id"]))
        if item is None:
            raise self.error(404, "Not Found")
        if item.build is None and item.polls_left >= 0:  # a scripted job's item: held for its reads
            if item.polls_left == 0:
                self._start(item, self.jobs[item.job].sha)
            else:
                item.polls_left -= 1
                body = self._queue_json(item)
                body.update({"_class": "hudson.model.Queue$BuildableItem", "buildable": True, "pending": False,
                             "why": "Waiting for next available executor",
                             "buildableStartMilliseconds": item.since + 5000})
                body.pop("timestamp", None)
                return Response(200, body)
        return Response(200, self._queue_json(item))

    # -- control API ---------------------------------------------------------------------------------------------
    def _control_job(self, request: Request) -> Response:
        spec = request.json()
        kind = spec.get("kind")
        if kind is not None and kind not in _CLASSES:
            raise HttpError(400, {"message": f"kind must be one of {', '.join(_CLASSES)}"})
        job = self._ensure(str(spec.get("job", "")), kind)
        job.auto_start = bool(spec.get("auto_start", job.auto_start))
        job.sha = str(spec.get("sha", job.sha))
        if any(key in spec for key in ("queue_polls", "run_polls", "result", "console")):
            result = spec.get("result", job.result)
            if result not in RESULTS:
                raise HttpError(400, {"message": f"result must be one of {', '.join(RESULTS)}"})
            job.scripted, job.result, job.console = True, result, str(spec.get("console", job.console))
            job.queue_polls = max(0, int(spec.get("queue_polls", job.queue_polls)))
            job.run_polls = max(0, int(spec.get("run_polls", job.run_polls)))
        return Response(201, {"job": job.full_name, "kind": job.kind, "url": self.url(job.full_name)})

    def _control_build(self, request: Request) -> Response:
        spec = request.json()
        job = self._ensure(str(spec.get("job", "")))
        build = self._new_build(
            job, number=spec.get("number"), result=spec.get("result"), sha=str(spec.get("sha", "")),
            building=bool(spec.get("building", False)), merge_sha=str(spec.get("merge_sha", "")),
            console=str(spec.get("console", "")), branch=str(spec.get("branch", "")),
            remote_url=str(spec.get("remote_url", "")),
        )
        return Response(201, {"job": job.full_name, "number": build.number,
                              "url": f"{self.url(job.full_name)}{build.number}/"})

    def _control_finish(self, request: Request) -> Response:
        spec = request.json()
        job = self.jobs.get(str(spec.get("job", "")))
        build = job.builds.get(int(spec.get("number", 0))) if job else None
        if job is None or build is None:
            raise HttpError(404, {"message": "no such build"})
        result = spec.get("result", "SUCCESS")
        if result not in RESULTS:
            raise HttpError(400, {"message": f"result must be one of {', '.join(RESULTS)}"})
        build.result, build.building, build.duration = result, False, max(1000, int(time.time() * 1000)
                                                                          - build.timestamp)
        if "console" in spec:
            build.console = str(spec["console"])
        return Response(200, {"job": job.full_name, "number": build.number, "result": result})

    def _control_start(self, request: Request) -> Response:
        item = self.queue.get(int(request.params["id"]))
        if item is None:
            raise HttpError(404, {"message": "no such queue item"})
        if item.build is not None:
            raise HttpError(409, {"message": f"queue item {item.id} already left the queue"})
        build = self._start(item, str(request.json().get("sha", self.jobs[item.job].sha)))
        return Response(200, {"job": item.job, "number": build.number})


# -- ?tree= ----------------------------------------------------------------------------------------------------------
Tree = dict[str, "Tree | None"]


def _parse_tree(text: str) -> Tree:
    """`a,b[c,d{0,2}],e` -> {"a": None, "b": {"c": None, "d": None}, "e": None} (ranges are ignored)."""
    position = 0

    def parse() -> Tree:
        nonlocal position
        out: Tree = {}
        name = ""
        while position < len(text):
            char = text[position]
            position += 1
            if char == "[":
                out[name.strip()] = parse()
                name = ""
            elif char == "]":
                break
            elif char == ",":
                if name.strip():
                    out.setdefault(name.strip(), None)
                name = ""
            elif char == "{":
                end = text.find("}", position)
                position = len(text) if end < 0 else end + 1
            else:
                name += char
        if name.strip():
            out.setdefault(name.strip(), None)
        return out

    return parse()


def _apply_tree(value: Any, tree: Tree | None) -> Any:
    if tree is None:
        return value
    if isinstance(value, list):
        return [_apply_tree(item, tree) for item in value]
    if isinstance(value, dict):
        kept = {k: _apply_tree(v, tree[k]) for k, v in value.items() if k in tree}
        if "_class" in value:
            kept = {"_class": value["_class"], **kept}
        return kept
    return value
