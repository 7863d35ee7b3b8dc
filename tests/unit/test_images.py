import pytest

from jenkins_docker_ci import config as config_module
from jenkins_docker_ci import images, registry
from jenkins_docker_ci.context import Change
from jenkins_docker_ci.errors import ConfigError


@pytest.mark.parametrize("branch, tag", [
    ("feature/SHOP-7-checkout", "feature-shop-7-checkout"),
    ("main", "main"),
    ("-leading/dash", "leading-dash"),
    (".hidden", "hidden"),
    ("a//b@@c", "a-b-c"),
    ("ümlaut/ß", "mlaut"),
    ("///", ""),
    ("release/1.4_rc", "release-1.4_rc"),
])
def test_sanitize_tag(branch, tag):
    assert images.sanitize_tag(branch) == tag


def test_long_branches_are_cut_to_128_with_a_hash_that_keeps_them_apart():
    one, two = images.sanitize_tag("x" * 200 + "/one"), images.sanitize_tag("x" * 200 + "/two")
    assert len(one) == len(two) == 128
    assert one != two
    assert one.startswith("x" * 119 + "-")
    assert images.sanitize_tag("x" * 200 + "/one") == one  # deterministic
    assert images.sanitize_tag("x" * 128) == "x" * 128  # fits: no hash


@pytest.mark.parametrize("branch", ["feature/Ünïcode-" + "a" * 300, "..--" * 50, "A" * 129, "ok"])
def test_sanitized_tags_are_valid_docker_tags(branch):
    tag = images.sanitize_tag(branch)
    assert registry.TAG.match(tag) or tag == ""
    assert tag == tag.lower() and len(tag) <= 128 and not tag.startswith((".", "-"))


def test_tags_sha_first_then_short_sha_pr_branch_latest():
    sha = "abc1234def" + "0" * 30
    assert images.image_tags(sha, 7, "feature/x") == (sha, "abc1234", "pr-7", "feature-x")
    assert images.image_tags(sha, None, "main", latest=True) == (sha, "abc1234", "main", "latest")
    assert images.image_tags("abc", None, "") == ("abc",)


def test_labels_have_oci_and_jdci_and_nothing_build_specific():
    labels = images.image_labels(revision="a" * 40, created="2026-01-02T03:04:05+00:00",
                                 source="http://h/acme/shop", title="shop", repository="acme/shop",
                                 pr_number=7, tickets=["SHOP-7", "SHOP-8"], url="http://h/acme/shop",
                                 branch="feature/x")
    assert labels["org.opencontainers.image.revision"] == "a" * 40
    assert labels["org.opencontainers.image.created"] == "2026-01-02T03:04:05+00:00"
    assert labels["org.opencontainers.image.url"] == "http://h/acme/shop"
    assert labels["org.opencontainers.image.version"] == "a" * 12
    assert labels["io.jdci.managed"] == "true"
    assert labels["io.jdci.pr"] == "7"
    assert labels["io.jdci.branch"] == "feature/x"
    assert labels["io.jdci.tickets"] == "SHOP-7,SHOP-8"
    assert not any("build" in key for key in labels)


def _config(**image):
    return config_module.from_dict({"image": {"repository": "team/app", **image}})


def test_plan_keeps_the_registry_port_in_every_ref_and_tags_latest_only_on_the_default_branch():
    change = Change(repository="acme/app", head_sha="f" * 40, source_branch="main", workspace="/w")
    plan = images.plan(_config(latest_on_default_branch=True), change, commit_time="t", tickets=[])
    assert [plan.ref(t) for t in plan.tags] == [f"127.0.0.1:5000/team/app:{t}"
                                                for t in ("f" * 40, "f" * 7, "main", "latest")]
    pr = images.plan(_config(latest_on_default_branch=True),
                     Change(head_sha="f" * 40, source_branch="main", pr_number=3), commit_time="t", tickets=[])
    assert "latest" not in pr.tags
    assert pr.cache_tags == ("main", "pr-3")
    assert images.plan(_config(cache_from=False), change, commit_time="t", tickets=[]).cache_tags == ()


@pytest.mark.parametrize("image, message", [
    ({"push_timeout": 0}, "push_timeout"),
    ({"prune_keep": 0}, "prune_keep = 0"),
    ({"prune_older_than": "a week"}, "not an age"),
    ({"target": "bad stage"}, "not a stage name"),
    ({"registry": "http://127.0.0.1:5000"}, "not HOST or HOST:PORT"),
    ({"cache_from": "yes"}, "true or false"),
])
def test_image_config_is_validated(image, message):
    with pytest.raises(ConfigError, match=message):
        _config(**image)


def test_image_config_defaults():
    image = config_module.from_dict({}).image
    assert (image.target, image.push_timeout, image.latest_on_default_branch, image.cache_from,
            image.prune_keep, image.prune_older_than) == ("", 120.0, False, True, 5, "7d")


@pytest.mark.parametrize("text, seconds", [("0", 0), ("30s", 30), ("90m", 5400), ("12h", 43200), ("7d", 604800),
                                           ("2w", 1209600), ("1.5h", 5400)])
def test_parse_age(text, seconds):
    assert images.parse_age(text) == seconds


@pytest.mark.parametrize("message, kind", [
    ("unauthorized: authentication required", "credentials"),
    ("denied: requested access to the resource is denied", "credentials"),
    ("no basic auth credentials", "credentials"),
    ("manifest invalid: manifest invalid", "permanent"),
    ("received unexpected HTTP status: 503 Service Unavailable", "transient"),
    ("Get \"http://127.0.0.1:5999/v2/\": dial tcp 127.0.0.1:5999: connect: connection refused", "transient"),
    ("Patch http://127.0.0.1:1/v2/x/blobs/uploads/u: EOF", "transient"),
    ("something nobody has seen", "permanent"),
])
def test_push_errors_are_sorted_into_retry_or_not(message, kind):
    assert images.push_error_kind(message) == kind


@pytest.mark.parametrize("registry, url", [
    ("127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("localhost:5000", "http://localhost:5000"),
    ("registry.example.com", "https://registry.example.com"),
])
def test_registry_url(registry, url):
    assert images.registry_url(registry) == url
