"""Run every configured check against one environment, each within its own timeout; a check that cannot run
is an "error" result with the reason, never an exception that hides the other checks' results.

The runner takes plain values (URLs, network, image refs), not an Environment, so any caller can use it:

    results = run_all(config.checks, Target(urls={"app": "http://127.0.0.1:49153"}, network="jdci-...-pr-7",
                      env_name="jdci-...-pr-7", image="127.0.0.1:5000/acme/shop:<sha>", registry=...,
                      repository="acme/shop", target_branch="main"), Path("jdci-reports"))
"""
from __future__ import annotations

import json
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from .. import log
from ..errors import Interrupted, JdciError
from . import CheckResult

if TYPE_CHECKING:
    import docker

    from ..config import ChecksConfig, Secrets
    from .visual import Baseline


@dataclass(frozen=True)
class Target:
    urls: Mapping[str, str]  # service name -> base URL on 127.0.0.1; "app" is the app
    network: str  # the environment's docker network
    env_name: str  # io.jdci.env of what the checks start
    image: str  # the PR's image (default for command checks)
    registry: str = ""
    repository: str = ""  # image repository, e.g. acme/shop
    target_branch: str = "main"
    app_port: int = 8000  # the app's port inside its container (for a baseline run alongside)
    health_path: str = "/"
    app_env: Mapping[str, str] = field(default_factory=dict)


def _url(target: Target, service: str) -> str:
    url = target.urls.get(service)
    if not url:
        raise JdciError(f"service {service!r} has no URL in {target.env_name} (known: "
                        f"{', '.join(sorted(target.urls)) or 'none'}); fix the check's `service`")
    return url


def run_all(checks: "ChecksConfig", target: Target, report_dir: Path, *, secrets: "Secrets | None" = None,
            client: "docker.DockerClient | None" = None,
            on_result: Callable[[CheckResult], None] | None = None) -> list[CheckResult]:
    from . import command, http

    report_dir.mkdir(parents=True, exist_ok=True)
    results: list[CheckResult] = []

    def record(result: CheckResult) -> None:
        results.append(result)
        optional = "" if result.required else " (optional)"
        log.say("check", f"{result.name}: {result.status}{optional} - {result.detail}")
        if on_result is not None:
            on_result(result)

    for check in checks.http:
        record(_guard(check.name, "http", check.required,
                      partial(lambda c: http.run(c, _url(target, c.service)), check)))
    for cmd in checks.command:
        record(_guard(cmd.name, "command", cmd.required, partial(
            command.run, cmd, image=target.image, network=target.network, env_name=target.env_name, client=client)))
    if checks.visual:
        _run_visual(checks, target, report_dir, secrets, client, record)
    if not results:
        log.say("check", "no checks configured ([[checks.http]], [[checks.command]], [[checks.visual]] in jdci.toml)")
    return results


def _guard(name: str, kind: str, required: bool, work: Callable[[], CheckResult]) -> CheckResult:
    started = time.monotonic()
    try:
        return work()
    except Interrupted:  # a Jenkins abort stops the run; it is no check's error
        raise
    except JdciError as exc:
        return CheckResult(name, "error", str(exc), time.monotonic() - started, kind=kind, required=required)
    except Exception as exc:  # noqa: BLE001 - one broken check must not hide the others' results
        return CheckResult(name, "error", f"{type(exc).__name__}: {exc}", time.monotonic() - started, kind=kind,
                           required=required)


def _run_visual(checks: "ChecksConfig", target: Target, report_dir: Path, secrets: "Secrets | None",
                client: "docker.DockerClient | None", record: Callable[[CheckResult], None]) -> None:
    from . import visual

    import shutil

    deadline = time.monotonic() + max(c.timeout for c in checks.visual)
    # this run's screenshots only, gone before anything can fail: `jdci check approve` takes whatever is in
    # this folder, and must not find an earlier run's (another commit's) after this one failed early
    shutil.rmtree(report_dir / "visual", ignore_errors=True)
    with ExitStack() as stack:
        try:
            baseline = _baseline(checks, target, secrets, client, stack, deadline)
        except Interrupted:  # a Jenkins abort stops the run; it is no check's error
            raise
        except Exception as exc:  # noqa: BLE001 - reported on every visual check, the other checks stand
            reason = str(exc) if isinstance(exc, JdciError) else f"{type(exc).__name__}: {exc}"
            for check in checks.visual:
                record(CheckResult(check.name, "error", f"baseline: {reason}", kind="visual",
                                   required=check.required))
            return
        (report_dir / "visual").mkdir(parents=True, exist_ok=True)
        (report_dir / "visual" / "manifest.json").write_text(json.dumps({
            "repository": target.repository, "registry": target.registry, "target": target.target_branch,
            "baseline": {"kind": baseline.kind, "where": baseline.where},
            "checks": [c.name for c in checks.visual]}, indent=2), encoding="utf-8")
        from .browser import Browser

        try:  # one browser for the run, a target per page; each check keeps to its own timeout
            browser = stack.enter_context(Browser.start(
                checks.chromium, deadline=time.monotonic() + sum(c.timeout for c in checks.visual)))
        except Interrupted:  # a Jenkins abort stops the run; it is no check's error
            raise
        except JdciError as exc:
            for check in checks.visual:
                record(CheckResult(check.name, "error", str(exc), kind="visual", required=check.required))
            return
        for check in checks.visual:
            record(_guard(check.name, "visual", check.required, partial(
                lambda c: visual.run(c, pr_url=_url(target, c.service), baseline=baseline, report_dir=report_dir,
                                     chromium=checks.chromium, browser=browser), check)))


def baseline_ref(template: str, target: Target) -> str:
    """`[checks] baseline_image` with its placeholders filled (pure); "" when not configured."""
    from ..images import sanitize_tag

    if not template:
        return ""
    return template.format(registry=target.registry, repository=target.repository,
                           target=sanitize_tag(target.target_branch) or "main").lstrip("/")


def _baseline(checks: "ChecksConfig", target: Target, secrets: "Secrets | None",
              client: "docker.DockerClient | None", stack: ExitStack, deadline: float) -> "Baseline":
    """Live (the target's image alongside) when that image exists, else stored baselines, else none."""
    from . import containers
    from .baselines import open_store
    from .visual import Baseline
    from ..images import engine

    ref = baseline_ref(checks.baseline_image, target)
    if ref and ref != target.image:
        client = client or engine()
        if _image_available(client, ref, secrets):
            name = containers.unique_name(f"{target.env_name}-baseline")
            url = stack.enter_context(containers.alongside(
                client, image=ref, name=name, network=target.network, port=target.app_port,
                health_path=target.health_path, deadline=deadline, env=target.app_env,
                container_labels=containers.labels("baseline", env=target.env_name, extra={"io.jdci.image": ref})))
            log.say("check", f"baseline: {ref} runs alongside at {url}")
            return Baseline("live", ref, url=url)
    if target.repository:
        store = open_store(checks.baseline_store, registry=target.registry, repository=target.repository,
                           target=target.target_branch, secrets=secrets, client=client)
        try:
            files = store.load()
        except Interrupted:  # a Jenkins abort stops the run; it is no check's error
            raise
        except JdciError as exc:
            log.warn("check", f"stored baselines at {store.where} unreadable: {exc}")
            files = {}
        if files:
            log.say("check", f"baseline: stored at {store.where} ({len(files)} files)")
            return Baseline("stored", store.where, files=files)
    log.say("check", f"baseline: none yet for {target.target_branch} (no image {ref or '-'}, nothing approved)")
    return Baseline("none", "")


def _image_available(client: "docker.DockerClient", ref: str, secrets: "Secrets | None") -> bool:
    """Whether `ref` is on the engine, or in its registry (then it is pulled)."""
    from docker.errors import APIError, ImageNotFound

    try:
        client.api.inspect_image(ref)
        return True
    except ImageNotFound:
        pass
    name, _, tag = ref.rpartition(":")
    first, _, rest = name.partition("/")
    if not rest or not ("." in first or ":" in first or first == "localhost"):
        return False  # not in a registry we can ask
    from ..images import registry_digest

    try:
        if registry_digest(first, rest, tag, secrets) is None:
            return False
        auth = ({"username": secrets.registry_user, "password": secrets.registry_password}
                if secrets and secrets.registry_user else None)
        client.api.pull(name, tag=tag, auth_config=auth)
        return True
    except Interrupted:  # a Jenkins abort stops the run; it is no check's error
        raise
    except (JdciError, APIError) as exc:
        log.warn("check", f"baseline image {ref} not usable: {exc}")
        return False
