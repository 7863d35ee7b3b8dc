"""`jdci jenkins trigger` and `jdci jenkins status`: Jenkins for release engineers, through python-jenkins.

  jdci jenkins trigger JOB [-p K=V ...] [--wait [--timeout S]] [--json]
      queue a build (buildWithParameters when -p is given). Without --wait: exit 0 once queued.
      With --wait: follow the queue item to its build and the build to its result, with progress lines;
      exit 0 SUCCESS, 1 any other result (the console's last [jenkins] console_lines lines are shown),
      75 when --timeout (default [jenkins] wait_timeout) passes first: "not yet", the build goes on.
      --json: {"job", "queue_id", "queue_url", "number", "url", "result", "sha", "console_tail"?}
  jdci jenkins status JOB [--pr N] [--json]
      the job's last build: {"job", "number", "result", "building", "sha", "url"}; a folder or multibranch
      project lists its jobs instead. --pr N: JOB is a multibranch project, look at its PR-N.
JOB: full name (team/shop/PR-7), URL path (job/team/job/shop) or URL. Jenkins: --url, else [jenkins] url, else
$JENKINS_URL (set inside Jenkins builds); credentials JENKINS_USER / JENKINS_TOKEN.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
from typing import TYPE_CHECKING, Any

from ..errors import EXIT_OK, ConfigError, JdciError, UsageError

if TYPE_CHECKING:
    from ..config import Config


def _config(args: argparse.Namespace) -> "Config":
    from .. import cli

    config = cli.load_config(args)
    url = (args.url or config.jenkins.url or os.environ.get("JENKINS_URL", "")).rstrip("/")
    if not url:
        raise ConfigError(f"which Jenkins? pass --url, set [jenkins] url in {config.source}, or run inside a "
                          f"Jenkins build (JENKINS_URL)")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"Jenkins URL {url!r} is not an http(s) URL")
    return dataclasses.replace(config, jenkins=dataclasses.replace(config.jenkins, url=url + "/"))


def _job(text: str, config: "Config") -> str:
    """The job's full name; a job URL must be on the Jenkins jdci talks to, or the same-named job of ANOTHER
    Jenkins would be triggered (a production release pasted while JENKINS_URL is staging)."""
    from urllib.parse import urlsplit

    from .. import jenkins

    if "://" in text:
        given, ours = urlsplit(text.strip()), urlsplit(config.jenkins.url)
        if (given.scheme, given.netloc.lower()) != (ours.scheme, ours.netloc.lower()):
            raise UsageError(f"job URL {text!r} is on {given.scheme}://{given.netloc}, but jdci talks to "
                             f"{config.jenkins.url} (--url, [jenkins] url or JENKINS_URL); pass --url "
                             f"{given.scheme}://{given.netloc}/ to use that Jenkins, or name the job")
    return jenkins.job_name(text)


def parse_params(items: list[str]) -> list[tuple[str, str]]:
    """`["A=1", "B=x=y"]` -> [("A", "1"), ("B", "x=y")]. Pure."""
    found = []
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"build parameter {item!r} is not K=V (e.g. -p IMAGE=acme/shop@sha256:...)")
        found.append((key.strip(), value))
    return found


def cmd_trigger(args: argparse.Namespace) -> Any:
    from .. import cli, jenkins, log
    from ..cli import Outcome

    parameters = parse_params(args.param)
    config = _config(args)
    job = _job(args.job, config)
    server = jenkins.connect(config, cli.secrets())
    payload: dict[str, Any] = {"job": job, "queue_id": None, "queue_url": None, "number": None, "url": None,
                               "result": None}
    args._partial = lambda: dict(payload)
    args._interrupt_note = lambda: (f"the Jenkins build {job} #{payload['number']} goes on ({payload['url']})"
                                    if payload["number"] else
                                    f"the queued build of {job} stays queued ({payload['queue_url']})"
                                    if payload["queue_id"] else "nothing was triggered")
    names = f" with {', '.join(k for k, _ in parameters)}" if parameters else ""
    log.say("jenkins", f"triggering {job}{names} at {config.jenkins.url}")
    queue_id = jenkins.trigger(server, config, job, parameters)
    payload.update(queue_id=queue_id, queue_url=f"{config.jenkins.url}queue/item/{queue_id}/")
    log.say("jenkins", f"{job} queued as item {queue_id}")
    if not args.wait:
        return Outcome(EXIT_OK, payload, f"queued {job}: {payload['queue_url']}")
    timeout = args.timeout if args.timeout is not None else config.jenkins.wait_timeout
    with log.progress("jenkins", f"waiting for {job}") as progress:
        def say(message: str) -> None:
            log.say("jenkins", message)
            if " started: " in message:
                progress.update(f"waiting for {message.split(' started: ')[0]} to finish")

        build = jenkins.wait_for_build(server, config, job, queue_id, timeout=timeout, say=say)
    payload.update(number=build.number, url=build.url, result=build.result, sha=build.sha or None)
    summary = f"{job} #{build.number}: {build.result} ({build.url})"
    if build.result == "SUCCESS":
        log.say("jenkins", summary)
        return Outcome(EXIT_OK, payload, summary)
    tail = jenkins.console_tail(server, config, job, build.number, config.jenkins.console_lines)
    payload["console_tail"] = tail
    log.say("jenkins", f"console of {job} #{build.number}, last {len(tail)} lines:")
    for line in tail:
        log.say("jenkins", f"| {line}")
    raise JdciError(f"{summary}; the whole log: {build.url}console", kind="jenkins")


def cmd_status(args: argparse.Namespace) -> Any:
    from .. import cli, jenkins
    from ..cli import Outcome

    config = _config(args)
    job = _job(args.job, config)
    if args.pr:
        job = jenkins.pr_job_name(job, args.pr)
    server = jenkins.connect(config, cli.secrets())
    data = jenkins.get_json(server, config, f"{jenkins.job_url_path(job)}api/json?tree=name,url,jobs[name,color],"
                                             f"lastBuild[number]", what=f"job {job}")
    if data is None:
        raise UsageError(f"no job {job} at {config.jenkins.url}: {jenkins.missing_job_hint(server, config, job)}")
    if "jobs" in data:
        names = [f"{job}/{j['name']}" for j in data.get("jobs") or [] if isinstance(j, dict) and j.get("name")]
        payload: dict[str, Any] = {"job": job, "url": data.get("url"), "jobs": names}
        return Outcome(EXIT_OK, payload, f"{job} holds {len(names)} job(s)" + "".join(f"\n  {n}" for n in names))
    if not data.get("lastBuild"):
        payload = {"job": job, "number": None, "result": None, "building": False, "sha": None,
                   "url": data.get("url")}
        return Outcome(EXIT_OK, payload, f"{job}: no builds yet")
    build = jenkins.build_info(server, config, job, "lastBuild")
    if build is None:  # deleted between the two calls
        return Outcome(EXIT_OK, {"job": job, "number": None, "result": None, "building": False, "sha": None,
                                 "url": data.get("url")}, f"{job}: no builds yet")
    payload = {"job": job, "number": build.number, "result": build.result, "building": build.building,
               "sha": build.sha or None, "url": build.url}
    state = "running" if build.building else (build.result or "no result")
    at = f" at {build.sha[:12]}" if build.sha else ""
    return Outcome(EXIT_OK, payload, f"{job} #{build.number}: {state}{at} ({build.url})")
