"""The sample app's whole stack on the real engine: the app, Redis and PostgreSQL built here from Debian's
packages, a migration, two PRs side by side."""
from __future__ import annotations

import dataclasses
import json
import uuid
from pathlib import Path

import pytest
import requests

from jenkins_docker_ci import config as config_module
from jenkins_docker_ci import environments

pytestmark = pytest.mark.integration

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-app"


@pytest.fixture(scope="module")
def shop_image(docker_client) -> str:
    tag = f"jdci-tests/shop-{uuid.uuid4().hex[:8]}:stack"
    for chunk in docker_client.api.build(path=str(SAMPLE), tag=tag, rm=True, forcerm=True, decode=True):
        assert "error" not in chunk, chunk
    yield tag
    docker_client.api.remove_image(tag, force=True)


def test_the_sample_stack_is_healthy_with_services_talking_by_name_and_a_second_pr_beside_it(
        shop_image, docker_client, unique, no_leaks, tmp_path):
    config = config_module.load(cwd=str(SAMPLE))
    config = dataclasses.replace(config, report=dataclasses.replace(config.report, directory=str(tmp_path)))
    repository = f"jdci-tests/shop-{unique}"
    password = f"pw-{unique}"
    started = []
    try:
        for pr, sha in ((1, "a" * 40), (2, "b" * 40)):
            started.append(environments.up(config, repository=repository, pr_number=pr, head_sha=sha,
                                           image_ref=shop_image, client=docker_client,
                                           environ={"PGPASSWORD": password}))
        first, second = started
        for env in started:
            assert env.status == "up" and env.services == ("app", "postgres", "redis", "worker")
            health = requests.get(env.urls["app"] + "/healthz", timeout=10)
            # the app reached "redis" and "postgres" by name, logged in with the secret, the migration ran, and
            # the worker (the PR's image, another command) beats through Redis
            assert health.status_code == 200 and health.json() == {
                "status": "ok", "version": "dev", "redis": "ok", "worker": "ok", "postgres": "ok",
                "migrations": "1"}
            worker = docker_client.api.inspect_container(f"{env.name}-worker")
            assert worker["Config"]["Image"] == shop_image
            assert "Sample Shop" in requests.get(env.url + "/", timeout=10).text
        # no collision: names, networks, published ports and volumes are each PR's own
        assert first.name != second.name and first.network != second.network
        assert not set(first.urls.values()) & set(second.urls.values())
        volumes = {v["Name"] for v in docker_client.api.volumes(
            filters={"label": f"io.jdci.repository={repository}"})["Volumes"]}
        assert volumes == {f"{first.name}-pgdata", f"{second.name}-pgdata"}
        for env in started:
            app = docker_client.api.inspect_container(f"{env.name}-app")
            ports = app["NetworkSettings"]["Ports"]["8000/tcp"]
            assert {p["HostIp"] for p in ports} == {"127.0.0.1"}
            for found in (app["Config"]["Labels"], docker_client.api.inspect_network(env.network)["Labels"]):
                assert password not in json.dumps(found)
                assert found["io.jdci.repository"] == repository and found["io.jdci.expires"].isdigit()

        assert environments.down(first.name, client=docker_client) == 6  # 4 containers, network, volume
        assert requests.get(second.urls["app"] + "/healthz", timeout=10).json()["postgres"] == "ok"
    finally:
        for env in started:
            environments.down(env.name, client=docker_client)


def test_unchanged_service_dockerfiles_are_not_rebuilt(docker_client, unique, capsys):
    """Service images are tagged by the hash of their sources: a second PR (or repository) finds them."""
    config = config_module.load(cwd=str(SAMPLE))
    built = [spec for spec in config.preprod.services if spec.dockerfile]
    refs = [environments._service_image(config, docker_client, f"jdci-tests/any-{unique}", spec, SAMPLE)
            for spec in built]
    capsys.readouterr()
    again = [environments._service_image(config, docker_client, f"jdci-tests/other-{unique}", spec, SAMPLE)
             for spec in built]
    assert again == refs and "[build]" not in capsys.readouterr().err  # found by tag: no docker build at all
    assert [ref.split(":")[0] for ref in refs] == ["jdci-svc/redis", "jdci-svc/postgres"]
