"""`jdci sandbox up/down` as a user runs them: separate processes, a state directory of their own, free ports."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

pytestmark = pytest.mark.integration
NAMES = ("GITHUB", "JIRA", "JENKINS", "SLACK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {**os.environ, "JDCI_SANDBOX_DIR": str(tmp_path / "sandbox")}
    for name in NAMES:
        env[f"JDCI_SANDBOX_{name}_PORT"] = str(free_port())
    yield env
    jdci(env, "sandbox", "down")


def jdci(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jenkins_docker_ci", *args], env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def stranger() -> Iterator[subprocess.Popen[bytes]]:
    """A process that is not ours, as a pid from a stale pid file may now name (after a restart)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    process.kill()
    process.wait()


def stale_state(env: dict[str, str], pid: int) -> Path:
    state = Path(env["JDCI_SANDBOX_DIR"])
    state.mkdir(parents=True, exist_ok=True)
    (state / "sandbox.pid").write_text(str(pid))
    (state / "urls.json").write_text(json.dumps({"jira": f"http://127.0.0.1:{free_port()}"}))
    return state


def test_down_with_a_stale_pid_file_signals_nobody(env: dict[str, str], stranger: subprocess.Popen[bytes]) -> None:
    state = stale_state(env, stranger.pid)
    done = jdci(env, "sandbox", "down", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"stopped": False}
    assert stranger.poll() is None  # still alive
    assert not (state / "sandbox.pid").exists()


def test_up_over_a_stale_pid_file_starts_and_down_stops_only_the_sandbox(
        env: dict[str, str], stranger: subprocess.Popen[bytes]) -> None:
    state = stale_state(env, stranger.pid)
    up = jdci(env, "sandbox", "up", "--json")
    assert up.returncode == 0, up.stderr
    urls = json.loads(up.stdout)
    assert urls["jira"] == f"http://127.0.0.1:{env['JDCI_SANDBOX_JIRA_PORT']}"
    assert stranger.poll() is None
    pid = int((state / "sandbox.pid").read_text())
    assert pid != stranger.pid
    assert json.loads(jdci(env, "sandbox", "up", "--json").stdout) == urls  # idempotent: same process
    assert int((state / "sandbox.pid").read_text()) == pid
    down = jdci(env, "sandbox", "down", "--json")
    assert json.loads(down.stdout) == {"stopped": True}
    assert stranger.poll() is None
    assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()


def test_a_taken_port_is_named_with_the_variable_to_change(env: dict[str, str]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env["JDCI_SANDBOX_GITHUB_PORT"] = str(port)
        done = jdci(env, "sandbox", "up", "--json")
    assert done.returncode == 4, done.stderr
    error = json.loads(done.stdout)["error"]
    assert error["kind"] == "service"
    message = error["message"]
    assert f"github cannot listen on 127.0.0.1:{port}" in message, message
    assert f"JDCI_SANDBOX_GITHUB_PORT={port}" not in message  # it suggests a different port
    assert "set JDCI_SANDBOX_GITHUB_PORT to a free port" in message
    assert "jira" not in message  # only the service that failed
    state = Path(env["JDCI_SANDBOX_DIR"])
    assert not (state / "sandbox.pid").exists()  # nothing left running
    assert json.loads(jdci(env, "sandbox", "status", "--json").stdout) == {}


def test_a_port_held_by_another_sandbox_says_so(env: dict[str, str], sandbox: dict) -> None:
    port = sandbox["jira"].server_address[1]
    env["JDCI_SANDBOX_JIRA_PORT"] = str(port)
    done = jdci(env, "sandbox", "up", "--json")
    assert done.returncode == 4, done.stderr
    message = json.loads(done.stdout)["error"]["message"]
    assert f"jira cannot listen on 127.0.0.1:{port}" in message
    assert "another jdci sandbox" in message and "set JDCI_SANDBOX_JIRA_PORT to a free port" in message


def test_a_port_that_is_not_a_number_is_a_config_error(env: dict[str, str]) -> None:
    env["JDCI_SANDBOX_SLACK_PORT"] = "eighty"
    done = jdci(env, "sandbox", "up", "--json")
    assert done.returncode == 2, done.stderr
    assert "JDCI_SANDBOX_SLACK_PORT='eighty'" in json.loads(done.stdout)["error"]["message"]


def test_down_leaves_the_sandbox_of_another_state_directory_alone(env: dict[str, str], tmp_path: Path) -> None:
    assert jdci(env, "sandbox", "up").returncode == 0
    pid = int((Path(env["JDCI_SANDBOX_DIR"]) / "sandbox.pid").read_text())
    other = {**env, "JDCI_SANDBOX_DIR": str(tmp_path / "other")}
    stale_state(other, pid)
    assert json.loads(jdci(other, "sandbox", "down", "--json").stdout) == {"stopped": False}
    assert json.loads(jdci(env, "sandbox", "status", "--json").stdout)["jira"].endswith(env["JDCI_SANDBOX_JIRA_PORT"])


def test_up_restarts_a_sandbox_of_another_version_and_reuses_its_own(env: dict[str, str]) -> None:
    first = jdci(env, "sandbox", "up", "--json")
    assert first.returncode == 0, first.stderr
    state = Path(env["JDCI_SANDBOX_DIR"])
    pid = (state / "sandbox.pid").read_text()
    again = jdci(env, "sandbox", "up", "--json")
    assert again.returncode == 0 and (state / "sandbox.pid").read_text() == pid  # same version: reused
    (state / "fingerprint.txt").write_text("an older jdci")
    newer = jdci(env, "sandbox", "up", "--json")
    assert newer.returncode == 0, newer.stderr
    assert (state / "sandbox.pid").read_text() != pid
    assert json.loads(newer.stdout) == json.loads(first.stdout)
