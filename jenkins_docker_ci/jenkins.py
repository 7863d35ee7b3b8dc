"""Jenkins through python-jenkins: the last completed build of a pull request's job and the SHA it built.

Multibranch pipelines keep one job per pull request, `job/REPO/job/PR-N` (full name `REPO/PR-N`, the form
Jenkins puts in JOB_NAME). The built SHA is read from the git plugin's BuildData action. With GitHub's "merge"
discovery strategy Jenkins builds a synthetic merge commit: `lastBuiltRevision` is that merge, while the
branch entry's `marked` revision is the PR head that was picked for building - the one the gate compares.

python-jenkins' own `retries=` option never takes effect and it has no default timeout, so every call here
passes a timeout and goes through `http.with_retries` (connection errors, timeouts, 429/502/503/504).

A PR job that does not exist yet is normal (the project's next scan creates it): the gate waits. A project that
does not exist is a misspelt `[jenkins] job`, which would make the gate wait forever: a ConfigError that lists
the jobs Jenkins has where the project should be, near matches first.
"""
from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping
from urllib.parse import quote

from .errors import EXIT_WAIT, ConfigError, JdciError, ServiceError, UsageError
from .http import content_type, json_body, retry_after_seconds, snippet, with_retries

if TYPE_CHECKING:
    import jenkins as pyjenkins

    from .config import Config, Secrets

log = logging.getLogger(__name__)

RESULTS = ("SUCCESS", "FAILURE", "UNSTABLE", "ABORTED", "NOT_BUILT")
_RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_LISTED = 15
_projects_seen: set[tuple[str, str]] = set()  # (Jenkins URL, project) known to exist: checked once per run


@dataclass(frozen=True)
class JenkinsBuild:
    """One build of a job, as the gate needs it."""

    job: str  # full name, slash-separated as in JOB_NAME: "shop/PR-5"
    number: int
    result: str | None  # SUCCESS | FAILURE | UNSTABLE | ABORTED | NOT_BUILT; None while running
    sha: str  # the PR head it built ("" when the build recorded no git revision)
    building: bool = False
    url: str = ""

    @property
    def label(self) -> str:
        return f"{self.job} #{self.number}"


class _NotJenkins(Exception):
    """A 2xx answer that is not a Jenkins JSON object (a login page, a proxy): carries what it was."""


@dataclass(frozen=True)
class OwnBuild:
    """The build jdci runs inside (JOB_NAME, BUILD_NUMBER): never waited for by itself."""

    job: str
    number: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "OwnBuild | None":
        job, number = env.get("JOB_NAME", ""), env.get("BUILD_NUMBER", "")
        if not job or not number.isdigit():
            return None
        return cls(job, int(number))


def pr_job_name(job: str, pr_number: int) -> str:
    """The full name of a pull request's job in a multibranch project (`[jenkins] job` = the project)."""
    return f"{job.strip('/')}/PR-{pr_number}"


def job_url_path(full_name: str) -> str:
    """`team/shop/PR-5` -> `job/team/job/shop/job/PR-5/` (each segment percent-encoded, as Jenkins expects)."""
    return "".join(f"job/{quote(part, safe='')}/" for part in full_name.strip("/").split("/"))


def built_sha(build: Mapping[str, Any], branch: str = "") -> str:
    """The commit a build was asked to build, from its git BuildData action(s).

    A pipeline that loads shared libraries records one BuildData per repository it checked out; the one whose
    branch is `branch` (e.g. "PR-5") wins, else the first. Within it, `marked` (the revision picked) is
    preferred over `revision`/`lastBuiltRevision` (the merge commit under GitHub's merge strategy).
    """
    candidates = [a for a in build.get("actions") or [] if isinstance(a, Mapping)
                  and a.get("_class") == "hudson.plugins.git.util.BuildData"]
    if not candidates:
        return ""

    def mentions(action: Mapping[str, Any]) -> bool:
        names = list((action.get("buildsByBranchName") or {}).keys())
        names += [b.get("name", "") for b in (action.get("lastBuiltRevision") or {}).get("branch") or []]
        return any(name == branch or name.endswith("/" + branch) for name in names)

    action = next((a for a in candidates if branch and mentions(a)), candidates[0])
    last = (action.get("lastBuiltRevision") or {}).get("SHA1", "")
    for entry in (action.get("buildsByBranchName") or {}).values():
        revision = (entry.get("revision") or {}).get("SHA1", "")
        marked = (entry.get("marked") or {}).get("SHA1", "")
        if revision and revision == last and marked:
            return str(marked)
    return str(last)


def connect(config: "Config", secrets: "Secrets") -> "pyjenkins.Jenkins":
    import jenkins as pyjenkins

    if not config.jenkins.url:
        raise ConfigError(f"{config.source}: [jenkins] url is empty; set it to the Jenkins base URL")
    if not secrets.jenkins_user or not secrets.jenkins_token:
        raise ConfigError("JENKINS_USER and JENKINS_TOKEN are not both set; export a user and its API token")
    # retries=0: python-jenkins' own retry adapter is never mounted on a real scheme; ours is with_retries.
    return pyjenkins.Jenkins(config.jenkins.url, username=secrets.jenkins_user, password=secrets.jenkins_token,
                             timeout=config.jenkins.timeout, retries=0)


def last_build(config: "Config", secrets: "Secrets", job_path: str, pr_number: int, *,
               server: "pyjenkins.Jenkins | None" = None) -> JenkinsBuild | None:
    """The last completed build of `job_path`'s pull-request job PR-`pr_number`, or None when it has none yet
    (job not created yet, or only a running first build): the gate reads None as "pending".

    Raises ConfigError on 401/403 (credentials), ServiceError when Jenkins stays unreachable or broken.
    """
    server = server or connect(config, secrets)
    name = pr_job_name(job_path, pr_number)
    job = get_json(server, config, f"{job_url_path(name)}api/json?tree=lastCompletedBuild[number,url]",
                    what=f"job {name}")
    if job is None:
        check_project(server, config, job_path, name)
        log.info("[gate] Jenkins has no job %s yet (no build of PR #%s so far)", name, pr_number)
        return None
    completed = job.get("lastCompletedBuild")
    if not completed:
        log.info("[gate] Jenkins job %s has no completed build yet", name)
        return None
    number = int(completed["number"])
    build = get_json(server, config, f"{job_url_path(name)}{number}/api/json", what=f"build {name} #{number}")
    if build is None:  # deleted between the two calls
        return None
    return JenkinsBuild(
        job=name,
        number=number,
        result=build.get("result"),
        sha=built_sha(build, branch=f"PR-{pr_number}"),
        building=bool(build.get("building")),
        url=str(build.get("url") or completed.get("url") or ""),
    )


def near_first(wanted: str, names: list[str]) -> list[str]:
    """`names` with those close to `wanted` first (closest first, case ignored), then the rest in order. Pure."""
    close = difflib.get_close_matches(wanted.lower(), [n.lower() for n in names], n=max(1, len(names)), cutoff=0.6)
    near = list(dict.fromkeys(n for c in close for n in names if n.lower() == c))
    return near + [n for n in names if n not in near]


def check_project(server: "pyjenkins.Jenkins", config: "Config", job_path: str, pr_job: str) -> None:
    """Raise a ConfigError naming `[jenkins] job` when the project `job_path` does not exist (see the module doc)."""
    seen = (config.jenkins.url, job_path.strip("/"))
    if seen in _projects_seen:
        return
    if get_json(server, config, f"{job_url_path(job_path)}api/json?tree=name", what=f"job {job_path}") is not None:
        _projects_seen.add(seen)
        return
    # list where the project should be: the deepest folder of its path that exists, else the top level
    parts = [p for p in job_path.strip("/").split("/") if p]
    folder, jobs = "", None
    for depth in range(len(parts) - 1, -1, -1):
        folder = "/".join(parts[:depth])
        path = f"{job_url_path(folder)}api/json?tree=jobs[name]" if folder else "api/json?tree=jobs[name]"
        jobs = get_json(server, config, path, what=f"the jobs in {folder or 'Jenkins'}")
        if jobs is not None:
            break
    names = [str(j["name"]) for j in (jobs or {}).get("jobs") or [] if isinstance(j, dict) and j.get("name")]
    ordered = [f"{folder}/{n}" if folder else n for n in near_first(parts[-1] if parts else "", names)]
    listed = ", ".join(ordered[:MAX_LISTED]) + (f" and {len(ordered) - MAX_LISTED} more"
                                                  if len(ordered) > MAX_LISTED else "")
    where = f"in folder {folder}" if folder else "at the top level"
    raise ConfigError(
        f"{config.source}: [jenkins] job = {job_path!r} does not exist at {config.jenkins.url} (GET "
        f"{job_url_path(job_path)} answered 404), so the job {pr_job} can never appear and the gate would wait "
        f"forever; set [jenkins] job to the full name of the multibranch project. Jobs {where}: "
        f"{listed or 'none'}")


def _status_of(exc: BaseException) -> int | None:
    """The HTTP status behind a python-jenkins exception. It re-raises HTTPError as JenkinsException inside
    the `except`, so the original (with its response) is the exception's implicit context."""
    seen: BaseException | None = exc
    while seen is not None:
        response = getattr(seen, "response", None)
        status = getattr(response, "status_code", None)
        if status:
            return int(status)
        seen = seen.__context__
    return None


def get_json(server: "pyjenkins.Jenkins", config: "Config", path: str, *, what: str) -> dict[str, Any] | None:
    """GET a Jenkins JSON document (crumb and auth handled by python-jenkins); None on 404."""
    found: dict[str, Any] | None = _request(server, config, "GET", path, what=what)
    return found


def _decode(response: Any) -> dict[str, Any]:
    """The one place Jenkins' JSON answers are decoded."""
    try:
        data = json_body(response)
    except ValueError:
        raise _NotJenkins(f"HTTP {response.status_code} with a body that is not JSON "
                          f"({content_type(response)}: {snippet(response)})") from None
    if not isinstance(data, dict):
        raise _NotJenkins(f"HTTP {response.status_code} with JSON that is a {type(data).__name__}, not an "
                          f"object ({snippet(response)})")
    return data


def _request(server: "pyjenkins.Jenkins", config: "Config", method: str, path: str, *, what: str,
             decode_json: bool = True) -> Any:
    """One call to Jenkins through python-jenkins (auth, crumb) with jdci's retries; None on 404.

    GETs retry connection errors, timeouts and 429/502/503/504. A POST (a trigger) retries only what cannot
    have queued a build: a refused connection, 429 and 503; never a timeout or a gateway's 502/504, after
    which the build may well be in the queue (a retry would start it twice).
    """
    import jenkins as pyjenkins
    import requests

    url = server.server + path

    def once() -> Any:
        try:
            response = server.jenkins_request(requests.Request(method, url))
        except pyjenkins.NotFoundException:
            return None
        if decode_json:
            return _decode(response)
        return response

    def transient(exc: BaseException) -> float | None:
        if method != "GET":
            if isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.Timeout):
                return 0.0
            if _status_of(exc) not in (429, 503):
                return None
        elif isinstance(exc, (requests.ConnectionError, requests.Timeout, pyjenkins.TimeoutException)):
            return 0.0
        status = _status_of(exc)
        if status in _RETRY_STATUSES:
            response = getattr(exc.__context__, "response", None) or getattr(exc, "response", None)
            headers = getattr(response, "headers", {}) or {}
            return retry_after_seconds(headers.get("Retry-After")) or 0.0
        return None

    try:
        return with_retries(once, service="jenkins", what=f"{method} {what}", deadline=config.jenkins.timeout,
                            retry_on=transient)
    except ServiceError as exc:
        raise ServiceError("jenkins", f"{exc}; is Jenkins up at {config.jenkins.url}?") from None
    except _NotJenkins as exc:
        raise ServiceError("jenkins", f"Jenkins at {config.jenkins.url} answered {exc} when asked for {what}: is "
                                      f"[jenkins] url the Jenkins base URL, and is no proxy or single sign-on page "
                                      f"answering in Jenkins' place?") from None
    except (pyjenkins.JenkinsException, requests.RequestException, ValueError) as exc:
        status = _status_of(exc)
        if status in (401, 403):
            raise ConfigError(
                f"Jenkins at {config.jenkins.url} refused JENKINS_USER/JENKINS_TOKEN (HTTP {status}) for "
                f"{what}; check the user name and API token, and that the user may read (and build) the job"
            ) from None
        if status == 405 and method == "POST":
            raise UsageError(f"Jenkins cannot build {what.removeprefix('trigger ')} (HTTP 405): it is a folder or "
                             f"a multibranch project; name one of its jobs (`jdci jenkins status` shows them)") \
                from None
        detail = f"HTTP {status}" if status else type(exc).__name__
        raise ServiceError("jenkins", f"Jenkins at {config.jenkins.url} failed {method} {what}: {detail}") from None


# -- triggering builds and following them (`jdci jenkins trigger|status`) ------------------------------------------
class WaitTimeout(JdciError):
    """The build (or its queue item) did not finish before the deadline: "not yet" (exit 75), not a failure."""

    exit_code = EXIT_WAIT
    kind = "timeout"


def job_name(text: str) -> str:
    """The full name of a job from any way people write it. Pure.

    `team/shop/PR-7`, `job/team/job/shop/job/PR-7/`, `/job/team/job/shop` and a job URL
    `https://jenkins.example.com/job/team/job/shop/` all give `team/shop[/PR-7]` (percent-encoding undone, so
    a branch job `feature%2Fx` keeps its name as Jenkins spells it in JOB_NAME).
    """
    from urllib.parse import unquote, urlsplit

    path = urlsplit(text).path if "://" in text else text
    parts = [p for p in path.strip().strip("/").split("/") if p]
    if "://" in text and "job" in parts:
        parts = parts[parts.index("job"):]
    if parts and parts[0] == "job" and len(parts) % 2 == 0 and all(p == "job" for p in parts[0::2]):
        parts = [unquote(p) for p in parts[1::2]]
    if not parts:
        raise UsageError(f"{text!r} is not a Jenkins job; name it by its full name (team/shop/PR-7) or its URL path "
                         f"(job/team/job/shop)")
    return "/".join(parts)


def queue_id_from(location: str) -> int | None:
    """`http://jenkins/queue/item/25/` -> 25 (the Location of a trigger's answer). Pure."""
    import re

    found = re.search(r"/queue/item/(\d+)/?$", location.strip())
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class QueueState:
    """A queue item as the waiting loop needs it."""

    id: int
    why: str  # Jenkins' reason for waiting ("In the quiet period", "Waiting for next available executor")
    number: int | None  # the build, once the item left the queue
    url: str  # the build's URL, once started
    cancelled: bool = False


def queue_state(item: Mapping[str, Any]) -> QueueState:
    """Read a queue item (`Queue$WaitingItem`/`BlockedItem`/`BuildableItem`/`LeftItem`). Pure."""
    executable = item.get("executable") or {}
    return QueueState(id=int(item.get("id") or 0), why=str(item.get("why") or ""),
                      number=int(executable["number"]) if executable.get("number") is not None else None,
                      url=str(executable.get("url") or ""), cancelled=bool(item.get("cancelled")))


def trigger(server: "pyjenkins.Jenkins", config: "Config", job: str,
            parameters: list[tuple[str, str]] | None = None) -> int:
    """Queue a build of `job` (full name); returns the queue item's id. With parameters: buildWithParameters."""
    from urllib.parse import urlencode

    how = "buildWithParameters" if parameters else "build"
    path = job_url_path(job) + how + (f"?{urlencode(parameters)}" if parameters else "")
    response = _request(server, config, "POST", path, what=f"trigger {job}", decode_json=False)
    if response is None:
        raise UsageError(f"no job {job} at {config.jenkins.url}: {missing_job_hint(server, config, job)}")
    location = response.headers.get("Location", "")
    number = queue_id_from(location)
    if number is None:
        raise ServiceError("jenkins", f"Jenkins at {config.jenkins.url} accepted the build of {job} (HTTP "
                                      f"{response.status_code}) but sent no queue item (Location: {location!r}); "
                                      f"is a proxy rewriting Jenkins' answers?")
    return number


def missing_job_hint(server: "pyjenkins.Jenkins", config: "Config", job: str) -> str:
    """What exists where `job` should be: the jobs of the deepest existing folder, near matches first."""
    parts = job.split("/")
    for depth in range(len(parts) - 1, -1, -1):
        folder = "/".join(parts[:depth])
        path = f"{job_url_path(folder)}api/json?tree=jobs[name]" if folder else "api/json?tree=jobs[name]"
        found = get_json(server, config, path, what=f"the jobs in {folder or 'Jenkins'}")
        if found is not None:
            names = [str(j["name"]) for j in found.get("jobs") or [] if isinstance(j, dict) and j.get("name")]
            listed = [f"{folder}/{n}" if folder else n for n in near_first(parts[depth], names)][:MAX_LISTED]
            where = f"folder {folder}" if folder else "the top level"
            return f"jobs in {where}: {', '.join(listed) or 'none'}"
    return "no job found"


def build_info(server: "pyjenkins.Jenkins", config: "Config", job: str, which: int | str) -> JenkinsBuild | None:
    """A build by number or permalink (`lastBuild`); None when there is none."""
    data = get_json(server, config, f"{job_url_path(job)}{which}/api/json", what=f"build {job} #{which}")
    if data is None:
        return None
    return JenkinsBuild(job=job, number=int(data.get("number") or 0), result=data.get("result"),
                        sha=built_sha(data, branch=job.rsplit("/", 1)[-1]), building=bool(data.get("building")),
                        url=str(data.get("url") or ""))


def console_tail(server: "pyjenkins.Jenkins", config: "Config", job: str, number: int, lines: int) -> list[str]:
    """The last `lines` lines of a build's console (consoleText)."""
    response = _request(server, config, "GET", f"{job_url_path(job)}{number}/consoleText",
                        what=f"the console of {job} #{number}", decode_json=False)
    if response is None:
        return []
    text = response.content.decode("utf-8", "replace")
    return text.splitlines()[-lines:] if lines > 0 else []


def poll_delays(first: float = 0.2, cap: float = 10.0) -> Iterator[float]:
    """0.2, 0.3, 0.45, ... up to `cap` seconds: quick for short queues, gentle on Jenkins for long builds."""
    delay = first
    while True:
        yield delay
        delay = min(delay * 1.5, cap)


def wait_for_build(server: "pyjenkins.Jenkins", config: "Config", job: str, queue_id: int, *, timeout: float,
                   say: Callable[[str], None], sleep: Callable[[float], None] | None = None) -> JenkinsBuild:
    """Follow queue item `queue_id` to its build and the build to its result. Raises WaitTimeout after
    `timeout` seconds (the message says where things stand), UsageError when the item was cancelled."""
    import time

    sleep = sleep or time.sleep
    deadline = time.monotonic() + timeout
    delays = poll_delays(cap=max(0.2, config.jenkins.poll_max))
    why_said = ""
    state: QueueState | None = None
    while True:
        item = get_json(server, config, f"queue/item/{queue_id}/api/json", what=f"queue item {queue_id}")
        if item is None:
            raise ServiceError("jenkins", f"queue item {queue_id} of {job} is gone from {config.jenkins.url} "
                                          f"(Jenkins forgets items about 5 minutes after they leave the queue)")
        state = queue_state(item)
        if state.cancelled:
            raise UsageError(f"the queued build of {job} was cancelled in Jenkins (queue item {queue_id})")
        if state.number is not None:
            break
        if state.why and state.why != why_said:
            say(f"{job}: queued - {state.why}")
            why_said = state.why
        _pause(deadline, next(delays), sleep, f"{job} still in the queue (item {queue_id}: {state.why})", timeout)
    say(f"{job} #{state.number} started: {state.url}")
    delays = poll_delays(cap=max(0.2, config.jenkins.poll_max))
    while True:
        build = build_info(server, config, job, state.number)
        if build is not None and not build.building and build.result is not None:
            return build
        _pause(deadline, next(delays), sleep, f"{job} #{state.number} still running ({state.url})", timeout)


def _pause(deadline: float, delay: float, sleep: Callable[[float], None], where: str, timeout: float) -> None:
    import time

    left = deadline - time.monotonic()
    if left <= 0:
        raise WaitTimeout(f"{where} after {timeout:g} s; wait longer with --timeout S, or look again later "
                          f"with `jdci jenkins status`")
    sleep(min(delay, left))
