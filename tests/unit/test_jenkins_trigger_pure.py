"""Pure parts of `jdci jenkins`: job names, queue items, parameters."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from jenkins_docker_ci.commands.jenkins import parse_params
from jenkins_docker_ci.errors import EXIT_WAIT, UsageError
from jenkins_docker_ci.jenkins import WaitTimeout, job_name, job_url_path, queue_id_from, queue_state

FIXTURES = Path("/work/shared/fixtures/jenkins")


@pytest.mark.parametrize("text, expected", [
    ("shop", "shop"),
    ("team/shop/PR-7", "team/shop/PR-7"),
    ("/team/shop/", "team/shop"),
    ("job/team/job/shop", "team/shop"),
    ("/job/team/job/shop/job/PR-7/", "team/shop/PR-7"),
    ("https://ci.example.com/job/team/job/shop/job/PR-7/", "team/shop/PR-7"),
    ("https://ci.example.com/jenkins/job/team/job/shop/", "team/shop"),  # Jenkins under a prefix
    ("job/shop/job/feature%252Fx", "shop/feature%2Fx"),  # a branch job, as Jenkins spells it in JOB_NAME
])
def test_job_name(text, expected):
    assert job_name(text) == expected


def test_job_name_round_trips_through_the_url_path():
    assert job_name(job_url_path("shop/feature%2Fx")) == "shop/feature%2Fx"


def test_empty_job_is_usage():
    with pytest.raises(UsageError):
        job_name("/")


@pytest.mark.parametrize("location, expected", [
    ("http://jenkins/queue/item/25/", 25), ("http://jenkins/queue/item/25", 25), ("http://jenkins/job/x/", None),
    ("", None),
])
def test_queue_id_from_location(location, expected):
    assert queue_id_from(location) == expected


def test_queue_state_of_the_fixtures():
    waiting = queue_state(json.loads((FIXTURES / "queue.item.waiting.get.200.json").read_text()))
    assert waiting.number is None and waiting.why.startswith("In the quiet period")
    left = queue_state(json.loads((FIXTURES / "queue.item.left-started.get.200.json").read_text()))
    assert left.number is not None and left.url and not left.cancelled
    blocked = queue_state(json.loads((FIXTURES / "queue.item.blocked.get.200.json").read_text()))
    assert blocked.number is None and "already in progress" in blocked.why


def test_parse_params():
    assert parse_params(["A=1", "B=x=y", "C="]) == [("A", "1"), ("B", "x=y"), ("C", "")]
    with pytest.raises(UsageError, match="K=V"):
        parse_params(["novalue"])


def test_a_timeout_is_not_yet():
    assert WaitTimeout("x").exit_code == EXIT_WAIT == 75


def test_a_job_url_of_another_jenkins_is_refused_not_mapped_onto_ours():
    from jenkins_docker_ci.commands.jenkins import _job
    from jenkins_docker_ci.config import Config, JenkinsConfig

    ours = Config(jenkins=JenkinsConfig(url="https://ci-staging.example.com/"))
    assert _job("https://CI-staging.example.com/job/release/", ours) == "release"
    assert _job("team/release", ours) == "team/release"
    with pytest.raises(UsageError, match="is on https://ci-prod.example.com, but jdci talks to "
                                         "https://ci-staging.example.com/"):
        _job("https://ci-prod.example.com/job/release/", ours)
