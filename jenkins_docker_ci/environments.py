"""Preproduction environments: one per pull request, on one Docker engine.

An environment is the app image plus the services it declares ([[preprod.services]]) on a network of its own,
every object named `jdci-<repo>-<hash>-pr-<N>[-<service>]` and labelled with io.jdci.* (stack.py) so `down`,
`ls` and `gc` find them by label alone. Ports are published on 127.0.0.1 only. Every docker call for
environments is in this module (image builds go through images.py); the spec itself is stack.py, health
probes health.py.
"""
from __future__ import annotations

import fcntl
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from . import health, log
from .errors import ConfigError, Interrupted, PreprodError
from .health import Probe, Seen
from .stack import (APP, APP_IMAGE, ENV_LABEL, MANAGED, RUN_LABEL, URL_LABEL, container_name, env_labels,
                    env_name, expired, plan_up, port_range, preview_url, resolve_env, service_image_name,
                    sources_digest, start_levels, volume_name)

if TYPE_CHECKING:
    import docker

    from .config import Config, ServiceSpec

__all__ = ["Environment", "EnvSummary", "OlderCommit", "up", "down", "ls", "logs", "gc", "env_name", "env_labels",
           "ENV_LABEL", "RUN_LABEL"]

PORT_LABEL = "io.jdci.port"  # the container port that is published, to find its URL again


class OlderCommit(PreprodError):
    """The PR's environment runs a newer commit than the one asked for: it is not replaced."""

    kind = "preprod-older"


@dataclass(frozen=True)
class Environment:
    name: str
    url: str  # the preview URL people open ([preprod] url_template)
    status: str  # "up" | "down" | "failed"
    image: str = ""
    containers: tuple[str, ...] = ()
    reused: bool = False
    run_id: str = ""  # the `up` that created it
    network: str = ""  # the docker network the stack runs on: attach test containers to reach services by name
    urls: Mapping[str, str] = field(default_factory=dict)  # service -> http://127.0.0.1:PORT, "app" included
    services: tuple[str, ...] = ()  # "app" and every [[preprod.services]] name
    sha: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "status": self.status, "image": self.image,
                "network": self.network, "urls": dict(self.urls), "services": list(self.services), "sha": self.sha}


def _ensure_image(client: "docker.DockerClient", ref: str, service: str, environ: Mapping[str, str]) -> None:
    """`ref` is on the engine, pulled from its registry when it names one (the build ran on another agent)."""
    from docker.errors import APIError, ImageNotFound

    from .checks.containers import ensure_image
    from .errors import UsageError

    try:
        client.api.inspect_image(ref)
        return
    except ImageNotFound:
        pass
    except APIError as exc:
        raise PreprodError(f"image {ref!r} of {service} is not an image reference ({exc.explanation or exc}); "
                           f"fix --image or [[preprod.services]] image") from None
    log.say("preprod", f"pulling {ref} for {service}")
    try:
        user = environ.get("REGISTRY_USER", "")
        ensure_image(client, ref, auth={"username": user, "password": environ.get("REGISTRY_PASSWORD", "")}
                     if user else None)
    except UsageError as exc:
        raise PreprodError(f"image of {service}: {exc}") from None


def _engine() -> "docker.DockerClient":
    from .images import engine

    return engine()


def _find(client: "docker.DockerClient", name: str) -> list[Seen]:
    return [
        Seen(c["Id"], c["Names"][0].lstrip("/"), c.get("Labels") or {}, c.get("State", ""), c.get("Status", ""),
             tuple(c.get("Ports") or ()))
        for c in client.api.containers(all=True, filters={"label": f"{ENV_LABEL}={name}"})
    ]


# -- up ----------------------------------------------------------------------------------------------------
def up(config: "Config", *, repository: str, pr_number: int | None, head_sha: str, image_ref: str,
       client: "docker.DockerClient | None" = None, report_dir: Path | None = None,
       workspace: str | None = None, pr_head: Callable[[], str | None] | None = None,
       keep_on_failure: bool = False, environ: Mapping[str, str] | None = None) -> Environment:
    """Stand up the PR's environment at `head_sha`, or keep the one that runs.

    Same commit, same image, healthy: nothing is done (`reused`). A newer commit replaces it. An OLDER commit is
    refused (OlderCommit) - "older" when `pr_head()` (the PR's head on the SCM host) is the running commit, or
    when git in `workspace` says the new commit is an ancestor of the running one; when neither can tell, it is
    replaced. Runs for the same environment on this host take turns (a lock file). On failure the logs of
    every container go to `report_dir` and the environment is removed (kept with `keep_on_failure`; never kept
    after an interrupt). `environ` fills "${NAME}" in env values (default: os.environ)."""
    preprod = config.preprod
    name = env_name(repository, pr_number, head_sha)
    environ = os.environ if environ is None else environ
    # Everything that can fail without touching the stack fails first: secrets, then the service images.
    app_env, used = resolve_env(preprod.env, environ, "[preprod]")
    service_env: dict[str, dict[str, str]] = {}
    for service in preprod.services:
        service_env[service.name], more = resolve_env(service.env, environ, f"[[preprod.services]] {service.name!r}")
        used.extend(more)
    log.redact_values(used)
    waves = start_levels(preprod.services)
    client = client or _engine()
    base = Path(config.root)  # service Dockerfiles are relative to the jdci.toml that names them
    service_images = {s.name: image_ref if s.image == APP_IMAGE else s.image
                      or _service_image(config, client, repository, s, base) for s in preprod.services}
    # before the running environment is replaced: a typo in --image must not leave the PR without one
    for service, ref in {**{s: r for s, r in service_images.items() if r != image_ref}, APP: image_ref}.items():
        _ensure_image(client, ref, service, environ)

    with _locked(name, timeout=max(900.0, preprod.health_timeout * (len(waves) + 3))):
        existing = _find(client, name)
        app = next((c for c in existing if c.role == APP), None)
        # every container still running (a service that died since is a broken environment), the app healthy
        healthy = bool(app and all(c.state == "running" for c in existing) and _app_healthy(config, client, app))
        decision = plan_up(
            running_sha=None if not existing else (app.labels.get("io.jdci.sha", "") if app else ""),
            running_image=app.labels.get("io.jdci.image", "") if app else "", healthy=healthy,
            new_sha=head_sha, new_image=image_ref,
            is_ancestor=lambda a, b: _is_ancestor(a, b, pr_head, workspace))
        if decision.action == "reuse" and app is not None:
            kept = _described(name, existing, "up", reused=True)
            log.say("preprod", f"{name}: {decision.reason}; nothing to do: {kept.url}")
            return kept
        if decision.action == "refuse":
            raise OlderCommit(f"{name} is not replaced: {decision.reason}. The PR's newer commit keeps its "
                              f"environment (a slow build of an earlier push finished last)")
        if existing:
            log.say("preprod", f"replacing {name}: {decision.reason}")
            _remove(client, name)
        run_id = uuid.uuid4().hex[:12]
        try:
            return _create(config, client, name, repository, pr_number, head_sha, image_ref, run_id, app_env,
                           service_env, service_images)
        except BaseException as exc:  # noqa: BLE001 - whatever went wrong (even Ctrl-C), leave nothing behind
            with _shielded(already_stopping=isinstance(exc, (Interrupted, KeyboardInterrupt))):
                saved = _save_logs(client, name, report_dir or Path(config.report.directory))
                interrupted = isinstance(exc, (Interrupted, KeyboardInterrupt))
                if keep_on_failure and not interrupted:
                    kept = f"; kept for inspection (--keep-on-failure): `jdci env down {name}` removes it"
                else:
                    kept = ""
                    _remove(client, name)
            if isinstance(exc, PreprodError):
                raise PreprodError(f"{exc}{saved}{kept}") from None
            raise


def _is_ancestor(older: str, newer: str, pr_head: Callable[[], str | None] | None, workspace: str | None
                 ) -> bool | None:
    """Is `older` provably older than the running `newer`? The SCM host first (the race it is for - a slow
    build of an earlier push - runs in a checkout that never saw the newer push), then git."""
    if pr_head is not None:
        try:
            head = pr_head()
        except Interrupted:  # an abort stops `up` before it creates anything
            raise
        except Exception as exc:  # noqa: BLE001 - one source of truth failing leaves the other
            log.warn("preprod", f"could not read the PR's head from the SCM host ({exc}); asking git")
            head = None
        if head and head == newer:
            return True
    if not workspace:
        return None
    done = subprocess.run(["git", "merge-base", "--is-ancestor", older, newer], cwd=workspace, capture_output=True,
                          timeout=30, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    return {0: True, 1: False}.get(done.returncode)  # 128: a commit this checkout lacks - cannot tell


def _service_image(config: "Config", client: "docker.DockerClient", repository: str, service: "ServiceSpec",
                   base: Path) -> str:
    """Build a service's Dockerfile unless an image of exactly these sources exists (tagged by their hash)."""
    from . import images

    dockerfile = (base / service.dockerfile).resolve()
    context = (base / service.context).resolve() if service.context else dockerfile.parent
    where = f"[[preprod.services]] {service.name!r}"
    if not dockerfile.is_file():
        raise ConfigError(f"{where}: no Dockerfile at {dockerfile}; fix dockerfile (relative to {base})")
    if not context.is_dir():
        raise ConfigError(f"{where}: build context {context} is not a folder; fix context")
    tag = sources_digest(dockerfile.read_bytes(), _context_files(context))
    plan = images.ImagePlan(registry="", repository=service_image_name(service.name), tags=(tag,),
                            labels={MANAGED: "true", "io.jdci.role": "service-image"},
                            build_args={}, context=context, dockerfile=dockerfile)
    from docker.errors import ImageNotFound

    try:
        client.api.inspect_image(plan.ref())
        return plan.ref()
    except ImageNotFound:
        pass
    images.build(client, plan)
    return plan.ref()


def _context_files(context: Path, limit: int = 20000) -> Iterator[tuple[str, bytes]]:
    for count, path in enumerate(sorted(p for p in context.rglob("*") if p.is_file()
                                        and ".git" not in p.parts and "__pycache__" not in p.parts)):
        if count >= limit:
            raise ConfigError(f"build context {context} holds over {limit} files; point context at a smaller folder")
        yield str(path.relative_to(context)), path.read_bytes()


def _create(config: "Config", client: "docker.DockerClient", name: str, repository: str, pr_number: int | None,
            head_sha: str, image_ref: str, run_id: str, app_env: dict[str, str],
            service_env: dict[str, dict[str, str]], images: dict[str, str]) -> Environment:
    from docker.errors import APIError, ImageNotFound

    preprod = config.preprod
    created = int(time.time())

    def labels(role: str) -> dict[str, str]:
        return env_labels(name, repository, pr_number, head_sha, role, run_id, created=created,
                          ttl_hours=preprod.ttl_hours)

    def find() -> list[Seen]:
        return _find(client, name)

    api = client.api
    try:
        api.create_network(name, driver="bridge", labels=labels("network"))
        for wave in start_levels(preprod.services):
            probes = []
            binds: dict[str, list[str]] = {}
            for service in wave:
                volumes = binds[service.name] = _volumes(api, name, service.volumes, labels(f"volume-{service.name}"))
                _run(api, name, container_name(name, service.name), images[service.name], service.name,
                     service_env[service.name], labels(service.name), port=service.port or None,
                     command=service.command or None, volumes=volumes, ports=port_range(preprod.port_range))
                probes.append(Probe(service.name, path=service.health if service.health.startswith("/") else "",
                                    command="" if service.health.startswith("/") else service.health))
            probes = [_with_url(p, find()) for p in probes]
            log.say("preprod", f"started {', '.join(s.name for s in wave)}; waiting until healthy")
            health.wait(client, name, probes, find, preprod.health_timeout)
            for service in wave:
                if service.init:
                    _init(client, name, images[service.name], service.name, service.init, service_env[service.name],
                          labels(f"{service.name}-init"), preprod.health_timeout, volumes=binds[service.name])
        if preprod.init:
            _init(client, name, image_ref, APP, preprod.init, app_env, labels(f"{APP}-init"), preprod.health_timeout)
        # the URL template, not the URL: the port is known once the container runs, and labels never change
        app_labels = {**labels(APP), "io.jdci.image": image_ref, URL_LABEL: preprod.url_template,
                      "io.jdci.host": preprod.host}
        env = {**app_env, "PORT": str(preprod.port)}
        _run(api, name, container_name(name, APP), image_ref, APP, env, app_labels, port=preprod.port,
                      command=preprod.command or None, ports=port_range(preprod.port_range))
    except ImageNotFound as exc:
        raise PreprodError(f"image for {name} not found ({exc.explanation}); build it first") from None
    except APIError as exc:
        raise PreprodError(f"could not start {name}: {exc.explanation or exc}") from None
    app = next(c for c in find() if c.role == APP)
    port = app.published(preprod.port)
    if port is None:
        health.fail_if_down(client, find(), name)
        raise PreprodError(f"{container_name(name, APP)} publishes no port {preprod.port}; set [preprod] port to "
                           f"the port the app listens on")
    url = preview_url(preprod.url_template, port=port, host=preprod.host, pr=pr_number, name=name, sha=head_sha)
    probe = _with_url(Probe(APP, path=preprod.health_path), find())
    log.say("preprod", f"started {name} ({', '.join(c.name for c in find())}); waiting until healthy at "
                       f"{probe.url}{preprod.health_path}")
    health.wait(client, name, [probe], find, preprod.health_timeout)
    log.say("preprod", f"{name} is up: {url}")
    return _described(name, find(), "up", url=url, run_id=run_id)


def _with_url(probe: Probe, containers: list[Seen]) -> Probe:
    seen = next((c for c in containers if c.role == probe.service), None)
    port = seen.labels.get(PORT_LABEL, "") if seen else ""
    published = seen.published(int(port)) if seen and port.isdigit() else None
    if probe.path and published is None:
        raise PreprodError(f"{probe.service} publishes no port for its health path {probe.path}; set its port")
    return Probe(probe.service, url=f"http://127.0.0.1:{published}" if published else "", path=probe.path,
                 command=probe.command)


def _volumes(api: Any, env: str, specs: tuple[str, ...], labels: dict[str, str]) -> list[str]:
    """Named volumes of the environment ("data:/var/lib/x" -> "<env>-data:/var/lib/x"), created and labelled."""
    binds = []
    for spec in specs:
        volume, _, target = spec.partition(":")
        full = volume_name(env, volume)
        api.create_volume(full, labels=labels)
        binds.append(f"{full}:{target}")
    return binds


def _run(api: Any, network: str, container: str, image: str, alias: str, env: dict[str, str],
         labels: dict[str, str], *, port: int | None = None, command: str | None = None,
         volumes: list[str] | None = None, ports: tuple[int, int] | None = None) -> str:
    """Create and start one container on the environment's network, reachable there as `alias`; `port`
    published on 127.0.0.1 (a free port, or one from `ports`)."""
    from docker.errors import APIError

    if port:
        labels = {**labels, PORT_LABEL: str(port)}
    candidates: list[int | None] = [None] if not ports or not port else _candidates(ports, container)
    for attempt, host_port in enumerate(candidates):
        host_config = api.create_host_config(
            port_bindings={port: ("127.0.0.1", host_port) if host_port else ("127.0.0.1",)} if port else None,
            restart_policy={"Name": "no"}, binds=volumes or None,
        )
        networking = api.create_networking_config({network: api.create_endpoint_config(aliases=[alias])})
        created = api.create_container(image, name=container, environment=env, labels=labels,
                                       ports=[port] if port else None, host_config=host_config,
                                       networking_config=networking, command=command, detach=True)
        try:
            api.start(created["Id"])
            return str(created["Id"])
        except APIError as exc:
            taken = "already allocated" in str(exc) or "address already in use" in str(exc)
            if not taken or attempt == len(candidates) - 1:
                raise
            api.remove_container(created["Id"], force=True)  # the port went to someone else meanwhile
    raise PreprodError(f"no free port in [preprod] port_range {ports[0]}-{ports[1]} for {container}; widen it")  # type: ignore[index]


def _candidates(ports: tuple[int, int], container: str, attempts: int = 20) -> list[int | None]:
    """Ports of the range that nothing listens on now, starting at a place that depends on the container's
    name (two environments starting at once mostly try different ports)."""
    low, high = ports
    size = high - low + 1
    start = int.from_bytes(container.encode()[-4:], "big") % size
    found: list[int | None] = []
    for offset in range(size):
        candidate = low + (start + offset) % size
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", candidate))
            except OSError:
                continue
        found.append(candidate)
        if len(found) == attempts:
            break
    if not found:
        raise PreprodError(f"every port of [preprod] port_range {low}-{high} is taken; widen it or remove old "
                           f"environments (`jdci env gc`)")
    return found


def _init(client: "docker.DockerClient", env: str, image: str, service: str, command: str, variables: dict[str, str],
          labels: dict[str, str], timeout: float, volumes: list[str] | None = None) -> None:
    """A one-off command (a migration, a seed) on the environment's network, with the service's volumes; it
    must exit 0 within `timeout`."""
    import requests

    api = client.api
    name = container_name(env, f"{service}-init")
    log.say("preprod", f"{service}: running init `{command}`")
    created = api.create_container(image, name=name, environment=variables, labels=labels, command=command,
                                   host_config=api.create_host_config(restart_policy={"Name": "no"},
                                                                      binds=volumes or None),
                                   networking_config=api.create_networking_config(
                                       {env: api.create_endpoint_config()}), detach=True)
    api.start(created["Id"])
    try:
        code = api.wait(created["Id"], timeout=timeout).get("StatusCode")
    except requests.exceptions.ConnectionError:  # docker-py's read timeout
        raise PreprodError(f"init of {service} (`{command}`) still ran after {timeout:.0f} s; raise [preprod] "
                           f"health_timeout or make it faster") from None
    output = health.last_lines(client, created["Id"], lines=30)
    if code != 0:
        raise PreprodError(f"init of {service} (`{command}`) failed with exit {code}"
                           + (f"; its last log lines:\n{output}" if output else ""))
    api.remove_container(created["Id"], force=True)


def _app_healthy(config: "Config", client: "docker.DockerClient", app: Seen) -> bool:
    probe = _with_url(Probe(APP, path=config.preprod.health_path), [app]) if app.published(config.preprod.port) \
        else None
    return probe is not None and health.healthy(client, probe, app)


def _described(name: str, containers: list[Seen], status: str, *, url: str = "", reused: bool = False,
               run_id: str = "") -> Environment:
    """The Environment of running containers (also what a later `up` finds and reuses)."""
    app = next((c for c in containers if c.role == APP), None)
    urls = {}
    for seen in containers:
        port = seen.labels.get(PORT_LABEL, "")
        published = seen.published(int(port)) if port.isdigit() else None
        if published:
            urls[seen.role] = f"http://127.0.0.1:{published}"
    labels = app.labels if app else {}
    services = tuple(sorted({c.role for c in containers if c.role and not c.role.endswith("-init")},
                            key=lambda r: (r != APP, r)))
    return Environment(
        name=name, url=url or _preview_from_labels(labels, urls.get(APP, "")), status=status,
        image=labels.get("io.jdci.image", ""), containers=tuple(sorted(c.name for c in containers)),
        reused=reused, run_id=run_id or labels.get(RUN_LABEL, ""), network=name, urls=urls, services=services,
        sha=labels.get("io.jdci.sha", ""))


def _preview_from_labels(labels: Mapping[str, str], local: str) -> str:
    template = labels.get(URL_LABEL, "")
    if not template or not local:
        return local
    pr = labels.get("io.jdci.pr", "")
    return preview_url(template, port=int(local.rsplit(":", 1)[1]), host=labels.get("io.jdci.host", "127.0.0.1"),
                       pr=int(pr) if pr.isdigit() else None, name=labels.get(ENV_LABEL, ""),
                       sha=labels.get("io.jdci.sha", ""))


# -- locks and signals ------------------------------------------------------------------------------------
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


@contextmanager
def _shielded(*, already_stopping: bool = False) -> Iterator[None]:
    """Clean-up that a second Ctrl-C or SIGTERM (Jenkins sends more than one) does not cut short; the signal
    is acted on once the clean-up is done - unless the run is already stopping for an earlier signal, whose
    exit code (143 for Jenkins' abort) a later Ctrl-C must not change."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: received.append(signum))
                for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if received and not already_stopping:
            raise Interrupted(received[0])
        for signum in received:  # tell the outer handler (the CLI notes them), without stopping again
            handler = previous[signum]
            if callable(handler):
                try:
                    handler(signum, None)
                except (Interrupted, KeyboardInterrupt):
                    pass


# -- logs, down ---------------------------------------------------------------------------------------------
def _save_logs(client: "docker.DockerClient", name: str, directory: Path) -> str:
    """Save every container's log of the environment; returns a sentence naming the files, for errors."""
    saved = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for container in _find(client, name):
            path = directory / f"{container.name}.log"
            text = client.api.logs(container.id, stdout=True, stderr=True, tail=5000).decode("utf-8", "replace")
            path.write_text(log.redact(text), encoding="utf-8")
            saved.append(str(path))
    except Exception:  # noqa: BLE001 - logs are a courtesy; the original error matters more
        return ""
    return f"; container logs saved to {', '.join(saved)}" if saved else ""


def logs(name: str, service: str, *, client: "docker.DockerClient | None" = None, tail: int = 500) -> str:
    """The last `tail` lines of one service of environment `name` ("app" for the app)."""
    client = client or _engine()
    found = _find(client, name)
    seen = next((c for c in found if c.role == service), None)
    if seen is None:
        known = ", ".join(sorted(c.role for c in found)) or "none: the environment does not exist"
        raise PreprodError(f"no service {service!r} in {name} (services: {known}; see `jdci env ls`)")
    return log.redact(client.api.logs(seen.id, stdout=True, stderr=True, tail=tail).decode("utf-8", "replace"))


def down(name: str, *, client: "docker.DockerClient | None" = None, run_id: str = "") -> int:
    """Remove every container, network and volume of environment `name`; with `run_id`, only while the
    environment is still the one that run created (a newer run may have replaced it). Returns how many
    objects went."""
    client = client or _engine()
    with _locked(name, timeout=300):
        if run_id:
            app = next((c for c in _find(client, name) if c.role == APP), None)
            if app is None or app.labels.get(RUN_LABEL) != run_id:
                return 0
        return _remove(client, name)


def _remove(client: "docker.DockerClient", name: str) -> int:
    from docker.errors import APIError, NotFound

    removed = 0
    flt = {"label": f"{ENV_LABEL}={name}"}
    for container in _find(client, name):
        try:
            client.api.remove_container(container.id, force=True, v=True)
            removed += 1
        except NotFound:
            pass
    for network in client.api.networks(filters=flt):
        try:
            client.api.remove_network(network["Id"])
            removed += 1
        except NotFound:
            pass
    for volume in (client.api.volumes(filters=flt) or {}).get("Volumes") or []:
        try:
            client.api.remove_volume(volume["Name"], force=True)
            removed += 1
        except NotFound:
            pass
        except APIError as exc:  # "volume in use": a container of it is still going away
            log.warn("preprod", f"could not remove volume {volume['Name']}: {exc.explanation or exc}")
    if removed:
        log.say("preprod", f"removed {name} ({removed} objects)")
    return removed


# -- ls, gc ---------------------------------------------------------------------------------------------------
@dataclass
class EnvSummary:
    name: str
    repository: str
    pr: str
    sha: str
    created: int
    containers: list[str] = field(default_factory=list)
    status: str = ""  # the app container's state (running, exited, ...; "" = no app container)
    url: str = ""
    health: str = ""  # healthy | unhealthy | starting | running | exited | ... (the app's)
    labels: Mapping[str, str] = field(default_factory=dict)  # the app's (or any container's) labels

    def age(self, now: float | None = None) -> int:
        return max(0, int((now if now is not None else time.time()) - self.created))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "repository": self.repository, "pr": self.pr, "sha": self.sha,
                "created": self.created, "age": self.age(), "url": self.url, "health": self.health,
                "containers": self.containers, "status": self.status}


def _health_word(seen: Seen) -> str:
    for word in ("unhealthy", "healthy", "health: starting"):
        if f"({word})" in seen.status:
            return word.replace("health: ", "")
    return seen.state


def ls(client: "docker.DockerClient | None" = None, *, repository: str | None = None) -> list[EnvSummary]:
    """Every environment on the engine (or `repository`'s), from its containers' labels."""
    client = client or _engine()
    found: dict[str, EnvSummary] = {}
    flt = [f"{MANAGED}=true"] + ([f"io.jdci.repository={repository}"] if repository else [])
    for c in client.api.containers(all=True, filters={"label": flt}):
        seen = Seen(c["Id"], c["Names"][0].lstrip("/"), c.get("Labels") or {}, c.get("State", ""),
                    c.get("Status", ""), tuple(c.get("Ports") or ()))
        labels = seen.labels
        name = labels.get(ENV_LABEL)
        if not name:
            continue
        created = labels.get("io.jdci.created", "0")
        summary = found.setdefault(name, EnvSummary(
            name, labels.get("io.jdci.repository", ""), labels.get("io.jdci.pr", ""), labels.get("io.jdci.sha", ""),
            int(created) if created.isdigit() else 0, labels=labels))
        summary.containers.append(seen.name)
        if seen.role == APP:
            summary.status = seen.state
            summary.health = _health_word(seen)
            summary.labels = labels
            summary.url = _described(name, [seen], "up").url
    return sorted(found.values(), key=lambda s: s.name)


def stale(envs: list[EnvSummary], ttl_hours: float, now: float) -> list[EnvSummary]:
    """Environments past their expiry (io.jdci.expires, else created + the TTL) (pure)."""
    return [env for env in envs if expired(env.labels or {"io.jdci.created": str(env.created)}, now, ttl_hours)]


def gc(config: "Config", *, repository: str | None, now: float | None = None,
       client: "docker.DockerClient | None" = None, is_open: Callable[[EnvSummary], bool] | None = None,
       dry_run: bool = False) -> list[str]:
    """Remove `repository`'s environments (every repository's when None) that are past their expiry, whose PR
    is no longer open when `is_open` can tell, and networks and volumes left without any container (an `up`
    killed with SIGKILL). One repository's TTL never applies to another's. Returns the environments removed
    (with `dry_run`: those that would be, removing nothing)."""
    client = client or _engine()
    now = now if now is not None else time.time()
    envs = ls(client, repository=repository)
    doomed = {env.name: "expired" for env in stale(envs, config.preprod.ttl_hours, now)}
    if is_open is not None:
        doomed.update({env.name: "PR not open" for env in envs if env.name not in doomed and not is_open(env)})
    with_containers = {env.name for env in envs}
    for orphan in _labelled_without_containers(client, repository) - with_containers:
        doomed.setdefault(orphan, "orphaned")
    if dry_run:
        for name, why in sorted(doomed.items()):
            log.say("gc", f"would remove {name} ({why})")
        return sorted(doomed)
    removed = []
    for name, why in sorted(doomed.items()):
        with _locked(name, timeout=300):  # an `up` in progress makes its network first: not an orphan
            if why == "orphaned" and _find(client, name):
                continue
            if _remove(client, name):
                log.say("gc", f"removed {name} ({why})")
                removed.append(name)
    return removed


def _labelled_without_containers(client: "docker.DockerClient", repository: str | None) -> set[str]:
    flt = {"label": [ENV_LABEL] + ([f"io.jdci.repository={repository}"] if repository else [])}
    names = {n["Labels"].get(ENV_LABEL, "") for n in client.api.networks(filters=flt)}
    names |= {v["Labels"].get(ENV_LABEL, "") for v in (client.api.volumes(filters=flt) or {}).get("Volumes") or []}
    names.discard("")
    return {n for n in names if not _find(client, n)}
