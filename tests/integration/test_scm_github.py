"""jdci's GitHub adapter against the GitHub sandbox: meanings of status codes, retries, pagination."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import requests

from jenkins_docker_ci.errors import EXIT_SERVICE, ConfigError, ServiceError, UsageError
from jenkins_docker_ci.scm import HeadMoved, NotMergeable
from jenkins_docker_ci.scm.comments import upsert_comment
from jenkins_docker_ci.scm.github import GitHub
from tests.integration.github_scenario import Scenario

pytestmark = pytest.mark.integration


@pytest.fixture
def gh(sandbox: dict, tmp_path: Path, unique: str) -> Scenario:
    return Scenario(sandbox["github"], tmp_path, f"adapter-{unique}")


def host(gh: Scenario, token: str = "jdci-bot", **kwargs: Any) -> GitHub:
    return GitHub(gh.api, gh.full_name, token, **kwargs)


def fault(gh: Scenario, **spec: Any) -> None:
    assert requests.post(f"{gh.base}/_sandbox/faults", json=spec, timeout=10).status_code == 201


def served(gh: Scenario, method: str, suffix: str) -> list[int]:
    log = requests.get(f"{gh.base}/_sandbox/requests", timeout=10).json()
    return [entry["status"] for entry in log if entry["method"] == method and entry["path"].endswith(suffix)
            and f"/{gh.full_name}/" in entry["path"]]


def test_pull_request_is_read_into_jdcis_type(gh: Scenario) -> None:
    created = gh.pr_with_branch("feature/SHOP-7", title="SHOP-7 Checkout")
    gh.repo_call("POST", "/issues/1/labels", json={"labels": ["ui"]})
    pr = host(gh).pull_request(1)
    assert (pr.number, pr.title, pr.head_ref, pr.base_ref) == (1, "SHOP-7 Checkout", "feature/SHOP-7", "main")
    assert pr.head_sha == created["head"]["sha"]
    assert (pr.state, pr.merged, pr.draft, pr.fork, pr.author) == ("open", False, False, False, "alice")
    assert (pr.mergeable, pr.mergeable_state, pr.labels) == (True, "clean", ("ui",))
    assert pr.url == f"{gh.base}/{gh.full_name}/pull/1"
    assert host(gh).find_pull_request("feature/SHOP-7") == pr
    assert host(gh).find_pull_request("nope") is None
    gh.control("POST", "/pulls/1/push", json={"message": "SHOP-8 second\n\nbody"})
    assert host(gh).commit_messages(1) == ["SHOP-1 feature/SHOP-7", "SHOP-8 second\n\nbody"]
    assert [p.number for p in host(gh).open_pull_requests()] == [1]


def test_bad_token_is_a_config_error_naming_github_token_never_the_token(gh: Scenario) -> None:
    with pytest.raises(ConfigError) as caught:
        host(gh, token="bad-secret-4711").pull_request(1)
    assert "GITHUB_TOKEN" in str(caught.value)
    assert "bad-secret-4711" not in str(caught.value)
    assert "4711" not in repr(host(gh, token="bad-secret-4711"))


def test_missing_pull_request_is_a_usage_error(gh: Scenario) -> None:
    with pytest.raises(UsageError, match=f"pull request #999 not found in {gh.full_name}"):
        host(gh).pull_request(999)
    with pytest.raises(ConfigError, match="repository nobody/nothing not found"):
        GitHub(gh.api, "nobody/nothing", "jdci-bot").checks("0" * 40)


def test_injected_503s_are_retried(gh: Scenario) -> None:
    gh.pr_with_branch("feature")
    fault(gh, method="GET", path=f"/repos/{gh.full_name}/pulls/1$", status=503, count=2)
    assert host(gh).pull_request(1).number == 1
    assert served(gh, "GET", "/pulls/1") == [503, 503, 200]


def test_a_service_that_keeps_failing_is_a_service_error(gh: Scenario) -> None:
    gh.pr_with_branch("feature")
    fault(gh, method="GET", path=f"/repos/{gh.full_name}/pulls/1$", status=503, count=100,
          headers={"Retry-After": "0"})
    try:
        with pytest.raises(ServiceError) as caught:
            host(gh, deadline=1.0).pull_request(1)
        assert caught.value.exit_code == EXIT_SERVICE
    finally:
        requests.delete(f"{gh.base}/_sandbox/faults", timeout=10)
    # one 500 on a read is a hiccup: retried; a 500 on a write is not (the write may have happened)
    fault(gh, method="GET", path=f"/repos/{gh.full_name}/pulls/1$", status=500, count=1)
    assert host(gh).pull_request(1).number == 1
    fault(gh, method="POST", path=f"/repos/{gh.full_name}/issues/1/comments$", status=500, count=1)
    with pytest.raises(ServiceError, match=r"HTTP 500 \(fault injected by the sandbox\)"):
        host(gh).create_comment(1, "hello")
    requests.delete(f"{gh.base}/_sandbox/faults", timeout=10)


def test_rate_limit_waits_for_the_reset_when_it_is_near(gh: Scenario) -> None:
    gh.pr_with_branch("feature")
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 1)}
    fault(gh, method="GET", path=f"/repos/{gh.full_name}/pulls/1$", status=403, count=1, headers=headers,
          body={"message": "API rate limit exceeded for user ID 1."})
    assert host(gh).pull_request(1).number == 1
    assert served(gh, "GET", "/pulls/1") == [403, 200]


def test_rate_limit_beyond_the_deadline_is_a_service_error(gh: Scenario) -> None:
    gh.pr_with_branch("feature")
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(time.time()) + 3600)}
    fault(gh, method="GET", path=f"/repos/{gh.full_name}/pulls/1$", status=403, count=1, headers=headers,
          body={"message": "API rate limit exceeded for user ID 1."})
    with pytest.raises(ServiceError):
        host(gh, deadline=5.0).pull_request(1)
    assert served(gh, "GET", "/pulls/1") == [403]


def test_merge_statuses_mean_merged_head_moved_not_mergeable(gh: Scenario) -> None:
    first = gh.pr_with_branch("feature")
    github = host(gh)
    with pytest.raises(HeadMoved):
        github.merge(1, "0" * 40, "merge", "", "")
    result = github.merge(1, first["head"]["sha"], "squash", "SHOP-1 feature (#1)", "squashed")
    assert result.merged and result.sha == gh.bare_git("rev-parse", "main")
    merged = github.pull_request(1)
    assert (merged.merged, merged.merge_sha, merged.state) == (True, result.sha, "closed")
    draft = gh.pr_with_branch("draft", draft=True)
    with pytest.raises(NotMergeable, match="draft"):
        github.merge(2, draft["head"]["sha"], "merge", "", "")
    assert github.delete_branch("feature") is True
    assert github.delete_branch("feature") is False


def test_update_branch_checks_the_expected_head(gh: Scenario) -> None:
    pr = gh.pr_with_branch("feature")
    gh.control("POST", "/commits", json={"branch": "main"})
    github = host(gh)
    assert github.pull_request(1).mergeable_state == "behind"
    with pytest.raises(HeadMoved):
        github.update_branch(1, "0" * 40)
    github.update_branch(1, pr["head"]["sha"])
    updated = github.pull_request(1)
    assert updated.mergeable_state == "clean" and updated.head_sha != pr["head"]["sha"]


def test_checks_combine_statuses_and_check_runs_across_pages(gh: Scenario) -> None:
    sha = gh.push("feature", {"f.txt": "f"})
    github = host(gh)
    for n in range(105):  # more than one page of 100
        github.set_status(sha, f"ctx/{n:03d}", "success")
    github.set_status(sha, "jdci/smoke", "pending", "running", "http://ci/1")
    github.set_status(sha, "jdci/smoke", "failure", "broken", "http://ci/2")
    for name, body in {"queued": {}, "ok": {"conclusion": "neutral"}, "bad": {"conclusion": "timed_out"},
                       "skip": {"conclusion": "skipped"}}.items():
        gh.repo_call("POST", "/check-runs", user="ci-app", json={"name": name, "head_sha": sha, **body})
    checks = {c.name: c for c in github.checks(sha)}
    assert len(checks) == 110
    assert (checks["jdci/smoke"].state, checks["jdci/smoke"].url) == ("failure", "http://ci/2")
    assert checks["ctx/104"].state == "success" and checks["ctx/104"].kind == "status"
    assert {n: checks[n].state for n in ("queued", "ok", "bad", "skip")} == {
        "queued": "pending", "ok": "success", "bad": "failure", "skip": "success"}
    assert checks["ok"].kind == "check_run"
    assert len(served(gh, "GET", "/status")) == 2  # followed Link rel="next"


def test_reviews_reactions_and_comments(gh: Scenario) -> None:
    pr = gh.pr_with_branch("feature")
    gh.repo_call("POST", "/pulls/1/reviews", user="bob", json={"event": "APPROVE"})
    gh.repo_call("POST", "/pulls/1/reviews", user="mallory", json={"event": "APPROVE"})
    gh.repo_call("POST", "/issues/1/reactions", user="carol", json={"content": "+1"})
    github = host(gh)
    review, drive_by = github.reviews(1)
    assert (review.user, review.state, review.commit_sha) == ("bob", "APPROVED", pr["head"]["sha"])
    assert (review.author_association, drive_by.author_association) == ("COLLABORATOR", "NONE")
    assert [(r.user, r.content) for r in github.reactions(1)] == [("carol", "+1")]
    created = github.create_comment(1, "hello")
    assert github.update_comment(created.id, "bye").body == "bye"
    assert [c.body for c in github.comments(1)] == ["bye"]
    with pytest.raises(UsageError):
        github.reviews(42)


def test_upsert_comment_writes_only_when_the_body_changes(gh: Scenario) -> None:
    gh.pr_with_branch("feature")
    gh.repo_call("POST", "/issues/1/comments", user="bob", json={"body": "unrelated"})
    github = host(gh)
    marker = "<!-- jdci:pr-report -->"
    first, wrote = upsert_comment(github, 1, marker, "report v1")
    assert wrote and first.body.startswith(marker)
    same, wrote_again = upsert_comment(github, 1, marker, "report v1")
    assert (same.id, wrote_again) == (first.id, False)
    changed, wrote_changed = upsert_comment(github, 1, marker, "report v2")
    assert (changed.id, wrote_changed) == (first.id, True)
    assert [c.body.endswith("report v2") for c in github.comments(1)] == [False, True]
    assert served(gh, "PATCH", f"/issues/comments/{first.id}") == [200]


def test_mergeable_null_is_asked_again(gh: Scenario) -> None:
    gh.pr_with_branch("feature")
    gh.control("POST", "/pulls/1/mergeable-null", json={"reads": 2})
    assert host(gh).pull_request(1).mergeable is True
    assert served(gh, "GET", "/pulls/1") == [200, 200, 200]
    gh.control("POST", "/pulls/1/mergeable-null", json={"reads": 1000})
    still = host(gh, mergeable_wait=0.3).pull_request(1)
    assert (still.mergeable, still.mergeable_state) == (None, "unknown")


def test_fork_pull_request_is_marked_as_fork(gh: Scenario) -> None:
    gh.call("POST", f"/repos/{gh.full_name}/forks", user="bob")
    from tests.integration.github_scenario import git

    git(gh.work, "remote", "add", "bob", gh.clone_url("bob", repo=f"bob/{gh.name}"))
    gh.push("fix", {"fix.txt": "fix"}, remote="bob")
    gh.open_pr("bob:fix", user="bob")
    pr = host(gh).pull_request(1)
    assert (pr.fork, pr.author, pr.head_ref) == (True, "bob", "fix")
