"""No secret set in the environment ever appears in anything jdci prints or writes: a set of commands (success
and failure, --json and text) runs with distinctive secret values, and every captured stream and written log
file is scanned for them. Where a secret was bound to show up (a build console that prints it, a title that
carries it), the mask must be there instead: the filter ran, the value was not simply absent."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from jenkins_docker_ci import cli

pytestmark = pytest.mark.integration

SECRETS = {
    "GITHUB_TOKEN": "ghp-SECRET-gh-51f3a9",
    "JIRA_USER": "jira-user-SECRET-77b",
    "JIRA_TOKEN": "jira-SECRET-tok-9a0c",
    "REGISTRY_USER": "reg-user-SECRET-3d1",
    "REGISTRY_PASSWORD": "reg-SECRET-pw-4e2f",
    "JENKINS_USER": "jk-user-SECRET-5c8",
    "JENKINS_TOKEN": "jk-SECRET-tok-6b7d",
    "SLACK_WEBHOOK_URL": "http://127.0.0.1:9/services/T0/B0/SECRET-slack-7f",
}


def jdci(cwd: Path, *argv: str, extra: dict[str, str] | None = None) -> tuple[int, str, str]:
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, **SECRETS, **(extra or {}), "WORKSPACE": str(cwd),
           "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH", "")]))}
    env.pop("JENKINS_URL", None)
    env.pop("JDCI_CONFIG", None)
    done = subprocess.run([sys.executable, "-m", "jenkins_docker_ci", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    return done.returncode, done.stdout, done.stderr


def leaks(text: str) -> list[str]:
    from urllib.parse import quote

    return [name for name, value in SECRETS.items() if value in text or quote(value, safe="") in text]


@pytest.fixture
def workspace(tmp_path: Path, sandbox: dict, unique: str) -> Path:
    jenkins = sandbox["jenkins"].url
    github = sandbox["github"].service.public_url()
    (tmp_path / "jdci.toml").write_text(
        f'[scm]\napi_url = "{github}"\nrepository = "acme/secret-{unique}"\n'
        f'[jira]\nurl = "{sandbox["jira"].url}"\n[jenkins]\nurl = "{jenkins}"\npoll_max = 0.2\n')
    (tmp_path / "down.toml").write_text('[jenkins]\nurl = "http://127.0.0.1:9"\ntimeout = 0.5\n')
    return tmp_path


def test_no_command_prints_a_secret(workspace: Path, sandbox: dict, unique: str) -> None:
    jenkins = sandbox["jenkins"].url
    told = "".join(f"echo {name}={value}\n" for name, value in SECRETS.items())  # a careless build script
    requests.post(f"{jenkins}/_sandbox/jobs", json={"job": f"leaky-{unique}", "result": "FAILURE",
                                                   "console": told}, timeout=10)
    requests.post(f"{jenkins}/_sandbox/jobs", json={"job": f"fine-{unique}", "result": "SUCCESS"}, timeout=10)
    runs = {
        "help": jdci(workspace, "--help"),
        "version": jdci(workspace, "--version"),
        "trigger failed --json": jdci(workspace, "jenkins", "trigger", f"leaky-{unique}", "--wait", "--json",
                                      "-p", f"TOKEN={SECRETS['GITHUB_TOKEN']}"),
        "trigger failed text": jdci(workspace, "jenkins", "trigger", f"leaky-{unique}", "--wait"),
        "trigger ok": jdci(workspace, "jenkins", "trigger", f"fine-{unique}", "--wait", "--timestamps"),
        "status --json": jdci(workspace, "jenkins", "status", f"leaky-{unique}", "--json"),
        "status bad token": jdci(workspace, "jenkins", "status", f"leaky-{unique}",
                                 extra={"JENKINS_TOKEN": "bad-SECRET-jk-0000"}),
        "link dry run": jdci(workspace, "link", "--dry-run", "--json", "--title",
                             f"SHOP-1 {SECRETS['JIRA_TOKEN']}", "--branch", f"feature/{SECRETS['GITHUB_TOKEN']}"),
        "gate unknown repository --json": jdci(workspace, "gate", "--pr", "1", "--json"),
        "gate unknown repository text": jdci(workspace, "gate", "--pr", "1"),
        "merge unknown repository": jdci(workspace, "merge", "--pr", "1", "--json"),
        "pr unknown repository": jdci(workspace, "pr", "--pr", "1", "--json"),
        "jenkins down": jdci(workspace, "jenkins", "status", "x", "--json", "--config", str(workspace / "down.toml")),
        "bad usage": jdci(workspace, "jenkins", "trigger"),
    }
    logs = "".join(p.read_text() for p in workspace.rglob("*.log"))
    found = {name: leaks(out + err) for name, (_, out, err) in runs.items() if leaks(out + err)}
    assert found == {} and leaks(logs) == []
    code, out, err = runs["trigger failed --json"]
    assert code == 1 and "GITHUB_TOKEN=***" in out and "JENKINS_TOKEN=***" in err, (out, err)  # masked
    assert "SLACK_WEBHOOK_URL=***" in runs["trigger failed text"][2]
    assert runs["status bad token"][0] == 2
    assert runs["gate unknown repository --json"][0] == 2 and runs["jenkins down"][0] == 4


def test_an_internal_error_log_carries_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WORKSPACE", str(tmp_path))

    def broken(args: object) -> None:
        raise RuntimeError(f"a bug that prints {SECRETS['REGISTRY_PASSWORD']}")

    monkeypatch.setattr(cli, "_cmd_sandbox", broken)
    assert cli.main(["sandbox", "status", "--json"]) == 3
    out, err = capsys.readouterr()
    written = list((tmp_path / "jdci-reports").glob("jdci-error-*.log"))
    assert written and "a bug that prints ***" in written[0].read_text()
    assert leaks(out + err + written[0].read_text()) == []
