"""Integration fixtures: the real Docker engine and registry (`make services` starts them)."""
from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest


_SESSION_STARTED = time.time()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After the whole suite, nothing labelled io.jdci.managed=true that this session created may remain
    (containers, networks, volumes). Another run on the same engine at the same time would count too: set
    JDCI_LEAK_CHECK=0 when sharing the engine with one."""
    if os.environ.get("JDCI_LEAK_CHECK") == "0" or not any(
            item.get_closest_marker("integration") for item in session.items):
        return
    from datetime import datetime

    from jenkins_docker_ci.images import engine

    def after_start(stamp: str) -> bool:  # the engine's RFC 3339 times, nanoseconds and all
        head, _, _ = stamp.partition(".")
        return datetime.fromisoformat(head.rstrip("Z") + "+00:00").timestamp() >= _SESSION_STARTED - 1

    api = engine().api
    flt = {"label": "io.jdci.managed=true"}
    left = [f"container {c['Names'][0]}" for c in api.containers(all=True, filters=flt)
            if c["Created"] >= _SESSION_STARTED - 1]
    left += [f"network {n['Name']}" for n in api.networks(filters=flt) if after_start(n["Created"])]
    left += [f"volume {v['Name']}" for v in (api.volumes(filters=flt) or {}).get("Volumes") or []
             if after_start(v["CreatedAt"])]
    if left:
        session.config.get_terminal_writer().line(
            "jdci objects left behind by this test session: " + ", ".join(sorted(left)), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture(scope="session")
def docker_client():
    from jenkins_docker_ci.images import engine

    return engine()


@pytest.fixture
def no_leaks(docker_client, unique) -> Iterator[None]:
    """Fails the test if it leaves a container, network or volume of one of its jdci environments behind.

    Selected by io.jdci.env, which only jdci sets when it creates them (io.jdci.managed alone also marks
    containers that merely run a jdci-built image: labels are inherited from the image), and by the test's
    `unique` suffix, which every repository a test creates carries: other runs on the same engine don't count."""
    def created() -> set[str]:
        flt = {"label": "io.jdci.env"}
        names = ({c["Names"][0] for c in docker_client.api.containers(all=True, filters=flt)}
                 | {n["Name"] for n in docker_client.api.networks(filters=flt)}
                 | {v["Name"] for v in (docker_client.api.volumes(filters=flt) or {}).get("Volumes") or []})
        return {name for name in names if unique in name}

    before = created()
    yield
    left = created() - before
    assert not left, f"left behind: {sorted(left)}"


TINY_DOCKERFILE = """FROM jdci-base/busybox:latest
COPY www /www
EXPOSE 8000
CMD ["httpd", "-f", "-p", "8000", "-h", "/www"]
"""


def make_tiny_app(root: Path, *, dockerfile: str = TINY_DOCKERFILE, page: str = "hello shop") -> str:
    """A 2 MB busybox-httpd app in a git repository; returns the commit SHA."""
    (root / "www").mkdir(parents=True, exist_ok=True)
    (root / "www" / "index.html").write_text(page)
    (root / "www" / "healthz").write_text("ok")
    (root / "Dockerfile").write_text(dockerfile)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"]
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "tiny app"], cwd=root, check=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True,
                          text=True).stdout.strip()


def commit_page(root: Path, page: str) -> str:
    """A new commit of the tiny app in `root` with another page; returns its SHA."""
    (root / "www" / "index.html").write_text(page)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "commit", "-qam", page], cwd=root, check=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True,
                          text=True).stdout.strip()
