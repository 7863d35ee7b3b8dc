"""The Jenkinsfiles and shared-library steps, executed by Groovy with recorded steps (one JVM for all)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
VARS = ROOT / "pipelines" / "vars"
RESULT = {"tickets": ["SHOP-7"], "merge": {"merged": True, "merge_sha": "abc"}}
FAILED = {"tickets": [], "error": {"kind": "check", "message": "1 check(s) failed at abc: home"}}

SCENARIOS: list[dict[str, Any]] = [
    {"name": "pr ok", "file": str(VARS / "jdciPullRequest.groovy"), "call": {},
     "jsonFiles": {"jdci-result.json": RESULT}},
    {"name": "pr options", "file": str(VARS / "jdciPullRequest.groovy"),
     "call": {"config": "ci/jdci.toml", "merge": False, "jdci": ".venv/bin/jdci"},
     "jsonFiles": {"jdci-result.json": RESULT}},
    {"name": "pr said no", "file": str(VARS / "jdciPullRequest.groovy"), "call": {},
     "shStatus": {"jdci pr": 1}, "jsonFiles": {"jdci-result.json": FAILED}},
    {"name": "pr service down", "file": str(VARS / "jdciPullRequest.groovy"), "call": {},
     "shStatus": {"jdci pr": 4}, "jsonFiles": {"jdci-result.json": {"error": {"message": "registry down"}}}},
    {"name": "sweep waiting", "file": str(VARS / "jdciMergeSweep.groovy"), "call": {},
     "shStatus": {"merge --sweep": 75}, "jsonFiles": {"jdci-sweep.json": {"pull_requests": []}}},
    {"name": "sweep broken", "file": str(VARS / "jdciMergeSweep.groovy"), "call": {"config": "x.toml"},
     "shStatus": {"merge --sweep": 2}},
    {"name": "Jenkinsfile", "file": str(ROOT / "Jenkinsfile")},
    {"name": "template pr", "file": str(ROOT / "pipelines" / "templates" / "Jenkinsfile.pr")},
    {"name": "template sweep", "file": str(ROOT / "pipelines" / "templates" / "Jenkinsfile.sweep")},
]


def java_home() -> str | None:
    for candidate in (os.environ.get("JAVA_HOME"), "/usr/lib/jvm/java-17-openjdk-amd64"):
        if candidate and Path(candidate, "bin", "java").exists():
            return candidate
    return None


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    groovy = shutil.which("groovy")
    assert groovy, "groovy is not installed: `make services` installs it (scripts/services.sh)"
    home = java_home()
    assert home, "no JDK 17 found for groovy (set JAVA_HOME)"
    spec = tmp_path_factory.mktemp("jenkinsfiles") / "scenarios.json"
    spec.write_text(json.dumps(SCENARIOS))
    done = subprocess.run([groovy, str(Path(__file__).with_name("harness.groovy")), str(spec)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "JAVA_HOME": home})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def steps(run: dict[str, Any], name: str) -> list[list[Any]]:
    return [call["args"] for call in run["calls"] if call["step"] == name]


def test_pull_request_step_runs_jdci_pr_and_archives_the_reports(runs):
    run = runs["pr ok"]
    assert "error" not in run, run
    assert steps(run, "sh") == [["jdci pr --json > jdci-result.json"]]
    assert steps(run, "archiveArtifacts")[0][0]["artifacts"] == "jdci-result.json, jdci-reports/**"
    assert steps(run, "junit")[0][0]["testResults"] == "jdci-reports/*.xml"
    assert run["result"] == RESULT


def test_pull_request_step_options(runs):
    assert steps(runs["pr options"], "sh") == [[".venv/bin/jdci pr --json --config ci/jdci.toml --no-merge "
                                                 "> jdci-result.json"]]


def test_pull_request_said_no_marks_the_build_unstable_with_the_reason(runs):
    run = runs["pr said no"]
    assert "error" not in run
    assert steps(run, "unstable") == [["jdci: 1 check(s) failed at abc: home"]]
    assert steps(run, "archiveArtifacts")  # reports are kept whatever happened


def test_pull_request_service_down_fails_the_build(runs):
    run = runs["pr service down"]
    assert "failed (exit 4): registry down" in run["error"]
    assert steps(run, "junit")


def test_sweep_treats_wait_as_success_and_fails_on_errors(runs):
    assert "error" not in runs["sweep waiting"]
    assert steps(runs["sweep waiting"], "sh") == [["jdci merge --sweep --json  > jdci-sweep.json"]]
    assert "exit 2" in runs["sweep broken"]["error"]
    assert "--config x.toml" in steps(runs["sweep broken"], "sh")[0][0]


def test_jenkinsfiles_run_their_steps(runs):
    assert steps(runs["Jenkinsfile"], "sh")[0] == ["make test"]
    assert steps(runs["template pr"], "jdciPullRequest") == [[]]
    assert ["github-token"] in steps(runs["template pr"], "credentials")
    assert steps(runs["template sweep"], "jdciMergeSweep") == [[]]
    assert steps(runs["template sweep"], "cron") == [["H/10 * * * *"]]
    for name in ("Jenkinsfile", "template pr", "template sweep"):
        assert "error" not in runs[name], runs[name]
