"""Command checks: a command in a throwaway container on the environment's network (so it reaches the app
and its services by name), with a timeout and resource limits; the exit code decides, the output is kept."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from . import CheckResult
from ..errors import Interrupted, JdciError

if TYPE_CHECKING:
    import docker

    from ..config import CommandCheck


def judge(check: "CommandCheck", exit_code: int | None, timed_out: bool) -> tuple[str, str]:
    """(status, detail) (pure). A command killed at its timeout is an error: it said nothing either way."""
    if timed_out:
        return "error", f"`{check.command}` did not finish within {check.timeout:g} s; killed"
    if exit_code == 0:
        return "passed", f"`{check.command}` exited 0"
    if exit_code == 137:
        return "failed", f"`{check.command}` was killed (exit 137: out of memory at {check.memory or 'no limit'}?)"
    return "failed", f"`{check.command}` exited {exit_code}"


def run(check: "CommandCheck", *, image: str, network: str, env_name: str,
        client: "docker.DockerClient | None" = None) -> CheckResult:
    from . import containers
    from ..images import engine

    import os

    from .. import log
    from ..stack import resolve_env

    image = check.image or image
    started = time.monotonic()
    if not image:  # docker-py would only say "Resource ID was not provided"
        return CheckResult(check.name, "error", f"command check {check.name!r} has no image: set `image` in its "
                           f"[[checks.command]], or pass --image to `jdci check run`", 0.0, kind="command",
                           required=check.required)
    try:
        # "${NAME}" from jdci's environment, as in [preprod] env: secrets never come from the file
        env, secrets = resolve_env(check.env, os.environ, f"[[checks.command]] {check.name!r}")
        log.redact_values(secrets)
        client = client or engine()
        containers.ensure_image(client, image)  # pulls from a named registry; never from Docker Hub
        ran = containers.run_once(
            client, image=image, command=["/bin/sh", "-c", check.command],
            # no environment (`jdci check run` without --network): a container name may not start with '-'
            name=containers.unique_name(f"{env_name or 'jdci'}-check-{check.name}"[:100]),
            container_labels=containers.labels("check", env=env_name, extra={"io.jdci.check": check.name}),
            timeout=check.timeout, env=env, network=network, memory=check.memory, cpus=check.cpus,
            workdir=check.workdir)
    except Interrupted:  # a Jenkins abort stops the run; it is no check's error
        raise
    except JdciError as exc:
        return CheckResult(check.name, "error", str(exc), time.monotonic() - started, image, kind="command",
                           required=check.required)
    status, detail = judge(check, ran.exit_code, ran.timed_out)
    return CheckResult(check.name, status, detail, time.monotonic() - started, image, kind="command",
                       required=check.required, output=log.redact(ran.output))  # reports are archived
