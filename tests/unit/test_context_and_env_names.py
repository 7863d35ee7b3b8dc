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
