"""The merge policy, case by case. Factories fill every field with a PR that passes every rule; each case
overrides only what it is about (kodiak's create_pull_request() style)."""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from jenkins_docker_ci.config import GateConfig
from jenkins_docker_ci.gate import RULES, Decision, GateInput, evaluate, render_table
from jenkins_docker_ci.jenkins import JenkinsBuild, OwnBuild
from jenkins_docker_ci.scm import CommitCheck, PullRequest, Reaction, Review

HEAD = "a" * 40
OLD = "b" * 40
TARGET = "c" * 40
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)
JOB = "shop/PR-7"


def iso(minutes_ago: float) -> str:
    return (NOW - timedelta(minutes=minutes_ago)).isoformat().replace("+00:00", "Z")


def create_pull_request(**over: Any) -> PullRequest:
    values: dict[str, Any] = dict(
        number=7, title="SHOP-7 Add login", head_sha=HEAD, head_ref="feature/SHOP-7-login", base_ref="main",
        base_sha=TARGET, state="open", merged=False, merge_sha=None, draft=False, author="alice",
        url="http://github.local/acme/shop/pull/7", fork=False, mergeable=True, mergeable_state="clean",
        labels=("enhancement",), body="",
    )
    values.update(over)
    return PullRequest(**values)


def review(user: str = "bob", state: str = "APPROVED", sha: str = HEAD, minutes_ago: float = 5,
           association: str = "COLLABORATOR") -> Review:
    return Review(user=user, state=state, commit_sha=sha, submitted_at=iso(minutes_ago),
                  author_association=association)


def check(name: str = "jdci/smoke", state: str = "success", minutes_ago: float = 10, **over: Any) -> CommitCheck:
    return CommitCheck(name=name, state=state, url="http://jenkins.local/job/shop/job/PR-7/3/",
                       description=over.pop("description", ""), created_at=iso(minutes_ago), **over)


def build(**over: Any) -> JenkinsBuild:
    values: dict[str, Any] = dict(job=JOB, number=3, result="SUCCESS", sha=HEAD, building=False,
                                  url="http://jenkins.local/job/shop/job/PR-7/3/")
    values.update(over)
    return JenkinsBuild(**values)


def create_gate_input(**over: Any) -> GateInput:
    """Passes every rule, with every rule switched on."""
    config_over = over.pop("config", {})
    config = dataclasses.replace(GateConfig(
        required_checks=("jdci/*", "ci/jenkins/pr-head"), approvals=1, approvals_on_head_only=False,
        thumbs_up=1, blocking_labels=("do-not-merge",), allow_forks=False, require_ticket=True,
        ticket_statuses=("In Review",), require_jenkins=True, require_up_to_date=True, never_reported_after=1800,
    ), **config_over)
    values: dict[str, Any] = dict(
        pr=create_pull_request(**over.pop("pr", {})),
        now=NOW,
        config=config,
        reviews=[review()],
        reactions=[Reaction("carol", "+1")],
        checks=[check("jdci/smoke"), check("jdci/visual"), check("ci/jenkins/pr-head")],
        tickets=[("SHOP-7", "In Review")],
        jenkins_job=JOB,
        jenkins=build(),
        own_build=None,
        target_head_sha=TARGET,
        behind=False,
    )
    values.update(over)
    return GateInput(**values)


def test_the_factory_passes_every_rule() -> None:
    decision = evaluate(create_gate_input())
    assert [(r.rule, r.status) for r in decision.reasons] == [(rule, "ok") for rule in RULES]
    assert decision.decision == "merge"
    assert decision.sha == HEAD


# (id, overrides, decision, rule, rule status, words in the detail)
CASES: list[tuple[str, dict[str, Any], str, str, str, tuple[str, ...]]] = [
    # -- state / draft / fork / title / labels
    ("closed", dict(pr=dict(state="closed")), "block", "state", "failed", ("closed without merging",)),
    ("draft waits", dict(pr=dict(draft=True)), "wait", "draft", "pending", ("draft",)),
    ("fork blocks", dict(pr=dict(fork=True)), "block", "fork", "failed", ("fork", "allow_forks")),
    ("fork allowed", dict(pr=dict(fork=True), config=dict(allow_forks=True)), "merge", "fork", "ok", ("allowed",)),
    ("WIP title", dict(pr=dict(title="WIP SHOP-7 login")), "block", "title", "failed", ("WIP",)),
    ("[WIP] title", dict(pr=dict(title="[WIP] SHOP-7")), "block", "title", "failed", ("matches",)),
    ("Wipe is not WIP", dict(pr=dict(title="Wipe caches SHOP-7")), "merge", "title", "ok", ()),
    ("bad title regex", dict(config=dict(blocking_title_patterns=("(",))), "block", "title", "failed",
     ("not a valid regular expression",)),
    ("no title patterns", dict(pr=dict(title="WIP"), config=dict(blocking_title_patterns=())), "merge", "title",
     "ok", ("no blocking title patterns",)),
    ("blocking label", dict(pr=dict(labels=("Do-Not-Merge",))), "block", "labels", "failed", ("Do-Not-Merge",)),
    ("labels off", dict(pr=dict(labels=("do-not-merge",)), config=dict(blocking_labels=())), "merge", "labels",
     "ok", ("no blocking labels configured",)),
    # -- required checks
    ("head pushed after checks: no check on the new head",
     dict(pr=dict(head_sha="d" * 40), checks=[], jenkins=build(sha="d" * 40),
          reviews=[review(sha=HEAD)]), "wait", "required_checks", "pending", ("has not reported yet",)),
    ("required check failed", dict(checks=[check("jdci/smoke", "failure", description="HTTP 500 on /"),
                                           check("jdci/visual"), check("ci/jenkins/pr-head")]),
     "block", "required_checks", "failed", ("jdci/smoke failure", "HTTP 500")),
    ("required check error", dict(checks=[check("jdci/smoke", "error"), check("jdci/visual"),
                                          check("ci/jenkins/pr-head")]),
     "block", "required_checks", "failed", ("jdci/smoke error",)),
    ("glob: one green one pending -> wait", dict(checks=[check("jdci/smoke"), check("jdci/visual", "pending"),
                                                         check("ci/jenkins/pr-head")]),
     "wait", "required_checks", "pending", ("jdci/visual pending",)),
    ("glob with no match yet -> wait", dict(checks=[check("ci/jenkins/pr-head", minutes_ago=5)]),
     "wait", "required_checks", "pending", ("jdci/* has not reported yet",)),
    ("missing check before the deadline -> wait",
     dict(checks=[check("jdci/smoke", minutes_ago=29), check("ci/jenkins/pr-merge", minutes_ago=29)]),
     "wait", "required_checks", "pending", ("ci/jenkins/pr-head has not reported yet", "ci/jenkins/pr-merge")),
    ("missing check after the deadline -> block naming near matches",
     dict(checks=[check("jdci/smoke", minutes_ago=31), check("ci/jenkins/pr-merge", minutes_ago=31)]),
     "block", "required_checks", "failed", ("ci/jenkins/pr-head never reported", "ci/jenkins/pr-merge", "30 min")),
    ("missing check: the deadline counts from the FIRST status",
     dict(checks=[check("jdci/smoke", minutes_ago=31), check("jdci/visual", minutes_ago=1)]),
     "block", "required_checks", "failed", ("never reported",)),
    ("no status at all never times out", dict(checks=[]), "wait", "required_checks", "pending",
     ("has not reported yet",)),
    ("a re-run replaces the failed run", dict(checks=[check("jdci/smoke", "failure", minutes_ago=20),
                                                      check("jdci/smoke", minutes_ago=2), check("jdci/visual"),
                                                      check("ci/jenkins/pr-head")]),
     "merge", "required_checks", "ok", ("3 green",)),
    ("exact name is not a glob", dict(checks=[check("jdci/smoke"), check("ci/jenkins/pr-head-2")]),
     "wait", "required_checks", "pending", ("ci/jenkins/pr-head has not reported yet",)),
    ("unknown check state is pending", dict(checks=[check("jdci/smoke", "queued"),
                                                    check("ci/jenkins/pr-head")]),
     "wait", "required_checks", "pending", ("jdci/smoke queued",)),
    ("no required checks", dict(checks=[], config=dict(required_checks=())), "merge", "required_checks", "ok",
     ("no required checks configured",)),
    ("failure wins over pending", dict(checks=[check("jdci/smoke", "failure"), check("jdci/visual", "pending")]),
     "block", "required_checks", "failed", ("jdci/smoke failure", "jdci/visual pending")),
    # -- reviews
    ("no approval -> wait", dict(reviews=[]), "wait", "approvals", "pending", ("0 of 1",)),
    ("approval on an older commit, head-only -> wait",
     dict(reviews=[review(sha=OLD)], config=dict(approvals_on_head_only=True)),
     "wait", "approvals", "pending", ("0 of 1", "older commits", "bob on bbbbbbb")),
    ("approval on an older commit counts by default", dict(reviews=[review(sha=OLD)]), "merge", "approvals", "ok",
     ("1 of 1", "bob")),
    ("approval on the head with head-only", dict(config=dict(approvals_on_head_only=True)), "merge", "approvals",
     "ok", ("1 of 1",)),
    ("two approvals needed, one given", dict(config=dict(approvals=2)), "wait", "approvals", "pending", ("1 of 2",)),
    ("same person twice is one approval", dict(config=dict(approvals=2),
                                               reviews=[review(minutes_ago=9), review(minutes_ago=3)]),
     "wait", "approvals", "pending", ("1 of 2",)),
    ("the author's approval does not count", dict(reviews=[review(user="alice")]), "wait", "approvals", "pending",
     ("0 of 1",)),
    ("a later comment keeps the approval", dict(reviews=[review(minutes_ago=9),
                                                         review(state="COMMENTED", minutes_ago=2)]),
     "merge", "approvals", "ok", ("1 of 1",)),
    ("a dismissed approval is gone", dict(reviews=[review(minutes_ago=9), review(state="DISMISSED", minutes_ago=2)]),
     "wait", "approvals", "pending", ("0 of 1",)),
    ("approvals off", dict(reviews=[], config=dict(approvals=0)), "merge", "approvals", "ok", ("none required",)),
    ("changes requested -> block", dict(reviews=[review(), review("dave", "CHANGES_REQUESTED")]),
     "block", "changes_requested", "failed", ("dave",)),
    ("changes requested then approved", dict(reviews=[review("dave", "CHANGES_REQUESTED", minutes_ago=9),
                                                      review("dave", minutes_ago=2)]),
     "merge", "changes_requested", "ok", ()),
    ("approved then changes requested", dict(reviews=[review(minutes_ago=9), review("erin"),
                                                      review("bob", "CHANGES_REQUESTED", minutes_ago=2)]),
     "block", "changes_requested", "failed", ("bob",)),
    ("changes requested on an older commit still block, head-only",
     dict(reviews=[review(), review("dave", "CHANGES_REQUESTED", sha=OLD)],
          config=dict(approvals_on_head_only=True)), "block", "changes_requested", "failed", ("dave",)),
    ("reviews out of order are sorted by time", dict(reviews=[review("bob", "CHANGES_REQUESTED", minutes_ago=2),
                                                              review(minutes_ago=9), review("erin")]),
     "block", "changes_requested", "failed", ("bob",)),
    # -- who may review: [gate] approvals_from (GitHub's author_association)
    ("a drive-by approval does not count", dict(reviews=[review("mallory", association="NONE")]),
     "wait", "approvals", "pending", ("0 of 1", "ignored: mallory (NONE: no write access)")),
    ("a collaborator's approval counts, a drive-by one is named",
     dict(reviews=[review(), review("mallory", association="NONE")]), "merge", "approvals", "ok",
     ("1 of 1 approvals (bob); ignored: mallory (NONE: no write access)",)),
    ("owner and member approvals count", dict(config=dict(approvals=2),
                                             reviews=[review("olga", association="OWNER"),
                                                      review("max", association="MEMBER")]),
     "merge", "approvals", "ok", ("2 of 2 approvals (olga, max)",)),
    ("a contributor has no write access", dict(reviews=[review("dave", association="CONTRIBUTOR")]),
     "wait", "approvals", "pending", ("dave (CONTRIBUTOR: no write access)",)),
    ("no association reported does not count", dict(reviews=[review(association="")]),
     "wait", "approvals", "pending", ("bob (no author_association reported)",)),
    ("approvals_from is configurable", dict(reviews=[review(association="COLLABORATOR")],
                                            config=dict(approvals_from=("OWNER", "MEMBER"))),
     "wait", "approvals", "pending", ("bob (COLLABORATOR: not in [gate] approvals_from)",)),
    ("approvals_from compares without case", dict(reviews=[review(association="Member")],
                                                  config=dict(approvals_from=("member",))),
     "merge", "approvals", "ok", ("1 of 1",)),
    ("empty approvals_from counts anyone", dict(reviews=[review("mallory", association="NONE")],
                                                config=dict(approvals_from=())), "merge", "approvals", "ok",
     ("1 of 1 approvals (mallory)",)),
    ("a drive-by change request does not block, and is named",
     dict(reviews=[review(), review("mallory", "CHANGES_REQUESTED", association="NONE")]),
     "merge", "changes_requested", "ok", ("no changes requested; ignored: mallory (NONE: no write access)",)),
    ("a collaborator's change request blocks, a drive-by one is named too",
     dict(reviews=[review(), review("carol", "CHANGES_REQUESTED"),
                   review("mallory", "CHANGES_REQUESTED", association="FIRST_TIMER")]),
     "block", "changes_requested", "failed", ("changes requested by carol;", "ignored: mallory (FIRST_TIMER")),
    ("with approvals_from empty, anyone's change request blocks",
     dict(reviews=[review(), review("mallory", "CHANGES_REQUESTED", association="NONE")],
          config=dict(approvals_from=())), "block", "changes_requested", "failed", ("mallory",)),
    # -- thumbs up
    ("no +1 -> wait", dict(reactions=[]), "wait", "thumbs_up", "pending", ("0 of 1",)),
    ("the author's +1 does not count", dict(reactions=[Reaction("alice", "+1")]), "wait", "thumbs_up", "pending",
     ("0 of 1",)),
    ("one person twice is one +1", dict(reactions=[Reaction("carol", "+1"), Reaction("carol", "+1")],
                                        config=dict(thumbs_up=2)), "wait", "thumbs_up", "pending", ("1 of 2",)),
    ("other reactions do not count", dict(reactions=[Reaction("carol", "heart"), Reaction("dave", "-1")]),
     "wait", "thumbs_up", "pending", ("0 of 1",)),
    ("two distinct +1", dict(reactions=[Reaction("carol", "+1"), Reaction("dave", "+1")],
                             config=dict(thumbs_up=2)), "merge", "thumbs_up", "ok", ("carol, dave",)),
    ("thumbs up off", dict(reactions=[], config=dict(thumbs_up=0)), "merge", "thumbs_up", "ok", ("none required",)),
    # -- tickets
    ("no ticket", dict(tickets=[]), "block", "tickets", "failed", ("no ticket linked",)),
    ("ticket not found", dict(tickets=[("SHOP-9", None)]), "block", "tickets", "failed", ("SHOP-9 not found",)),
    ("ticket in a wrong status", dict(tickets=[("SHOP-7", "Open")]), "block", "tickets", "failed",
     ("SHOP-7 is 'Open'", "In Review")),
    ("any status allowed", dict(tickets=[("SHOP-7", "Open")], config=dict(ticket_statuses=())), "merge",
     "tickets", "ok", ("SHOP-7 (Open)",)),
    ("tickets not looked up", dict(tickets=None), "block", "tickets", "failed", ("not looked up",)),
    ("tickets off", dict(tickets=None, config=dict(require_ticket=False)), "merge", "tickets", "ok",
     ("not required",)),
    # -- Jenkins
    ("Jenkins built an older commit -> wait", dict(jenkins=build(sha=OLD)), "wait", "jenkins", "pending",
     ("built bbbbbbb", "not the head aaaaaaa")),
    ("Jenkins failed at the head", dict(jenkins=build(result="FAILURE")), "block", "jenkins", "failed",
     ("shop/PR-7 #3", "FAILURE")),
    ("Jenkins unstable at the head", dict(jenkins=build(result="UNSTABLE")), "block", "jenkins", "failed",
     ("UNSTABLE", "accepted: SUCCESS")),
    ("unstable accepted by config", dict(jenkins=build(result="UNSTABLE"),
                                         config=dict(jenkins_results=("SUCCESS", "UNSTABLE"))),
     "merge", "jenkins", "ok", ("UNSTABLE",)),
    ("own build in a differently named project: hint", dict(jenkins=build(sha=OLD),
                                                            own_build=OwnBuild("org/shop/PR-7", 4)),
     "wait", "jenkins", "pending", ("jdci runs in org/shop/PR-7", "JOB_NAME")),
    ("Jenkins aborted at the head", dict(jenkins=build(result="ABORTED")), "block", "jenkins", "failed",
     ("ABORTED",)),
    ("Jenkins still running", dict(jenkins=build(result=None, building=True)), "wait", "jenkins", "pending",
     ("still running",)),
    ("no completed Jenkins build", dict(jenkins=None), "wait", "jenkins", "pending", ("no completed build",)),
    ("Jenkins build without a revision", dict(jenkins=build(sha="")), "block", "jenkins", "failed",
     ("recorded no git revision",)),
    ("own running build is not counted", dict(jenkins=build(number=2, sha=OLD, result="FAILURE"),
                                              own_build=OwnBuild(JOB, 3)),
     "merge", "jenkins", "ok", ("shop/PR-7 #3", "running now")),
    ("own first build, nothing completed", dict(jenkins=None, own_build=OwnBuild(JOB, 1)), "merge", "jenkins",
     "ok", ("#1",)),
    ("running in another job (the sweep) counts the PR job", dict(jenkins=build(sha=OLD),
                                                                  own_build=OwnBuild("merge-sweep", 40)),
     "wait", "jenkins", "pending", ("not the head",)),
    ("Jenkins required but not consulted", dict(jenkins_job=None, jenkins=None), "block", "jenkins", "failed",
     ("[jenkins] url",)),
    ("Jenkins off", dict(jenkins_job=None, jenkins=None, config=dict(require_jenkins=False)), "merge", "jenkins",
     "ok", ("not required",)),
    # -- up to date / mergeable
    ("behind the target -> wait", dict(behind=True), "wait", "up_to_date", "pending",
     ("branch is behind main", "update it")),
    ("GitHub says behind", dict(behind=None, pr=dict(mergeable_state="behind")), "wait", "up_to_date", "pending",
     ("branch is behind main",)),
    ("unknown whether up to date", dict(behind=None), "wait", "up_to_date", "pending", ("not known",)),
    ("up to date not required", dict(behind=True, config=dict(require_up_to_date=False)), "merge", "up_to_date",
     "ok", ("not required",)),
    ("mergeable null -> wait", dict(pr=dict(mergeable=None, mergeable_state="unknown")), "wait", "mergeable",
     "pending", ("not computed",)),
    ("conflict -> block", dict(pr=dict(mergeable=False, mergeable_state="dirty")), "block", "mergeable", "failed",
     ("conflicts with main",)),
]


@pytest.mark.parametrize("overrides, decision, rule, status, words", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_rule(overrides: dict[str, Any], decision: str, rule: str, status: str, words: tuple[str, ...]) -> None:
    result = evaluate(create_gate_input(**overrides))
    reason = result.reason(rule)
    assert (reason.status, result.decision) == (status, decision), render_table(result)
    for word in words:
        assert word in reason.detail, reason.detail
    # every rule is always explained, once, in the same order
    assert [r.rule for r in result.reasons] == list(RULES)
    # nothing but the rule under test changes the outcome
    others = [r for r in result.reasons if r.rule != rule and r.status != "ok"]
    assert others == [], render_table(result)


@pytest.mark.parametrize("statuses, decision", [
    (("ok", "ok"), "merge"),
    (("ok", "pending"), "wait"),
    (("pending", "failed"), "block"),
    (("failed", "ok"), "block"),
])
def test_worst_status_decides(statuses: tuple[str, str], decision: str) -> None:
    over: dict[str, Any] = {}
    if statuses[0] == "pending":
        over["pr"] = dict(draft=True)
    if statuses[0] == "failed":
        over.setdefault("pr", {})["fork"] = True
    if statuses[1] == "pending":
        over["reactions"] = []
    if statuses[1] == "failed":
        over["tickets"] = []
    assert evaluate(create_gate_input(**over)).decision == decision


def test_combination_lists_every_problem() -> None:
    result = evaluate(create_gate_input(pr=dict(draft=True, mergeable=None), reviews=[], behind=True,
                                        checks=[check("jdci/smoke", "pending")]))
    assert result.decision == "wait"
    assert {r.rule for r in result.pending} == {"draft", "approvals", "up_to_date", "mergeable", "required_checks"}
    assert result.failed == []


def test_the_head_pushed_after_the_checks_is_what_the_decision_names() -> None:
    """Checks and approval are for the old head; the new head has none: wait, and the SHA is the new head."""
    new = "e" * 40
    result = evaluate(create_gate_input(pr=dict(head_sha=new), checks=[], reviews=[review(sha=HEAD)],
                                        config=dict(approvals_on_head_only=True)))
    assert result.decision == "wait"
    assert result.sha == new
    assert result.reason("jenkins").status == "pending"  # it built HEAD, not the new head
    assert result.reason("approvals").status == "pending"


def test_missing_check_waits_then_blocks_as_time_passes() -> None:
    checks = [check("jdci/smoke", minutes_ago=0), check("continuous-integration/jenkins/pr-merge", minutes_ago=0)]
    early = evaluate(create_gate_input(checks=checks))
    late = evaluate(create_gate_input(checks=checks, now=NOW + timedelta(minutes=30)))
    assert early.decision == "wait"
    assert late.decision == "block"
    assert "ci/jenkins/pr-head never reported" in late.reason("required_checks").detail
    assert "continuous-integration/jenkins/pr-merge" in late.reason("required_checks").detail


def test_merged_pr_describes_it() -> None:
    result = evaluate(create_gate_input(pr=dict(merged=True, state="closed", merge_sha="f" * 40, mergeable=None)))
    assert result.merged
    assert result.decision == "merge"
    assert "already merged as fffffff" in result.reason("state").detail
    assert [r.rule for r in result.reasons] == list(RULES)


def test_overlapping_patterns_report_a_check_once() -> None:
    result = evaluate(create_gate_input(config=dict(required_checks=("jdci/*", "jdci/smoke")),
                                        checks=[check("jdci/smoke", "pending")]))
    assert result.reason("required_checks").detail == "on aaaaaaa: jdci/smoke pending"


@pytest.mark.parametrize("reports, status", [
    # a check run named like a failing commit status does not make it green, whoever posts it
    ([check("jdci/smoke", "failure", 5), check("jdci/smoke", "success", 1, kind="check_run")], "failed"),
    ([check("jdci/smoke", "success", 5, kind="check_run"), check("jdci/smoke", "failure", 1)], "failed"),
    ([check("jdci/smoke", "success", 5), check("jdci/smoke", "pending", 1, kind="check_run")], "pending"),
    # within one kind, the latest report stands (a re-run replaces the failure)
    ([check("jdci/smoke", "failure", 5), check("jdci/smoke", "success", 1)], "ok"),
    ([check("jdci/smoke", "failure", 5, kind="check_run"), check("jdci/smoke", "success", 1, kind="check_run")],
     "ok"),
])
def test_status_and_check_run_of_one_name_must_both_be_green(reports: list[CommitCheck], status: str) -> None:
    result = evaluate(create_gate_input(config=dict(required_checks=("jdci/smoke",)), checks=reports))
    assert result.reason("required_checks").status == status


def test_naive_now_is_read_as_utc() -> None:
    result = evaluate(create_gate_input(checks=[check("jdci/smoke", minutes_ago=31)],
                                        now=NOW.replace(tzinfo=None)))
    assert result.reason("required_checks").status == "failed"


def test_json_is_exactly_the_promised_shape() -> None:
    result = evaluate(create_gate_input(reactions=[]))
    data = json.loads(json.dumps(result.to_json()))
    assert set(data) == {"decision", "sha", "reasons"}
    assert data["decision"] == "wait" and data["sha"] == HEAD
    assert all(set(r) == {"rule", "status", "detail"} for r in data["reasons"])
    assert {r["status"] for r in data["reasons"]} <= {"ok", "pending", "failed"}
    assert len(data["reasons"]) == len(RULES)


def test_render_table_has_one_line_per_rule() -> None:
    result = evaluate(create_gate_input(pr=dict(labels=("do-not-merge",)), reactions=[]))
    text = render_table(result, title="acme/shop PR #7")
    lines = text.splitlines()
    assert lines[0] == "gate: BLOCK at aaaaaaa (acme/shop PR #7)"
    assert len(lines) == 2 + len(RULES)
    labels = next(line for line in lines if line.strip().startswith("labels"))
    assert "FAIL" in labels and "do-not-merge" in labels
    thumbs = next(line for line in lines if line.strip().startswith("thumbs_up"))
    assert "WAIT" in thumbs
    # columns line up: every status starts at the same offset
    offsets = {line.index(word) for line in lines[2:] for word in ("ok ", "WAIT", "FAIL") if f"  {word}" in line}
    assert len(offsets) == 1


def test_decision_is_pure() -> None:
    gate = create_gate_input(reviews=[review(minutes_ago=9), review("bob", "CHANGES_REQUESTED", minutes_ago=2)])
    first: Decision = evaluate(gate)
    assert evaluate(gate) == first
