"""`jdci image promote` against the real registry on 127.0.0.1:5000: registry-side, no rebuild, no local image."""
from __future__ import annotations

import pytest

from jenkins_docker_ci import config as config_module
from jenkins_docker_ci import images
from jenkins_docker_ci.config import Secrets
from jenkins_docker_ci.context import Change
from jenkins_docker_ci.registry import Registry

from .conftest import make_tiny_app
from .registry_support import remove_local, run_jdci

pytestmark = pytest.mark.integration
REGISTRY = "127.0.0.1:5000"


@pytest.fixture
def pushed(tmp_path, unique, docker_client):
    """An image pushed as jdci-tests/promote-<unique>:pr-7, then removed from the engine."""
    sha = make_tiny_app(tmp_path, page=f"promote {unique}")
    repository = f"jdci-tests/promote-{unique}"
    config = config_module.from_dict({"image": {"registry": REGISTRY, "repository": repository}},
                                     root=str(tmp_path))
    change = Change(repository="acme/p", pr_number=7, source_branch="feature/p", head_sha=sha,
                    workspace=str(tmp_path))
    image = images.build_and_push(config, Secrets(), change, commit_time="2026-01-01T00:00:00+00:00",
                                  tickets=[], client=docker_client)
    remove_local(docker_client, f"{REGISTRY}/{repository}")
    registry = Registry(REGISTRY)
    yield repository, image.digest
    for repo in (repository, repository + "-prod"):  # only this test's repositories
        for digest in {registry.digest(repo, tag) for tag in registry.tags(repo)} - {None}:
            registry.delete_manifest(repo, digest)


def local_refs(docker_client, name):
    return [t for i in docker_client.api.images(filters={"reference": f"{name}:*"}) for t in i["RepoTags"] or []]


def test_promote_puts_one_digest_under_two_tags_without_a_local_image(pushed, tmp_path, docker_client):
    repository, digest = pushed
    done = run_jdci("image", "promote", f"{REGISTRY}/{repository}:pr-7", "release-1.4", "--json", cwd=tmp_path)
    assert done.code == 0, done.stderr
    assert done.json["promoted"] == {"source": f"{REGISTRY}/{repository}:pr-7",
                                     "ref": f"{REGISTRY}/{repository}:release-1.4", "digest": digest,
                                     "mounted_blobs": 0}
    registry = Registry(REGISTRY)
    assert registry.digest(repository, "release-1.4") == registry.digest(repository, "pr-7") == digest
    assert local_refs(docker_client, f"{REGISTRY}/{repository}") == []  # nothing was pulled or built


def test_promote_across_repositories_mounts_the_blobs_and_keeps_the_digest(pushed, tmp_path, docker_client):
    repository, digest = pushed
    dest = f"{REGISTRY}/{repository}-prod:production"
    done = run_jdci("image", "promote", f"{REGISTRY}/{repository}@{digest}", dest, "--json", cwd=tmp_path)
    assert done.code == 0, done.stderr
    assert done.json["promoted"]["ref"] == dest and done.json["promoted"]["digest"] == digest
    registry = Registry(REGISTRY)
    manifest = registry.manifest(f"{repository}-prod", "production")
    assert manifest is not None and manifest.digest == digest
    assert done.json["promoted"]["mounted_blobs"] == len(manifest.blobs()) >= 2  # config + layers
    assert all(registry.has_blob(f"{repository}-prod", blob) for blob in manifest.blobs())
    try:  # the promoted image is whole: the engine can pull it from the new repository
        docker_client.api.pull(f"{REGISTRY}/{repository}-prod", tag="production")
        assert docker_client.api.inspect_image(dest)["RepoDigests"] == [f"{REGISTRY}/{repository}-prod@{digest}"]
    finally:
        remove_local(docker_client, f"{REGISTRY}/{repository}-prod")
    again = run_jdci("image", "promote", f"{REGISTRY}/{repository}:pr-7", dest, "--json", cwd=tmp_path)
    assert again.code == 0 and again.json["promoted"]["mounted_blobs"] == 0  # idempotent


@pytest.mark.parametrize("source, dest, message", [
    ("{R}:no-such-tag", "release-1", "is not in registry 127.0.0.1:5000; push it first"),
    ("{R}", "release-1", "needs a tag or digest"),
    ("{R}:pr-7", "elsewhere.example.com/team/app:x", "promote works within one registry"),
    ("{R}:pr-7", "bad:tag!", "is not a tag"),
])
def test_promote_mistakes_are_usage_errors(pushed, tmp_path, source, dest, message):
    repository, _ = pushed
    done = run_jdci("image", "promote", source.format(R=f"{REGISTRY}/{repository}"), dest, "--json",
                    cwd=tmp_path)
    assert done.code == 2, done.stderr
    assert message in done.json["error"]["message"]
