"""Command checks in throwaway containers on the environment's network, and `jdci task run`."""
from __future__ import annotations

import json
import subprocess
import sys
import tarfile

import pytest

from jenkins_docker_ci import config as config_module
from jenkins_docker_ci.checks import command
from jenkins_docker_ci.checks.runner import Target, run_all
from jenkins_docker_ci.tasks import run_task

from .checks_apps import app, build, network, page, remove_images

pytestmark = pytest.mark.integration
BUSYBOX = "jdci-base/busybox:latest"


def leftovers(docker_client, unique: str) -> list[str]:
    """Containers and images of this test (by name), whatever their state."""
    names = [c["Names"][0] for c in docker_client.api.containers(all=True) if unique in c["Names"][0]]
    tags = [t for i in docker_client.api.images() for t in (i.get("RepoTags") or []) if unique in t]
    return names + tags


def task_leftovers(docker_client, before: set[str]) -> list[str]:
    flt = {"label": "io.jdci.task"}
    now = {c["Id"] for c in docker_client.api.containers(all=True, filters=flt)} | \
        {i["Id"] for i in docker_client.api.images(filters=flt)}
    return sorted(now - before)


def task_objects(docker_client) -> set[str]:
    flt = {"label": "io.jdci.task"}
    return {c["Id"] for c in docker_client.api.containers(all=True, filters=flt)} | \
        {i["Id"] for i in docker_client.api.images(filters=flt)}


def test_command_checks_reach_the_app_by_name_and_report_exit_codes(docker_client, unique, no_leaks):
    env = f"jdci-tests-cmd-{unique}"
    image = f"jdci-tests/cmd-{unique}:pr"
    build(docker_client, image, page(title="Hello from the app"))
    checks = config_module.from_dict({"checks": {"command": [  # the test's app is reachable by its name
        {"name": "smoke", "command": f"wget -q -O - http://{env}-app:8000/ | grep 'Hello from the app'",
         "memory": "64m"},
        {"name": "env", "command": "echo value=$GREETING; exit 3", "env": {"GREETING": "hi"}, "image": BUSYBOX},
        {"name": "lint", "command": "echo style; exit 1", "required": False}]}}).checks
    try:
        with network(docker_client, env), app(docker_client, image, env) as url:
            results = run_all(checks, Target(urls={"app": url}, network=env, env_name=env, image=image),
                              Path_tmp(), client=docker_client)
    finally:
        remove_images(docker_client, image)
    smoke, env_check, lint = results
    assert smoke.status == "passed", smoke.output
    assert "Hello from the app" in smoke.output
    assert (env_check.status, env_check.output.strip()) == ("failed", "value=hi")
    assert "exited 3" in env_check.detail
    assert lint.status == "failed" and not lint.required and not lint.blocks
    assert leftovers(docker_client, unique) == []


def Path_tmp():
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp(prefix="jdci-test-reports-"))


def test_a_command_that_times_out_is_killed_and_its_container_removed(docker_client, unique, no_leaks):
    env = f"jdci-tests-cmd-{unique}"
    check = config_module.CommandCheck(name="hang", command="echo started; sleep 600", timeout=2, image=BUSYBOX)
    with network(docker_client, env):
        result = command.run(check, image=BUSYBOX, network=env, env_name=env, client=docker_client)
        assert leftovers(docker_client, unique) == []  # gone before the network is
    assert result.status == "error" and "did not finish within 2 s; killed" in result.detail
    assert "started" in result.output


def test_task_run_returns_the_code_packages_output_and_leaves_nothing(docker_client, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "main.sh").write_text("echo \"task says $(cat data.txt) in $(pwd)\"\nexit 7\n")
    (code / "data.txt").write_text("hello")
    before = task_objects(docker_client)
    result = run_task(BUSYBOX, code, ["sh", "main.sh"], client=docker_client)
    assert (result.exit_code, result.output) == (7, "task says hello in /code\n")
    assert task_leftovers(docker_client, before) == []


def test_task_run_cli_with_a_tarball_json_and_the_tasks_exit_code(docker_client, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "run.sh").write_text("ls; echo done >&2\n")
    tarball = tmp_path / "code.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(source / "run.sh", arcname="run.sh")
    before = task_objects(docker_client)
    ran = subprocess.run([sys.executable, "-m", "jenkins_docker_ci", "task", "run", "--image", BUSYBOX, "--code",
                          str(tarball), "--workdir", "/work", "--json", "--", "sh", "run.sh"],
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    payload = json.loads(ran.stdout)
    assert payload["exit_code"] == 0 and "run.sh" in payload["output"] and "done" in payload["output"]
    failing = subprocess.run([sys.executable, "-m", "jenkins_docker_ci", "task", "run", "--image", BUSYBOX,
                              "--code", str(source), "--", "sh", "-c", "echo out; exit 5"],
                             capture_output=True, text=True, timeout=120)
    assert (failing.returncode, failing.stdout) == (5, "out\n")
    assert task_leftovers(docker_client, before) == []


def test_task_run_timeout_and_interrupt_clean_up(docker_client, tmp_path):
    import signal

    code = tmp_path / "code"
    code.mkdir()
    before = task_objects(docker_client)
    ran = subprocess.run([sys.executable, "-m", "jenkins_docker_ci", "task", "run", "--image", BUSYBOX, "--code",
                          str(code), "--timeout", "1", "--json", "--", "sh", "-c", "echo begun; sleep 300"],
                         capture_output=True, text=True, timeout=120)
    payload = json.loads(ran.stdout)
    assert ran.returncode == 1 and payload["timed_out"] is True and payload["error"]["kind"] == "timeout"
    assert "begun" in payload["output"]
    with subprocess.Popen([sys.executable, "-m", "jenkins_docker_ci", "task", "run", "--image", BUSYBOX,
                           "--code", str(code), "--", "sh", "-c", "echo running; sleep 300"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        assert process.stdout.readline() == "running\n"  # the container runs: now interrupt it
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 130
        assert "interrupted" in process.stderr.read()
    assert task_leftovers(docker_client, before) == []


def test_task_run_refuses_a_base_image_it_would_have_to_pull_from_the_internet(docker_client, tmp_path, unique):
    from jenkins_docker_ci.errors import UsageError

    before = task_objects(docker_client)
    with pytest.raises(UsageError, match="names no registry"):
        run_task(f"nosuchimage-{unique}:1", tmp_path, ["true"], client=docker_client)
    with pytest.raises(UsageError, match="not found on the engine nor in its registry"):
        run_task(f"127.0.0.1:5000/jdci-tests/nosuch-{unique}:1", tmp_path, ["true"], client=docker_client)
    assert task_leftovers(docker_client, before) == []


def test_throwaway_containers_carry_the_environments_identity_not_their_images(docker_client, unique):
    """A baseline or check container runs another build's image, whose labels name that build's repository: the
    environment's network says whose it is."""
    from jenkins_docker_ci.checks.containers import labels, with_env_identity

    network = f"jdci-test-identity-{unique}"
    docker_client.api.create_network(network, labels={"io.jdci.managed": "true", "io.jdci.repository": "acme/x",
                                                      "io.jdci.pr": "7", "io.jdci.sha": "a" * 40})
    try:
        found = with_env_identity(docker_client, network, labels("baseline", env=network))
        assert found["io.jdci.repository"] == "acme/x" and found["io.jdci.pr"] == "7"
        assert found["io.jdci.env"] == network and found["io.jdci.role"] == "baseline"
        assert with_env_identity(docker_client, "", {"a": "b"}) == {"a": "b"}
        assert with_env_identity(docker_client, f"{network}-gone", {"a": "b"}) == {"a": "b"}
    finally:
        docker_client.api.remove_network(network)
