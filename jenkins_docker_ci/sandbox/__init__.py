"""Stand-ins for the services that cannot run here (GitHub, JIRA, Jenkins, Slack), speaking their REST APIs.

`jdci sandbox up` starts them in one background process on fixed 127.0.0.1 ports (overridable by environment);
tests start them in-process on free ports with `start()`.

| service | default port | override                  | URL printed by `jdci sandbox up --json` |
|---------|--------------|---------------------------|------------------------------------------|
| github  | 8481         | JDCI_SANDBOX_GITHUB_PORT  | http://127.0.0.1:8481/api/v3             |
| jira    | 8482         | JDCI_SANDBOX_JIRA_PORT    | http://127.0.0.1:8482                    |
| jenkins | 8483         | JDCI_SANDBOX_JENKINS_PORT | http://127.0.0.1:8483                    |
| slack   | 8484         | JDCI_SANDBOX_SLACK_PORT   | http://127.0.0.1:8484/services/T0/B0/x   |
State (bare git repositories) lives under JDCI_SANDBOX_DIR (default ~/.local/state/jdci/sandbox).
"""
from __future__ import annotations

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from .server import SandboxServer, Service

# name -> (module, class, default port). Modules are imported only when the service starts.
SERVICES: dict[str, tuple[str, str, int]] = {
    "github": ("jenkins_docker_ci.sandbox.github", "GitHubService", 8481),
    "jira": ("jenkins_docker_ci.sandbox.jira", "JiraService", 8482),
    "jenkins": ("jenkins_docker_ci.sandbox.jenkins", "JenkinsService", 8483),
    "slack": ("jenkins_docker_ci.sandbox.slack", "SlackService", 8484),
}


def state_dir() -> Path:
    default = Path.home() / ".local" / "state" / "jdci" / "sandbox"
    return Path(os.environ.get("JDCI_SANDBOX_DIR", str(default)))


def port_for(name: str) -> int:
    value = os.environ.get(f"JDCI_SANDBOX_{name.upper()}_PORT")
    return int(value) if value else SERVICES[name][2]


def available() -> list[str]:
    """The services whose module exists in this version."""
    import importlib.util

    return [name for name, (module, _, _) in SERVICES.items() if importlib.util.find_spec(module) is not None]


def make_service(name: str, directory: Path) -> "Service":
    module, cls, _ = SERVICES[name]
    factory: Callable[..., Service] = getattr(importlib.import_module(module), cls)
    return factory(directory / name)


def start(names: list[str] | None = None, *, directory: Path | None = None, ports: dict[str, int] | None = None
          ) -> dict[str, "SandboxServer"]:
    """Start services in this process (threads). Port 0 = a free port. Returns name -> running server."""
    from .server import SandboxServer

    directory = directory or state_dir()
    servers: dict[str, SandboxServer] = {}
    for name in names or available():
        port = (ports or {}).get(name, port_for(name))
        servers[name] = SandboxServer(make_service(name, directory), port).start()
    return servers


def urls(servers: dict[str, "SandboxServer"]) -> dict[str, str]:
    return {name: server.service.public_url() if hasattr(server.service, "public_url") else server.url
            for name, server in servers.items()}


# -- the background process behind `jdci sandbox up/down` --------------------------------------------------
def _pid_file() -> Path:
    return state_dir() / "sandbox.pid"


def _urls_file() -> Path:
    return state_dir() / "urls.json"


def _running_pid() -> int | None:
    try:
        pid = int(_pid_file().read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def up(timeout: float = 20.0) -> dict[str, str]:
    """Start the sandbox in the background unless it already runs; return its URLs."""
    from ..errors import ServiceError

    if _running_pid() and _urls_file().exists():
        found = json.loads(_urls_file().read_text())
        if _all_answer(found):
            return found
        down()
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    _urls_file().unlink(missing_ok=True)
    log = open(directory / "sandbox.log", "ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "jenkins_docker_ci.sandbox", "serve"],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    _pid_file().write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    delay = 0.05
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if _urls_file().exists():
            found = json.loads(_urls_file().read_text())
            if _all_answer(found):
                return found
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
    down()
    raise ServiceError("sandbox", f"the sandbox did not start within {timeout:.0f} s (is a port taken?); "
                                  f"see {directory / 'sandbox.log'}")


def _all_answer(found: dict[str, str]) -> bool:
    import requests

    for url in found.values():
        root = url.split("/api/")[0].split("/services/")[0]
        try:
            requests.get(root + "/_sandbox/requests", timeout=2)
        except requests.RequestException:
            return False
    return True


def status() -> dict[str, str]:
    """The URLs of the background sandbox when it runs and answers; {} otherwise."""
    if _running_pid() and _urls_file().exists():
        found: dict[str, str] = json.loads(_urls_file().read_text())
        if _all_answer(found):
            return found
    return {}


def down() -> bool:
    """Stop the background sandbox. True when one was running."""
    pid = _running_pid()
    _urls_file().unlink(missing_ok=True)
    _pid_file().unlink(missing_ok=True)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except OSError:
            return True
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return True


def serve() -> None:
    """Run every available service in the foreground until SIGTERM (the body of the background process)."""
    servers = start()
    _urls_file().write_text(json.dumps(urls(servers)))

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            time.sleep(3600)
    finally:
        for server in servers.values():
            server.stop()
