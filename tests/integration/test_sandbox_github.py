"""The GitHub sandbox through plain `requests` and real `git`, as a person or another bot would use it."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
import requests

from tests.integration.github_scenario import Scenario, auth, git

pytestmark = pytest.mark.integration


@pytest.fixture
def gh(sandbox: dict, tmp_path: Path, unique: str) -> Scenario:
    return Scenario(sandbox["github"], tmp_path, f"shop-{unique}")


def test_pushed_branch_becomes_a_pull_request_on_a_real_bare_repository(gh: Scenario) -> None:
    sha = gh.push("feature/SHOP-1-login", {"login.txt": "login\n"}, message="SHOP-1 login")
    response = gh.repo_call("POST", "/pulls", json={"title": "SHOP-1 Login", "head": "feature/SHOP-1-login",
                                                     "base": "main", "body": "please"})
    assert response.status_code == 201
    pr = response.json()
    assert response.headers["Location"] == pr["url"] == f"{gh.api}/repos/{gh.full_name}/pulls/1"
    assert pr["head"]["sha"] == sha
    assert pr["head"]["ref"] == "feature/SHOP-1-login"
    assert pr["base"]["sha"] == gh.bare_git("rev-parse", "main")
    assert (pr["mergeable"], pr["mergeable_state"], pr["merged"], pr["draft"]) == (True, "clean", False, False)
    assert (pr["commits"], pr["changed_files"], pr["additions"]) == (1, 1, 1)
    assert gh.repo["clone_url"] == f"{gh.base}/{gh.full_name}.git"
    assert gh.bare_git("rev-parse", "refs/heads/feature/SHOP-1-login") == sha
    assert gh.bare_git("config", "http.receivepack") == "true"


def test_auto_init_repository_has_an_initial_commit_on_main(gh: Scenario) -> None:
    assert gh.repo["default_branch"] == "main"
    assert gh.bare_git("log", "--format=%s", "main") == "Initial commit"
    assert gh.call("POST", "/user/repos", json={"name": gh.name}).status_code == 422  # already exists


def test_org_repository_exists_on_first_use(sandbox: dict, tmp_path: Path, unique: str) -> None:
    scenario = Scenario(sandbox["github"], tmp_path, "app", owner=f"org-{unique}", org=True)
    repo = scenario.call("GET", f"/repos/org-{unique}/app").json()
    assert repo["owner"]["type"] == "Organization"
    assert repo["organization"]["login"] == f"org-{unique}"


def test_push_needs_credentials_and_bad_passwords_are_refused(gh: Scenario, tmp_path: Path) -> None:
    git(gh.work, "checkout", "-q", "-b", "nope")
    (gh.work / "x.txt").write_text("x")
    git(gh.work, "add", "-A")
    git(gh.work, "commit", "-q", "-m", "x")
    anonymous = git(gh.work, "push", f"{gh.base}/{gh.full_name}.git", "HEAD:refs/heads/nope", check=False)
    bad = git(gh.work, "push", gh.clone_url("alice", "bad-password"), "HEAD:refs/heads/nope", check=False)
    assert anonymous.returncode != 0 and bad.returncode != 0
    assert "Authentication failed" in bad.stderr or "401" in bad.stderr
    assert git(gh.bare, "rev-parse", "--verify", "-q", "refs/heads/nope", check=False).returncode != 0
    refused = requests.get(f"{gh.base}/{gh.full_name}.git/info/refs?service=git-receive-pack", timeout=10)
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"] == 'Basic realm="GitHub"'
    # clones are anonymous, as for a public repository
    assert git(tmp_path, "clone", "-q", f"{gh.base}/{gh.full_name}.git", str(tmp_path / "anon")).returncode == 0


def test_api_answers_401_and_404_with_githubs_bodies(gh: Scenario) -> None:
    missing = gh.repo_call("GET", "/pulls/1", user=None)
    bad = gh.repo_call("GET", "/pulls/1", user="bad-token")
    assert (missing.status_code, missing.json()["message"]) == (401, "Requires authentication")
    assert (bad.status_code, bad.json()["message"]) == (401, "Bad credentials")
    assert "documentation_url" in bad.json()
    not_found = gh.repo_call("GET", "/pulls/999")
    assert not_found.status_code == 404
    assert not_found.json()["message"] == "Not Found"
    assert gh.call("GET", "/repos/nobody/nothing").status_code == 404


def test_every_api_answer_carries_rate_limit_and_media_type_headers(gh: Scenario) -> None:
    first = gh.call("GET", f"/repos/{gh.full_name}", user="carol-" + gh.name)
    second = gh.call("GET", f"/repos/{gh.full_name}", user="carol-" + gh.name)
    for response in (first, second, gh.repo_call("GET", "/pulls/999")):
        for header in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "X-RateLimit-Used",
                       "X-RateLimit-Resource", "X-GitHub-Media-Type", "X-GitHub-Request-Id"):
            assert header in response.headers
    assert int(second.headers["X-RateLimit-Remaining"]) == int(first.headers["X-RateLimit-Remaining"]) - 1


def test_reviews_follow_githubs_rules(gh: Scenario) -> None:
    pr = gh.pr_with_branch("feature")
    own = gh.repo_call("POST", "/pulls/1/reviews", json={"event": "APPROVE"})
    assert own.status_code == 422
    assert own.json()["errors"] == ["Can not approve your own pull request"]
    assert gh.repo_call("POST", "/pulls/1/reviews", json={"event": "REQUEST_CHANGES", "body": "x"}).status_code == 422
    approved = gh.repo_call("POST", "/pulls/1/reviews", user="bob", json={"event": "APPROVE"})
    assert approved.status_code == 200
    assert (approved.json()["state"], approved.json()["commit_id"]) == ("APPROVED", pr["head"]["sha"])
    moved = gh.control("POST", "/pulls/1/push", json={"message": "more"}).json()["sha"]
    changes = gh.repo_call("POST", "/pulls/1/reviews", user="carol", json={"event": "REQUEST_CHANGES", "body": "no"})
    assert changes.json()["commit_id"] == moved
    comment = gh.repo_call("POST", "/pulls/1/reviews", json={"event": "COMMENT", "body": "own comment is fine"})
    assert comment.status_code == 200
    page = gh.repo_call("GET", "/pulls/1/reviews", params={"per_page": 2})
    assert [r["state"] for r in page.json()] == ["APPROVED", "CHANGES_REQUESTED"]
    assert 'rel="next"' in page.headers["Link"]
    rest = requests.get(page.links["next"]["url"], headers=auth("alice"), timeout=10)
    assert [r["state"] for r in rest.json()] == ["COMMENTED"]


def test_combined_status_is_latest_per_context_with_githubs_precedence(gh: Scenario) -> None:
    sha = gh.push("feature", {"f.txt": "f"})
    empty = gh.repo_call("GET", f"/commits/{sha}/status").json()
    assert (empty["state"], empty["total_count"], empty["statuses"]) == ("pending", 0, [])

    def post(state: str, context: str) -> requests.Response:
        return gh.repo_call("POST", f"/statuses/{sha}", user="jenkins", json={"state": state, "context": context,
                                                                                "target_url": "http://ci/1"})

    created = post("success", "jdci/smoke")
    assert created.status_code == 201
    assert created.headers["Location"].endswith(f"/statuses/{sha}")
    assert gh.repo_call("GET", f"/commits/{sha}/status").json()["state"] == "success"
    post("pending", "jdci/visual")
    assert gh.repo_call("GET", f"/commits/{sha}/status").json()["state"] == "pending"
    post("error", "jdci/unit")
    assert gh.repo_call("GET", "/commits/feature/status").json()["state"] == "failure"  # a branch name is a ref
    post("success", "jdci/unit")
    post("success", "jdci/visual")
    combined = gh.repo_call("GET", f"/commits/{sha}/status").json()
    assert combined["state"] == "success"
    assert sorted(s["context"] for s in combined["statuses"]) == ["jdci/smoke", "jdci/unit", "jdci/visual"]
    # a late report dated before the newest one does not replace it
    gh.control("POST", f"/statuses/{sha}", json={"state": "failure", "context": "jdci/unit",
                                                 "created_at": "2000-01-01T00:00:00Z"})
    assert gh.repo_call("GET", f"/commits/{sha}/status").json()["state"] == "success"
    listed = gh.repo_call("GET", f"/commits/{sha}/statuses").json()
    assert len(listed) == 6 and listed[0]["context"] == "jdci/visual" and listed[-1]["state"] == "failure"
    assert post("green", "x").status_code == 422
    assert gh.repo_call("POST", f"/statuses/{'0' * 40}", json={"state": "success"}).status_code == 422


def test_check_runs_latest_per_name(gh: Scenario) -> None:
    sha = gh.push("feature", {"f.txt": "f"})
    queued = gh.repo_call("POST", "/check-runs", user="ci-app", json={"name": "lint", "head_sha": sha})
    assert queued.status_code == 201 and queued.json()["status"] == "queued"
    gh.repo_call("PATCH", f"/check-runs/{queued.json()['id']}", json={"conclusion": "success"})
    gh.control("POST", "/check-runs", json={"name": "build", "head_sha": sha, "status": "completed",
                                            "conclusion": "failure", "created_at": "2001-01-01T00:00:00Z"})
    gh.repo_call("POST", "/check-runs", json={"name": "build", "head_sha": sha, "conclusion": "success"})
    runs = gh.repo_call("GET", f"/commits/{sha}/check-runs").json()
    assert runs["total_count"] == 2
    assert {r["name"]: (r["status"], r["conclusion"]) for r in runs["check_runs"]} == {
        "lint": ("completed", "success"), "build": ("completed", "success")}
    assert gh.repo_call("GET", f"/commits/{sha}/check-runs", params={"filter": "all"}).json()["total_count"] == 3


def test_comments_create_list_edit(gh: Scenario) -> None:
    gh.pr_with_branch("feature")
    created = gh.repo_call("POST", "/issues/1/comments", user="jdci-bot", json={"body": "<!-- m --> one"})
    assert created.status_code == 201
    assert created.headers["Location"] == created.json()["url"]
    for n in range(3):
        gh.repo_call("POST", "/issues/1/comments", user="bob", json={"body": f"bob {n}"})
    comment_id = created.json()["id"]
    edited = gh.repo_call("PATCH", f"/issues/comments/{comment_id}", user="jdci-bot", json={"body": "<!-- m --> two"})
    assert edited.status_code == 200 and edited.json()["body"] == "<!-- m --> two"
    assert gh.repo_call("GET", f"/issues/comments/{comment_id}").json()["body"] == "<!-- m --> two"
    first = gh.repo_call("GET", "/issues/1/comments", params={"per_page": 3})
    assert len(first.json()) == 3 and first.links["last"]["url"].endswith("page=2")
    assert requests.get(first.links["next"]["url"], headers=auth("x"), timeout=10).json()[0]["body"] == "bob 2"
    assert gh.repo_call("GET", "/issues/comments/999999").status_code == 404


def test_reactions_are_per_user_and_content(gh: Scenario) -> None:
    gh.pr_with_branch("feature")
    first = gh.repo_call("POST", "/issues/1/reactions", user="bob", json={"content": "+1"})
    again = gh.repo_call("POST", "/issues/1/reactions", user="bob", json={"content": "+1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    gh.repo_call("POST", "/issues/1/reactions", user="carol", json={"content": "+1"})
    gh.repo_call("POST", "/issues/1/reactions", user="carol", json={"content": "heart"})
    assert gh.repo_call("POST", "/issues/1/reactions", json={"content": "thumbsup"}).status_code == 422
    listed = gh.repo_call("GET", "/issues/1/reactions").json()
    assert [(r["user"]["login"], r["content"]) for r in listed] == [("bob", "+1"), ("carol", "+1"), ("carol", "heart")]
    only = gh.repo_call("GET", "/issues/1/reactions", params={"content": "heart"}).json()
    assert len(only) == 1


def test_labels_add_list_remove(gh: Scenario) -> None:
    gh.pr_with_branch("feature")
    added = gh.repo_call("POST", "/issues/1/labels", json={"labels": ["do-not-merge", "ui"]})
    assert added.status_code == 200 and [l["name"] for l in added.json()] == ["do-not-merge", "ui"]
    assert [l["name"] for l in gh.repo_call("GET", "/pulls/1").json()["labels"]] == ["do-not-merge", "ui"]
    removed = gh.repo_call("DELETE", "/issues/1/labels/do-not-merge")
    assert removed.status_code == 200 and [l["name"] for l in removed.json()] == ["ui"]
    assert gh.repo_call("DELETE", "/issues/1/labels/do-not-merge").status_code == 404
    assert [l["name"] for l in gh.repo_call("GET", "/issues/1/labels").json()] == ["ui"]


def test_merge_is_a_real_merge_and_checks_the_head_sha(gh: Scenario) -> None:
    pr = gh.pr_with_branch("feature")
    head = pr["head"]["sha"]
    main_before = gh.bare_git("rev-parse", "main")
    stale = gh.repo_call("PUT", "/pulls/1/merge", user="bob", json={"sha": main_before})
    assert stale.status_code == 409
    assert stale.json() == {"message": "Head branch was modified. Review and try the merge again."}
    merged = gh.repo_call("PUT", "/pulls/1/merge", user="bob", json={"sha": head, "commit_title": "Merge it",
                                                                        "commit_message": "SHOP-1"})
    assert merged.status_code == 200
    body = merged.json()
    assert (body["merged"], body["message"]) == (True, "Pull Request successfully merged")
    assert gh.bare_git("rev-parse", "main") == body["sha"]
    assert gh.bare_git("log", "-1", "--format=%P", "main").split() == [main_before, head]
    assert gh.bare_git("log", "-1", "--format=%B", "main") == "Merge it\n\nSHOP-1"
    after = gh.repo_call("GET", "/pulls/1").json()
    assert (after["state"], after["merged"], after["merge_commit_sha"]) == ("closed", True, body["sha"])
    assert after["merged_by"]["login"] == "bob"
    assert gh.repo_call("GET", "/pulls/1/merge").status_code == 204
    again = gh.repo_call("PUT", "/pulls/1/merge", user="bob", json={"sha": head})
    assert again.status_code == 405


def test_conflicting_pull_request_is_dirty_and_cannot_merge(gh: Scenario) -> None:
    gh.pr_with_branch("feature", {"README.md": "feature version\n"})
    gh.control("POST", "/commits", json={"branch": "main", "files": {"README.md": "main version\n"}})
    pr = gh.repo_call("GET", "/pulls/1").json()
    assert (pr["mergeable"], pr["mergeable_state"]) == (False, "dirty")
    refused = gh.repo_call("PUT", "/pulls/1/merge", user="bob", json={"sha": pr["head"]["sha"]})
    assert refused.status_code == 405
    assert refused.json() == {"message": "Pull Request is not mergeable"}
    assert gh.repo_call("PUT", "/pulls/1/update-branch").status_code == 422


def test_squash_and_rebase_methods(gh: Scenario) -> None:
    gh.pr_with_branch("one", {"one.txt": "1\n"})
    gh.control("POST", "/pulls/1/push", json={"message": "second commit"})
    main_before = gh.bare_git("rev-parse", "main")
    squashed = gh.repo_call("PUT", "/pulls/1/merge", user="bob", json={"merge_method": "squash"}).json()["sha"]
    assert gh.bare_git("log", "-1", "--format=%P", squashed) == main_before
    assert gh.bare_git("log", "-1", "--format=%s", squashed) == "SHOP-1 change (#1)"
    assert gh.bare_git("rev-parse", f"{squashed}^{{tree}}") == gh.bare_git("rev-parse", "one^{tree}")
    gh.push("two", {"two.txt": "2\n"}, start=main_before, message="two a")
    gh.open_pr("two")
    gh.control("POST", "/pulls/2/push", json={"message": "two b"})
    rebased = gh.repo_call("PUT", "/pulls/2/merge", user="bob", json={"merge_method": "rebase"})
    assert rebased.status_code == 200
    subjects = gh.bare_git("log", "--format=%s", f"{squashed}..main").split("\n")
    assert subjects == ["two b", "two a"]
    assert gh.bare_git("rev-list", "--merges", "--count", f"{squashed}..main") == "0"


def test_up_to_date_rule_and_update_branch(gh: Scenario) -> None:
    pr = gh.pr_with_branch("feature")
    gh.control("POST", "/commits", json={"branch": "main", "message": "someone else merged"})
    behind = gh.repo_call("GET", "/pulls/1").json()
    assert (behind["mergeable"], behind["mergeable_state"]) == (True, "behind")
    assert gh.control("PUT", "/branches/main/up-to-date", json={"required": True}).status_code == 200
    refused = gh.repo_call("PUT", "/pulls/1/merge", user="bob", json={"sha": pr["head"]["sha"]})
    assert refused.status_code == 405
    assert "up to date" in refused.json()["message"]
    wrong = gh.repo_call("PUT", "/pulls/1/update-branch", json={"expected_head_sha": "0" * 40})
    assert wrong.status_code == 422
    assert wrong.json()["message"].startswith("expected head sha")
    updated = gh.repo_call("PUT", "/pulls/1/update-branch", json={"expected_head_sha": pr["head"]["sha"]})
    assert updated.status_code == 202
    assert updated.json()["message"] == "Updating pull request branch."
    now = gh.repo_call("GET", "/pulls/1").json()
    assert now["mergeable_state"] == "clean"
    assert gh.bare_git("log", "-1", "--format=%P", "feature").split() == [pr["head"]["sha"],
                                                                           gh.bare_git("rev-parse", "main")]
    assert gh.repo_call("PUT", "/pulls/1/merge", user="bob", json={"sha": now["head"]["sha"]}).status_code == 200


def test_branch_delete_then_already_gone(gh: Scenario) -> None:
    gh.push("feature/x", {"x.txt": "x"})
    assert gh.repo_call("DELETE", "/git/refs/heads/feature/x").status_code == 204
    gone = gh.repo_call("DELETE", "/git/refs/heads/feature/x")
    assert gone.status_code == 422
    assert gone.json()["message"] == "Reference does not exist"
    assert gh.repo_call("DELETE", "/git/refs/heads/main").status_code == 422


def test_draft_pull_request_cannot_merge(gh: Scenario) -> None:
    pr = gh.pr_with_branch("feature", draft=True)
    assert (pr["draft"], pr["mergeable_state"]) == (True, "draft")
    refused = gh.repo_call("PUT", "/pulls/1/merge", user="bob", json={"sha": pr["head"]["sha"]})
    assert refused.status_code == 405


def test_fork_pull_request(gh: Scenario, tmp_path: Path) -> None:
    fork = gh.call("POST", f"/repos/{gh.full_name}/forks", user="bob")
    assert fork.status_code == 202
    assert (fork.json()["full_name"], fork.json()["fork"]) == (f"bob/{gh.name}", True)
    assert fork.json()["parent"]["full_name"] == gh.full_name
    git(gh.work, "remote", "add", "bob", gh.clone_url("bob", repo=f"bob/{gh.name}"))
    sha = gh.push("fix", {"fix.txt": "fix\n"}, remote="bob", start="origin/main")
    pr = gh.open_pr("bob:fix", user="bob")
    assert pr["head"]["repo"]["full_name"] == f"bob/{gh.name}"
    assert pr["base"]["repo"]["full_name"] == gh.full_name
    assert (pr["head"]["sha"], pr["head"]["label"], pr["mergeable"]) == (sha, "bob:fix", True)
    assert gh.repo_call("GET", "/pulls", params={"head": "bob:fix"}).json()[0]["number"] == pr["number"]
    merged = gh.repo_call("PUT", f"/pulls/{pr['number']}/merge", json={"sha": sha})
    assert merged.status_code == 200
    assert gh.bare_git("cat-file", "-p", "main:fix.txt") == "fix"


def test_mergeable_null_for_the_next_reads(gh: Scenario) -> None:
    gh.pr_with_branch("feature")
    gh.control("POST", "/pulls/1/mergeable-null", json={"reads": 2})
    reads = [gh.repo_call("GET", "/pulls/1").json() for _ in range(3)]
    assert [(r["mergeable"], r["mergeable_state"]) for r in reads] == [(None, "unknown"), (None, "unknown"),
                                                                      (True, "clean")]


def test_concurrent_merges_of_one_pull_request_merge_once(gh: Scenario) -> None:
    pr = gh.pr_with_branch("feature")
    main_before = gh.bare_git("rev-parse", "main")
    results: list[int] = []
    barrier = threading.Barrier(2)

    def merge() -> None:
        barrier.wait()
        results.append(gh.repo_call("PUT", "/pulls/1/merge", user="bob", json={"sha": pr["head"]["sha"]}).status_code)

    threads = [threading.Thread(target=merge) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [200, 405]
    assert gh.bare_git("rev-list", "--count", f"{main_before}..main") == "2"  # one merge commit + the feature


def test_pull_list_filters_and_pagination(gh: Scenario) -> None:
    for branch in ("a", "b", "c"):
        gh.pr_with_branch(branch)
    first = gh.repo_call("GET", "/pulls", params={"per_page": 2})
    assert [p["number"] for p in first.json()] == [3, 2]
    assert first.links["next"]["url"].endswith("page=2") and "per_page=2" in first.links["next"]["url"]
    assert "mergeable" not in first.json()[0]  # the list has GitHub's "simple" shape
    second = requests.get(first.links["next"]["url"], headers=auth("alice"), timeout=10)
    assert [p["number"] for p in second.json()] == [1]
    assert second.links["prev"]["url"].endswith("page=1")
    assert [p["number"] for p in gh.repo_call("GET", "/pulls", params={"head": f"{gh.owner}:b"}).json()] == [2]
    closed = gh.repo_call("PATCH", "/pulls/2", json={"state": "closed", "title": "renamed"})
    assert (closed.json()["state"], closed.json()["title"]) == ("closed", "renamed")
    assert [p["number"] for p in gh.repo_call("GET", "/pulls").json()] == [3, 1]
    assert [p["number"] for p in gh.repo_call("GET", "/pulls", params={"state": "closed"}).json()] == [2]
    assert len(gh.repo_call("GET", "/pulls", params={"state": "all", "base": "main"}).json()) == 3


def test_moving_the_head_changes_the_pr_and_makes_its_old_sha_stale(gh: Scenario) -> None:
    pr = gh.pr_with_branch("feature")
    moved = gh.control("POST", "/pulls/1/push", json={"message": "fixup", "files": {"fix.txt": "fix"}})
    assert moved.status_code == 201
    new = moved.json()["sha"]
    assert gh.bare_git("log", "-1", "--format=%P", new) == pr["head"]["sha"]
    assert gh.repo_call("GET", "/pulls/1").json()["head"]["sha"] == new
    assert gh.repo_call("PUT", "/pulls/1/merge", user="bob", json={"sha": pr["head"]["sha"]}).status_code == 409
    # a push with real git moves it too
    sha = gh.push("feature", {"more.txt": "more"}, start="origin/feature")
    assert gh.repo_call("GET", "/pulls/1").json()["head"]["sha"] == sha


def test_creating_pull_requests_is_validated(gh: Scenario) -> None:
    gh.pr_with_branch("feature")
    again = gh.repo_call("POST", "/pulls", json={"title": "t", "head": "feature", "base": "main"})
    assert again.status_code == 422
    assert "already exists" in again.json()["errors"][0]["message"]
    assert gh.repo_call("POST", "/pulls", json={"title": "t", "head": "nope", "base": "main"}).status_code == 422
    assert gh.repo_call("POST", "/pulls", json={"head": "feature", "base": "main"}).status_code == 422
    assert gh.repo_call("POST", "/pulls", data=b"{not json").status_code == 400


def test_reset_forgets_repositories(tmp_path: Path) -> None:
    from jenkins_docker_ci.sandbox.github import GitHubService
    from jenkins_docker_ci.sandbox.server import SandboxServer

    server = SandboxServer(GitHubService(tmp_path / "gh"), 0).start()
    try:
        scenario = Scenario(server, tmp_path, "gone")
        assert requests.post(f"{server.url}/_sandbox/reset", timeout=10).status_code == 204
        assert scenario.call("GET", "/repos/alice/gone").status_code == 404
        assert not scenario.bare.exists()
    finally:
        server.stop()
