"""Shared fixtures. The sandbox servers start once per test session, in-process, on free 127.0.0.1 ports;
tests keep out of each other's way by using their own names (repositories, projects), not by resetting."""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Iterator

import pytest


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """name -> running SandboxServer for every sandbox service this version has."""
    from jenkins_docker_ci import sandbox as sb

    names = sb.available()
    servers = sb.start(names, directory=Path(tmp_path_factory.mktemp("sandbox")), ports={n: 0 for n in names})
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture
def unique() -> str:
    """A short unique suffix for names a test creates."""
    return uuid.uuid4().hex[:8]
