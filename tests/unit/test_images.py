import pytest

from jenkins_docker_ci import images


@pytest.mark.parametrize("branch, tag", [
    ("feature/SHOP-7-checkout", "feature-SHOP-7-checkout"),
    ("main", "main"),
    ("-leading/dash", "leading-dash"),
    (".hidden", "hidden"),
    ("a//b@@c", "a-b-c"),
    ("ümlaut/ß", "mlaut"),
    ("///", ""),
    ("x" * 200, "x" * 128),
])
def test_sanitize_tag(branch, tag):
    assert images.sanitize_tag(branch) == tag


def test_tags_sha_first_then_pr_then_branch():
    assert images.image_tags("abc123", 7, "feature/x") == ("abc123", "pr-7", "feature-x")
    assert images.image_tags("abc123", None, "") == ("abc123",)


def test_labels_have_oci_and_jdci_and_nothing_build_specific():
    labels = images.image_labels(revision="a" * 40, created="2026-01-02T03:04:05+00:00",
                                 source="http://h/acme/shop", title="shop", repository="acme/shop",
                                 pr_number=7, tickets=["SHOP-7", "SHOP-8"])
    assert labels["org.opencontainers.image.revision"] == "a" * 40
    assert labels["org.opencontainers.image.created"] == "2026-01-02T03:04:05+00:00"
    assert labels["io.jdci.managed"] == "true"
    assert labels["io.jdci.pr"] == "7"
    assert labels["io.jdci.tickets"] == "SHOP-7,SHOP-8"
    assert not any("build" in key or "url" in key for key in labels)


@pytest.mark.parametrize("registry, url", [
    ("127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("localhost:5000", "http://localhost:5000"),
    ("registry.example.com", "https://registry.example.com"),
])
def test_registry_url(registry, url):
    assert images.registry_url(registry) == url
