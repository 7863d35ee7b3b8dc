"""What `jdci merge` does with a decision, against a recording fake host (no I/O): kodiak's MockPrApi style.
The fake answers as GitHub does (409 on a stale sha, 405 once merged); the real host is in the integration tests."""
from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from jenkins_docker_ci import merging
from jenkins_docker_ci.config import Config, GateConfig, MergeConfig, Secrets
from jenkins_docker_ci.errors import ConfigError
from jenkins_docker_ci.gate import Decision, Reason
from jenkins_docker_ci.scm import CommitCheck, Comparison, HeadMoved, MergeResult, NotMergeable, PullRequest, Review

HEAD = "a" * 40
NEW = "d" * 40
TARGET = "c" * 40


class FakeHost:
    """One repository with one PR; `calls` records every call, writes marked."""

    repository = "acme/shop"

    def __init__(self, **pr: Any) -> None:
        values: dict[str, Any] = dict(number=7, title="Add login", head_sha=HEAD, head_ref="feature/login",
                                      base_ref="main", base_sha=TARGET, author="alice", mergeable=True,
                                      mergeable_state="clean")
        values.update(pr)
        self.pr = PullRequest(**values)
        self.behind_by = 0
        self.green = {HEAD}
        self.calls: list[tuple[str, ...]] = []
        self.on_merge: Any = None

    def pull_request(self, number: int) -> PullRequest:
        self.calls.append(("pull_request",))
        return self.pr

    def open_pull_requests(self) -> list[PullRequest]:
        return [self.pr]

    def reviews(self, number: int) -> list[Review]:
        return [Review("bob", "APPROVED", self.pr.head_sha, "2026-01-01T00:00:00Z", author_association="MEMBER")]

    def reactions(self, number: int) -> list[Any]:
        return []

    def checks(self, sha: str) -> list[CommitCheck]:
        return [CommitCheck("jdci/home", "success", created_at="2026-01-01T00:00:00Z")] if sha in self.green else []

    def compare(self, base: str, head: str) -> Comparison:
        self.calls.append(("compare",))
        return Comparison("behind" if self.behind_by else "ahead", 1, self.behind_by, TARGET)

    def merge(self, number: int, sha: str, method: str, title: str, message: str) -> MergeResult:
        self.calls.append(("WRITE merge", sha, method, title, message))
        if self.on_merge:
            self.on_merge()
        if self.pr.merged:
            raise NotMergeable("Pull Request is not mergeable")
        if sha != self.pr.head_sha:
            raise HeadMoved("Head branch was modified")
        self.pr = dataclasses.replace(self.pr, merged=True, state="closed", merge_sha="f" * 40)
        return MergeResult(True, "f" * 40)

    def update_branch(self, number: int, expected_head_sha: str) -> None:
        self.calls.append(("WRITE update_branch", expected_head_sha))
        self.pr = dataclasses.replace(self.pr, head_sha=NEW, mergeable_state="clean")
        self.behind_by = 0

    def delete_branch(self, branch: str) -> bool:
        self.calls.append(("WRITE delete_branch", branch))
        return True

    @property
    def writes(self) -> list[tuple[str, ...]]:
        return [c for c in self.calls if c[0].startswith("WRITE")]


CONFIG = Config(gate=GateConfig(required_checks=("jdci/*",), require_ticket=False),
                merge=MergeConfig(commit_title="Merge #{number} from {branch}", commit_message="{title} at {sha}"))


@pytest.fixture(autouse=True)
def no_docker(monkeypatch):
    """after_merge tears the preprod environment down: record the name instead of asking the engine."""
    from jenkins_docker_ci import environments

    downed: list[str] = []
    monkeypatch.setattr(environments, "down", lambda name, **_: downed.append(name) or 0)
    return downed


def attempt(host: FakeHost, **kwargs: Any) -> merging.Attempt:
    return merging.attempt(CONFIG, Secrets(), host, 7, env={}, **kwargs)


def decision(*statuses: tuple[str, str]) -> Decision:
    return Decision("wait", HEAD, [Reason(rule, status, "") for rule, status in statuses])  # type: ignore[arg-type]


@pytest.mark.parametrize("reasons, behind, step", [
    ([("up_to_date", "pending")], True, "update"),
    ([("up_to_date", "pending"), ("approvals", "pending")], True, "wait"),  # not ready anyway: no CI churn
    ([("up_to_date", "pending")], None, "wait"),  # not known to be behind: never update blindly
    ([("mergeable", "pending")], False, "wait"),
])
def test_next_step_updates_only_when_being_behind_is_all_that_is_left(reasons, behind, step):
    assert merging.next_step(decision(*reasons), behind) == step


def test_ready_pr_merges_the_evaluated_head_with_the_templates_and_cleans_up(no_docker):
    host = FakeHost()
    result = attempt(host)
    assert result.action == "merged" and result.code == 0
    assert host.writes == [("WRITE merge", HEAD, "merge", "Merge #7 from feature/login", f"Add login at {HEAD}"),
                           ("WRITE delete_branch", "feature/login")]
    from jenkins_docker_ci.environments import env_name

    assert no_docker == [env_name("acme/shop", 7)]
    assert result.to_json()["merged"] is True and result.to_json()["merge_sha"] == "f" * 40


def test_dry_run_and_waiting_write_nothing():
    host = FakeHost()
    assert attempt(host, dry_run=True).action == "would-merge"
    host.green = set()
    assert attempt(host).action == "wait"
    assert host.writes == []


def test_behind_is_updated_then_waits_for_checks_on_the_new_head():
    host = FakeHost()
    host.behind_by = 2
    assert attempt(host, dry_run=True).action == "would-update" and host.writes == []
    result = attempt(host)
    assert result.action == "updated" and result.code == 75
    assert host.writes == [("WRITE update_branch", HEAD)]
    assert f"new head {NEW[:12]}" in result.message
    again = attempt(host)  # NEW has no checks: wait, and certainly no merge of HEAD
    assert again.action == "wait" and again.decision is not None and again.decision.sha == NEW
    assert not any(c[0] == "WRITE merge" for c in host.writes)


def test_a_head_other_than_the_tested_one_is_refused_naming_both():
    host = FakeHost(head_sha=NEW)
    host.green = {NEW}
    result = attempt(host, expected_sha=HEAD)
    assert result.action == "refused" and result.code == 1 and isinstance(result.error, HeadMoved)
    assert HEAD[:12] in result.message and NEW[:12] in result.message and host.writes == []


def test_head_moved_at_the_merge_call_is_refused_not_retried():
    host = FakeHost()

    def push() -> None:
        host.pr = dataclasses.replace(host.pr, head_sha=NEW)

    host.on_merge = push
    result = attempt(host)
    assert result.action == "refused" and result.outcome.merged is False
    assert [c[0] for c in host.writes] == ["WRITE merge"]  # one call, no second try
    assert HEAD[:12] in result.message and NEW[:12] in result.message


def test_merged_by_someone_else_meanwhile_is_reported_as_merged():
    host = FakeHost()

    def other_run() -> None:
        host.pr = dataclasses.replace(host.pr, merged=True, state="closed", merge_sha="e" * 40)

    host.on_merge = other_run
    result = attempt(host)
    assert result.action == "merged-elsewhere" and result.code == 0
    assert result.outcome.merged and result.outcome.merge_sha == "e" * 40
    # The "other run" may be our own merge call whose answer was lost (a 502 after GitHub merged): the
    # idempotent clean-up runs here too, so nothing is left undone; nothing is merged twice.
    assert [c[0] for c in host.writes if c[0] != "WRITE delete_branch"] == ["WRITE merge"]  # our one try


def test_already_merged_says_so():
    host = FakeHost(merged=True, state="closed", merge_sha="e" * 40)
    result = attempt(host)
    assert result.action == "already-merged" and result.code == 0 and "already merged" in result.message
    # only the idempotent clean-up an earlier run may have left undone: no merge
    assert host.writes == [("WRITE delete_branch", "feature/login")]
    assert attempt(host, dry_run=True).action == "already-merged" and len(host.writes) == 1


def test_wait_polls_with_backoff_until_the_deadline_without_sleeping_for_real():
    host = FakeHost()
    host.green = set()
    now = [0.0]
    pauses: list[float] = []

    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        now[0] += seconds

    result = merging.attempt_until_done(CONFIG, Secrets(), host, 7, timeout=20, env={}, clock=lambda: now[0],
                                        sleep=sleep)
    assert result.action == "wait" and result.code == 75 and "still waiting after 20 s" in result.message
    assert sum(pauses) == pytest.approx(20)
    assert pauses[1] > pauses[0] and host.writes == []


def test_wait_ends_as_soon_as_the_gate_passes():
    host = FakeHost()
    host.green = set()
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds
        host.green = {HEAD}  # CI reports while we wait

    result = merging.attempt_until_done(CONFIG, Secrets(), host, 7, timeout=600, env={}, clock=lambda: now[0],
                                        sleep=sleep)
    assert result.action == "merged" and now[0] < 600


def test_bad_commit_template_is_a_config_error_naming_the_key():
    with pytest.raises(ConfigError, match="commit_title"):
        merging.commit_text("Merge {numbr}", FakeHost().pr, HEAD, "commit_title")


@pytest.mark.parametrize("argv, message", [
    (["merge", "--sweep", "--pr", "3"], "--sweep"),
    (["merge", "--pr", "3", "--timeout", "5"], "--timeout only applies with --wait"),
])
def test_contradictory_merge_flags_are_usage_errors(capsys, argv, message):
    from jenkins_docker_ci import cli

    assert cli.main([*argv, "--json"]) == 2
    assert message in capsys.readouterr().out


def test_wait_reports_each_look_so_an_interrupted_run_can_say_where_it_was():
    host = FakeHost()
    host.green = set()
    seen: list[str] = []

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        merging.attempt_until_done(CONFIG, Secrets(), host, 7, timeout=60, env={}, sleep=interrupt,
                                   seen=lambda found: seen.append(found.action))
    assert seen == ["wait"]


def test_the_decision_is_seen_before_anything_is_written(no_docker):
    # `jdci pr` logs the gate's reasons from this hook: they must come before the merge, not after it
    host = FakeHost()
    seen: list[tuple[str, int]] = []
    result = attempt(host, evaluated=lambda d: seen.append((d.sha, len(host.writes))))
    assert result.action == "merged" and seen == [(HEAD, 0)] and len(host.writes) == 2


def test_an_abort_during_one_pr_of_a_sweep_ends_the_sweep_before_the_next_merges():
    import signal

    from jenkins_docker_ci.errors import Interrupted

    class TwoPrs(FakeHost):
        def open_pull_requests(self) -> list[PullRequest]:
            return [dataclasses.replace(self.pr, number=6), self.pr]

        def pull_request(self, number: int) -> PullRequest:
            if number == 6:  # SIGTERM arrives while the first PR is being read
                raise Interrupted(signal.SIGTERM)
            return super().pull_request(number)

    host = TwoPrs()
    with pytest.raises(Interrupted):
        merging.sweep(CONFIG, Secrets(), host, env={})
    assert host.writes == []  # PR 7 was ready, yet nothing was merged after the abort


def test_an_abort_while_a_step_reports_success_stops_the_pipeline():
    """Posting jdci/<step> = success is "quiet" about a host that fails, never about an abort: the next step
    (a merge) must not run after it."""
    import signal

    from jenkins_docker_ci.context import Change
    from jenkins_docker_ci.errors import Interrupted
    from jenkins_docker_ci.pipeline import _Statuses

    class AbortedWhilePosting(FakeHost):
        def checks(self, sha: str) -> list[CommitCheck]:
            raise Interrupted(signal.SIGTERM)

    statuses = _Statuses(AbortedWhilePosting(), Change(head_sha=HEAD))
    with pytest.raises(Interrupted):
        statuses.step("build", lambda: None)
