"""`jdci gate` and `jdci merge` scenarios through the CLI: the GitHub sandbox (real bare git repositories behind
it) and plain git remotes on disk. Statuses are posted as a CI bot would; no images are built, so these are fast.

Every scenario also runs `jdci gate --json` and checks that it explains every rule.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from jenkins_docker_ci import cli, merging
from jenkins_docker_ci.config import load
from jenkins_docker_ci.gate import RULES

from .github_scenario import Scenario, git

pytestmark = pytest.mark.integration

CONFIG = """
[scm]
api_url = "{api}"
repository = "{repo}"
[gate]
required_checks = {required}
approvals = 1
approvals_on_head_only = {head_only}
require_ticket = false
never_reported_after = {never}
[merge]
mergeable_wait = 0.2
"""


class Merge:
    """One repository on the GitHub sandbox plus a jdci.toml pointing at it, and the CLI to drive."""

    def __init__(self, sandbox: Any, tmp: Path, unique: str, capsys: Any, monkeypatch: Any, *,
                 required: str = '["jdci/*"]', head_only: bool = False, never: int = 1800) -> None:
        self.gh = Scenario(sandbox["github"], tmp, f"shop-{unique}")
        self.config = tmp / "jdci.toml"
        self.config.write_text(CONFIG.format(api=self.gh.api, repo=self.gh.full_name, required=required,
                                             head_only=str(head_only).lower(), never=never))
        self.capsys = capsys
        monkeypatch.setenv("GITHUB_TOKEN", "jdci-bot")
        for var in ("CHANGE_ID", "CHANGE_BRANCH", "CHANGE_TARGET", "CHANGE_TITLE", "GIT_COMMIT", "JDCI_CONFIG",
                    "WORKSPACE", "JOB_NAME", "BUILD_NUMBER"):
            monkeypatch.delenv(var, raising=False)

    def pr(self, branch: str, *, checks: tuple[str, ...] = ("jdci/home",), approve: bool = True,
           **extra: Any) -> tuple[int, str]:
        """A PR with green checks on its head and an approval (unless told otherwise): (number, head)."""
        number = self.gh.pr_with_branch(branch, **extra)["number"]
        head = self.gh.pull(number)["head"]["sha"]
        for context in checks:
            self.gh.status(head, context)
        if approve:
            self.gh.review(number)
        return number, head

    def run(self, *argv: str) -> tuple[int, dict[str, Any], str]:
        self.capsys.readouterr()
        code = cli.main([*argv, "--json", "--config", str(self.config)])
        out, err = self.capsys.readouterr()
        return code, json.loads(out), err

    def gate(self, number: int) -> tuple[int, dict[str, Any]]:
        """`jdci gate --json`, checked to explain every rule and to write nothing."""
        mark = self.gh.requests_mark()
        code, result, err = self.run("gate", "--pr", str(number))
        assert "reasons" in result, err
        assert [r["rule"] for r in result["reasons"]] == list(RULES)
        assert set(result) == {"decision", "sha", "reasons"}
        assert self.gh.writes_since(mark) == []
        return code, result

    def merge(self, number: int, *extra: str) -> tuple[int, dict[str, Any], str]:
        return self.run("merge", "--pr", str(number), *extra)

    def merges_on_main(self) -> list[str]:
        return self.gh.bare_git("rev-list", "--merges", "refs/heads/main").split()


@pytest.fixture
def m(sandbox, tmp_path, unique, capsys, monkeypatch) -> Merge:
    return Merge(sandbox, tmp_path, unique, capsys, monkeypatch)


def reason(result: dict[str, Any], rule: str) -> dict[str, str]:
    return next(r for r in result["reasons"] if r["rule"] == rule)


# -- the happy path and its reruns -------------------------------------------------------------------------------
def test_ready_pr_merges_the_evaluated_head_and_a_rerun_says_already_merged(m):
    number, head = m.pr("feature/ready")
    code, gate = m.gate(number)
    assert code == 0 and gate["decision"] == "merge" and gate["sha"] == head

    mark = m.gh.requests_mark()
    code, dry, _ = m.merge(number, "--dry-run")
    assert code == 0 and dry["action"] == "would-merge" and dry["merged"] is False and dry["merge_sha"] is None
    assert m.gh.writes_since(mark) == [] and m.gh.pull(number)["merged"] is False
    assert m.gh.repo_call("GET", "/branches/feature/ready").json()["commit"]["sha"] == head

    code, result, err = m.merge(number)
    assert code == 0, err
    assert result["merged"] is True and result["decision"] == "merge" and result["sha"] == head
    pr = m.gh.pull(number)
    assert pr["merged"] is True and pr["merge_commit_sha"] == result["merge_sha"]
    assert m.gh.bare_git("rev-parse", f"{result['merge_sha']}^2") == head  # the tested head, nothing else
    assert m.gh.repo_call("GET", "/branches/feature/ready").status_code == 404  # deleted after the merge
    assert "[notify]" in err

    code, again, err = m.merge(number)
    assert code == 0 and again["merged"] is True and again["merge_sha"] == result["merge_sha"]
    assert again["action"] == "already-merged" and "already merged" in err + again["message"]
    assert m.gate(number)[0] == 0
    assert len(m.merges_on_main()) == 1


def test_after_the_merge_tickets_move_and_the_preview_goes(sandbox, m, docker_client, monkeypatch):
    from jenkins_docker_ci import demo, environments

    monkeypatch.setenv("JIRA_TOKEN", "jdci-bot")
    jira = sandbox["jira"].url
    key = demo.seed_ticket(jira)
    m.config.write_text(m.config.read_text().replace("require_ticket = false", "require_ticket = true")
                        + f'[jira]\nurl = "{jira}"\nprojects = ["SHOP"]\n[jira.transitions]\nmerged = "Done"\n')
    m.gh.push("feature/ticket", {"t.txt": "t\n"}, message="change the page")
    number = m.gh.open_pr("feature/ticket", title=f"{key}: change the page")["number"]
    head = m.gh.pull(number)["head"]["sha"]
    m.gh.status(head, "jdci/home")
    m.gh.review(number)
    name = environments.env_name(m.gh.full_name, number)
    # found by its environment label alone; without io.jdci.managed, no_leaks checks elsewhere never see it
    network = docker_client.networks.create(name, labels={environments.ENV_LABEL: name})
    try:
        code, gate = m.gate(number)
        assert code == 0 and reason(gate, "tickets")["detail"] == f"{key} (To Do)"
        code, result, err = m.merge(number)
        assert code == 0 and result["merged"] is True, err
        ticket = requests.get(f"{jira}/_sandbox/issues/{key}", timeout=10).json()
        assert ticket["status"] == "Done"
        assert docker_client.networks.list(names=[name]) == []
    finally:
        if docker_client.networks.list(names=[name]):
            network.remove()


def test_sandbox_compare_reports_how_far_behind_a_head_is(m):
    from jenkins_docker_ci.scm.github import GitHub

    number, head = m.pr("feature/compare")
    host = GitHub(m.gh.api, m.gh.full_name, "jdci-bot")
    assert host.compare("main", head).status == "ahead" and host.compare("main", head).behind_by == 0
    target = m.gh.control("POST", "/commits", json={}).json()["sha"]
    found = host.compare("main", head)
    assert (found.status, found.ahead_by, found.behind_by, found.base_sha) == ("diverged", 1, 1, target)
    assert host.compare(head, head).status == "identical"
    assert host.compare(head, target).status == "diverged"


def test_merge_method_and_commit_template_come_from_the_config(m):
    m.config.write_text(m.config.read_text() + 'method = "squash"\ncommit_title = "{title} (#{number})"\n')
    number, head = m.pr("feature/squash")
    code, result, err = m.merge(number)
    assert code == 0, err
    squashed = m.gh.bare_git("log", "-1", "--format=%P%n%s", result["merge_sha"]).splitlines()
    assert len(squashed[0].split()) == 1  # one parent: a squash
    assert squashed[1] == f"SHOP-1 change (#{number})"


# -- heads that moved ---------------------------------------------------------------------------------------------
def test_head_pushed_after_the_checks_is_not_merged(m):
    number, tested = m.pr("feature/moved")
    new = m.gh.control("POST", f"/pulls/{number}/push", json={"message": "late push"}).json()["sha"]

    code, gate = m.gate(number)
    assert code == 75 and gate["sha"] == new
    assert reason(gate, "required_checks")["status"] == "pending"

    code, result, err = m.merge(number)  # evaluates the new head: no checks there yet
    assert code == 75 and result["merged"] is False and result["sha"] == new

    code, result, err = m.merge(number, "--sha", tested)  # the pipeline says which head it tested
    assert code == 1 and result["error"]["kind"] == "merge"
    assert tested[:12] in result["error"]["message"] and new[:12] in result["error"]["message"]
    assert m.gh.pull(number)["merged"] is False and m.merges_on_main() == []


def test_head_moved_between_the_gate_and_the_merge_call_is_refused(m):
    """The race GitHub's 409 exists for: the gate passed on A, B lands before the merge call."""
    number, tested = m.pr("feature/race")
    config = load(m.config)
    from jenkins_docker_ci.config import Secrets
    from jenkins_docker_ci.scm import connect

    host = connect(config, Secrets(github_token="jdci-bot"))
    pushed: list[str] = []

    def push(pr: Any) -> None:
        pushed.append(m.gh.control("POST", f"/pulls/{number}/push", json={}).json()["sha"])

    result = merging.attempt(config, Secrets(github_token="jdci-bot"), host, number, before_merge=push)
    assert result.action == "refused" and result.code == 1 and result.outcome.merged is False
    assert tested[:12] in result.message and pushed[0][:12] in result.message
    assert m.gh.pull(number)["merged"] is False and m.merges_on_main() == []


def test_target_moved_between_the_gate_and_the_merge_call_is_updated_not_merged(m):
    """GitHub would merge the tested head into a target nobody tested it with: jdci looks again and updates."""
    number, tested = m.pr("feature/target-race")
    config = load(m.config)
    from jenkins_docker_ci.config import Secrets
    from jenkins_docker_ci.scm import connect

    host = connect(config, Secrets(github_token="jdci-bot"))

    def land_on_main(pr: Any) -> None:
        assert m.gh.control("POST", "/commits", json={"branch": "main", "message": "someone else's change",
                                                      "files": {"other.txt": "x"}}).status_code == 201

    result = merging.attempt(config, Secrets(github_token="jdci-bot"), host, number, before_merge=land_on_main)
    assert result.action == "updated" and result.code == 75 and result.outcome.merged is False
    assert m.gh.pull(number)["merged"] is False and m.merges_on_main() == []
    assert m.gh.pull(number)["head"]["sha"] != tested  # updated: the new head waits for its own checks


def test_wait_with_a_pinned_sha_on_a_behind_branch_stops_after_the_update(m):
    number, tested = m.pr("feature/pinned-behind")
    assert m.gh.control("POST", "/commits", json={"branch": "main", "message": "main moves",
                                                  "files": {"moved.txt": "x"}}).status_code == 201
    code, result, err = m.merge(number, "--sha", tested, "--wait", "--timeout", "30")
    assert code == 75, err
    assert "can no longer be merged" in result["message"]
    assert m.gh.pull(number)["merged"] is False


# -- checks -------------------------------------------------------------------------------------------------------
def test_required_check_never_reported_waits_then_blocks_naming_the_near_match(sandbox, tmp_path, unique, capsys,
                                                                              monkeypatch):
    m = Merge(sandbox, tmp_path, unique, capsys, monkeypatch, required='["ci/jenkins/pr-head"]', never=600)
    number, head = m.pr("feature/never", checks=("ci/jenkins/pr-merge",))
    code, gate = m.gate(number)
    assert code == 75
    detail = reason(gate, "required_checks")["detail"]
    assert "has not reported yet" in detail and "ci/jenkins/pr-merge" in detail
    assert m.merge(number)[0] == 75

    # the first status on the head is now an hour old: the missing check is overdue
    an_hour_ago = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    m.gh.status(head, "ci/lint", created_at=an_hour_ago)
    code, gate = m.gate(number)
    assert code == 1 and gate["decision"] == "block"
    detail = reason(gate, "required_checks")["detail"]
    assert "never reported" in detail and "ci/jenkins/pr-merge" in detail
    code, result, _ = m.merge(number)
    assert code == 1 and result["error"]["kind"] == "gate" and "never reported" in result["error"]["message"]
    assert m.gh.pull(number)["merged"] is False


def test_glob_with_one_green_and_one_pending_match_waits(m):
    number, head = m.pr("feature/glob", checks=("jdci/home",))
    m.gh.status(head, "jdci/visual", "pending")
    code, gate = m.gate(number)
    assert code == 75
    detail = reason(gate, "required_checks")["detail"]
    assert reason(gate, "required_checks")["status"] == "pending" and "jdci/visual pending" in detail
    code, result, _ = m.merge(number)
    assert code == 75 and result["merged"] is False and result["action"] == "wait"
    m.gh.status(head, "jdci/visual", "success")
    code, result, err = m.merge(number)
    assert code == 0 and result["merged"] is True, err


# -- reviews and labels ----------------------------------------------------------------------------------------
def test_approval_on_an_older_commit_does_not_count_with_head_only(sandbox, tmp_path, unique, capsys, monkeypatch):
    m = Merge(sandbox, tmp_path, unique, capsys, monkeypatch, head_only=True)
    number, old = m.pr("feature/old-approval")
    new = m.gh.control("POST", f"/pulls/{number}/push", json={}).json()["sha"]
    m.gh.status(new, "jdci/home")
    code, gate = m.gate(number)
    assert code == 75
    approvals = reason(gate, "approvals")
    assert approvals["status"] == "pending" and f"bob on {old[:7]}" in approvals["detail"]
    assert m.merge(number)[0] == 75 and m.gh.pull(number)["merged"] is False


def test_changes_requested_blocks(m):
    number, _ = m.pr("feature/changes")
    m.gh.review(number, "REQUEST_CHANGES", user="carol")
    code, gate = m.gate(number)
    assert code == 1 and reason(gate, "changes_requested")["status"] == "failed"
    code, result, _ = m.merge(number)
    assert code == 1 and "carol" in result["error"]["message"] and result["merged"] is False


def test_drive_by_approval_does_not_count_until_the_reviewer_has_write_access(m):
    number, head = m.pr("feature/drive-by", approve=False)
    m.gh.review(number, user="mallory")  # no write access: GitHub shows it, branch protection ignores it
    code, gate = m.gate(number)
    assert code == 75 and gate["decision"] == "wait"
    approvals = reason(gate, "approvals")
    assert approvals == {"rule": "approvals", "status": "pending",
                         "detail": "0 of 1 approvals; ignored: mallory (NONE: no write access)"}
    code, result, _ = m.merge(number)
    assert code == 75 and result["merged"] is False and m.gh.pull(number)["merged"] is False

    m.gh.collaborator("mallory")  # the same approval, now from a collaborator, counts
    code, gate = m.gate(number)
    assert code == 0 and reason(gate, "approvals")["detail"] == "1 of 1 approvals (mallory)"
    code, result, err = m.merge(number)
    assert code == 0 and result["merged"] is True and result["sha"] == head, err


def test_drive_by_change_request_is_named_but_does_not_block(m):
    number, _ = m.pr("feature/drive-by-changes")
    m.gh.review(number, "REQUEST_CHANGES", user="mallory")
    code, gate = m.gate(number)
    assert code == 0 and gate["decision"] == "merge"
    assert reason(gate, "changes_requested") == {
        "rule": "changes_requested", "status": "ok",
        "detail": "no changes requested; ignored: mallory (NONE: no write access)"}


@pytest.mark.parametrize("approvals_from, reviewer, decision, detail", [
    ('["OWNER"]', "bob", "wait", "0 of 1 approvals; ignored: bob (COLLABORATOR: not in [gate] approvals_from)"),
    ("[]", "mallory", "merge", "1 of 1 approvals (mallory)"),
])
def test_approvals_from_is_configurable(m, approvals_from, reviewer, decision, detail):
    m.config.write_text(m.config.read_text().replace("approvals = 1\n",
                                                     f"approvals = 1\napprovals_from = {approvals_from}\n"))
    number, _ = m.pr(f"feature/from-{reviewer}", approve=False)
    m.gh.review(number, user=reviewer)
    code, gate = m.gate(number)
    assert (gate["decision"], reason(gate, "approvals")["detail"]) == (decision, detail)
    assert code == {"merge": 0, "wait": 75}[decision]


def test_dismissed_approval_no_longer_counts(m):
    number, _ = m.pr("feature/dismissed", approve=False)
    approval = m.gh.review(number)
    assert m.gate(number)[0] == 0
    assert m.gh.dismiss(number, approval["id"], message="the change was rewritten")["state"] == "DISMISSED"
    code, gate = m.gate(number)
    assert code == 75 and reason(gate, "approvals")["detail"] == "0 of 1 approvals"
    code, result, _ = m.merge(number)
    assert code == 75 and result["merged"] is False and m.gh.pull(number)["merged"] is False


def test_branch_is_kept_when_delete_branch_is_off(m):
    m.config.write_text(m.config.read_text() + "delete_branch = false\n")
    number, head = m.pr("feature/keep")
    code, result, err = m.merge(number)
    assert code == 0 and result["merged"] is True, err
    assert m.gh.repo_call("GET", "/branches/feature/keep").json()["commit"]["sha"] == head


# -- what GitHub has not computed, and targets that moved ----------------------------------------------------------
def test_mergeable_null_waits_then_merges_once_computed(m):
    number, head = m.pr("feature/null")
    m.gh.control("POST", f"/pulls/{number}/mergeable-null", json={"reads": 1000})
    code, gate = m.gate(number)
    assert code == 75 and reason(gate, "mergeable")["status"] == "pending"
    code, result, _ = m.merge(number)
    assert code == 75 and result["merged"] is False and "mergeable" in result["message"]

    m.gh.control("POST", f"/pulls/{number}/mergeable-null", json={"reads": 3})  # GitHub gets there
    code, result, err = m.merge(number, "--wait", "--timeout", "60")
    assert code == 0 and result["merged"] is True, err


def test_wait_gives_up_at_the_deadline_with_75(m):
    number, _ = m.pr("feature/deadline", approve=False)
    code, result, err = m.merge(number, "--wait", "--timeout", "1")
    assert code == 75 and result["decision"] == "wait" and "still waiting after 1 s" in result["message"]
    assert reason(result, "approvals")["status"] == "pending"


def test_target_moved_after_the_checks_is_updated_and_rechecked_never_merged_untested(m):
    number, tested = m.pr("feature/behind")
    target = m.gh.control("POST", "/commits", json={"message": "someone else's change"}).json()["sha"]
    code, gate = m.gate(number)
    assert code == 75 and reason(gate, "up_to_date")["status"] == "pending"
    assert m.gh.pull(number)["head"]["sha"] == tested  # gate wrote nothing

    mark = m.gh.requests_mark()
    code, dry, _ = m.merge(number, "--dry-run")
    assert code == 75 and dry["action"] == "would-update" and m.gh.writes_since(mark) == []

    code, result, err = m.merge(number)
    new = m.gh.pull(number)["head"]["sha"]
    assert code == 75 and result["action"] == "updated" and result["merged"] is False, err
    assert new != tested and f"waiting for checks on the new head {new[:12]}" in result["message"]
    assert m.gh.bare_git("merge-base", "--is-ancestor", target, new) == ""  # the update contains the target

    code, result, _ = m.merge(number)  # the new head has no checks: wait, never merge the old green
    assert code == 75 and result["sha"] == new and reason(result, "required_checks")["status"] == "pending"
    assert m.gh.pull(number)["merged"] is False

    m.gh.status(new, "jdci/home")
    code, result, err = m.merge(number)
    assert code == 0 and result["merged"] is True, err
    assert m.gh.bare_git("rev-parse", f"{result['merge_sha']}^2") == new


def test_github_refusing_an_out_of_date_branch_is_reported_not_retried(sandbox, tmp_path, unique, capsys,
                                                                       monkeypatch):
    m = Merge(sandbox, tmp_path, unique, capsys, monkeypatch)
    m.config.write_text(m.config.read_text().replace("[merge]", "require_up_to_date = false\n[merge]"))
    number, _ = m.pr("feature/protected")
    m.gh.control("PUT", "/branches/main/up-to-date", json={"required": True})
    m.gh.control("POST", "/commits", json={"message": "moves main"})
    code, result, err = m.merge(number)
    assert code == 1 and result["error"]["kind"] == "merge"
    assert "not up to date" in result["error"]["message"] and "not retried" in result["error"]["message"]
    assert m.gh.pull(number)["merged"] is False and m.merges_on_main() == []


# -- concurrency and the sweep ----------------------------------------------------------------------------------
def test_two_merges_at_once_make_exactly_one_merge_commit(m, tmp_path):
    number, head = m.pr("feature/twice")
    env = {**os.environ, "GITHUB_TOKEN": "jdci-bot", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    for var in ("CHANGE_ID", "JDCI_CONFIG", "GIT_COMMIT"):
        env.pop(var, None)
    command = [sys.executable, "-m", "jenkins_docker_ci", "merge", "--pr", str(number), "--json",
               "--config", str(m.config)]
    runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                             cwd=tmp_path) for _ in range(3)]
    results = []
    for run in runs:
        out, err = run.communicate(timeout=120)
        results.append((run.returncode, json.loads(out), err))
    assert len(m.merges_on_main()) == 1
    merge_sha = m.gh.pull(number)["merge_commit_sha"]
    assert m.merges_on_main() == [merge_sha]
    for code, result, err in results:
        assert code == 0, err  # each run either merged or reports the merge the other run made
        assert result["merged"] is True and result["merge_sha"] == merge_sha
    assert sorted(r["action"] for _, r, _ in results).count("merged") == 1


def test_two_attempts_past_the_gate_at_the_same_moment_merge_once(m):
    """Both runs evaluated "merge" before either merged (a barrier holds them there): the host's answer to the
    second merge call decides, and the loser reports the winner's merge instead of making another."""
    import threading

    from jenkins_docker_ci.config import Secrets
    from jenkins_docker_ci.scm import connect

    number, head = m.pr("feature/barrier")
    config, secrets = load(m.config), Secrets(github_token="jdci-bot")
    barrier = threading.Barrier(2, timeout=60)
    results: list[Any] = [None, None]

    def run(i: int) -> None:
        host = connect(config, secrets)
        results[i] = merging.attempt(config, secrets, host, number, before_merge=lambda pr: barrier.wait())

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(r.action for r in results) == ["merged", "merged-elsewhere"]
    assert all(r.code == 0 and r.outcome.merged for r in results)
    assert results[0].outcome.merge_sha == results[1].outcome.merge_sha == m.gh.pull(number)["merge_commit_sha"]
    assert len(m.merges_on_main()) == 1


def test_sweep_merges_the_ready_pr_and_leaves_the_others(m):
    ready, _ = m.pr("feature/sweep-ready")
    unapproved, _ = m.pr("feature/sweep-unapproved", approve=False)
    labelled, _ = m.pr("feature/sweep-labelled")
    assert m.gh.repo_call("POST", f"/issues/{labelled}/labels", json={"labels": ["do-not-merge"]}).status_code == 200

    mark = m.gh.requests_mark()
    code, dry, _ = m.run("merge", "--sweep", "--dry-run")
    assert code == 0 and m.gh.writes_since(mark) == []
    assert {p["number"]: p["action"] for p in dry["pull_requests"]} == {
        ready: "would-merge", unapproved: "wait", labelled: "block"}

    code, result, err = m.run("merge", "--sweep")
    assert code == 0, err
    by_number = {p["number"]: p for p in result["pull_requests"]}
    assert by_number[ready]["merged"] is True and by_number[ready]["merge_sha"]
    assert by_number[unapproved]["decision"] == "wait" and by_number[unapproved]["merged"] is False
    assert by_number[labelled]["decision"] == "block" and "do-not-merge" in by_number[labelled]["message"]
    for entry in result["pull_requests"]:
        assert [r["rule"] for r in entry["reasons"]] == list(RULES)
    assert m.gh.pull(ready)["merged"] and not m.gh.pull(unapproved)["merged"] and not m.gh.pull(labelled)["merged"]
    assert m.gate(unapproved)[0] == 75 and m.gate(labelled)[0] == 1


def test_gate_prints_a_table_for_people(m):
    number, head = m.pr("feature/table", approve=False)
    m.capsys.readouterr()
    code = cli.main(["gate", "--pr", str(number), "--config", str(m.config)])
    out, _ = m.capsys.readouterr()
    assert code == 75
    assert out.startswith(f"gate: WAIT at {head[:7]}")
    for rule in RULES:
        assert f"  {rule} " in out


# -- plain git -------------------------------------------------------------------------------------------------
GIT_CONFIG = """
[scm]
provider = "git"
url = "{url}"
[gate]
required_checks = ["jdci/*"]
approvals = 0
require_ticket = false
[merge]
delete_branch = true
"""


class PlainRemote:
    """A bare repository on disk with main and a feature branch pushed from a working copy."""

    def __init__(self, tmp: Path) -> None:
        self.bare = tmp / "remote.git"
        git(tmp, "init", "-q", "--bare", "-b", "main", str(self.bare))
        self.work = tmp / "work"
        git(tmp, "init", "-q", "-b", "main", str(self.work))
        git(self.work, "remote", "add", "origin", str(self.bare))
        (self.work / "app.txt").write_text("app\n")
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", "initial")
        git(self.work, "push", "-q", "origin", "main")
        git(self.work, "checkout", "-q", "-b", "feature/plain")
        (self.work / "feature.txt").write_text("feature\n")
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", "SHOP-1 feature")
        git(self.work, "push", "-q", "origin", "feature/plain")
        self.head = git(self.work, "rev-parse", "HEAD").stdout.strip()
        self.config = tmp / "jdci.toml"
        self.config.write_text(GIT_CONFIG.format(url=self.bare))

    def main(self) -> str:
        return git(self.bare, "rev-parse", "refs/heads/main").stdout.strip()


def test_plain_git_merge_is_pushed_and_cleans_up(tmp_path, capsys, monkeypatch):
    remote = PlainRemote(tmp_path)
    for var in ("CHANGE_ID", "CHANGE_BRANCH", "CHANGE_TARGET", "GIT_COMMIT", "JDCI_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    from jenkins_docker_ci.scm.git import PlainGit

    flags = ["--branch", "feature/plain", "--target", "main", "--json", "--config", str(remote.config)]
    capsys.readouterr()
    assert cli.main(["gate", *flags]) == 75  # no status yet
    gate = json.loads(capsys.readouterr().out)
    assert [r["rule"] for r in gate["reasons"]] == list(RULES) and gate["sha"] == remote.head

    PlainGit(str(remote.bare)).set_status(remote.head, "jdci/home", "success")
    before = remote.main()
    assert cli.main(["merge", "--dry-run", "--sha", remote.head, *flags]) == 0
    assert json.loads(capsys.readouterr().out)["action"] == "would-merge" and remote.main() == before

    monkeypatch.setenv("GIT_COMMIT", remote.head)  # as Jenkins sets it; no --sha needed
    code = cli.main(["merge", *flags])
    out, err = capsys.readouterr()
    result = json.loads(out)
    assert code == 0 and result["merged"] is True, err
    assert remote.main() == result["merge_sha"]
    assert git(remote.bare, "rev-parse", f"{result['merge_sha']}^2").stdout.strip() == remote.head
    assert git(remote.bare, "rev-parse", "--verify", "-q", "refs/heads/feature/plain", check=False).returncode != 0

    code = cli.main(["merge", *flags])  # the branch is gone; GIT_COMMIT says what was merged
    again = json.loads(capsys.readouterr().out)
    assert code == 0 and again["merged"] is True and again["action"] == "already-merged"


def test_plain_git_target_moved_during_the_merge_pushes_nothing(tmp_path, monkeypatch):
    remote = PlainRemote(tmp_path)
    from jenkins_docker_ci.config import Secrets
    from jenkins_docker_ci.context import Change
    from jenkins_docker_ci.scm.git import PlainGit

    PlainGit(str(remote.bare)).set_status(remote.head, "jdci/home", "success")
    config = load(remote.config)
    change = Change(source_branch="feature/plain", target_branch="main", head_sha=remote.head)
    moved: list[str] = []

    def someone_pushes(branch: str) -> None:
        if branch == "main" and not moved:
            other = tmp_path / "other"
            git(tmp_path, "clone", "-q", str(remote.bare), str(other))
            (other / "other.txt").write_text("other\n")
            git(other, "add", "-A")
            git(other, "commit", "-q", "-m", "someone else")
            git(other, "push", "-q", "origin", "main")
            moved.append(git(other, "rev-parse", "HEAD").stdout.strip())

    host = PlainGit(str(remote.bare), change=change, before_push=someone_pushes)
    result = merging.attempt(config, Secrets(), host, 0, expected_sha=remote.head)
    assert result.action == "refused" and result.code == 1 and result.outcome.merged is False
    assert "main" in result.message and "nothing" in result.message and "not retried" in result.message
    assert remote.main() == moved[0]  # only the other push landed
    assert git(remote.bare, "merge-base", "--is-ancestor", remote.head, "refs/heads/main",
               check=False).returncode != 0
    assert git(remote.bare, "rev-parse", "refs/heads/feature/plain").stdout.strip() == remote.head


def test_plain_git_with_approvals_configured_waits_on_them(tmp_path, capsys, monkeypatch):
    remote = PlainRemote(tmp_path)
    remote.config.write_text(remote.config.read_text().replace("approvals = 0", "approvals = 1"))
    for var in ("CHANGE_ID", "GIT_COMMIT", "JDCI_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    capsys.readouterr()
    code = cli.main(["gate", "--branch", "feature/plain", "--target", "main", "--json", "--config",
                     str(remote.config)])
    gate = json.loads(capsys.readouterr().out)
    assert code == 75 and reason(gate, "approvals")["status"] == "pending"



def test_sigterm_during_wait_prints_the_last_evaluation_beside_the_error(m):
    import os
    import select
    import signal
    import subprocess
    import sys
    import time

    number, head = m.pr("feature/interrupted-wait", approve=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "jenkins_docker_ci", "merge", "--pr", str(number), "--wait", "--timeout", "300",
         "--json", "--config", str(m.config)],
        env={**os.environ, "GITHUB_TOKEN": "jdci-bot"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    err = ""
    deadline = time.monotonic() + 60
    while "looking again" not in err and time.monotonic() < deadline:  # until the first look is done
        ready, _, _ = select.select([process.stderr], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            break
        line = process.stderr.readline()
        if not line:
            break
        err += line
    assert "looking again" in err, err
    process.send_signal(signal.SIGTERM)
    out, rest = process.communicate(timeout=60)
    assert process.returncode == 143, (err + rest)[-2000:]
    payload = json.loads(out)
    assert payload["error"]["kind"] == "interrupted"
    assert payload["decision"] == "wait" and payload["sha"] == head and payload["merged"] is False
