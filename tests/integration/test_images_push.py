"""Pushing to real registries: a flapping one (fault-injecting proxy), one that stays down, one with htpasswd
auth. Each test runs its own registry process on a free loopback port (docker trusts 127.0.0.1 as insecure)."""
from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

import pytest

from jenkins_docker_ci import config as config_module
from jenkins_docker_ci import images
from jenkins_docker_ci.config import Secrets
from jenkins_docker_ci.context import Change
from jenkins_docker_ci.registry import Registry

from .registry_support import FaultProxy, Faults, RegistryProcess, remove_local, run_jdci
from .test_images_build import make_app

pytestmark = pytest.mark.integration
USER = "ci-bot"


@pytest.fixture(scope="module")
def plain_registry(tmp_path_factory):
    registry = RegistryProcess(tmp_path_factory.mktemp("plain-registry"))
    yield registry
    registry.stop()


@pytest.fixture(scope="module")
def password():
    return f"pw-{os.urandom(6).hex()}-Secret"


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory, password):
    registry = RegistryProcess(tmp_path_factory.mktemp("auth-registry"), user=USER, password=password)
    yield registry
    registry.stop()


@pytest.fixture
def proxy(plain_registry):
    proxies = []

    def start(faults: Faults) -> FaultProxy:
        proxies.append(FaultProxy(plain_registry.host, faults))
        return proxies[-1]

    yield start
    for p in proxies:
        p.stop()


def push_cli(tmp_path, unique, registry, *, timeout=60, env=None):
    make_app(tmp_path, unique, registry=registry, target="")
    text = (tmp_path / "jdci.toml").read_text().replace("push_timeout = 60", f"push_timeout = {timeout}")
    (tmp_path / "jdci.toml").write_text(text)
    return run_jdci("image", "build", "--push", "--json", "--workspace", str(tmp_path), "--pr", "3",
                    "--branch", "feature/x", cwd=tmp_path, env=env)


@pytest.mark.parametrize("mode, path, jdci_retries", [
    ("503", "blobs/uploads", False),  # the engine retries a layer upload by itself
    ("503", "^PUT .*/manifests/", True),  # it does not retry the manifest: jdci does
    ("drop", "^PUT .*/manifests/", True),
])
def test_a_flapping_registry_is_retried_until_pushed(tmp_path, unique, docker_client, plain_registry, proxy,
                                                     mode, path, jdci_retries):
    faults = Faults(fail_first=2, mode=mode, agent="docker/", path=path)
    front = proxy(faults)
    try:
        done = push_cli(tmp_path, unique, front.host)
        assert done.code == 0, done.stderr
        digest = done.json["image"]["digest"]
        assert [status for _, _, status in faults.log].count(503 if mode == "503" else 0) == 2
        assert ("retrying" in done.stderr) == jdci_retries, done.stderr
        # what the registry itself (not the proxy) holds
        direct = Registry(plain_registry.host)
        for tag in done.json["image"]["tags"]:
            assert direct.digest(f"jdci-tests/img-{unique}", tag) == digest
    finally:
        remove_local(docker_client, f"{front.host}/jdci-tests/img-{unique}")


def test_a_registry_that_stays_down_is_a_clear_error_within_the_deadline(tmp_path, unique, docker_client, proxy):
    front = proxy(Faults(always=True))
    try:
        done = push_cli(tmp_path, unique, front.host, timeout=3)
        assert done.code == 4, done.stderr
        error = done.json["error"]
        assert error["kind"] == "service"
        assert f"registry {front.host} not reachable" in error["message"]
        assert "[build]" not in done.stderr  # known before the build started
        assert "HTTP 503" in error["message"] and "retried for 3 s" in error["message"]
    finally:
        remove_local(docker_client, f"{front.host}/jdci-tests/img-{unique}")


def test_an_engine_push_that_keeps_failing_gives_up_at_push_timeout(tmp_path, unique, docker_client, proxy):
    faults = Faults(always=True, agent="docker/")  # the registry answers jdci, never the engine's push
    front = proxy(faults)
    try:
        done = push_cli(tmp_path, unique, front.host, timeout=3)
        assert done.code == 4, done.stderr
        message = done.json["error"]["message"]
        assert f"push of {front.host}/jdci-tests/img-{unique}:" in message
        assert "push_timeout = 3 s" in message
        assert len([s for _, _, s in faults.log if s == 503]) >= 2  # it did retry
    finally:
        remove_local(docker_client, f"{front.host}/jdci-tests/img-{unique}")


def test_a_digest_already_in_the_registry_sends_no_layers(tmp_path, unique, docker_client, proxy):
    faults = Faults()
    front = proxy(faults)
    sha = make_app(tmp_path, unique, registry=front.host, target="")
    config = config_module.load(tmp_path / "jdci.toml")
    change = Change(repository="acme/x", head_sha=sha, source_branch="main", workspace=str(tmp_path))
    plan = images.plan(config, change, commit_time="2026-01-01T00:00:00+00:00", tickets=[])
    try:
        images.build(docker_client, plan)
        first = images.push(docker_client, plan, Secrets(), timeout=30)
        assert any("/blobs/uploads/" in path for _, path, _ in faults.log)  # the first push sent layers
        faults.log.clear()
        more = dataclasses.replace(plan, tags=plan.tags + ("release-candidate",))
        docker_client.api.tag(plan.ref(), plan.name, "release-candidate")
        second = images.push(docker_client, more, Secrets(), timeout=30)
        assert second.digest == first.digest and second.pushed_tags == ("release-candidate",)
        assert not [entry for entry in faults.log if "/blobs/uploads/" in entry[1]], faults.log
        assert ("PUT", f"/v2/jdci-tests/img-{unique}/manifests/release-candidate", 201) in faults.log
    finally:
        remove_local(docker_client, plan.name)


def _docker_config_state() -> tuple[bool, bytes]:
    path = Path.home() / ".docker" / "config.json"
    return path.exists(), path.read_bytes() if path.exists() else b""


def _temp_docker_configs() -> set[str]:
    root = Path(tempfile.gettempdir())
    return {str(p) for p in root.glob("*/config.json")} | {str(p) for p in root.glob("*/.docker/config.json")}


def test_login_from_the_environment_leaves_no_docker_config_and_never_prints_the_password(
        tmp_path, unique, docker_client, auth_registry, password):
    before, temp_before = _docker_config_state(), _temp_docker_configs()
    env = {"REGISTRY_USER": USER, "REGISTRY_PASSWORD": password}
    try:
        done = push_cli(tmp_path, unique, auth_registry.host, env=env)
        assert done.code == 0, done.stderr
        digest = done.json["image"]["digest"]
        secrets = Secrets(registry_user=USER, registry_password=password)
        assert Registry(auth_registry.host, secrets).digest(f"jdci-tests/img-{unique}", "pr-3") == digest
        assert password not in done.stdout + done.stderr

        # promote with the same credentials, registry-side
        promoted = run_jdci("image", "promote", f"{auth_registry.host}/jdci-tests/img-{unique}:pr-3", "release-1",
                            "--json", cwd=tmp_path, env=env)
        assert promoted.code == 0, promoted.stderr
        assert promoted.json["promoted"]["digest"] == digest
        assert password not in promoted.stdout + promoted.stderr
    finally:
        remove_local(docker_client, f"{auth_registry.host}/jdci-tests/img-{unique}")
    assert _docker_config_state() == before
    assert _temp_docker_configs() - temp_before == set()


@pytest.mark.parametrize("env", [{"REGISTRY_USER": USER, "REGISTRY_PASSWORD": "wrong-Pa55word-xyz"}, {}],
                         ids=["wrong-password", "no-credentials"])
def test_refused_credentials_are_a_clear_config_error(tmp_path, unique, docker_client, auth_registry, env):
    before, temp_before = _docker_config_state(), _temp_docker_configs()
    try:
        done = push_cli(tmp_path, unique, auth_registry.host, env=env)
        assert done.code == 2, done.stderr
        error = done.json["error"]
        assert error["kind"] == "config"
        assert error["message"].startswith(f"registry {auth_registry.host} ")
        assert "set REGISTRY_USER and REGISTRY_PASSWORD" in error["message"]
        assert ("refused the REGISTRY_USER credentials" if env else "REGISTRY_USER is not set") in error["message"]
        assert "[build]" not in done.stderr  # known before the build started
        if env:
            assert env["REGISTRY_PASSWORD"] not in done.stdout + done.stderr
        reports = tmp_path / "jdci-reports"
        for log_file in reports.glob("*.log") if reports.exists() else []:
            assert "wrong-Pa55word-xyz" not in log_file.read_text()
    finally:
        remove_local(docker_client, f"{auth_registry.host}/jdci-tests/img-{unique}")
    assert _docker_config_state() == before
    assert _temp_docker_configs() - temp_before == set()


def test_the_preflight_check_knows_bad_credentials_before_any_build(auth_registry, password):
    from jenkins_docker_ci.errors import ConfigError

    images.check_registry(auth_registry.host, Secrets(registry_user=USER, registry_password=password))
    with pytest.raises(ConfigError, match="refused the REGISTRY_USER credentials") as info:
        images.check_registry(auth_registry.host, Secrets(registry_user=USER, registry_password="nope-nope"))
    assert "nope-nope" not in str(info.value) and info.value.exit_code == 2
    with pytest.raises(ConfigError, match="needs credentials and REGISTRY_USER is not set"):
        images.check_registry(auth_registry.host, Secrets())
    images.check_registry("127.0.0.1:5000", Secrets())  # no auth there: nothing to check


def test_credentials_the_engine_push_is_refused_with_are_exit_2_at_once(tmp_path, unique, docker_client,
                                                                          auth_registry, password):
    faults = Faults(always=True, mode="strip-auth", agent="docker/")  # jdci's checks pass; the engine's push not
    front = FaultProxy(auth_registry.host, faults)
    env = {"REGISTRY_USER": USER, "REGISTRY_PASSWORD": password}
    try:
        done = push_cli(tmp_path, unique, front.host, env=env)
        assert done.code == 2, done.stderr
        message = done.json["error"]["message"]
        assert f"registry {front.host} refused the push of {front.host}/jdci-tests/img-{unique}:" in message
        assert "with the REGISTRY_USER credentials" in message
        assert "retrying" not in done.stderr  # a refusal is not retried
        assert password not in done.stdout + done.stderr
    finally:
        front.stop()
        remove_local(docker_client, f"{front.host}/jdci-tests/img-{unique}")
