"""The Jenkinsfiles and shared-library steps, executed by Groovy with recorded steps (one JVM for all).

Every Jenkinsfile in the repository and every Groovy file under pipelines/ is compiled (a syntax error fails
with its file and line) and every Jenkinsfile is run as a PR build; the scenarios below check the exact
commands, the credentials bound, the merge lock and the post blocks (teardown on failure and on abort).
"""
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
LIB = str(VARS / "jdci.groovy")
TEMPLATES = ROOT / "pipelines" / "templates"
SKIP_DIRS = {".git", ".venv", "node_modules", "__pycache__", ".pytest_cache", "build", "dist"}

PR_ENV = {"CHANGE_ID": "7", "BRANCH_NAME": "PR-7", "CHANGE_BRANCH": "feature/SHOP-7-login",
          "CHANGE_TARGET": "main", "CHANGE_URL": "https://github.com/acme/shop/pull/7",
          "JOB_NAME": "shop/PR-7", "BUILD_NUMBER": "3"}
PR_RESULT = {"pr": 7, "sha": "a" * 40, "tickets": ["SHOP-7"], "merge": {"merged": False, "merge_sha": None}}
MERGED = {"decision": "merge", "merged": True, "merge_sha": "b" * 40}
FAILED = {"tickets": [], "error": {"kind": "check", "message": "1 check(s) failed at abc: home"}}
JSON = {"jdci-pr.json": PR_RESULT, "jdci-merge.json": MERGED, "jdci-sweep.json": {"pull_requests": []},
        "jdci-teardown.json": {"removed": 3}, "jdci-promote.json": {"ref": "x"}, "jdci-link.json": {"tickets": []},
        "jdci-gate.json": {"decision": "wait"}, "jdci-demo.json": {}}
ALL_CREDENTIALS = {"GITHUB_TOKEN": "jdci-github-token", "JIRA_USER": "jdci-jira", "JIRA_TOKEN": "jdci-jira",
                   "REGISTRY_USER": "jdci-registry", "REGISTRY_PASSWORD": "jdci-registry",
                   "JENKINS_USER": "jdci-jenkins", "JENKINS_TOKEN": "jdci-jenkins",
                   "SLACK_WEBHOOK_URL": "jdci-slack-webhook"}
VERIFY = "jdci pr --no-merge --json > jdci-pr.json"
MERGE = f"jdci merge --pr 7 --sha {'a' * 40} --json > jdci-merge.json"
TEARDOWN = "jdci env down --pr 7 --json > jdci-teardown.json"
LOCK = "lock:jdci-merge-acme/shop"


def discovered_jenkinsfiles() -> list[Path]:
    """Every Jenkinsfile of the repository (a new one is checked without touching this test)."""
    found = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        found += [Path(folder, f) for f in files if f == "Jenkinsfile" or f.startswith("Jenkinsfile.")]
    return sorted(found)


def groovy_files() -> list[Path]:
    return sorted((ROOT / "pipelines").rglob("*.groovy"))


def lib(name: str, method: str, call: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": name, "file": LIB, "method": method, "call": call or {}, "env": dict(PR_ENV),
            "jsonFiles": dict(JSON), **extra}


def template(name: str, file: Path, **extra: Any) -> dict[str, Any]:
    return {"name": name, "file": str(file), "env": dict(PR_ENV), "jsonFiles": dict(JSON), **extra}


SCENARIOS: list[dict[str, Any]] = [
    lib("pr ok", "pr"),
    lib("pr options", "pr", {"config": "ci/jdci.toml", "merge": False, "jdci": ".venv/bin/jdci",
                             "credentials": {"jira": None, "github": "gh-bot"}}),
    lib("pr said no", "pr", shStatus={"jdci pr": 1}, jsonFiles={"jdci-pr.json": FAILED}),
    lib("pr service down", "pr", shStatus={"jdci pr": 4},
        jsonFiles={"jdci-pr.json": {"error": {"message": "registry down"}}}),
    lib("pr merge waits", "pr", shStatus={"jdci merge": 75},
        jsonFiles={**JSON, "jdci-merge.json": {"decision": "wait", "merged": False, "merge_sha": None}}),
    lib("pr no result file", "pr", shStatus={"jdci pr": 3}, jsonFiles={}),
    lib("link", "link", {"pr": 7}),
    lib("gate", "gate", shStatus={"jdci gate": 75}),
    lib("build", "build"),
    lib("preprod", "preprod"),
    lib("checks", "checks"),
    lib("merge explicit repository", "merge", {"pr": 9, "repository": "team/app"}),
    lib("merge no repository", "merge", {"pr": 9}, env={}),
    lib("sweep waiting", "sweep", {"repository": "acme/shop"}, shStatus={"merge --sweep": 75}),
    lib("sweep broken", "sweep", {"config": "x.toml"}, shStatus={"merge --sweep": 2}),
    lib("teardown", "teardown"),
    lib("teardown not a PR", "teardown", env={}),
    lib("teardown fails quietly", "teardown", shStatus={"env down": 4}),
    lib("promote", "promote", {"source": "127.0.0.1:5000/acme/shop@sha256:" + "c" * 64, "tag": "release-1.4"}),
    lib("promote without tag", "promote", {"source": "x"}),
    lib("promote hostile parameter", "promote", {"source": "x; rm -rf / #", "tag": "it's"}),
    lib("merge repository from GIT_URL", "merge", {"pr": 9}, env={"GIT_URL": "git@github.com:team/app.git"}),
    {"name": "wrapper pr", "file": str(VARS / "jdciPullRequest.groovy"), "call": {}, "env": dict(PR_ENV),
     "jsonFiles": dict(JSON)},
    {"name": "wrapper sweep", "file": str(VARS / "jdciMergeSweep.groovy"), "call": {}, "env": dict(PR_ENV),
     "jsonFiles": dict(JSON)},
    template("template pr ok", TEMPLATES / "Jenkinsfile.pr"),
    template("template pr aborted in preprod", TEMPLATES / "Jenkinsfile.pr", abortOn="jdci pr"),
    template("template pr aborted in merge", TEMPLATES / "Jenkinsfile.pr", abortOn="jdci merge"),
    template("template pr fails", TEMPLATES / "Jenkinsfile.pr", shStatus={"jdci pr": 4}),
    template("template pr branch build", TEMPLATES / "Jenkinsfile.pr", env={"BRANCH_NAME": "main"}),
    template("template sweep", TEMPLATES / "Jenkinsfile.sweep", env={}),
    template("template release", TEMPLATES / "Jenkinsfile.release", env={},
             params={"IMAGE": "r/acme/shop@sha256:d", "RELEASE_TAG": "release-1.4", "PRODUCTION": True}),
    template("template release staging only", TEMPLATES / "Jenkinsfile.release", env={},
             params={"IMAGE": "r/acme/shop@sha256:d", "RELEASE_TAG": "release-1.4", "PRODUCTION": False}),
    template("Jenkinsfile main", ROOT / "Jenkinsfile", env={"BRANCH_NAME": "main"}),
    template("Jenkinsfile test fails", ROOT / "Jenkinsfile", env={"BRANCH_NAME": "main"},
             shStatus={"make test": 2}),
] + [template(f"discovered {path.relative_to(ROOT)}", path,
               params={"IMAGE": "r/a/b@sha256:e", "RELEASE_TAG": "t", "PRODUCTION": True})
     for path in discovered_jenkinsfiles()]


def java_home() -> str | None:
    for candidate in (os.environ.get("JAVA_HOME"), "/usr/lib/jvm/java-17-openjdk-amd64"):
        if candidate and Path(candidate, "bin", "java").exists():
            return candidate
    return None


BROKEN = "pipeline {\n    stages {\n        stage('x') {\n            steps { sh 'make' \n        }\n    }\n"
TYPO = "pipeline {\n    agent any\n    stages {\n        stage('x') {\n            steps { script { jdci.prr() } }\n" \
       "        }\n    }\n}\n"


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One JVM: compile every Jenkinsfile and Groovy file (plus one broken on purpose), run every scenario."""
    groovy = shutil.which("groovy")
    assert groovy, "groovy is not installed: `make services` installs it (scripts/services.sh)"
    home = java_home()
    assert home, "no JDK 17 found for groovy (set JAVA_HOME)"
    folder = tmp_path_factory.mktemp("jenkinsfiles")
    broken = folder / "Jenkinsfile.broken"
    broken.write_text(BROKEN)
    typo = folder / "Jenkinsfile.typo"
    typo.write_text(TYPO)
    spec = {"check": [str(p) for p in discovered_jenkinsfiles() + groovy_files()] + [str(broken)],
            "library": [str(p) for p in sorted(VARS.glob("*.groovy"))],
            "scenarios": SCENARIOS + [template("typo", typo)]}
    (folder / "spec.json").write_text(json.dumps(spec))
    done = subprocess.run([groovy, str(Path(__file__).with_name("harness.groovy")), str(folder / "spec.json")],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "JAVA_HOME": home})
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    out["broken"] = str(broken)
    return out


@pytest.fixture(scope="module")
def runs(harness: dict[str, Any]) -> dict[str, Any]:
    return harness["runs"]


def steps(run: dict[str, Any], name: str) -> list[list[Any]]:
    return [call["args"] for call in run["calls"] if call["step"] == name]


def commands(run: dict[str, Any]) -> list[str]:
    return [args[0] for args in steps(run, "sh")]


def within(run: dict[str, Any], command_part: str) -> list[list[str]]:
    return [call["within"] for call in run["calls"] if call["step"] == "sh" and command_part in call["args"][0]]


def bound(run: dict[str, Any]) -> dict[str, str]:
    """variable -> credentials id, over every withCredentials of the run."""
    out: dict[str, str] = {}
    for (bindings,) in steps(run, "withCredentials"):
        for binding in bindings:
            for key in ("variable", "usernameVariable", "passwordVariable"):
                if key in binding:
                    out[binding[key]] = binding["credentialsId"]
    return out


# -- every file ------------------------------------------------------------------------------------------------
def test_every_jenkinsfile_and_groovy_file_compiles(harness):
    problems = [p for p in harness["syntax"] if p["file"] != harness["broken"]]
    assert problems == [], "\n".join(f"{p['file']}:{p['line']}: {p['message']}" for p in problems)


def test_a_syntax_error_is_reported_with_file_and_line(harness):
    found = [p for p in harness["syntax"] if p["file"] == harness["broken"]]
    assert found and found[0]["line"] >= 5, harness["syntax"]


def test_an_unknown_step_or_library_method_fails_the_run(runs):
    assert "prr" in runs["typo"]["error"] and runs["typo"]["status"] == "FAILURE"


def test_discovery_finds_the_templates_and_the_root_jenkinsfile():
    names = {p.relative_to(ROOT).as_posix() for p in discovered_jenkinsfiles()}
    assert {"Jenkinsfile", "pipelines/templates/Jenkinsfile.pr", "pipelines/templates/Jenkinsfile.sweep",
            "pipelines/templates/Jenkinsfile.release"} <= names


@pytest.mark.parametrize("path", discovered_jenkinsfiles(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_jenkinsfile_runs_as_a_pr_build(runs, path):
    run = runs[f"discovered {path.relative_to(ROOT)}"]
    assert "error" not in run, run.get("error")
    assert run["status"] == "SUCCESS"


# -- the shared library ----------------------------------------------------------------------------------------
def test_pr_verifies_then_merges_inside_the_repository_lock(runs):
    run = runs["pr ok"]
    assert "error" not in run, run
    assert commands(run) == [VERIFY, MERGE]
    assert within(run, "jdci merge") == [["stage:jdci: merge", LOCK, "withCredentials"]]
    assert LOCK not in within(run, "jdci pr")[0]  # only the merge holds the lock
    assert steps(run, "lock") == [[{"resource": "jdci-merge-acme/shop"}, "{...}"]]
    assert run["result"]["merge"] == {"merged": True, "merge_sha": "b" * 40}
    assert steps(run, "stage") == [["jdci: verify"], ["jdci: merge"]]


def test_pr_binds_every_credential_to_designs_variables(runs):
    run = runs["pr ok"]
    first = steps(run, "withCredentials")[0][0]
    assert {b.get("variable") or b["usernameVariable"]: b["credentialsId"] for b in first} == {
        "GITHUB_TOKEN": "jdci-github-token", "JIRA_USER": "jdci-jira", "REGISTRY_USER": "jdci-registry",
        "JENKINS_USER": "jdci-jenkins", "SLACK_WEBHOOK_URL": "jdci-slack-webhook"}
    assert bound(run) == ALL_CREDENTIALS
    assert all(b["kind"] in ("string", "usernamePassword") for b in first)


def test_pr_archives_reports_and_junit_after_each_command(runs):
    run = runs["pr ok"]
    assert steps(run, "archiveArtifacts") == [
        [{"artifacts": "jdci-pr.json, jdci-reports/**", "allowEmptyArchive": True}],
        [{"artifacts": "jdci-merge.json, jdci-reports/**", "allowEmptyArchive": True}]]
    assert steps(run, "junit")[0] == [{"testResults": "jdci-reports/*.xml", "allowEmptyResults": True}]


def test_pr_options(runs):
    run = runs["pr options"]
    assert commands(run) == [".venv/bin/jdci pr --no-merge --json --config ci/jdci.toml > jdci-pr.json"]
    found = bound(run)
    assert found["GITHUB_TOKEN"] == "gh-bot" and "JIRA_USER" not in found and "JIRA_TOKEN" not in found
    assert not steps(run, "lock")


def test_pr_said_no_marks_the_build_unstable_and_does_not_merge(runs):
    run = runs["pr said no"]
    assert "error" not in run
    assert steps(run, "unstable") == [["jdci pr: 1 check(s) failed at abc: home"]]
    assert commands(run) == [VERIFY]
    assert run["status"] == "UNSTABLE"


def test_pr_service_down_fails_the_build_but_keeps_the_reports(runs):
    run = runs["pr service down"]
    assert "failed (exit 4): registry down" in run["error"]
    assert steps(run, "junit") and steps(run, "archiveArtifacts")


def test_pr_without_a_result_file_still_says_why(runs):
    assert "jdci pr failed (exit 3): see the console log" in runs["pr no result file"]["error"]


def test_a_merge_that_waits_is_not_a_failure(runs):
    run = runs["pr merge waits"]
    assert "error" not in run and run["status"] == "SUCCESS"
    assert run["result"]["merge"] == {"merged": False, "merge_sha": None}


def test_part_steps_run_their_commands_with_only_the_credentials_they_need(runs):
    assert commands(runs["link"]) == ["jdci link --pr 7 --json > jdci-link.json"]
    assert set(bound(runs["link"])) == {"GITHUB_TOKEN", "JIRA_USER", "JIRA_TOKEN"}
    assert commands(runs["gate"]) == ["jdci gate --json > jdci-gate.json"]
    assert "error" not in runs["gate"]  # 75 = wait
    assert commands(runs["build"]) == ["jdci image build --push --json > jdci-build.json"]
    assert set(bound(runs["build"])) == {"GITHUB_TOKEN", "REGISTRY_USER", "REGISTRY_PASSWORD"}
    assert commands(runs["preprod"]) == ["jdci env up --json > jdci-preprod.json"]
    assert commands(runs["checks"]) == ["jdci pr --no-merge --json > jdci-checks.json"]


def test_merge_locks_the_named_repository(runs):
    run = runs["merge explicit repository"]
    assert within(run, "jdci merge --pr 9") == [["lock:jdci-merge-team/app", "withCredentials"]]
    assert "pass repository:" in runs["merge no repository"]["error"]
    assert within(runs["merge repository from GIT_URL"], "jdci merge")[0][0] == "lock:jdci-merge-team/app"
    assert not commands(runs["merge no repository"])  # no merge without its lock


def test_sweep_runs_inside_the_lock_and_treats_wait_as_success(runs):
    run = runs["sweep waiting"]
    assert "error" not in run
    assert commands(run) == ["jdci merge --sweep --json > jdci-sweep.json"]
    assert within(run, "merge --sweep") == [[LOCK, "withCredentials"]]
    assert "exit 2" in runs["sweep broken"]["error"]
    assert "--config x.toml" in commands(runs["sweep broken"])[0]


def test_teardown(runs):
    assert commands(runs["teardown"]) == [TEARDOWN]
    assert not steps(runs["teardown"], "archiveArtifacts")
    assert commands(runs["teardown not a PR"]) == [] and "error" not in runs["teardown not a PR"]
    assert "error" not in runs["teardown fails quietly"]
    assert any("could not remove" in args[0] for args in steps(runs["teardown fails quietly"], "echo"))


def test_promote(runs):
    assert commands(runs["promote"]) == [
        f"jdci image promote 127.0.0.1:5000/acme/shop@sha256:{'c' * 64} release-1.4 --json > jdci-promote.json"]
    assert set(bound(runs["promote"])) == {"REGISTRY_USER", "REGISTRY_PASSWORD"}
    assert "pass source:" in runs["promote without tag"]["error"]
    assert commands(runs["promote hostile parameter"]) == [
        "jdci image promote 'x; rm -rf / #' 'it'\"'\"'s' --json > jdci-promote.json"]


def test_wrappers_call_the_library(runs):
    assert commands(runs["wrapper pr"]) == [VERIFY, MERGE]
    assert commands(runs["wrapper sweep"]) == ["jdci merge --sweep --json > jdci-sweep.json"]


# -- the templates -----------------------------------------------------------------------------------------------
def test_pr_template_success_keeps_the_preview_and_cleans_files(runs):
    run = runs["template pr ok"]
    assert run["status"] == "SUCCESS", run.get("error")
    assert commands(run) == [VERIFY, MERGE, "rm -f jdci-*.json"]
    assert steps(run, "post") == [["cleanup"]]


def test_pr_template_tears_down_on_abort_and_merges_nothing(runs):
    run = runs["template pr aborted in preprod"]
    assert run["status"] == "ABORTED" and run.get("aborted")
    assert not any("jdci merge" in c for c in commands(run))
    assert within(run, "jdci env down") == [["post:aborted", "script", "withCredentials"]]
    assert commands(run) == [VERIFY, TEARDOWN, "rm -f jdci-*.json"]
    assert steps(run, "post") == [["aborted"], ["cleanup"]]


def test_pr_template_abort_during_the_merge_happens_inside_the_lock_and_tears_down(runs):
    run = runs["template pr aborted in merge"]
    assert run["status"] == "ABORTED"
    assert LOCK in within(run, "jdci merge")[0]
    assert commands(run)[-2:] == [TEARDOWN, "rm -f jdci-*.json"]


def test_pr_template_tears_down_on_failure(runs):
    run = runs["template pr fails"]
    assert run["status"] == "FAILURE"
    assert within(run, "jdci env down") == [["post:failure", "script", "withCredentials"]]
    assert not any("jdci merge" in c for c in commands(run))


def test_pr_template_on_a_branch_build_does_nothing(runs):
    run = runs["template pr branch build"]
    assert steps(run, "skipped") == [["Pull request", "when"]]
    assert commands(run) == ["rm -f jdci-*.json"]


def test_sweep_template(runs):
    run = runs["template sweep"]
    assert steps(run, "cron") == [["H/10 * * * *"]]
    assert within(run, "merge --sweep") == [["stage:Merge ready pull requests", "script", LOCK, "withCredentials"]]


def test_release_template_promotes_by_digest(runs):
    image = "r/acme/shop@sha256:d"
    assert commands(runs["template release"]) == [
        f"jdci image promote {image} {tag} --json > jdci-promote.json"
        for tag in ("release-1.4", "staging", "production")]
    assert steps(runs["template release staging only"], "skipped") == [["Deploy to production", "when"]]


def test_root_jenkinsfile_is_this_projects_ci(runs):
    run = runs["Jenkinsfile main"]
    assert commands(run) == ["make test", ".venv/bin/jdci demo --json > jdci-demo.json"]
    assert steps(run, "legacySCM") == [["scm"]]
    failed = runs["Jenkinsfile test fails"]
    assert failed["status"] == "FAILURE"
    assert steps(failed, "skipped") == [["Demo", "an earlier stage failed"]]
    assert commands(failed) == ["make test", "make sandbox-down"]
