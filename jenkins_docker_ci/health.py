"""Is a container of an environment healthy yet? One probe per kind of health check, and the wait loop that
polls them all with backoff (first polls 50 ms apart) until a deadline, failing at once when a container
exits or restarts."""
from __future__ import annotations

import shlex
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from .errors import PreprodError

if TYPE_CHECKING:
    import docker

FIRST_DELAY = 0.05  # the bound: the first polls at most 50 ms apart
MAX_DELAY = 1.0


@dataclass(frozen=True)
class Seen:
    """What `docker ps` says of one container: enough for every decision, without an inspect each."""

    id: str
    name: str
    labels: Mapping[str, str]
    state: str  # created | running | restarting | exited | dead | ...
    status: str  # "Up 5 seconds (healthy)"
    ports: tuple[Mapping[str, Any], ...]

    @property
    def role(self) -> str:
        return self.labels.get("io.jdci.role", "")

    def published(self, port: int) -> int | None:
        """The 127.0.0.1 host port that `port` of the container is published on."""
        for binding in self.ports:
            if binding.get("PrivatePort") == port and binding.get("IP") == "127.0.0.1" and binding.get("PublicPort"):
                return int(binding["PublicPort"])
        return None


@dataclass(frozen=True)
class Probe:
    """How to tell that one service is healthy: `path` over HTTP at `url`, else `command` inside the
    container, else the image's HEALTHCHECK when it has one, else running."""

    service: str
    url: str = ""
    path: str = ""
    command: str = ""

    def describe(self) -> str:
        if self.path:
            return f"GET {self.url}{self.path}"
        if self.command:
            return f"`{self.command}` in the container"
        return "its HEALTHCHECK (or running, without one)"


def healthy(client: "docker.DockerClient", probe: Probe, seen: Seen) -> bool:
    if seen.state != "running":
        return False
    if probe.path:
        import requests

        try:
            return requests.get(probe.url + probe.path, timeout=2).status_code == 200
        except requests.RequestException:
            return False
    if probe.command:
        from docker.errors import APIError

        try:
            exec_id = client.api.exec_create(seen.id, shlex.split(probe.command), stdout=True, stderr=True)
            client.api.exec_start(exec_id["Id"])
            return client.api.exec_inspect(exec_id["Id"]).get("ExitCode") == 0
        except APIError:
            return False
    if "(health" in seen.status:  # the image has a HEALTHCHECK: "Up 5 seconds (healthy)"
        return "(healthy)" in seen.status
    return True


def last_lines(client: "docker.DockerClient", container_id: str, lines: int = 20) -> str:
    try:
        text = client.api.logs(container_id, stdout=True, stderr=True, tail=lines).decode("utf-8", "replace")
    except Exception:  # noqa: BLE001 - the logs are a courtesy in an error message
        return ""
    return text.rstrip()


def fail_if_down(client: "docker.DockerClient", containers: list[Seen], env: str) -> None:
    """A container that exited, died or restarts will not become healthy: say so now, with its last lines."""
    for seen in containers:
        if seen.state in ("exited", "dead", "restarting", "removing"):
            tail = last_lines(client, seen.id)
            shown = ("; its last log lines:\n" + tail) if tail else " (it logged nothing)"
            raise PreprodError(f"container {seen.name} of {env} {seen.status.lower() or seen.state} before it was "
                               f"healthy{shown}")


def wait(client: "docker.DockerClient", env: str, probes: list[Probe], find: Callable[[], list[Seen]],
         timeout: float) -> None:
    """Poll until every probe passes; PreprodError at the deadline (naming what was polled) or at once when any
    container of the environment is down."""
    from . import log

    deadline = time.monotonic() + timeout
    delay = FIRST_DELAY
    pending = list(probes)
    # a Jenkins console that stays silent for a minute looks hung: say what is still awaited
    with log.progress("preprod", f"waiting for {env} to be healthy") as progress:
        while True:
            containers = find()
            fail_if_down(client, containers, env)
            by_service = {c.role: c for c in containers}
            pending = [p for p in pending
                       if not (p.service in by_service and healthy(client, p, by_service[p.service]))]
            if not pending:
                return
            if time.monotonic() + delay > deadline:
                what = "; ".join(f"{p.service}: {p.describe()}" for p in pending)
                raise PreprodError(f"{env} not healthy after {timeout:.0f} s (polled {what}); raise [preprod] "
                                   f"health_timeout or fix the health check")
            progress.update(f"waiting for {env}: {', '.join(p.service for p in pending)} not healthy yet")
            time.sleep(delay)
            delay = min(delay * 1.5, MAX_DELAY)
