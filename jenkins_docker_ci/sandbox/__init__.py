"""Stand-ins for the services that cannot run here (GitHub, JIRA, Jenkins, Slack), speaking their REST APIs.

`jdci sandbox up` starts them in one background process on fixed 127.0.0.1 ports (overridable by environment);
tests start them in-process on free ports with `start()`.

| service | default port | override                  | URL printed by `jdci sandbox up --json` |
|---------|--------------|---------------------------|------------------------------------------|
| github  | 8481         | JDCI_SANDBOX_GITHUB_PORT  | http://127.0.0.1:8481/api/v3             |
| jira    | 8482         | JDCI_SANDBOX_JIRA_PORT    | http://127.0.0.1:8482                    |
| jenkins | 8483         | JDCI_SANDBOX_JENKINS_PORT | http://127.0.0.1:8483                    |
| slack   | 8484         | JDCI_SANDBOX_SLACK_PORT   | http://127.0.0.1:8484/services/T0/B0/x   |
A port variable set to 0 takes any free port (the URLs printed say which).
State (bare git repositories) lives under JDCI_SANDBOX_DIR (default ~/.local/state/jdci/sandbox).

On a shared machine another user's sandbox (or any program) may hold a default port: `up` then fails at once
(exit 4) naming the service, the port and the variable to set, e.g. `JDCI_SANDBOX_JIRA_PORT=18482 jdci sandbox up`.
`down` signals only a process that is this sandbox (its command line says so): a pid file left over from before
a restart, whose pid now belongs to something else, is just removed.
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
    return Path(os.environ.get("JDCI_SANDBOX_DIR", str(default))).absolute()


def port_variable(name: str) -> str:
    return f"JDCI_SANDBOX_{name.upper()}_PORT"


def port_for(name: str) -> int:
    from ..errors import ConfigError

    value = os.environ.get(port_variable(name), "").strip()
    if not value:
        return SERVICES[name][2]
    if not value.isdigit() or not 0 <= int(value) <= 65535:
        raise ConfigError(f"{port_variable(name)}={value!r} is not a port number; set it to a free port such as "
                          f"{SERVICES[name][2] + 10000} or unset it")
    return int(value)


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
    """Start services in this process (threads). Port 0 = a free port. Returns name -> running server.
    Raises ServiceError naming every port that is taken (and starts nothing) when one cannot be bound."""
    from ..errors import ServiceError
    from .server import SandboxServer

    directory = directory or state_dir()
    servers: dict[str, SandboxServer] = {}
    taken: list[str] = []
    for name in names or available():
        port = ports[name] if ports and name in ports else port_for(name)
        try:
            servers[name] = SandboxServer(make_service(name, directory), port)
        except OSError as exc:
            taken.append(_port_problem(name, port, exc))
    if taken:
        for server in servers.values():
            server.server_close()
        raise ServiceError("sandbox", "; ".join(taken))
    return {name: server.start() for name, server in servers.items()}


def _port_problem(name: str, port: int, exc: OSError) -> str:
    import errno

    why = f"sandbox service {name} cannot listen on 127.0.0.1:{port} ({exc.strerror or exc})"
    if exc.errno == errno.EADDRINUSE:
        holder = ("another jdci sandbox (another user's, or one with another JDCI_SANDBOX_DIR)"
                  if _is_sandbox_port(port) else "another program")
        why += f": {holder} holds it"
    return (f"{why}; set {port_variable(name)} to a free port (e.g. {port_variable(name)}={_suggest(port)} "
            f"jdci sandbox up)")


def _suggest(port: int) -> int:
    return port + 10000 if port + 10000 <= 65535 else port - 10000 if port > 10000 else 18480


def _is_sandbox_port(port: int) -> bool:
    """Whether a jdci sandbox answers on `port` (its control API), so the message can say who holds it."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_sandbox/requests", timeout=1) as answer:
            return isinstance(json.loads(answer.read()), list)
    except (OSError, ValueError):
        return False


def urls(servers: dict[str, "SandboxServer"]) -> dict[str, str]:
    return {name: server.service.public_url() if hasattr(server.service, "public_url") else server.url
            for name, server in servers.items()}


# -- the background process behind `jdci sandbox up/down` --------------------------------------------------
def _pid_file() -> Path:
    return state_dir() / "sandbox.pid"


def _urls_file() -> Path:
    return state_dir() / "urls.json"


def _error_file() -> Path:
    return state_dir() / "start-error.txt"


def _command() -> list[str]:
    return [sys.executable, "-m", "jenkins_docker_ci.sandbox", "serve", str(state_dir())]


def is_sandbox_process(pid: int) -> bool:
    """Whether `pid` is a sandbox process serving this state directory. After a restart the pid in a stale
    pid file may belong to any process: only one whose command line is ours may be signalled."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:  # gone, or not Linux
        return False
    args = [a.decode("utf-8", "replace") for a in argv if a]
    return ("jenkins_docker_ci.sandbox" in args and "serve" in args
            and (len(args) <= args.index("serve") + 1 or args[args.index("serve") + 1] == str(state_dir())))


def _running_pid() -> int | None:
    try:
        pid = int(_pid_file().read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if is_sandbox_process(pid) else None


def up(timeout: float = 20.0) -> dict[str, str]:
    """Start the sandbox in the background unless it already runs; return its URLs.
    Raises ServiceError (exit 4) at once when the background process exits, e.g. because a port is taken."""
    from ..errors import ServiceError

    for name in available():
        port_for(name)  # a bad JDCI_SANDBOX_*_PORT is a ConfigError here, not a crash in the background
    if _running_pid() and _urls_file().exists():
        found = json.loads(_urls_file().read_text())
        if _fingerprint_file().exists() and _fingerprint_file().read_text() == fingerprint() and _all_answer(found):
            return found
        # another version of jdci, or other ports asked for: what answers would not be what this jdci expects
    down()
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    _urls_file().unlink(missing_ok=True)
    _error_file().unlink(missing_ok=True)
    log_path = directory / "sandbox.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(_command(), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    _pid_file().write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    delay = 0.05
    while time.monotonic() < deadline:
        code = process.poll()
        if code is not None:
            _pid_file().unlink(missing_ok=True)
            raise ServiceError("sandbox", _exit_reason(code, log_path))
        if _urls_file().exists():
            found = json.loads(_urls_file().read_text())
            if _all_answer(found):
                return found
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
    down()
    raise ServiceError("sandbox", f"the sandbox (pid {process.pid}) did not answer within {timeout:.0f} s and "
                                  f"was stopped; see its log {log_path}")


def _exit_reason(code: int, log_path: Path) -> str:
    try:
        told = _error_file().read_text().strip()
    except OSError:
        told = ""
    if told:
        return told
    try:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
    except OSError:
        tail = []
    last = f": {' | '.join(tail)}" if tail else ""
    return f"the sandbox process exited with code {code} before it answered{last}; see its log {log_path}"


def _fingerprint_file() -> Path:
    return state_dir() / "fingerprint.txt"


def fingerprint() -> str:
    """This version of the sandbox code plus the ports asked for: a running sandbox with another fingerprint
    is restarted by `up` rather than reused."""
    import hashlib

    digest = hashlib.sha256()
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.name.encode() + source.read_bytes())
    for name in available():
        digest.update(f"{name}={os.environ.get(port_variable(name), '')}".encode())
    return digest.hexdigest()[:16]


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
    """Stop the background sandbox. True when one was running. A pid file whose process is not this sandbox
    (stale after a restart) is removed without signalling anybody."""
    pid = _running_pid()
    _urls_file().unlink(missing_ok=True)
    _pid_file().unlink(missing_ok=True)
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + 10
    delay = 0.02
    while time.monotonic() < deadline:
        if not is_sandbox_process(pid):
            return True
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)
    if is_sandbox_process(pid):
        os.kill(pid, signal.SIGKILL)
    return True


def serve() -> None:
    """Run every available service in the foreground until SIGTERM (the body of the background process).
    When a service cannot start, its reason goes to the error file (for `up`) and the log, and it exits 4."""
    from ..errors import JdciError

    try:
        servers = start()
    except JdciError as exc:
        _error_file().write_text(exc.message + "\n")
        print(f"[sandbox] {exc.message}", file=sys.stderr, flush=True)
        raise SystemExit(exc.exit_code) from None
    _fingerprint_file().write_text(fingerprint())
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
