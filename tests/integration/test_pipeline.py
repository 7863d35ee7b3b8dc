"""`jdci pr` end to end through the CLI: sandbox GitHub + JIRA, real git, real engine and registry.

Each test builds its own scenario (repository, ticket, PR) with the tiny busybox app, so they are quick and
independent; `no_leaks` asserts that no jdci-managed container, network or volume is left.
"""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from jenkins_docker_ci import cli, demo, images

from .conftest import TINY_DOCKERFILE, make_tiny_app

pytestmark = pytest.mark.integration


@dataclass
class Scenario:
    github: str
    jira: str
    repository: str
    number: int
    key: str
    workspace: Path
    config: Path
    head: str
    slack: str

    def api(self, method: str, path: str, user: str = "jdci-bot", **kwargs):
        response = requests.request(method, f"{self.github}/repos/{self.repository}{path}",
                                    headers={"Authorization": f"token {user}"}, timeout=10, **kwargs)
        return response

    def pr(self) -> dict:
        return self.api("GET", f"/pulls/{self.number}").json()

    def ticket(self) -> dict:
        return requests.get(f"{self.jira}/_sandbox/issues/{self.key}", timeout=10).json()


CONFIG = """
[scm]
api_url = "{github}"
repository = "{repository}"
[jira]
url = "{jira}"
projects = ["SHOP"]
[jira.transitions]
opened = "In Review"
merged = "Done"
[image]
repository = "jdci-tests/{name}"
[preprod]
port = 8000
health_path = "{health_path}"
health_timeout = {health_timeout}
[[checks.http]]
name = "home"
path = "/"
contains = "{contains}"
[gate]
approvals = 1
"""


def make_scenario(sandbox, tmp_path: Path, unique: str, *, title: str | None = None, branch: str | None = None,
                  approve: bool = True, dockerfile: str = TINY_DOCKERFILE, ticket: bool = True,
                  health_path: str = "/healthz", health_timeout: int = 20, contains: str = "hello",
                  dockerfile_present: bool = True) -> Scenario:
    github = sandbox["github"].service.public_url()
    jira = sandbox["jira"].url
    key = demo.seed_ticket(jira) if ticket else "SHOP-999999"
    name = f"tiny-{unique}"
    repository = f"acme/{name}"
    workspace = tmp_path / "ws"
    workspace.mkdir()
    make_tiny_app(workspace, dockerfile=dockerfile)
    if not dockerfile_present:
        subprocess.run(["git", "rm", "-q", "Dockerfile"], cwd=workspace, check=True)
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@x", "commit", "-qm", "no dockerfile"],
                       cwd=workspace, check=True)
    clone_url = demo.create_repository(github, repository, collaborators=("bob", "carol"))
    demo._git(workspace, "remote", "add", "origin", clone_url)
    demo._git(workspace, "push", "-q", "origin", "HEAD:refs/heads/main")
    branch = branch or f"feature/{key}-change"
    demo._git(workspace, "checkout", "-q", "-b", branch)
    (workspace / "www" / "index.html").write_text("hello shop, now with a total")
    demo._git(workspace, "commit", "-q", "-am", "change the page")
    demo._git(workspace, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
    demo._git(workspace, "checkout", "-q", "--detach")
    pr = demo.open_pull_request(github, repository, title if title is not None else f"{key}: change the page",
                                branch)
    if approve:
        demo.approve(github, repository, pr["number"])
    config = tmp_path / "jdci.toml"
    config.write_text(CONFIG.format(github=github, jira=jira, repository=repository, name=name,
                                    health_path=health_path, health_timeout=health_timeout, contains=contains))
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=workspace, capture_output=True, text=True,
                          check=True).stdout.strip()
    slack = sandbox["slack"].service.public_url()
    return Scenario(github, jira, repository, pr["number"], key, workspace, config, head, slack)


def run_pr(scenario: Scenario, capsys, monkeypatch, *extra: str, github_token: str = "jdci-bot"):
    monkeypatch.setenv("GITHUB_TOKEN", github_token)
    monkeypatch.setenv("JIRA_TOKEN", "jdci-bot")
    monkeypatch.setenv("SLACK_WEBHOOK_URL", scenario.slack)
    for var in ("CHANGE_ID", "CHANGE_BRANCH", "CHANGE_TARGET", "CHANGE_TITLE", "BUILD_URL", "WORKSPACE",
                "JDCI_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    capsys.readouterr()
    code = cli.main(["pr", "--json", "--config", str(scenario.config), "--pr", str(scenario.number),
                     "--workspace", str(scenario.workspace), *extra])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def main_log(scenario: Scenario) -> str:
    return subprocess.run(["git", "ls-remote", f"{scenario.github.split('/api/')[0]}/{scenario.repository}.git",
                           "refs/heads/main"], capture_output=True, text=True, check=True).stdout


def test_happy_path_merges_the_tested_sha_and_cleans_up(sandbox, tmp_path, unique, capsys, monkeypatch,
                                                        no_leaks):
    scenario = make_scenario(sandbox, tmp_path, unique)
    branch = scenario.pr()["head"]["ref"]
    assert scenario.api("GET", f"/branches/{branch}").json()["commit"]["sha"] == scenario.head
    code, result, err = run_pr(scenario, capsys, monkeypatch)
    assert code == 0, err
    assert result["tickets"] == [scenario.key]
    assert result["image"]["digest"].startswith("sha256:")
    registry_repo = result["image"]["ref"].split("/", 1)[1].rsplit(":", 1)[0]
    assert images.registry_digest("127.0.0.1:5000", registry_repo, scenario.head) == result["image"]["digest"]
    assert [c["status"] for c in result["checks"]] == ["passed"]
    assert result["gate"]["decision"] == "merge"
    assert result["merge"]["merged"] is True
    pr = scenario.pr()
    assert pr["merged"] is True and pr["head"]["sha"] == scenario.head
    # main now contains the feature commit
    merge_sha = result["merge"]["merge_sha"]
    assert merge_sha in main_log(scenario)
    statuses = scenario.api("GET", f"/commits/{scenario.head}/status").json()
    assert statuses["state"] == "success"
    assert {s["context"] for s in statuses["statuses"]} == {"jdci/build", "jdci/preprod", "jdci/home"}
    assert scenario.ticket()["status"] == "Done"
    comments = scenario.api("GET", f"/issues/{scenario.number}/comments").json()
    assert len([c for c in comments if "jdci:pr-report" in c["body"]]) == 1
    assert scenario.api("GET", f"/branches/{branch}").status_code == 404  # deleted
    messages = requests.get(f"{scenario.slack.split('/services/')[0]}/_sandbox/messages", timeout=5).json()
    texts = [m["text"] for m in messages if scenario.repository + " " in m["text"]]
    assert len(texts) == 2 and texts[0].startswith(  # the check run's summary, then the merge
        f":white_check_mark: {scenario.repository} PR #{scenario.number} at {scenario.head[:12]}: checks passed")
    assert texts[1] == (
        f":white_check_mark: {scenario.repository} PR #{scenario.number} ({scenario.key}): {scenario.head[:12]} "
        f"merged into main as {merge_sha[:12]}: {pr['html_url']}")

    # a rerun on the merged PR changes nothing and says so
    code, again, err = run_pr(scenario, capsys, monkeypatch)
    assert code == 0 and again["merge"] == {"merged": True, "merge_sha": merge_sha}
    assert "already merged" in err


def test_no_approval_waits_with_the_preview_up(sandbox, tmp_path, unique, capsys, monkeypatch, docker_client):
    scenario = make_scenario(sandbox, tmp_path, unique, approve=False)
    code, result, err = run_pr(scenario, capsys, monkeypatch)
    try:
        assert code == 0, err
        assert result["gate"]["decision"] == "wait"
        assert result["merge"]["merged"] is False and scenario.pr()["merged"] is False
        assert result["environment"]["status"] == "up"
        assert requests.get(result["environment"]["url"], timeout=5).status_code == 200
        # idempotent: a second run reuses the environment, posts no second comment
        code, again, err = run_pr(scenario, capsys, monkeypatch)
        assert code == 0 and again["environment"]["url"] == result["environment"]["url"]
        comments = scenario.api("GET", f"/issues/{scenario.number}/comments").json()
        assert len([c for c in comments if "jdci:pr-report" in c["body"]]) == 1
    finally:
        from jenkins_docker_ci import environments

        environments.down(result["environment"]["name"], client=docker_client)


@pytest.mark.parametrize("case, kwargs, code, kind, message", [
    ("no ticket key", {"title": "change the page", "branch": "feature/no-key"}, 1, "ticket", "no JIRA ticket"),
    ("unknown ticket", {"ticket": False}, 1, "ticket", "SHOP-999999"),
    ("missing Dockerfile", {"dockerfile_present": False}, 2, "config", "no Dockerfile"),
    ("build failure", {"dockerfile": "FROM jdci-base/busybox:latest\nRUN false\n"}, 1, "build", "docker build"),
    ("health timeout", {"health_path": "/nope", "health_timeout": 2}, 1, "preprod", "not healthy after 2 s"),
    ("check failure", {"contains": "text that is not there"}, 1, "check", "home"),
])
def test_failures_say_what_and_leave_nothing(sandbox, tmp_path, unique, capsys, monkeypatch, no_leaks,
                                             case, kwargs, code, kind, message):
    scenario = make_scenario(sandbox, tmp_path, unique, **kwargs)
    got, result, err = run_pr(scenario, capsys, monkeypatch)
    assert got == code, err
    assert result["error"]["kind"] == kind
    assert message in result["error"]["message"]
    assert result["merge"]["merged"] is False and scenario.pr()["merged"] is False
    assert err.count("[error]") == 1


def test_check_failure_is_published_on_the_head(sandbox, tmp_path, unique, capsys, monkeypatch, no_leaks):
    scenario = make_scenario(sandbox, tmp_path, unique, contains="not there")
    code, result, _ = run_pr(scenario, capsys, monkeypatch)
    assert code == 1
    status = scenario.api("GET", f"/commits/{scenario.head}/status").json()
    assert status["state"] == "failure"
    assert (tmp_path / "ws" / "jdci-reports" / "jdci-checks.xml").is_file()


def test_gate_refusal_changes_requested(sandbox, tmp_path, unique, capsys, monkeypatch, no_leaks):
    scenario = make_scenario(sandbox, tmp_path, unique)
    scenario.api("POST", f"/pulls/{scenario.number}/reviews", user="carol",
                 json={"event": "REQUEST_CHANGES", "body": "not like this"})
    code, result, err = run_pr(scenario, capsys, monkeypatch)
    assert code == 1, err
    assert result["error"]["kind"] == "gate" and "changes_requested" in result["error"]["message"]
    assert scenario.pr()["merged"] is False


def test_registry_down_exit_4(sandbox, tmp_path, unique, capsys, monkeypatch, no_leaks):
    scenario = make_scenario(sandbox, tmp_path, unique)
    scenario.config.write_text(scenario.config.read_text().replace(
        "[image]\n", "[image]\nregistry = \"127.0.0.1:5999\"\n"))
    code, result, _ = run_pr(scenario, capsys, monkeypatch)
    assert code == 4 and result["error"]["kind"] == "service"
    assert "127.0.0.1:5999" in result["error"]["message"]


def test_github_down_exit_4(tmp_path, capsys, monkeypatch):
    config = tmp_path / "jdci.toml"
    config.write_text('[scm]\napi_url = "http://127.0.0.1:9/api/v3"\nrepository = "acme/x"\ntimeout = 2\n'
                      '[jira]\nrequire_ticket = "off"\n')
    monkeypatch.setenv("GITHUB_TOKEN", "tok-never-printed")
    code = cli.main(["pr", "--json", "--config", str(config), "--pr", "1", "--workspace", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 4
    assert json.loads(out)["error"]["kind"] == "service"
    assert "tok-never-printed" not in out + err


def test_bad_github_token_is_config_error(sandbox, tmp_path, unique, capsys, monkeypatch, no_leaks):
    scenario = make_scenario(sandbox, tmp_path, unique)
    code, result, err = run_pr(scenario, capsys, monkeypatch, github_token="bad-token-xyz")
    assert code == 2 and "GITHUB_TOKEN" in result["error"]["message"]
    assert "bad-token-xyz" not in err + json.dumps(result)


def jira_writes(scenario: Scenario) -> list[dict]:
    log = requests.get(f"{scenario.jira}/_sandbox/requests", timeout=5).json()
    return [r for r in log if r["method"] != "GET" and scenario.key in r["path"]]


def test_workspace_not_at_the_pr_head_is_refused_before_any_write(sandbox, tmp_path, unique, capsys, monkeypatch,
                                                                  no_leaks):
    scenario = make_scenario(sandbox, tmp_path, unique)
    demo._git(scenario.workspace, "checkout", "-q", "HEAD~1")  # main's commit: not this PR's head
    code, result, err = run_pr(scenario, capsys, monkeypatch)
    assert code == 2 and result["error"]["kind"] == "usage"
    assert f"not at the head {scenario.head[:12]}" in result["error"]["message"]
    assert result["image"] is None and jira_writes(scenario) == []


def test_a_report_folder_that_cannot_be_written_is_refused_before_any_write(sandbox, tmp_path, unique, capsys,
                                                                            monkeypatch, no_leaks):
    scenario = make_scenario(sandbox, tmp_path, unique)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    scenario.config.write_text(scenario.config.read_text() + f'[report]\ndirectory = "{blocker}/reports"\n')
    code, result, err = run_pr(scenario, capsys, monkeypatch)
    assert code == 2 and result["error"]["kind"] == "usage"
    assert f"report folder {blocker}/reports cannot be made" in result["error"]["message"]
    assert result["image"] is None and jira_writes(scenario) == [] and scenario.pr()["merged"] is False


def test_engine_down_is_found_before_jira_is_written(sandbox, tmp_path, unique, capsys, monkeypatch):
    scenario = make_scenario(sandbox, tmp_path, unique)
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")
    code, result, _ = run_pr(scenario, capsys, monkeypatch)
    assert code == 4 and "Docker engine not reachable" in result["error"]["message"]
    assert jira_writes(scenario) == []


def test_jenkins_merge_checkout_builds_exactly_the_pr_head(sandbox, tmp_path, unique, capsys, monkeypatch,
                                                           docker_client, no_leaks):
    scenario = make_scenario(sandbox, tmp_path, unique)
    ws = scenario.workspace
    # main moves on after the PR was opened; Jenkins' "merge" strategy checks out main + PR as a merge commit
    demo._git(ws, "checkout", "-q", "-b", "tmp-main", "HEAD~1")
    (ws / "www" / "extra.html").write_text("only on main")
    demo._git(ws, "add", "-A")
    demo._git(ws, "commit", "-q", "-m", "main moves on")
    demo._git(ws, "push", "-q", "origin", "HEAD:refs/heads/main")
    demo._git(ws, "merge", "-q", "--no-edit", scenario.head)
    demo._git(ws, "checkout", "-q", "--detach")
    code, result, err = run_pr(scenario, capsys, monkeypatch, "--no-merge")
    try:
        assert code == 0, err
        image = docker_client.images.get(result["image"]["ref"])
        assert image.labels["org.opencontainers.image.revision"] == scenario.head
        files = docker_client.containers.run(result["image"]["ref"], ["ls", "/www"], remove=True).decode().split()
        assert "extra.html" not in files and "index.html" in files
        assert subprocess.run(["git", "-C", str(ws), "worktree", "list"], capture_output=True,
                              text=True).stdout.count("\n") == 1  # the temporary worktree is gone
    finally:
        from jenkins_docker_ci import environments

        environments.down(result["environment"]["name"], client=docker_client)


def test_closed_pr_removes_its_preview(sandbox, tmp_path, unique, capsys, monkeypatch, docker_client, no_leaks):
    scenario = make_scenario(sandbox, tmp_path, unique, approve=False)
    code, result, _ = run_pr(scenario, capsys, monkeypatch)
    assert code == 0 and result["environment"]["status"] == "up"
    scenario.api("PATCH", f"/pulls/{scenario.number}", json={"state": "closed"})
    code, again, err = run_pr(scenario, capsys, monkeypatch)
    assert code == 0, err
    assert "closed without merging; removed its environment" in err
    assert not docker_client.api.containers(all=True, filters={"label": f"io.jdci.env={result['environment']['name']}"})


def test_require_ticket_warn_lets_a_pr_without_ticket_merge(sandbox, tmp_path, unique, capsys, monkeypatch,
                                                           no_leaks):
    scenario = make_scenario(sandbox, tmp_path, unique, title="no key here", branch="feature/no-key")
    scenario.config.write_text(scenario.config.read_text().replace('projects = ["SHOP"]',
                                                                   'projects = ["SHOP"]\nrequire_ticket = "warn"'))
    code, result, err = run_pr(scenario, capsys, monkeypatch)
    assert code == 0, err
    assert result["tickets"] == [] and result["merge"]["merged"] is True


def test_rerun_with_nothing_new_writes_nothing_to_jira_or_the_pr(sandbox, tmp_path, unique, capsys, monkeypatch,
                                                                 docker_client):
    scenario = make_scenario(sandbox, tmp_path, unique, approve=False)
    code, result, err = run_pr(scenario, capsys, monkeypatch)
    try:
        assert code == 0, err
        requests.delete(f"{scenario.jira}/_sandbox/requests", timeout=5)
        github_root = scenario.github.split("/api/")[0]
        requests.delete(f"{github_root}/_sandbox/requests", timeout=5)
        code, again, err = run_pr(scenario, capsys, monkeypatch)
        assert code == 0, err
        assert jira_writes(scenario) == []
        github_log = requests.get(f"{github_root}/_sandbox/requests", timeout=5).json()
        writes = [r for r in github_log if r["method"] not in ("GET", "HEAD") and scenario.repository in r["path"]]
        assert writes == []
    finally:
        from jenkins_docker_ci import environments

        environments.down(result["environment"]["name"], client=docker_client)


def test_jenkins_environment_alone_drives_the_run(sandbox, tmp_path, unique, capsys, monkeypatch, no_leaks):
    """As in a multibranch PR build: no flags; BRANCH_NAME is "PR-N" and must not be taken for the branch."""
    scenario = make_scenario(sandbox, tmp_path, unique)
    for var, value in {"GITHUB_TOKEN": "jdci-bot", "JIRA_TOKEN": "jdci-bot", "JDCI_CONFIG": str(scenario.config),
                       "CHANGE_ID": str(scenario.number), "BRANCH_NAME": f"PR-{scenario.number}",
                       "CHANGE_BRANCH": f"feature/{scenario.key}-change", "CHANGE_TARGET": "main",
                       "CHANGE_TITLE": f"{scenario.key}: change the page", "WORKSPACE": str(scenario.workspace),
                       "BUILD_URL": "http://127.0.0.1:8483/job/shop/job/PR-1/7/", "JOB_NAME": "shop/PR-1",
                       "BUILD_NUMBER": "7", "GIT_COMMIT": scenario.head}.items():
        monkeypatch.setenv(var, value)
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    capsys.readouterr()
    code = cli.main(["pr", "--json"])
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert code == 0, err
    assert result["tickets"] == [scenario.key] and result["merge"]["merged"] is True
    assert "feature-" + scenario.key.lower() + "-change" in result["image"]["tags"]  # tags are lower case
    statuses = scenario.api("GET", f"/commits/{scenario.head}/statuses").json()
    assert {s["target_url"] for s in statuses if s["context"] == "jdci/build"} == {
        "http://127.0.0.1:8483/job/shop/job/PR-1/7/"}


def test_lower_case_branch_guess_that_is_no_ticket_does_not_block(sandbox, tmp_path, unique, capsys, monkeypatch,
                                                                  no_leaks):
    """`fix/py3-10` reads as PY3-10 (a lower-case candidate): no such ticket, so it is dropped, by link and gate."""
    scenario = make_scenario(sandbox, tmp_path, unique, branch=f"fix/py3-10-{unique}")
    code, result, err = run_pr(scenario, capsys, monkeypatch)
    assert code == 0, err
    assert result["tickets"] == [scenario.key]
    assert result["merge"]["merged"] is True
    tickets_reason = next(r for r in result["gate"]["reasons"] if r["rule"] == "tickets")
    assert tickets_reason["status"] == "ok" and "PY3" not in tickets_reason["detail"]


def test_merge_on_a_pr_merged_elsewhere_finishes_the_clean_up(sandbox, tmp_path, unique, capsys, monkeypatch,
                                                              docker_client, no_leaks):
    """Someone (or our own merge call whose answer was lost) merged it: `jdci merge` completes what is left."""
    scenario = make_scenario(sandbox, tmp_path, unique)
    code, result, err = run_pr(scenario, capsys, monkeypatch, "--no-merge")
    assert code == 0 and result["environment"]["status"] == "up", err
    merged = scenario.api("PUT", f"/pulls/{scenario.number}/merge", user="alice", json={"sha": scenario.head})
    assert merged.status_code == 200
    capsys.readouterr()
    code = cli.main(["merge", "--json", "--config", str(scenario.config), "--pr", str(scenario.number)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert json.loads(out)["merged"] is True
    assert scenario.ticket()["status"] == "Done"
    branch = f"feature/{scenario.key}-change"
    heads = subprocess.run(["git", "ls-remote", f"{scenario.github.split('/api/')[0]}/{scenario.repository}.git"],
                           capture_output=True, text=True, check=True).stdout
    assert f"refs/heads/{branch}" not in heads
    assert not docker_client.api.containers(all=True, filters={"label": f"io.jdci.env={result['environment']['name']}"})
