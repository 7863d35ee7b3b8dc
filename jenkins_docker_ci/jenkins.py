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
from typing import TYPE_CHECKING, Any, Mapping
from urllib.parse import quote

from .errors import ConfigError, ServiceError
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
    job = _get_json(server, config, f"{job_url_path(name)}api/json?tree=lastCompletedBuild[number,url]",
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
    build = _get_json(server, config, f"{job_url_path(name)}{number}/api/json", what=f"build {name} #{number}")
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
    if _get_json(server, config, f"{job_url_path(job_path)}api/json?tree=name", what=f"job {job_path}") is not None:
        _projects_seen.add(seen)
        return
    # list where the project should be: the deepest folder of its path that exists, else the top level
    parts = [p for p in job_path.strip("/").split("/") if p]
    folder, jobs = "", None
    for depth in range(len(parts) - 1, -1, -1):
        folder = "/".join(parts[:depth])
        path = f"{job_url_path(folder)}api/json?tree=jobs[name]" if folder else "api/json?tree=jobs[name]"
        jobs = _get_json(server, config, path, what=f"the jobs in {folder or 'Jenkins'}")
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


def _get_json(server: "pyjenkins.Jenkins", config: "Config", path: str, *, what: str) -> dict[str, Any] | None:
    """GET a Jenkins JSON document (crumb and auth handled by python-jenkins); None on 404."""
    import jenkins as pyjenkins
    import requests

    url = server.server + path

    def once() -> dict[str, Any] | None:
        try:
            response = server.jenkins_request(requests.Request("GET", url))
        except pyjenkins.NotFoundException:
            return None
        # the one place Jenkins' answers are decoded
        try:
            data = json_body(response)
        except ValueError:
            raise _NotJenkins(f"HTTP {response.status_code} with a body that is not JSON "
                              f"({content_type(response)}: {snippet(response)})") from None
        if not isinstance(data, dict):
            raise _NotJenkins(f"HTTP {response.status_code} with JSON that is a {type(data).__name__}, not an "
                              f"object ({snippet(response)})")
        return data

    def transient(exc: BaseException) -> float | None:
        if isinstance(exc, (requests.ConnectionError, requests.Timeout, pyjenkins.TimeoutException)):
            return 0.0
        status = _status_of(exc)
        if status in _RETRY_STATUSES:
            response = getattr(exc.__context__, "response", None) or getattr(exc, "response", None)
            headers = getattr(response, "headers", {}) or {}
            return retry_after_seconds(headers.get("Retry-After")) or 0.0
        return None

    try:
        return with_retries(once, service="jenkins", what=f"GET {what}", deadline=config.jenkins.timeout,
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
                f"Jenkins at {config.jenkins.url} refused JENKINS_USER/JENKINS_TOKEN (HTTP {status}) reading "
                f"{what}; check the user name and API token, and that the user may read the job"
            ) from None
        detail = f"HTTP {status}" if status else type(exc).__name__
        raise ServiceError("jenkins", f"Jenkins at {config.jenkins.url} failed reading {what}: {detail}") from None
