"""Preproduction environments: one per pull request, on one Docker engine.

An environment is the app image plus the services it declares ([[preprod.services]]), on a network of its
own, every object named `jdci-<repo>-pr-<N>...` and labelled with io.jdci.* so `down`, `ls` and `gc` find them
by label. Ports are published on 127.0.0.1 only. Every docker call for environments is in this module.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import re
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from . import log
from .errors import PreprodError
from .images import MANAGED

if TYPE_CHECKING:
    import docker

    from .config import Config

ENV_LABEL = "io.jdci.env"
RUN_LABEL = "io.jdci.run"  # which `up` created it: a run removes only what it created


@dataclass(frozen=True)
class Environment:
    name: str
    url: str
    status: str  # "up" | "down" | "failed"
    image: str = ""
    containers: tuple[str, ...] = ()
    reused: bool = False
    run_id: str = ""  # the `up` that created it

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "status": self.status, "image": self.image}


def env_name(repository: str, pr_number: int | None, head_sha: str = "") -> str:
    """`jdci-acme-shop-1a2b3c-pr-7`: valid as a container and network name, stable across reruns of one PR.
    The short hash of the exact repository name keeps `acme/x-y` and `acme-x/y` (or two long names that share
    their first 30 characters) apart."""
    slug = re.sub(r"[^a-z0-9]+", "-", repository.lower()).strip("-")[:30].strip("-") or "repo"
    digest = hashlib.sha1(repository.encode("utf-8")).hexdigest()[:6]
    suffix = f"pr-{pr_number}" if pr_number is not None else f"sha-{head_sha[:12]}"
    return f"jdci-{slug}-{digest}-{suffix}"


def env_labels(name: str, repository: str, pr_number: int | None, head_sha: str, role: str,
               run_id: str = "") -> dict[str, str]:
    labels = {
        MANAGED: "true",
        ENV_LABEL: name,
        RUN_LABEL: run_id,
        "io.jdci.repository": repository,
        "io.jdci.sha": head_sha,
        "io.jdci.role": role,
        "io.jdci.created": str(int(time.time())),
    }
    if pr_number is not None:
        labels["io.jdci.pr"] = str(pr_number)
    return labels


def _engine() -> "docker.DockerClient":
    from .images import engine

    return engine()


@dataclass(frozen=True)
class _Container:
    """What `docker ps` says of one container: enough for every decision here, without an inspect each."""

    id: str
    name: str
    labels: dict[str, str]
    state: str  # created | running | exited | dead | ...
    status: str  # "Up 5 seconds (healthy)"
    ports: tuple[dict[str, Any], ...]

    @property
    def role(self) -> str:
        return self.labels.get("io.jdci.role", "")


def _find(client: "docker.DockerClient", name: str) -> list[_Container]:
    return [
        _Container(c["Id"], c["Names"][0].lstrip("/"), c.get("Labels") or {}, c.get("State", ""),
                   c.get("Status", ""), tuple(c.get("Ports") or ()))
        for c in client.api.containers(all=True, filters={"label": f"{ENV_LABEL}={name}"})
    ]


def up(config: "Config", *, repository: str, pr_number: int | None, head_sha: str, image_ref: str,
       client: "docker.DockerClient | None" = None, report_dir: Path | None = None) -> Environment:
    """Stand up (or reuse, when the same image already runs healthy) the PR's environment.

    Runs for the same environment on this host take turns (a lock file): the second one then finds the first
    one's environment and reuses it, instead of the two removing each other's containers."""
    client = client or _engine()
    name = env_name(repository, pr_number, head_sha)
    with _locked(name, timeout=config.preprod.health_timeout + 120):
        existing = _find(client, name)
        app = next((c for c in existing if c.role == "app"), None)
        if app is not None and app.labels.get("io.jdci.image") == image_ref and app.state == "running":
            url = _app_url(app, config.preprod.port)
            if url and _healthy(config, app, url):
                log.say("preprod", f"{name} already runs {image_ref} and is healthy: {url}")
                return Environment(name, url, "up", image_ref, tuple(c.name for c in existing), reused=True,
                                   run_id=app.labels.get(RUN_LABEL, ""))
        if existing:
            log.say("preprod", f"replacing {name} (it ran {app.labels.get('io.jdci.image') if app else 'nothing'})")
            _remove(client, name)
        run_id = uuid.uuid4().hex[:12]
        try:
            return _create(config, client, name, repository, pr_number, head_sha, image_ref, run_id)
        except BaseException as exc:  # noqa: BLE001 - whatever went wrong (even Ctrl-C), leave nothing behind
            saved = _save_logs(client, name, report_dir or Path(config.report.directory))
            _remove(client, name)
            if isinstance(exc, PreprodError):
                raise PreprodError(f"{exc}{saved}") from None
            raise


def _lock_dir() -> Path:
    default = Path.home() / ".local" / "state" / "jdci"
    return Path(os.environ.get("JDCI_STATE_DIR") or default) / "locks"


@contextmanager
def _locked(name: str, timeout: float) -> Iterator[None]:
    directory = _lock_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / f"{name}.lock", "w") as handle:
        deadline = time.monotonic() + timeout
        delay = 0.05
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() + delay > deadline:
                    raise PreprodError(f"another jdci run has held {name} for {timeout:.0f} s; wait for it or "
                                       f"remove the environment (`jdci env down {name}`)") from None
                time.sleep(delay)
                delay = min(delay * 1.5, 1.0)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _create(config: "Config", client: "docker.DockerClient", name: str, repository: str,
            pr_number: int | None, head_sha: str, image_ref: str, run_id: str) -> Environment:
    from docker.errors import APIError, ImageNotFound

    api = client.api
    api.create_network(name, driver="bridge",
                       labels=env_labels(name, repository, pr_number, head_sha, "network", run_id))
    names: list[str] = []
    try:
        for service in config.preprod.services:
            container = f"{name}-{service.name}"
            _run(api, name, container, service.image, service.name, dict(service.env),
                 env_labels(name, repository, pr_number, head_sha, service.name, run_id),
                 command=service.command or None)
            names.append(container)
        app_env = {**dict(config.preprod.env), "PORT": str(config.preprod.port)}
        labels = {**env_labels(name, repository, pr_number, head_sha, "app", run_id), "io.jdci.image": image_ref}
        app_name = f"{name}-app"
        _run(api, name, app_name, image_ref, "app", app_env, labels, port=config.preprod.port)
        names.append(app_name)
    except ImageNotFound as exc:
        raise PreprodError(f"image for {name} not found ({exc.explanation}); build it first") from None
    except APIError as exc:
        raise PreprodError(f"could not start {name}: {exc.explanation or exc}") from None
    app = next(c for c in _find(client, name) if c.role == "app")
    url = _app_url(app, config.preprod.port)
    if not url:
        _fail_if_exited(_find(client, name), name)
        raise PreprodError(f"{app_name} publishes no port {config.preprod.port}; set [preprod] port to the port "
                           f"the app listens on")
    log.say("preprod", f"started {name} ({', '.join(names)}); waiting until healthy at {url}")
    _wait_healthy(config, client, name, url)
    log.say("preprod", f"{name} is up: {url}")
    return Environment(name, url, "up", image_ref, tuple(names), run_id=run_id)


def _run(api: Any, network: str, container: str, image: str, alias: str, env: dict[str, str],
         labels: dict[str, str], port: int | None = None, command: str | None = None) -> None:
    host_config = api.create_host_config(
        port_bindings={port: ("127.0.0.1",)} if port else None,  # loopback only, a free port
        restart_policy={"Name": "no"},
    )
    networking = api.create_networking_config({network: api.create_endpoint_config(aliases=[alias])})
    created = api.create_container(image, name=container, environment=env, labels=labels,
                                   ports=[port] if port else None, host_config=host_config,
                                   networking_config=networking, command=command, detach=True)
    api.start(created["Id"])


def _app_url(container: _Container, port: int) -> str:
    for binding in container.ports:
        if binding.get("PrivatePort") == port and binding.get("IP") == "127.0.0.1" and binding.get("PublicPort"):
            return f"http://127.0.0.1:{binding['PublicPort']}"
    return ""


def _healthy(config: "Config", container: _Container, url: str) -> bool:
    if config.preprod.health_path:
        import requests

        try:
            return requests.get(url + config.preprod.health_path, timeout=2).status_code == 200
        except requests.RequestException:
            return False
    if "(health" in container.status:  # the image has a HEALTHCHECK: "Up 5 seconds (healthy)"
        return "(healthy)" in container.status
    return container.state == "running"


def _wait_healthy(config: "Config", client: "docker.DockerClient", name: str, url: str) -> None:
    deadline = time.monotonic() + config.preprod.health_timeout
    delay = 0.05
    while True:
        containers = _find(client, name)
        _fail_if_exited(containers, name)
        app = next(c for c in containers if c.role == "app")
        if _healthy(config, app, url):
            return
        if time.monotonic() + delay > deadline:
            what = f"{url}{config.preprod.health_path}" if config.preprod.health_path else "its HEALTHCHECK"
            raise PreprodError(f"{name} not healthy after {config.preprod.health_timeout:.0f} s (polled {what}); "
                               f"raise [preprod] health_timeout or fix the app's health endpoint")
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)


def _fail_if_exited(containers: list[_Container], name: str) -> None:
    for container in containers:
        if container.state in ("exited", "dead"):
            raise PreprodError(f"container {container.name} of {name} {container.status.lower()} before it was "
                               f"healthy")


def _save_logs(client: "docker.DockerClient", name: str, directory: Path) -> str:
    """Save every container's log of the environment; returns a sentence naming the files, for errors."""
    saved = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for container in _find(client, name):
            path = directory / f"{container.name}.log"
            path.write_bytes(client.api.logs(container.id, stdout=True, stderr=True, tail=2000))
            saved.append(str(path))
    except Exception:  # noqa: BLE001 - logs are a courtesy; the original error matters more
        return ""
    return f"; container logs saved to {', '.join(saved)}" if saved else ""


def down(name: str, *, client: "docker.DockerClient | None" = None, run_id: str = "") -> int:
    """Remove every container, network and volume of environment `name`; with `run_id`, only while the
    environment is still the one that run created (a newer run may have replaced it). Returns how many
    objects went."""
    client = client or _engine()
    with _locked(name, timeout=300):
        if run_id:
            app = next((c for c in _find(client, name) if c.role == "app"), None)
            if app is None or app.labels.get(RUN_LABEL) != run_id:
                return 0
        return _remove(client, name)


def _remove(client: "docker.DockerClient", name: str) -> int:
    from docker.errors import NotFound

    removed = 0
    for container in _find(client, name):
        try:
            client.api.remove_container(container.id, force=True, v=True)
            removed += 1
        except NotFound:
            pass
    for network in client.api.networks(filters={"label": f"{ENV_LABEL}={name}"}):
        try:
            client.api.remove_network(network["Id"])
            removed += 1
        except NotFound:
            pass
    for volume in (client.api.volumes(filters={"label": f"{ENV_LABEL}={name}"}) or {}).get("Volumes") or []:
        try:
            client.api.remove_volume(volume["Name"], force=True)
            removed += 1
        except NotFound:
            pass
    if removed:
        log.say("preprod", f"removed {name} ({removed} objects)")
    return removed


@dataclass
class EnvSummary:
    name: str
    repository: str
    pr: str
    sha: str
    created: int
    containers: list[str] = field(default_factory=list)
    status: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "repository": self.repository, "pr": self.pr, "sha": self.sha,
                "created": self.created, "containers": self.containers, "status": self.status}


def ls(client: "docker.DockerClient | None" = None) -> list[EnvSummary]:
    client = client or _engine()
    found: dict[str, EnvSummary] = {}
    for c in client.api.containers(all=True, filters={"label": f"{MANAGED}=true"}):
        labels = c.get("Labels") or {}
        name = labels.get(ENV_LABEL)
        if not name:
            continue
        summary = found.setdefault(name, EnvSummary(
            name, labels.get("io.jdci.repository", ""), labels.get("io.jdci.pr", ""),
            labels.get("io.jdci.sha", ""), int(labels.get("io.jdci.created", "0"))))
        summary.containers.append(c["Names"][0].lstrip("/"))
        if labels.get("io.jdci.role") == "app":
            summary.status = c.get("State", "")
    return sorted(found.values(), key=lambda s: s.name)


def stale(envs: list[EnvSummary], ttl_hours: float, now: float) -> list[EnvSummary]:
    """Environments older than the TTL (pure)."""
    return [env for env in envs if now - env.created > ttl_hours * 3600]


def gc(config: "Config", *, repository: str | None, now: float | None = None,
       client: "docker.DockerClient | None" = None, is_open: Callable[[EnvSummary], bool] | None = None
       ) -> list[str]:
    """Remove `repository`'s environments (every repository's when None) that are past [preprod] ttl_hours,
    or whose PR is no longer open when `is_open` can tell. One repository's TTL never applies to another's."""
    client = client or _engine()
    envs = [env for env in ls(client) if repository is None or env.repository == repository]
    doomed = {env.name for env in stale(envs, config.preprod.ttl_hours, now if now is not None else time.time())}
    if is_open is not None:
        doomed |= {env.name for env in envs if env.name not in doomed and not is_open(env)}
    for name in sorted(doomed):
        down(name, client=client)
    return sorted(doomed)
