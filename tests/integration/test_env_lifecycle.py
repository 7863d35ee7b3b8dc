"""Preprod environments on the real engine, with the tiny busybox app: replace / keep / refuse, failures that
fail fast and leave nothing, secrets, ports, URLs. The full sample stack is in test_env_stack.py."""
from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest
import requests

from jenkins_docker_ci import config as config_module
from jenkins_docker_ci import environments, images
from jenkins_docker_ci.context import Change
from jenkins_docker_ci.errors import ConfigError, PreprodError

from .conftest import commit_page, make_tiny_app

pytestmark = pytest.mark.integration

BUSYBOX = "jdci-base/busybox:latest"


def tiny_config(root: Path, unique: str, **preprod) -> config_module.Config:
    return config_module.from_dict({
        "image": {"registry": "", "repository": f"jdci-tests/envs-{unique}"},
        "preprod": {"port": 8000, "health_path": "/healthz", "health_timeout": 30, **preprod},
        "report": {"directory": str(root / "reports")},
    }, root=str(root))


def build_tiny(client, root: Path, unique: str, sha: str) -> str:
    config = tiny_config(root, unique)
    change = Change(repository=f"jdci-tests/envs-{unique}", pr_number=1, head_sha=sha, workspace=str(root))
    plan = images.plan(config, change, commit_time="2026-01-01T00:00:00+00:00", tickets=[])
    images.build(client, plan)
    return plan.ref()


@pytest.fixture
def tiny(tmp_path, unique, docker_client):
    """(root, repository, first sha, its image)."""
    sha = make_tiny_app(tmp_path)
    return tmp_path, f"jdci-tests/envs-{unique}", sha, build_tiny(docker_client, tmp_path, unique, sha)


def objects(client, name: str) -> set[str]:
    flt = {"label": f"io.jdci.env={name}"}
    return ({c["Names"][0].lstrip("/") for c in client.api.containers(all=True, filters=flt)}
            | {n["Name"] for n in client.api.networks(filters=flt)}
            | {v["Name"] for v in (client.api.volumes(filters=flt) or {}).get("Volumes") or []})


def app_id(client, env) -> str:
    return client.api.inspect_container(f"{env.name}-app")["Id"]


def test_same_sha_keeps_newer_replaces_older_is_refused(tiny, unique, docker_client, no_leaks):
    root, repository, first, first_image = tiny
    config = tiny_config(root, unique)

    def up(sha, image, **kwargs):
        return environments.up(config, repository=repository, pr_number=3, head_sha=sha, image_ref=image,
                               client=docker_client, workspace=str(root), **kwargs)

    env = up(first, first_image)
    try:
        created = app_id(docker_client, env)
        again = up(first, first_image)
        assert again.reused and app_id(docker_client, again) == created and again.url == env.url

        second = commit_page(root, "second page")
        second_image = build_tiny(docker_client, root, unique, second)
        newer = up(second, second_image)
        assert not newer.reused and newer.sha == second and app_id(docker_client, newer) != created
        assert requests.get(newer.urls["app"] + "/", timeout=5).text == "second page"

        # the slow build of the first push finishes last: git in the workspace knows `first` is older
        with pytest.raises(environments.OlderCommit, match=f"{first[:12]} is older than the running "
                                                           f"{second[:12]}") as info:
            up(first, first_image)
        assert info.value.exit_code == 1
        assert app_id(docker_client, newer) == app_id(docker_client, up(second, second_image))
        assert requests.get(newer.urls["app"] + "/", timeout=5).text == "second page"
    finally:
        environments.down(env.name, client=docker_client)


def test_older_by_the_pr_head_when_the_checkout_never_saw_the_newer_commit(tiny, unique, docker_client, no_leaks,
                                                                          tmp_path_factory):
    """The race for real: build 1 runs in a checkout made before the second push, so git there cannot tell;
    the SCM host's PR head can. Without either, an unknown commit replaces (it may be a force-push)."""
    root, repository, first, first_image = tiny
    stale_checkout = tmp_path_factory.mktemp("stale")
    subprocess.run(["git", "clone", "-q", str(root), str(stale_checkout)], check=True)
    second = commit_page(root, "second page")
    second_image = build_tiny(docker_client, root, unique, second)
    config = tiny_config(root, unique)

    def up(sha, image, **kwargs):
        return environments.up(config, repository=repository, pr_number=4, head_sha=sha, image_ref=image,
                               client=docker_client, workspace=str(stale_checkout), **kwargs)

    env = up(second, second_image)
    try:
        with pytest.raises(environments.OlderCommit, match="older than the running"):
            up(first, first_image, pr_head=lambda: second)
        assert environments.ls(docker_client, repository=repository)[0].sha == second
        replaced = up(first, first_image)  # cannot tell without the host: replaced
        assert replaced.sha == first and not replaced.reused
    finally:
        environments.down(env.name, client=docker_client)


def test_a_service_that_crashes_fails_at_once_with_its_logs_saved_and_nothing_left(tiny, unique, docker_client,
                                                                                 no_leaks, tmp_path):
    root, repository, sha, image = tiny
    config = tiny_config(root, unique, health_timeout=300, services=[
        {"name": "cache", "image": BUSYBOX, "command": "httpd -f -p 6379 -h /etc"},
        {"name": "db", "image": BUSYBOX, "command": "sh -c 'echo db cannot read its config >&2; exit 3'",
         "volumes": ["data:/data"]},
    ])
    reports = tmp_path / "crash-reports"
    with pytest.raises(PreprodError) as info:
        environments.up(config, repository=repository, pr_number=5, head_sha=sha, image_ref=image,
                        client=docker_client, report_dir=reports)
    message = str(info.value)
    # failed on the exit, not at the 300 s deadline, with the crashed container's own words
    assert "not healthy after" not in message and "-db of " in message and "exited (3)" in message
    assert "db cannot read its config" in message
    name = environments.env_name(repository, 5)
    # every container's log (the app's too when db died after looking alive: a check-less service is up when
    # it runs)
    assert {f"{name}-cache.log", f"{name}-db.log"} <= {p.name for p in reports.iterdir()}
    assert "db cannot read its config" in (reports / f"{name}-db.log").read_text()
    assert objects(docker_client, name) == set()


def test_a_failing_init_fails_the_step_with_its_output(tiny, unique, docker_client, no_leaks, tmp_path):
    root, repository, sha, image = tiny
    config = tiny_config(root, unique, init="sh -c 'echo relation orders already exists; exit 4'")
    with pytest.raises(PreprodError, match=r"init of app .* failed with exit 4; its last log lines:\n"
                                           r"relation orders already exists"):
        environments.up(config, repository=repository, pr_number=6, head_sha=sha, image_ref=image,
                        client=docker_client, report_dir=tmp_path / "r")
    assert objects(docker_client, environments.env_name(repository, 6)) == set()


def test_keep_on_failure_leaves_the_environment_for_inspection(tiny, unique, docker_client, no_leaks, tmp_path):
    root, repository, sha, image = tiny
    config = tiny_config(root, unique, health_path="/missing", health_timeout=1)
    name = environments.env_name(repository, 7)
    try:
        with pytest.raises(PreprodError, match="kept for inspection"):
            environments.up(config, repository=repository, pr_number=7, head_sha=sha, image_ref=image,
                            client=docker_client, report_dir=tmp_path / "r", keep_on_failure=True)
        assert f"{name}-app" in objects(docker_client, name)
    finally:
        environments.down(name, client=docker_client)


def test_a_missing_secret_is_a_config_error_and_creates_nothing(tiny, unique, docker_client, no_leaks):
    root, repository, sha, image = tiny
    config = tiny_config(root, unique, env={"DB_PASSWORD": "${JDCI_TEST_NOT_SET_SECRET}"})
    with pytest.raises(ConfigError, match=r"\[preprod\] env DB_PASSWORD .* needs \$JDCI_TEST_NOT_SET_SECRET") as info:
        environments.up(config, repository=repository, pr_number=8, head_sha=sha, image_ref=image,
                        client=docker_client, environ={})
    assert info.value.exit_code == 2
    assert objects(docker_client, environments.env_name(repository, 8)) == set()


def test_secret_reaches_the_container_but_no_label(tiny, unique, docker_client, no_leaks):
    root, repository, sha, image = tiny
    secret = f"pw-{unique}-secret"
    config = tiny_config(root, unique, env={"DB_PASSWORD": "${DB_SECRET}"}, services=[
        {"name": "db", "image": BUSYBOX, "command": "sleep 600", "env": {"PASSWORD": "${DB_SECRET}"},
         "volumes": ["data:/data"]}])
    env = environments.up(config, repository=repository, pr_number=9, head_sha=sha, image_ref=image,
                          client=docker_client, environ={"DB_SECRET": secret})
    try:
        app = docker_client.api.inspect_container(f"{env.name}-app")
        assert f"DB_PASSWORD={secret}" in app["Config"]["Env"]
        labels = [app["Config"]["Labels"], docker_client.api.inspect_container(f"{env.name}-db")["Config"]["Labels"],
                  docker_client.api.inspect_network(env.network)["Labels"],
                  docker_client.api.inspect_volume(f"{env.name}-data")["Labels"]]
        assert all(secret not in value for found in labels for value in found.values())
        assert all(found["io.jdci.managed"] == "true" and found["io.jdci.expires"].isdigit() for found in labels)
    finally:
        environments.down(env.name, client=docker_client)


def test_port_range_and_url_template(tiny, unique, docker_client, no_leaks):
    root, repository, sha, image = tiny
    config = tiny_config(root, unique, port_range="24000-24999", url_template="https://pr-{pr}.preview.example.com",
                         services=[{"name": "cache", "image": BUSYBOX, "command": "httpd -f -p 6379 -h /etc",
                                    "port": 6379, "health": "/hosts"}])
    env = environments.up(config, repository=repository, pr_number=10, head_sha=sha, image_ref=image,
                          client=docker_client)
    try:
        assert env.url == "https://pr-10.preview.example.com"  # what the PR and JIRA comments show
        assert set(env.urls) == {"app", "cache"} and env.services == ("app", "cache")
        for url in env.urls.values():
            assert url.startswith("http://127.0.0.1:") and 24000 <= int(url.rsplit(":", 1)[1]) <= 24999
        assert requests.get(env.urls["app"] + "/", timeout=5).text == "hello shop"
        listed = [e for e in environments.ls(docker_client, repository=repository)]
        assert [(e.name, e.url, e.sha) for e in listed] == [(env.name, env.url, sha)]
        assert environments.up(config, repository=repository, pr_number=10, head_sha=sha, image_ref=image,
                               client=docker_client).url == env.url  # the kept one says the same
    finally:
        environments.down(env.name, client=docker_client)


def test_test_containers_reach_services_by_name_on_the_network(tiny, unique, docker_client, no_leaks):
    """The checks' contract: a throwaway container attached to Environment.network reaches `app` and services."""
    root, repository, sha, image = tiny
    config = tiny_config(root, unique, services=[
        {"name": "cache", "image": BUSYBOX, "command": "httpd -f -p 6379 -h /etc", "health": "true"}])
    env = environments.up(config, repository=repository, pr_number=11, head_sha=sha, image_ref=image,
                          client=docker_client)
    try:
        output = docker_client.containers.run(
            BUSYBOX, ["sh", "-c", "wget -q -O - http://app:8000/ && wget -q -O - http://cache:6379/hosts >/dev/null"
                                  " && echo reached"], network=env.network, remove=True)
        assert output.decode() == "hello shopreached\n"
    finally:
        environments.down(env.name, client=docker_client)


def test_depends_on_starts_in_order_and_service_init_runs(tiny, unique, docker_client, no_leaks):
    root, repository, sha, image = tiny
    # `web` starts only once `db` is healthy: its command fails unless db's init has written the marker
    config = tiny_config(root, unique, services=[
        {"name": "web", "image": BUSYBOX, "depends_on": ["db"],
         "command": "sh -c 'wget -q -O - http://db:5432/ready | grep -q migrated && exec httpd -f -p 80 -h /'"},
        {"name": "db", "image": BUSYBOX, "volumes": ["data:/data"],
         "command": "sh -c 'mkdir -p /data && exec httpd -f -p 5432 -h /data'",
         "health": "test -d /data", "init": "sh -c 'echo migrated > /data/ready'"},
    ])
    env = environments.up(config, repository=repository, pr_number=12, head_sha=sha, image_ref=image,
                          client=docker_client)
    try:
        states = {c["Labels"]["io.jdci.role"]: c["State"]
                  for c in docker_client.api.containers(all=True, filters={"label": f"io.jdci.env={env.name}"})}
        assert states == {"app": "running", "web": "running", "db": "running"}  # the init container is gone
    finally:
        environments.down(env.name, client=docker_client)


def test_gc_leaves_a_starting_environment_alone_and_removes_real_orphans(tiny, unique, docker_client, no_leaks):
    root, repository, sha, image = tiny
    config = tiny_config(root, unique)
    labels = environments.env_labels(environments.env_name(repository, 13), repository, 13, sha, "network",
                                     created=1, ttl_hours=1)
    orphan = environments.env_name(repository, 13)
    docker_client.api.create_network(orphan, labels=labels)  # what an `up` killed with SIGKILL leaves
    docker_client.api.create_volume(f"{orphan}-data", labels={**labels, "io.jdci.role": "volume-db"})
    kept = environments.up(config, repository=repository, pr_number=14, head_sha=sha, image_ref=image,
                           client=docker_client)
    try:
        assert environments.gc(config, repository=repository, client=docker_client) == [orphan]
        assert objects(docker_client, orphan) == set()
        assert f"{kept.name}-app" in objects(docker_client, kept.name)
    finally:
        environments.down(kept.name, client=docker_client)
        environments.down(orphan, client=docker_client)


def test_env_summary_json_has_url_sha_age_health(tiny, unique, docker_client, no_leaks):
    root, repository, sha, image = tiny
    env = environments.up(dataclasses.replace(tiny_config(root, unique)), repository=repository, pr_number=15,
                          head_sha=sha, image_ref=image, client=docker_client)
    try:
        (summary,) = environments.ls(docker_client, repository=repository)
        data = summary.to_json()
        assert data["url"] == env.url and data["sha"] == sha and data["pr"] == "15"
        assert isinstance(data["age"], int) and data["age"] >= 0 and data["health"] == "running"
    finally:
        environments.down(env.name, client=docker_client)


def test_same_sha_with_a_dead_service_is_replaced(tiny, unique, docker_client, no_leaks):
    root, repository, sha, image = tiny
    config = tiny_config(root, unique, services=[{"name": "cache", "image": BUSYBOX, "command": "sleep 600"}])

    def up():
        return environments.up(config, repository=repository, pr_number=16, head_sha=sha, image_ref=image,
                               client=docker_client)

    env = up()
    try:
        before = app_id(docker_client, env)
        docker_client.api.kill(f"{env.name}-cache")
        again = up()
        assert not again.reused and app_id(docker_client, again) != before
        assert docker_client.api.inspect_container(f"{env.name}-cache")["State"]["Running"]
    finally:
        environments.down(env.name, client=docker_client)


def test_a_port_range_is_shared_without_collisions_and_a_full_one_says_so(tiny, unique, docker_client, no_leaks,
                                                                          tmp_path):
    root, repository, sha, image = tiny
    config = tiny_config(root, unique, port_range="24610-24611")
    made = []
    try:
        for pr in (17, 18):
            made.append(environments.up(config, repository=repository, pr_number=pr, head_sha=sha, image_ref=image,
                                        client=docker_client))
        assert sorted(env.urls["app"] for env in made) == ["http://127.0.0.1:24610", "http://127.0.0.1:24611"]
        with pytest.raises(PreprodError, match="every port of \\[preprod\\] port_range 24610-24611 is taken"):
            environments.up(config, repository=repository, pr_number=19, head_sha=sha, image_ref=image,
                            client=docker_client, report_dir=tmp_path / "r")
        assert objects(docker_client, environments.env_name(repository, 19)) == set()
    finally:
        for env in made:
            environments.down(env.name, client=docker_client)
