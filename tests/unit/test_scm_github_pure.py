"""Pure parts of the GitHub adapter: mapping check runs, rate limits, PR parsing, upsert_comment's decisions."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from jenkins_docker_ci.http import rate_limit_reset_seconds
from jenkins_docker_ci.scm import Comment
from jenkins_docker_ci.scm.comments import upsert_comment, with_marker
from jenkins_docker_ci.scm.github import check_run_state, pull_request_from, rate_limit_wait

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "github"


@pytest.mark.parametrize(("status", "conclusion", "state"), [
    ("queued", None, "pending"), ("in_progress", None, "pending"), ("completed", "success", "success"),
    ("completed", "neutral", "success"), ("completed", "skipped", "success"), ("completed", "failure", "failure"),
    ("completed", "timed_out", "failure"), ("completed", "cancelled", "failure"),
    ("completed", "action_required", "failure"), ("completed", "stale", "pending"),
])
def test_check_run_state(status: str, conclusion: str | None, state: str) -> None:
    assert check_run_state(status, conclusion) == state


def test_rate_limit_wait() -> None:
    assert rate_limit_wait("10", "2000", now=1000.0) == 0.0
    assert rate_limit_wait("0", "1030", now=1000.0) == 30.0
    assert rate_limit_wait("0", "900", now=1000.0) == 0.0
    assert rate_limit_wait("0", None, now=1000.0) == 0.0
    assert rate_limit_reset_seconds("1030", now=1000.0) == 30.0
    assert rate_limit_reset_seconds("soon", now=1000.0) is None


def test_pull_request_from_the_fixture() -> None:
    data = json.loads((FIXTURES / "pulls.get.200.json").read_text())
    pr = pull_request_from(data)
    assert (pr.number, pr.head_ref, pr.base_ref, pr.head_sha) == (1347, "new-topic", "master", data["head"]["sha"])
    assert (pr.merged, pr.mergeable, pr.mergeable_state, pr.fork, pr.labels) == (False, True, "clean", False, ("bug",))
    data["head"]["repo"] = None  # the fork was deleted
    assert pull_request_from(data).fork is True


class RecordingHost:
    repository = "acme/shop"

    def __init__(self, comments: list[Comment]) -> None:
        self.stored = comments
        self.calls: list[tuple[str, object]] = []

    def comments(self, number: int) -> list[Comment]:
        return list(self.stored)

    def create_comment(self, number: int, body: str) -> Comment:
        self.calls.append(("create", body))
        comment = Comment(id=len(self.stored) + 1, body=body)
        self.stored.append(comment)
        return comment

    def update_comment(self, comment_id: int, body: str) -> Comment:
        self.calls.append(("update", comment_id))
        index = next(i for i, c in enumerate(self.stored) if c.id == comment_id)
        self.stored[index] = replace(self.stored[index], body=body)
        return self.stored[index]


def test_upsert_comment_creates_edits_or_leaves_alone() -> None:
    marker = "<!-- m -->"
    host = RecordingHost([Comment(1, "other")])
    created, wrote = upsert_comment(host, 1, marker, "v1")  # type: ignore[arg-type]
    assert wrote and host.calls == [("create", with_marker(marker, "v1"))]
    _, wrote = upsert_comment(host, 1, marker, "v1")  # type: ignore[arg-type]
    assert not wrote and len(host.calls) == 1
    edited, wrote = upsert_comment(host, 1, marker, "v2")  # type: ignore[arg-type]
    assert wrote and host.calls[-1] == ("update", created.id) and edited.body.endswith("v2")


def test_upsert_comment_keeps_the_oldest_of_duplicates() -> None:
    host = RecordingHost([Comment(5, "<!-- m -->\nold"), Comment(9, "<!-- m -->\nnewer")])
    upsert_comment(host, 1, "<!-- m -->", "now")  # type: ignore[arg-type]
    assert host.calls == [("update", 5)]
