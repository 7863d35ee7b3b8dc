"""Images and preprod environments against the real Docker engine and registry."""
from __future__ import annotations

import dataclasses

import pytest
import requests

from jenkins_docker_ci import config as config_module
from jenkins_docker_ci import environments, images
from jenkins_docker_ci.config import Secrets
from jenkins_docker_ci.context import Change
from jenkins_docker_ci.errors import BuildError, ConfigError, PreprodError, ServiceError

from .conftest import make_tiny_app

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _remove_test_images(unique, docker_client):
    """Each test's images (repository jdci-tests/tiny-<unique>) go when it ends: the engine is shared."""
    from .registry_support import remove_local

    yield
    remove_local(docker_client, f"127.0.0.1:5000/jdci-tests/tiny-{unique}")


def tiny_config(tmp_path, unique, **preprod):
    base = config_module.from_dict({
        "image": {"registry": "127.0.0.1:5000", "repository": f"jdci-tests/tiny-{unique}"},
        "preprod": {"port": 8000, "health_path": "/healthz", "health_timeout": 20, **preprod},
        "report": {"directory": str(tmp_path / "reports")},
    }, root=str(tmp_path))
    return base


def change_for(tmp_path, sha, unique, pr=7):
    return Change(repository=f"acme/tiny-{unique}", pr_number=pr, source_branch="feature/SHOP-7-x",
                  head_sha=sha, workspace=str(tmp_path), pr_url=f"http://h/acme/tiny-{unique}/pull/{pr}")


def test_build_push_records_registry_digest_and_second_push_is_skipped(tmp_path, unique, docker_client):
    sha = make_tiny_app(tmp_path)
    config = tiny_config(tmp_path, unique)
    change = change_for(tmp_path, sha, unique)
    pushed = images.build_and_push(config, Secrets(), change, commit_time="2026-01-01T00:00:00+00:00",
                                   tickets=["SHOP-7"], client=docker_client)
    assert pushed.ref == f"127.0.0.1:5000/jdci-tests/tiny-{unique}:{sha}"
    assert pushed.pushed_tags == (sha, sha[:7], "pr-7", "feature-shop-7-x")
    for tag in pushed.tags:
        assert images.registry_digest("127.0.0.1:5000", f"jdci-tests/tiny-{unique}", tag) == pushed.digest
    labels = docker_client.images.get(pushed.ref).labels
    assert labels["org.opencontainers.image.revision"] == sha
    assert labels["io.jdci.tickets"] == "SHOP-7"

    again = images.build_and_push(config, Secrets(), change, commit_time="2026-01-01T00:00:00+00:00",
                                  tickets=["SHOP-7"], client=docker_client)
    assert again.digest == pushed.digest
    assert again.pushed_tags == ()


def test_missing_dockerfile_is_a_config_error(tmp_path, unique, docker_client):
    sha = make_tiny_app(tmp_path)
    (tmp_path / "Dockerfile").unlink()
    with pytest.raises(ConfigError, match="no Dockerfile at .*Dockerfile; add one") as info:
        images.build_and_push(tiny_config(tmp_path, unique), Secrets(), change_for(tmp_path, sha, unique),
                              commit_time="x", tickets=[], client=docker_client)
    assert info.value.exit_code == 2


def test_build_failure_names_the_image_and_the_error(tmp_path, unique, docker_client):
    sha = make_tiny_app(tmp_path, dockerfile="FROM jdci-base/busybox:latest\nRUN echo about to fail && false\n")
    with pytest.raises(BuildError, match="docker build of .* failed: .*returned a non-zero code") as info:
        images.build_and_push(tiny_config(tmp_path, unique), Secrets(), change_for(tmp_path, sha, unique),
                              commit_time="x", tickets=[], client=docker_client)
    assert info.value.exit_code == 1
    assert "returned a non-zero code" in str(info.value)


def test_registry_down_is_a_service_error(tmp_path, unique, docker_client):
    sha = make_tiny_app(tmp_path)
    config = tiny_config(tmp_path, unique)
    # nothing listens there: retried until push_timeout (kept short here), then exit 4
    config = dataclasses.replace(config, image=dataclasses.replace(config.image, registry="127.0.0.1:5999",
                                                                   push_timeout=3))
    with pytest.raises(ServiceError, match="registry 127.0.0.1:5999 not reachable") as info:
        images.build_and_push(config, Secrets(), change_for(tmp_path, sha, unique), commit_time="x",
                              tickets=[], client=docker_client)
    assert info.value.exit_code == 4


@pytest.fixture
def tiny_image(tmp_path, unique, docker_client):
    sha = make_tiny_app(tmp_path)
    config = tiny_config(tmp_path, unique)
    change = change_for(tmp_path, sha, unique)
    image = images.plan(config, change, commit_time="2026-01-01T00:00:00+00:00", tickets=[])
    images.build(docker_client, image)
    return config, change, image.ref()


def test_environment_up_is_reused_then_removed(tiny_image, docker_client, no_leaks):
    config, change, ref = tiny_image
    env = environments.up(config, repository=change.repository, pr_number=7, head_sha=change.head_sha,
                          image_ref=ref, client=docker_client)
    try:
        assert env.status == "up" and env.url.startswith("http://127.0.0.1:")
        assert requests.get(env.url + "/", timeout=5).text == "hello shop"
        container = docker_client.containers.get(f"{env.name}-app")
        assert container.labels["io.jdci.managed"] == "true" and container.labels["io.jdci.pr"] == "7"
        ports = container.attrs["NetworkSettings"]["Ports"]["8000/tcp"]
        assert {p["HostIp"] for p in ports} == {"127.0.0.1"}
        again = environments.up(config, repository=change.repository, pr_number=7, head_sha=change.head_sha,
                                image_ref=ref, client=docker_client)
        assert again.reused and again.url == env.url
        assert [e.name for e in environments.ls(docker_client)].count(env.name) == 1
    finally:
        assert environments.down(env.name, client=docker_client) >= 2


def test_health_timeout_fails_saves_logs_and_leaves_nothing(tiny_image, docker_client, no_leaks, tmp_path):
    config, change, ref = tiny_image
    config = dataclasses.replace(config, preprod=dataclasses.replace(
        config.preprod, health_path="/not-there", health_timeout=2))
    with pytest.raises(PreprodError, match="not healthy after 2 s .*/not-there.*logs saved to") as info:
        environments.up(config, repository=change.repository, pr_number=8, head_sha=change.head_sha,
                        image_ref=ref, client=docker_client, report_dir=tmp_path / "reports")
    assert info.value.exit_code == 1
    assert list((tmp_path / "reports").glob("*-app.log"))


def test_container_that_exits_fails_fast(tiny_image, docker_client, no_leaks, tmp_path):
    config, change, _ = tiny_image
    with pytest.raises(PreprodError, match="exited"):
        environments.up(config, repository=change.repository, pr_number=9, head_sha=change.head_sha,
                        image_ref="jdci-base/busybox:latest", client=docker_client, report_dir=tmp_path / "r")


def test_services_share_the_environment_network(tiny_image, docker_client, no_leaks, tmp_path):
    config, change, ref = tiny_image
    config = dataclasses.replace(config, preprod=dataclasses.replace(config.preprod, services=(
        config_module.ServiceSpec(name="cache", image="jdci-base/busybox:latest",
                                  command="httpd -f -p 6379 -h /etc"),)))
    env = environments.up(config, repository=change.repository, pr_number=10, head_sha=change.head_sha,
                          image_ref=ref, client=docker_client)
    try:
        app = docker_client.containers.get(f"{env.name}-app")
        code, output = app.exec_run(["wget", "-q", "-O", "-", "http://cache:6379/hosts"])
        assert code == 0, output
    finally:
        environments.down(env.name, client=docker_client)


def test_two_runs_at_once_share_one_environment(tiny_image, docker_client, no_leaks):
    from concurrent.futures import ThreadPoolExecutor

    config, change, ref = tiny_image

    def up():
        return environments.up(config, repository=change.repository, pr_number=11, head_sha=change.head_sha,
                               image_ref=ref, client=docker_client)

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(lambda _: up(), range(2))
    try:
        assert first.url == second.url and first.name == second.name
        assert sorted([first.reused, second.reused]) == [False, True]
        assert len(docker_client.api.containers(filters={"label": f"io.jdci.env={first.name}"})) == 1
        # the run that reused it may not remove it on its way out; the one that created it may
        owner = first if not first.reused else second
        assert environments.down(first.name, client=docker_client, run_id="someone-else") == 0
        assert environments.down(owner.name, client=docker_client, run_id=owner.run_id) == 2
    finally:
        environments.down(first.name, client=docker_client)


def test_gc_only_touches_the_configured_repository(tiny_image, docker_client, no_leaks):
    config, change, ref = tiny_image
    ours = environments.up(config, repository=change.repository, pr_number=12, head_sha=change.head_sha,
                           image_ref=ref, client=docker_client)
    theirs = environments.up(config, repository=change.repository + "-other", pr_number=12,
                             head_sha=change.head_sha, image_ref=ref, client=docker_client)
    try:
        removed = environments.gc(config, repository=change.repository, now=2e10, client=docker_client)
        assert removed == [ours.name]
        assert [e.name for e in environments.ls(docker_client) if e.name == theirs.name] == [theirs.name]
    finally:
        environments.down(ours.name, client=docker_client)
        environments.down(theirs.name, client=docker_client)


def test_same_sources_in_another_checkout_give_the_same_digest(tmp_path, unique, docker_client):
    """Nothing build-specific goes into the image: a second checkout of the same commit (another Jenkins
    workspace, another build URL) pushes nothing new."""
    import shutil
    import subprocess

    first = tmp_path / "one"
    first.mkdir()
    sha = make_tiny_app(first)
    second = tmp_path / "two"
    subprocess.run(["git", "clone", "-q", str(first), str(second)], check=True)
    config = tiny_config(tmp_path, unique)
    one = images.build_and_push(config, Secrets(), change_for(first, sha, unique), tickets=["SHOP-7"],
                                commit_time="2026-01-01T00:00:00+00:00", client=docker_client)
    other = dataclasses.replace(change_for(second, sha, unique), build_url="http://127.0.0.1:8483/job/x/2/")
    two = images.build_and_push(config, Secrets(), other, tickets=["SHOP-7"],
                                commit_time="2026-01-01T00:00:00+00:00", client=docker_client)
    assert two.digest == one.digest and two.pushed_tags == ()
    shutil.rmtree(second)
