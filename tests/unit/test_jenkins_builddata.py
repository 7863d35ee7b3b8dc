"""Reading what a Jenkins build built, and naming PR jobs: pure helpers of jenkins.py."""
from __future__ import annotations

from typing import Any

import pytest

from jenkins_docker_ci.jenkins import OwnBuild, built_sha, job_url_path, pr_job_name

HEAD, MERGE, LIB = "a" * 40, "b" * 40, "c" * 40


def build_data(branch: str, marked: str, built: str) -> dict[str, Any]:
    def revision(sha: str) -> dict[str, Any]:
        return {"SHA1": sha, "branch": [{"SHA1": sha, "name": branch}]}

    return {"_class": "hudson.plugins.git.util.BuildData",
            "buildsByBranchName": {branch: {"_class": "hudson.plugins.git.util.Build", "buildNumber": 3,
                                            "marked": revision(marked), "revision": revision(built)}},
            "lastBuiltRevision": revision(built), "remoteUrls": [], "scmName": ""}


@pytest.mark.parametrize("actions, expected", [
    ([build_data("PR-7", HEAD, MERGE)], HEAD),  # GitHub merge strategy: the marked PR head, not the merge
    ([build_data("PR-7", HEAD, HEAD)], HEAD),
    ([build_data("refs/remotes/origin/main", LIB, LIB), build_data("PR-7", HEAD, MERGE)], HEAD),  # shared library
    ([{"_class": "hudson.plugins.git.util.BuildData", "lastBuiltRevision": {"SHA1": HEAD}}], HEAD),
    ([{}, {"_class": "hudson.model.CauseAction"}], ""),
    ([], ""),
])
def test_built_sha(actions: list[dict[str, Any]], expected: str) -> None:
    assert built_sha({"actions": actions}, branch="PR-7") == expected


def test_job_names_and_paths() -> None:
    assert pr_job_name("shop", 7) == "shop/PR-7"
    assert pr_job_name("/team/shop/", 7) == "team/shop/PR-7"
    assert job_url_path("team/shop/PR-7") == "job/team/job/shop/job/PR-7/"
    assert job_url_path("shop/feature x") == "job/shop/job/feature%20x/"


@pytest.mark.parametrize("env, expected", [
    ({"JOB_NAME": "shop/PR-7", "BUILD_NUMBER": "12"}, OwnBuild("shop/PR-7", 12)),
    ({"JOB_NAME": "shop/PR-7"}, None),
    ({"BUILD_NUMBER": "12"}, None),
    ({"JOB_NAME": "shop/PR-7", "BUILD_NUMBER": "x"}, None),
])
def test_own_build_from_env(env: dict[str, str], expected: OwnBuild | None) -> None:
    assert OwnBuild.from_env(env) == expected


def test_near_first_puts_close_names_first_ignoring_case() -> None:
    from jenkins_docker_ci.jenkins import near_first

    assert near_first("sohp", ["billing", "Shop", "zeta"]) == ["Shop", "billing", "zeta"]
    assert near_first("shop-api", ["x", "shop", "shop-ap"]) == ["shop-ap", "shop", "x"]  # closest first
    assert near_first("x", ["a", "b"]) == ["a", "b"]
    assert near_first("shop", []) == []
