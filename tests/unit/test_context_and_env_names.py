import pytest

from jenkins_docker_ci.context import from_env
from jenkins_docker_ci.environments import EnvSummary, env_name, stale
from jenkins_docker_ci.errors import UsageError


def test_change_from_jenkins_env_uses_change_branch_not_branch_name():
    change = from_env({"CHANGE_ID": "42", "BRANCH_NAME": "PR-42", "CHANGE_BRANCH": "feature/SHOP-7-x",
                       "CHANGE_TARGET": "main", "CHANGE_TITLE": "SHOP-7: x", "BUILD_URL": "http://j/1/"})
    assert change.pr_number == 42
    assert change.source_branch == "feature/SHOP-7-x"
    assert change.target_branch == "main"


def test_flags_override_env_and_bad_number_is_usage_error():
    assert from_env({"CHANGE_ID": "42"}, pr_number=7).pr_number == 7
    assert from_env({"CHANGE_ID": "42"}, pr_number=None).pr_number == 42
    with pytest.raises(UsageError, match="not a number"):
        from_env({"CHANGE_ID": "PR-42"})


def test_env_name_is_stable_and_docker_safe():
    assert env_name("Acme/Shop.Web", 7).startswith("jdci-acme-shop-web-") and env_name("Acme/Shop.Web", 7).endswith("-pr-7")
    assert env_name("acme/x-y", 1) != env_name("acme-x/y", 1)
    assert env_name("a" * 80 + "/one", 1) != env_name("a" * 80 + "/two", 1)
    assert env_name("acme/shop", None, "abcdef1234567890").endswith("-sha-abcdef123456")


def test_stale_by_ttl():
    envs = [EnvSummary("old", "r", "1", "s", created=1000), EnvSummary("new", "r", "2", "s", created=9000)]
    assert [e.name for e in stale(envs, ttl_hours=1, now=10000)] == ["old"]


# -- the Jenkins context: one table of what each variable becomes ----------------------------------------------
from jenkins_docker_ci.context import JENKINS_VARS, Change, pr_head_of_checkout  # noqa: E402

MERGE = "m" * 40
HEAD = "h" * 40
PR_BUILD = {
    "BRANCH_NAME": "PR-42", "CHANGE_ID": "42", "CHANGE_URL": "https://github.com/acme/shop/pull/42",
    "CHANGE_TITLE": "SHOP-7: login", "CHANGE_AUTHOR": "alice", "CHANGE_AUTHOR_DISPLAY_NAME": "Alice A.",
    "CHANGE_AUTHOR_EMAIL": "alice@example.com", "CHANGE_TARGET": "main", "CHANGE_BRANCH": "feature/SHOP-7-login",
    "GIT_COMMIT": MERGE, "GIT_PREVIOUS_SUCCESSFUL_COMMIT": "p" * 40, "GIT_BRANCH": "PR-42",
    "GIT_URL": "https://github.com/acme/shop.git", "BUILD_NUMBER": "7", "BUILD_ID": "7",
    "BUILD_URL": "https://ci/job/shop/job/PR-42/7/", "BUILD_TAG": "jenkins-shop-PR-42-7", "JOB_NAME": "shop/PR-42",
    "JOB_BASE_NAME": "PR-42", "JOB_URL": "https://ci/job/shop/job/PR-42/", "JENKINS_URL": "https://ci/",
    "WORKSPACE": "/var/lib/jenkins/workspace/shop_PR-42", "NODE_NAME": "agent-3", "EXECUTOR_NUMBER": "1",
}


@pytest.mark.parametrize("env, flags, field, expected", [
    (PR_BUILD, {}, "pr_number", 42),
    (PR_BUILD, {}, "source_branch", "feature/SHOP-7-login"),  # CHANGE_BRANCH, not BRANCH_NAME
    (PR_BUILD, {}, "branch_name", "PR-42"),
    (PR_BUILD, {}, "target_branch", "main"),
    (PR_BUILD, {}, "title", "SHOP-7: login"),
    (PR_BUILD, {}, "pr_url", "https://github.com/acme/shop/pull/42"),
    (PR_BUILD, {}, "author", "alice"),
    (PR_BUILD, {}, "author_display_name", "Alice A."),
    (PR_BUILD, {}, "author_email", "alice@example.com"),
    (PR_BUILD, {}, "head_sha", ""),  # never GIT_COMMIT: a synthetic merge under the "merge" strategy
    (PR_BUILD, {}, "git_commit", MERGE),
    (PR_BUILD, {}, "git_previous_successful_commit", "p" * 40),
    (PR_BUILD, {}, "git_branch", "PR-42"),
    (PR_BUILD, {}, "git_url", "https://github.com/acme/shop.git"),
    (PR_BUILD, {}, "build_number", "7"),
    (PR_BUILD, {}, "build_id", "7"),
    (PR_BUILD, {}, "build_url", "https://ci/job/shop/job/PR-42/7/"),
    (PR_BUILD, {}, "build_tag", "jenkins-shop-PR-42-7"),
    (PR_BUILD, {}, "job_name", "shop/PR-42"),
    (PR_BUILD, {}, "job_base_name", "PR-42"),
    (PR_BUILD, {}, "job_url", "https://ci/job/shop/job/PR-42/"),
    (PR_BUILD, {}, "jenkins_url", "https://ci/"),
    (PR_BUILD, {}, "workspace", "/var/lib/jenkins/workspace/shop_PR-42"),
    (PR_BUILD, {}, "node_name", "agent-3"),
    (PR_BUILD, {}, "executor_number", "1"),
    (PR_BUILD, {}, "fork", False),
    ({**PR_BUILD, "CHANGE_FORK": "contributor"}, {}, "fork", True),
    ({**PR_BUILD, "CHANGE_FORK": "false"}, {}, "fork", False),
    ({"BRANCH_NAME": "main", "GIT_COMMIT": HEAD}, {}, "source_branch", ""),  # a branch build is no PR
    ({"BRANCH_NAME": "main"}, {}, "pr_number", None),
    ({"TAG_NAME": "v1.4", "BRANCH_NAME": "v1.4"}, {}, "tag_name", "v1.4"),
    # flags win over the environment
    (PR_BUILD, {"pr_number": 9}, "pr_number", 9),
    (PR_BUILD, {"source_branch": "hotfix/x"}, "source_branch", "hotfix/x"),
    (PR_BUILD, {"target_branch": "release"}, "target_branch", "release"),
    (PR_BUILD, {"title": "t"}, "title", "t"),
    (PR_BUILD, {"build_url": "http://other/"}, "build_url", "http://other/"),
    (PR_BUILD, {"workspace": "/tmp/ws"}, "workspace", "/tmp/ws"),
    (PR_BUILD, {"title": None, "source_branch": ""}, "source_branch", "feature/SHOP-7-login"),  # unset flags
    ({}, {}, "workspace", "."),
])
def test_context_table(env, flags, field, expected):
    assert getattr(from_env(env, **flags), field) == expected


def test_every_variable_of_environment_md_is_read():
    assert set(PR_BUILD) | {"TAG_NAME"} == set(JENKINS_VARS)
    change = from_env(PR_BUILD)
    assert change.in_jenkins and not Change().in_jenkins


@pytest.mark.parametrize("head, parents, host, expected", [
    (HEAD, ["b" * 40], "", HEAD),  # the "head" strategy: HEAD is the PR head
    (MERGE, ["b" * 40, HEAD], "", HEAD),  # the "merge" strategy: the second parent is the PR head
    (MERGE, ["b" * 40, HEAD], HEAD, HEAD),
    (HEAD, ["b" * 40], "x" * 40, ""),  # the PR moved on since this checkout
    (MERGE, ["b" * 40, HEAD], "x" * 40, ""),
])
def test_pr_head_of_a_detached_checkout(head, parents, host, expected):
    assert pr_head_of_checkout(head, parents, host) == expected
