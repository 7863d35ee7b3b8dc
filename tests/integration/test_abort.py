"""A Jenkins abort (SIGTERM) or Ctrl-C (SIGINT) while `jdci pr` stands up the environment: everything this run
started is removed, nothing is merged, the exit code is 128 + the signal and the console's last line says what
was cleaned up. A second signal during the clean-up does not cut it short."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from jenkins_docker_ci.environments import env_name

from .test_pipeline import make_scenario

pytestmark = pytest.mark.integration


def start_pr(scenario) -> subprocess.Popen:
    env = {**os.environ, "GITHUB_TOKEN": "jdci-bot", "JIRA_TOKEN": "jdci-bot"}
    return subprocess.Popen(
        [sys.executable, "-m", "jenkins_docker_ci", "pr", "--json", "--config", str(scenario.config),
         "--pr", str(scenario.number), "--workspace", str(scenario.workspace)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_preprod(process: subprocess.Popen, docker_client, scenario) -> None:
    label = {"label": f"io.jdci.repository={scenario.repository}"}
    deadline = time.monotonic() + 120
    while not docker_client.containers.list(filters=label) and time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    assert docker_client.containers.list(filters=label), "the environment never started"


@pytest.mark.parametrize("signum, code, name", [(15, 143, "SIGTERM"), (2, 130, "SIGINT")])
def test_abort_during_preprod_says_what_was_cleaned_up(sandbox, tmp_path, unique, docker_client, no_leaks,
                                                       signum, code, name):
    scenario = make_scenario(sandbox, tmp_path, unique, health_path="/never-healthy", health_timeout=120)
    process = start_pr(scenario)
    wait_for_preprod(process, docker_client, scenario)
    process.send_signal(signum)
    out, err = process.communicate(timeout=60)
    assert process.returncode == code, err[-2000:]
    expected = (f"jdci: interrupted by {name}; removed environment "
                f"{env_name(scenario.repository, scenario.number)}; nothing merged")
    assert err.rstrip("\n").splitlines()[-1] == expected
    result = json.loads(out)
    assert result["error"] == {"kind": "interrupted", "message": expected}
    label = {"label": f"io.jdci.repository={scenario.repository}"}
    assert not docker_client.containers.list(all=True, filters=label)
    assert scenario.pr()["merged"] is False


def test_a_second_signal_does_not_cut_the_clean_up_short(sandbox, tmp_path, unique, docker_client, no_leaks):
    scenario = make_scenario(sandbox, tmp_path, unique, health_path="/never-healthy", health_timeout=120)
    process = start_pr(scenario)
    wait_for_preprod(process, docker_client, scenario)
    process.send_signal(15)
    sent = 0
    for again in (2, 15, 2):  # an impatient user, Jenkins' second abort
        time.sleep(0.05)
        if process.poll() is None:
            process.send_signal(again)
            sent += 1
    out, err = process.communicate(timeout=60)
    assert process.returncode == 143, err[-2000:]  # the first signal decides; later ones never kill it
    if sent:
        assert "received while cleaning up after SIGTERM; finishing the clean-up first" in err
    assert err.rstrip("\n").splitlines()[-1].startswith("jdci: interrupted by SIGTERM; removed environment")
    label = {"label": f"io.jdci.repository={scenario.repository}"}
    assert not docker_client.containers.list(all=True, filters=label)
    name = env_name(scenario.repository, scenario.number)
    assert not docker_client.networks.list(filters={"label": f"io.jdci.env={name}"})
    assert scenario.pr()["merged"] is False
