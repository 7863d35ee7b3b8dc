"""The GitHub sandbox answers in GitHub's shapes: key sets and value types compared with the examples from
GitHub's OpenAPI description (tests/fixtures/github/, copied from shared/fixtures/github/)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.github_scenario import Scenario

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "github"

# Keys the sandbox sends that an example lacks, because the examples come from different versions of the
# description (GitHub sends them today): path pattern -> keys.
ALLOWED_EXTRA: dict[str, set[str]] = {
    "base.repo": {"allow_forking"},  # the pull-request example has it in head.repo only
    "": set(),
}


def shape_problems(ours: Any, example: Any, path: str = "", *, optional: frozenset[str] = frozenset()) -> list[str]:
    """Differences in keys and types; None is accepted for any value (GitHub's fields are mostly nullable)."""
    if ours is None or example is None:
        return []
    if isinstance(example, dict):
        if not isinstance(ours, dict):
            return [f"{path or '<root>'}: expected an object, got {type(ours).__name__}"]
        problems = [f"{path}.{key}".lstrip(".") + ": missing" for key in example
                    if key not in ours and f"{path}.{key}".lstrip(".") not in optional]
        extra = set(ours) - set(example) - ALLOWED_EXTRA.get(path, set())
        problems += [f"{path}.{key}".lstrip(".") + ": not in the example" for key in sorted(extra)]
        for key in set(ours) & set(example):
            problems += shape_problems(ours[key], example[key], f"{path}.{key}".lstrip("."), optional=optional)
        return problems
    if isinstance(example, list):
        if not isinstance(ours, list):
            return [f"{path}: expected a list, got {type(ours).__name__}"]
        if ours and example:
            return shape_problems(ours[0], example[0], f"{path}[]", optional=optional)
        return []
    if type(ours) is not type(example) and not (isinstance(example, float) and isinstance(ours, int)):
        return [f"{path}: {type(ours).__name__} where the example has {type(example).__name__}"]
    return []


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def assert_shape(ours: Any, name: str, optional: frozenset[str] = frozenset()) -> None:
    problems = shape_problems(ours, fixture(name), optional=optional)
    assert not problems, f"{name}: " + "; ".join(problems)


def test_shape_checker_finds_differences() -> None:
    assert shape_problems({"a": 1, "b": {"c": "x"}}, {"a": 1, "b": {"c": "y", "d": 2}}) == ["b.d: missing"]
    assert shape_problems({"a": "1"}, {"a": 1}) == ["a: str where the example has int"]
    assert shape_problems({"a": 1, "z": 2}, {"a": 1}) == ["z: not in the example"]


@pytest.fixture(scope="module")
def world(sandbox: dict, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One scenario that produces every response the sandbox serves, recorded by fixture name."""
    import uuid

    tmp = tmp_path_factory.mktemp("shapes")
    gh = Scenario(sandbox["github"], tmp, f"shapes-{uuid.uuid4().hex[:8]}")
    seen: dict[str, Any] = {"repos.create-for-authenticated-user.201.json": gh.repo}
    org_fork = gh.call("POST", f"/repos/{gh.full_name}/forks", user="bob", json={"organization": f"o-{gh.name}"})
    seen["fork-into-org"] = org_fork.json()
    created = gh.pr_with_branch("feature")
    seen["pulls.create.201.json"] = created
    sha = created["head"]["sha"]
    seen["pulls.get.200.json"] = gh.repo_call("GET", "/pulls/1").json()
    seen["pulls.list.200.json"] = gh.repo_call("GET", "/pulls").json()
    seen["pulls.create-review.200.json"] = gh.repo_call("POST", "/pulls/1/reviews", user="bob",
                                                        json={"event": "APPROVE", "body": "ok"}).json()
    seen["pulls.list-reviews.200.json"] = gh.repo_call("GET", "/pulls/1/reviews").json()
    seen["reactions.create-for-issue.201.json"] = gh.repo_call("POST", "/issues/1/reactions", user="bob",
                                                               json={"content": "+1"}).json()
    seen["reactions.list-for-issue.200.json"] = gh.repo_call("GET", "/issues/1/reactions").json()
    comment = gh.repo_call("POST", "/issues/1/comments", json={"body": "hello"}).json()
    seen["issues.create-comment.201.json"] = comment
    seen["issues.update-comment.200.json"] = gh.repo_call("PATCH", f"/issues/comments/{comment['id']}",
                                                          json={"body": "edited"}).json()
    seen["issues.list-comments.200.json"] = gh.repo_call("GET", "/issues/1/comments").json()
    seen["repos.create-commit-status.201.json"] = gh.repo_call("POST", f"/statuses/{sha}", user="jenkins", json={
        "state": "success", "context": "jdci/smoke", "description": "ok", "target_url": "http://ci/1"}).json()
    seen["repos.get-combined-status-for-ref.200.json"] = gh.repo_call("GET", f"/commits/{sha}/status").json()
    gh.repo_call("POST", "/check-runs", user="ci-app", json={
        "name": "lint", "head_sha": sha, "conclusion": "neutral", "details_url": "http://ci/lint",
        "output": {"title": "Lint", "summary": "fine", "text": "all fine"}})
    seen["checks.list-for-ref.200.json"] = gh.repo_call("GET", f"/commits/{sha}/check-runs").json()
    seen["issues.add-labels.200.json"] = gh.repo_call("POST", "/issues/1/labels", json={"labels": ["a", "b"]}).json()
    seen["pulls.merge.409.json"] = gh.repo_call("PUT", "/pulls/1/merge", json={"sha": "0" * 40}).json()
    gh.push("other", {"o.txt": "o"})
    gh.open_pr("other", draft=True)
    seen["pulls.merge.405.json"] = gh.repo_call("PUT", "/pulls/2/merge", json={}).json()
    gh.control("POST", "/commits", json={"branch": "main", "message": "move main"})
    seen["pulls.update-branch.202.json"] = gh.repo_call("PUT", "/pulls/1/update-branch", json={}).json()
    seen["pulls.merge.200.json"] = gh.repo_call("PUT", "/pulls/1/merge", user="bob", json={}).json()
    seen["merged-pull"] = gh.repo_call("GET", "/pulls/1").json()
    seen["404"] = gh.repo_call("GET", "/pulls/999").json()
    seen["422"] = gh.repo_call("POST", "/pulls", json={"title": "t", "head": "nope", "base": "main"}).json()
    seen["422-simple"] = gh.repo_call("POST", "/pulls/2/reviews", json={"event": "APPROVE"}).json()
    return seen


SERVED = [
    "pulls.get.200.json", "pulls.create.201.json", "pulls.list.200.json", "pulls.merge.200.json",
    "pulls.merge.405.json", "pulls.merge.409.json", "pulls.update-branch.202.json", "pulls.list-reviews.200.json",
    "pulls.create-review.200.json", "reactions.list-for-issue.200.json", "reactions.create-for-issue.201.json",
    "issues.list-comments.200.json", "issues.create-comment.201.json", "issues.update-comment.200.json",
    "repos.create-commit-status.201.json", "repos.get-combined-status-for-ref.200.json",
    "checks.list-for-ref.200.json", "issues.add-labels.200.json",
]


@pytest.mark.parametrize("name", SERVED)
def test_response_has_the_examples_shape(world: dict[str, Any], name: str) -> None:
    assert_shape(world[name], name)


def test_merged_pull_request_keeps_the_shape(world: dict[str, Any]) -> None:
    assert_shape(world["merged-pull"], "pulls.get.200.json")
    assert world["merged-pull"]["merged_by"] is not None


def test_repository_shape_user_repo_and_org_fork(world: dict[str, Any]) -> None:
    # GitHub sends organization only for organisation-owned repositories and parent/source only for forks.
    assert_shape(world["repos.create-for-authenticated-user.201.json"], "repos.create-for-authenticated-user.201.json",
                 optional=frozenset({"organization", "parent", "source"}))
    fork = world["fork-into-org"]
    assert {"organization", "parent", "source"} <= set(fork)
    assert_shape(fork, "repos.create-for-authenticated-user.201.json")


def test_error_bodies_follow_githubs_schemas(world: dict[str, Any]) -> None:
    basic = set(fixture("components.schema.basic-error.json")["properties"])
    assert set(world["404"]) <= basic and world["404"]["message"] == "Not Found"
    validation = fixture("components.schema.validation-error.json")
    assert set(validation["required"]) <= set(world["422"]) <= set(validation["properties"])
    item_keys = set(validation["properties"]["errors"]["items"]["properties"])
    assert all("code" in e and set(e) <= item_keys for e in world["422"]["errors"])
    simple = fixture("components.schema.validation-error-simple.json")
    assert set(simple["required"]) <= set(world["422-simple"]) <= set(simple["properties"])
    assert all(isinstance(e, str) for e in world["422-simple"]["errors"])
