"""Who may do what on the GitHub sandbox: collaborators, organisation members, `author_association` on pull
requests, reviews and comments; dismissing reviews; GitHub's "get a branch"."""
from __future__ import annotations

from pathlib import Path

import pytest
import requests

from tests.integration.github_scenario import Scenario

pytestmark = pytest.mark.integration


@pytest.fixture
def gh(sandbox: dict, tmp_path: Path, unique: str) -> Scenario:
    return Scenario(sandbox["github"], tmp_path, f"access-{unique}", collaborators=())


def test_collaborators_are_added_by_an_admin_as_github_answers(gh: Scenario) -> None:
    assert gh.repo_call("GET", "/collaborators/bob").status_code == 404
    assert gh.repo_call("GET", "/collaborators/alice").status_code == 204  # the owner has access

    invited = gh.repo_call("PUT", "/collaborators/bob", json={"permission": "push"})
    assert invited.status_code == 201
    body = invited.json()
    assert (body["invitee"]["login"], body["inviter"]["login"], body["permissions"]) == ("bob", "alice", "write")
    assert body["repository"]["full_name"] == gh.full_name
    assert gh.repo_call("GET", "/collaborators/bob").status_code == 204
    assert gh.repo_call("GET", "/collaborators/BOB").status_code == 204  # logins are case-insensitive

    again = gh.repo_call("PUT", "/collaborators/bob", json={"permission": "admin"})
    assert (again.status_code, again.content) == (204, b"")
    # bob is admin now, so bob may add people; mallory, with no access, may not
    assert gh.repo_call("PUT", "/collaborators/carol", user="bob").status_code == 201
    refused = gh.repo_call("PUT", "/collaborators/mallory", user="mallory")
    assert refused.status_code == 403 and refused.json()["message"] == "Must have admin rights to Repository."
    assert gh.repo_call("GET", "/collaborators/mallory").status_code == 404

    assert gh.repo_call("PUT", "/collaborators/alice").status_code == 422  # the owner
    assert gh.repo_call("PUT", "/collaborators/dave", json={"permission": "write"}).status_code == 422
    assert gh.repo_call("DELETE", "/collaborators/carol").status_code == 204
    assert gh.repo_call("GET", "/collaborators/carol").status_code == 404


def test_author_association_follows_access(gh: Scenario) -> None:
    pr = gh.pr_with_branch("feature")
    assert pr["author_association"] == "OWNER"
    gh.collaborator("bob")
    # dave has a commit on the default branch: a contributor, without write access
    gh.control("POST", "/commits", json={"message": "docs", "author": "dave"})
    for user, event in (("bob", "APPROVE"), ("mallory", "APPROVE"), ("dave", "COMMENT")):
        gh.review(1, event, user=user)
    reviews = gh.repo_call("GET", "/pulls/1/reviews").json()
    assert [(r["user"]["login"], r["author_association"]) for r in reviews] == [
        ("bob", "COLLABORATOR"), ("mallory", "NONE"), ("dave", "CONTRIBUTOR")]
    for user in ("alice", "bob", "mallory"):
        assert gh.repo_call("POST", "/issues/1/comments", user=user, json={"body": "hi"}).status_code == 201
    comments = gh.repo_call("GET", "/issues/1/comments").json()
    assert [c["author_association"] for c in comments] == ["OWNER", "COLLABORATOR", "NONE"]
    # the repository says what the viewer may do
    assert gh.repo_call("GET", "", user="bob").json()["permissions"] == {"admin": False, "push": True,
                                                                       "pull": True}
    assert gh.repo_call("GET", "", user="mallory").json()["permissions"]["push"] is False
    assert gh.repo_call("GET", "").json()["permissions"]["admin"] is True


def test_organisation_members_are_members_of_every_repository(sandbox: dict, tmp_path: Path, unique: str) -> None:
    org = f"org-{unique}"
    gh = Scenario(sandbox["github"], tmp_path, "app", owner=org, org=True, collaborators=())
    gh.push("feature", {"f.txt": "f\n"})
    assert gh.open_pr("feature", user="erin")["author_association"] == "NONE"
    added = requests.put(f"{gh.base}/_sandbox/orgs/{org}/members/erin", timeout=10)
    assert added.status_code == 200 and added.json()["members"] == ["erin"]
    assert gh.pull(1)["author_association"] == "MEMBER"
    assert gh.repo_call("GET", "/collaborators/erin").status_code == 204
    gh.review(1, user="frank")
    assert gh.repo_call("GET", "/pulls/1/reviews").json()[0]["author_association"] == "NONE"
    assert requests.delete(f"{gh.base}/_sandbox/orgs/{org}/members/erin", timeout=10).status_code == 204
    assert gh.pull(1)["author_association"] == "NONE"


def test_dismissing_a_review(gh: Scenario) -> None:
    gh.pr_with_branch("feature")
    gh.collaborator("bob")
    approval = gh.review(1, user="bob")
    comment = gh.review(1, "COMMENT", user="carol")
    path = f"/pulls/1/reviews/{approval['id']}/dismissals"

    assert gh.repo_call("PUT", path, user="mallory", json={"message": "no"}).status_code == 403
    missing = gh.repo_call("PUT", path, json={})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "message"
    assert gh.repo_call("PUT", "/pulls/1/reviews/999999/dismissals", json={"message": "x"}).status_code == 404

    dismissed = gh.dismiss(1, approval["id"], message="pushed a rewrite")
    assert (dismissed["id"], dismissed["state"], dismissed["user"]["login"]) == (approval["id"], "DISMISSED", "bob")
    assert [r["state"] for r in gh.repo_call("GET", "/pulls/1/reviews").json()] == ["DISMISSED", "COMMENTED"]

    again = gh.repo_call("PUT", path, json={"message": "again"})
    assert again.status_code == 422 and again.json()["errors"] == ["Can not dismiss a dismissed pull request review"]
    commented = gh.repo_call("PUT", f"/pulls/1/reviews/{comment['id']}/dismissals", json={"message": "x"})
    assert commented.status_code == 422
    assert commented.json()["errors"] == ["Can not dismiss a commented pull request review"]


def test_get_a_branch(gh: Scenario) -> None:
    sha = gh.push("feature/deep/name", {"f.txt": "f\n"}, message="SHOP-1 feature")
    response = gh.repo_call("GET", "/branches/feature/deep/name")
    assert response.status_code == 200
    branch = response.json()
    assert (branch["name"], branch["commit"]["sha"], branch["protected"]) == ("feature/deep/name", sha, False)
    assert branch["commit"]["commit"]["message"] == "SHOP-1 feature"
    assert branch["commit"]["parents"][0]["sha"] == gh.branch_head("main")
    assert branch["_links"]["self"].endswith("/branches/feature/deep/name")

    assert gh.control("PUT", "/branches/main/up-to-date", json={"required": True}).status_code == 200
    main = gh.repo_call("GET", "/branches/main").json()
    assert main["protected"] is True and main["protection"]["required_status_checks"]["strict"] is True

    missing = gh.repo_call("GET", "/branches/nope")
    assert missing.status_code == 404 and missing.json()["message"] == "Branch not found"
    assert gh.repo_call("DELETE", "/git/refs/heads/feature/deep/name").status_code == 204
    assert gh.repo_call("GET", "/branches/feature/deep/name").status_code == 404
