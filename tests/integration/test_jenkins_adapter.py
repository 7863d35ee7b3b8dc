"""jenkins.last_build against the Jenkins sandbox over real HTTP (python-jenkins underneath, unmocked)."""
from __future__ import annotations

import socket
from typing import Any

import pytest
import requests

from jenkins_docker_ci import config as cfg
from jenkins_docker_ci import jenkins
from jenkins_docker_ci.errors import EXIT_SERVICE, ConfigError, ServiceError

pytestmark = pytest.mark.integration

HEAD = "3" * 40
MERGE = "4" * 40
SECRETS = cfg.Secrets(jenkins_user="jdci-bot", jenkins_token="s3cret-token")


def config_for(url: str, timeout: float = 5.0) -> cfg.Config:
    return cfg.from_dict({"jenkins": {"url": url, "job": "unused", "timeout": timeout}})


def seed(url: str, **spec: Any) -> None:
    requests.post(f"{url}/_sandbox/builds", json=spec, timeout=10).raise_for_status()


def fault(url: str, path: str, status: int, count: int) -> None:
    requests.post(f"{url}/_sandbox/faults", json={"method": "GET", "path": path, "status": status, "count": count},
                  timeout=10).raise_for_status()


@pytest.fixture
def url(sandbox: dict) -> str:
    return sandbox["jenkins"].url


def test_last_completed_build_and_the_head_it_built(url: str, unique: str) -> None:
    project = f"shop-{unique}"
    seed(url, job=f"{project}/PR-7", result="FAILURE", sha="0" * 40)
    seed(url, job=f"{project}/PR-7", result="SUCCESS", sha=HEAD, merge_sha=MERGE)
    seed(url, job=f"{project}/PR-7", result=None, building=True, sha="5" * 40)  # running: not counted

    build = jenkins.last_build(config_for(url), SECRETS, project, 7)

    assert build == jenkins.JenkinsBuild(job=f"{project}/PR-7", number=2, result="SUCCESS", sha=HEAD,
                                         building=False, url=f"{url}/job/{project}/job/PR-7/2/")


def test_folder_path_and_a_build_without_merge(url: str, unique: str) -> None:
    seed(url, job=f"team-{unique}/shop/PR-2", result="UNSTABLE", sha=HEAD)
    build = jenkins.last_build(config_for(url), SECRETS, f"team-{unique}/shop", 2)
    assert build is not None
    assert (build.job, build.result, build.sha) == (f"team-{unique}/shop/PR-2", "UNSTABLE", HEAD)


def make_project(url: str, name: str) -> str:
    """A multibranch project without PR jobs yet, as Jenkins has it before its first scan finds a PR."""
    requests.post(f"{url}/_sandbox/jobs", json={"job": name, "kind": "multibranch"}, timeout=10).raise_for_status()
    return name


def test_no_job_yet_is_none(url: str, unique: str) -> None:
    assert jenkins.last_build(config_for(url), SECRETS, make_project(url, f"shop-{unique}"), 1) is None


def test_a_misspelt_project_is_a_config_error_listing_the_jobs_near_matches_first(url: str, unique: str) -> None:
    make_project(url, f"zz-other-{unique}")
    make_project(url, f"shop-{unique}")
    with pytest.raises(ConfigError) as caught:
        jenkins.last_build(config_for(url), SECRETS, f"sohp-{unique}", 1)
    message = caught.value.message
    assert caught.value.exit_code == 2
    assert f"[jenkins] job = 'sohp-{unique}' does not exist at {url} (GET job/sohp-{unique}/ answered 404), so the " \
           f"job sohp-{unique}/PR-1 can never appear" in message
    listed = message.split("Jobs at the top level: ", 1)[1]
    assert listed.startswith(f"shop-{unique}, "), listed  # the near match first
    assert f"zz-other-{unique}" in listed

    team = make_project(url, f"team-{unique}/shop")
    with pytest.raises(ConfigError, match=rf"Jobs in folder team-{unique}: team-{unique}/shop$"):
        jenkins.last_build(config_for(url), SECRETS, f"team-{unique}/shpo", 1)
    assert jenkins.last_build(config_for(url), SECRETS, team, 1) is None


def test_only_a_running_first_build_is_none(url: str, unique: str) -> None:
    seed(url, job=f"shop-{unique}/PR-1", result=None, building=True, sha=HEAD)
    assert jenkins.last_build(config_for(url), SECRETS, f"shop-{unique}", 1) is None


def test_bad_token_is_a_config_error_naming_the_variables(url: str, unique: str) -> None:
    seed(url, job=f"shop-{unique}/PR-1", result="SUCCESS", sha=HEAD)
    bad = cfg.Secrets(jenkins_user="jdci-bot", jenkins_token="bad-token-value")
    with pytest.raises(ConfigError) as caught:
        jenkins.last_build(config_for(url), bad, f"shop-{unique}", 1)
    message = str(caught.value)
    assert "JENKINS_USER/JENKINS_TOKEN" in message and "401" in message
    assert "bad-token-value" not in message


def test_missing_credentials_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="JENKINS_USER and JENKINS_TOKEN"):
        jenkins.last_build(config_for("http://127.0.0.1:9"), cfg.Secrets(), "shop", 1)


def test_transient_503_is_retried(url: str, unique: str) -> None:
    project = f"shop-{unique}"
    seed(url, job=f"{project}/PR-3", result="SUCCESS", sha=HEAD)
    fault(url, f"^/job/{project}/", 503, 2)
    build = jenkins.last_build(config_for(url), SECRETS, project, 3)
    assert build is not None and build.number == 1
    log = requests.get(f"{url}/_sandbox/requests", timeout=10).json()
    statuses = [e["status"] for e in log if e["path"].startswith(f"/job/{project}/")]
    assert statuses[:3] == [503, 503, 200]


def test_jenkins_staying_broken_is_a_service_error(url: str, unique: str) -> None:
    project = f"shop-{unique}"
    seed(url, job=f"{project}/PR-3", result="SUCCESS", sha=HEAD)
    fault(url, f"^/job/{project}/", 503, 1000)
    try:
        with pytest.raises(ServiceError) as caught:
            jenkins.last_build(config_for(url, timeout=1.0), SECRETS, project, 3)
    finally:
        requests.delete(f"{url}/_sandbox/faults", timeout=10)
    assert caught.value.exit_code == EXIT_SERVICE
    assert "HTTP 503" in str(caught.value) and url in str(caught.value)


def test_a_500_is_not_retried(url: str, unique: str) -> None:
    project = f"shop-{unique}"
    seed(url, job=f"{project}/PR-3", result="SUCCESS", sha=HEAD)
    fault(url, f"^/job/{project}/", 500, 1)
    with pytest.raises(ServiceError, match="HTTP 500"):
        jenkins.last_build(config_for(url), SECRETS, project, 3)


def test_jenkins_down_is_a_service_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ServiceError) as caught:
        jenkins.last_build(config_for(f"http://127.0.0.1:{port}", timeout=1.0), SECRETS, "shop", 1)
    assert caught.value.exit_code == EXIT_SERVICE
    assert "ConnectionError" in str(caught.value)
    assert "s3cret-token" not in str(caught.value)


def test_gate_waits_for_a_build_of_the_head_then_passes(url: str, unique: str) -> None:
    """The adapter's answer fed to the gate: an older commit's green build never stands for the head."""
    import dataclasses
    from datetime import datetime, timezone

    from jenkins_docker_ci.gate import GateInput, evaluate
    from jenkins_docker_ci.scm import PullRequest

    project = make_project(url, f"shop-{unique}")
    config = config_for(url)
    gate_config = dataclasses.replace(config.gate, require_jenkins=True, required_checks=(), approvals=0,
                                      require_ticket=False)
    pr = PullRequest(number=9, title="SHOP-9 fix", head_sha=HEAD, head_ref="fix", base_ref="main", mergeable=True)

    def decide() -> tuple[str, str]:
        build = jenkins.last_build(config, SECRETS, project, 9)
        reason = evaluate(GateInput(pr=pr, now=datetime.now(timezone.utc), config=gate_config, behind=False,
                                    jenkins_job=jenkins.pr_job_name(project, 9), jenkins=build)).reason("jenkins")
        return reason.status, reason.detail

    assert decide()[0] == "pending"  # no job yet
    seed(url, job=f"{project}/PR-9", result="SUCCESS", sha="6" * 40)
    assert decide() == ("pending", f"{project}/PR-9 #1 built 6666666, not the head 3333333; "
                                   "waiting for a build of the head")
    seed(url, job=f"{project}/PR-9", result="SUCCESS", sha=HEAD, merge_sha=MERGE)
    assert decide() == ("ok", f"{project}/PR-9 #2 at 3333333: SUCCESS")


def test_a_login_page_answering_200_is_a_service_error_naming_it(url: str, unique: str) -> None:
    project = f"shop-{unique}"
    seed(url, job=f"{project}/PR-3", result="SUCCESS", sha=HEAD)
    requests.post(f"{url}/_sandbox/faults", timeout=10, json={
        "method": "GET", "path": f"^/job/{project}/job/PR-3/api/json", "status": 200,
        "body": "<html><title>Sign in [Jenkins]</title></html>", "headers": {"Content-Type": "text/html"}},
                  ).raise_for_status()
    with pytest.raises(ServiceError) as caught:
        jenkins.last_build(config_for(url), SECRETS, project, 3)
    assert caught.value.exit_code == EXIT_SERVICE
    assert caught.value.message == (
        f"Jenkins at {url} answered HTTP 200 with a body that is not JSON (text/html: <html><title>Sign in "
        f"[Jenkins]</title></html>) when asked for job {project}/PR-3: is [jenkins] url the Jenkins base URL, and "
        f"is no proxy or single sign-on page answering in Jenkins' place?")
