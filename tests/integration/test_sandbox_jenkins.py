"""The Jenkins sandbox through the REAL python-jenkins client, and its shapes against fixtures/jenkins/."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.integration

FIXTURES = Path("/work/shared/fixtures/jenkins")
HEAD = "1" * 40
MERGE = "2" * 40


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def assert_shape(actual: Any, expected: Any, where: str = "$") -> None:
    """Every key of the fixture is in the answer, with a value of the same JSON type. null matches anything
    either way: Jenkins sends null for a reference that has no target (no previous build, no unstable build)."""
    if expected is None or actual is None:
        return
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        for key, value in expected.items():
            assert key in actual, f"{where}: key {key!r} missing (has {sorted(actual)})"
            assert_shape(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: {actual!r} is not a list"
        typed = [e for e in expected if e]  # fixtures pad actions with {}
        for i, item in enumerate(typed):
            if isinstance(item, dict) and "_class" in item:
                # polymorphic lists (actions, causes): compare with the element of the same class, if any
                same = [a for a in actual if isinstance(a, dict) and a.get("_class") == item["_class"]]
                if same:
                    assert_shape(same[0], item, f"{where}[{item['_class']}]")
            elif actual:
                assert_shape(actual[0], item, f"{where}[0]")
                break
    elif isinstance(expected, bool):
        assert isinstance(actual, bool), f"{where}: {actual!r} is not a boolean"
    elif isinstance(expected, (int, float)):
        assert isinstance(actual, (int, float)) and not isinstance(actual, bool), f"{where}: {actual!r}"
    else:
        assert isinstance(actual, type(expected)), f"{where}: {actual!r} is not a {type(expected).__name__}"


@pytest.fixture
def jenkins_url(sandbox: dict) -> str:
    return sandbox["jenkins"].url


@pytest.fixture
def server(jenkins_url: str) -> Any:
    import jenkins

    return jenkins.Jenkins(jenkins_url, username="alice", password="api-token", timeout=10)


def seed(url: str, **spec: Any) -> dict[str, Any]:
    response = requests.post(f"{url}/_sandbox/builds", json=spec, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def test_version_and_crumb_flow(jenkins_url: str, server: Any, unique: str) -> None:
    seed(jenkins_url, job=f"shop-{unique}/PR-1", result="SUCCESS", sha=HEAD)
    server.get_job_info(f"shop-{unique}")  # resolves auth and fetches the crumb
    assert server.get_version() == "2.440.3"
    assert server.crumb["crumbRequestField"] == "Jenkins-Crumb"
    assert_shape(server.crumb, fixture("crumbIssuer.get.200.json"))
    assert server.build_job(f"shop-{unique}/PR-1") >= 1  # a POST carrying the crumb passes

    auth = ("alice", "api-token")
    no_crumb = requests.post(f"{jenkins_url}/job/shop-{unique}/job/PR-1/build", auth=auth, timeout=10)
    assert no_crumb.status_code == 403
    assert "No valid crumb" in no_crumb.text
    others = requests.post(f"{jenkins_url}/job/shop-{unique}/job/PR-1/build", auth=auth, timeout=10,
                           headers={"Jenkins-Crumb": requests.get(f"{jenkins_url}/crumbIssuer/api/json", timeout=10,
                                                                  auth=("bob", "t")).json()["crumb"]})
    assert others.status_code == 403  # a crumb is the user's own
    assert no_crumb.headers["X-Jenkins"] == "2.440.3"


def test_job_info_for_multibranch_and_pr_job(jenkins_url: str, server: Any, unique: str) -> None:
    project = f"shop-{unique}"
    seed(jenkins_url, job=f"{project}/PR-7", result="FAILURE", sha="0" * 40)
    seed(jenkins_url, job=f"{project}/PR-7", result="SUCCESS", sha=HEAD)
    seed(jenkins_url, job=f"{project}/PR-7", result=None, building=True, sha=HEAD)
    seed(jenkins_url, job=f"{project}/PR-8", result="SUCCESS", sha=HEAD)

    multibranch = server.get_job_info(project)
    assert_shape(multibranch, fixture("job.multibranch.get.200.json"))
    assert multibranch["_class"].endswith("WorkflowMultiBranchProject")
    assert [j["name"] for j in multibranch["jobs"]] == ["PR-7", "PR-8"]
    assert multibranch["jobs"][0]["color"] == "blue_anime"

    job = server.get_job_info(f"{project}/PR-7")
    assert_shape(job, fixture("job.pipeline.get.200.json"))
    assert job["fullName"] == f"{project}/PR-7"
    assert (job["lastBuild"]["number"], job["lastCompletedBuild"]["number"]) == (3, 2)
    assert (job["lastSuccessfulBuild"]["number"], job["lastFailedBuild"]["number"]) == (2, 1)
    assert job["nextBuildNumber"] == 4
    assert job["url"] == f"{jenkins_url}/job/{project}/job/PR-7/"

    root = server.get_info()
    assert project in [j["name"] for j in root["jobs"]]

    with pytest.raises(Exception, match="does not exist"):
        server.get_job_info(f"{project}/PR-99")


def test_build_info_records_the_head_and_the_merge(jenkins_url: str, server: Any, unique: str) -> None:
    job = f"shop-{unique}/PR-3"
    seed(jenkins_url, job=job, result="SUCCESS", sha=HEAD, merge_sha=MERGE, remote_url="http://git/acme/shop.git")
    build = server.get_build_info(job, 1)
    assert_shape(build, fixture("build.workflowrun.get.200.json"))
    assert (build["result"], build["building"], build["number"]) == ("SUCCESS", False, 1)
    data = next(a for a in build["actions"] if a.get("_class") == "hudson.plugins.git.util.BuildData")
    geode = next(a for a in fixture("build.freestyle-builddata.apache-geode-capture.get.200.json")["actions"]
                 if a.get("_class") == "hudson.plugins.git.util.BuildData")
    assert_shape(data, {k: v for k, v in geode.items() if k != "buildsByBranchName"})
    assert_shape(data["buildsByBranchName"]["PR-3"], next(iter(geode["buildsByBranchName"].values())))
    assert data["lastBuiltRevision"]["SHA1"] == MERGE
    assert data["buildsByBranchName"]["PR-3"]["marked"]["SHA1"] == HEAD

    assert "Finished: SUCCESS" in server.get_build_console_output(job, 1)


def test_tree_query_is_honoured(jenkins_url: str, unique: str) -> None:
    seed(jenkins_url, job=f"shop-{unique}/PR-1", result="SUCCESS", sha=HEAD)
    got = requests.get(f"{jenkins_url}/job/shop-{unique}/job/PR-1/api/json",
                       params={"tree": "lastCompletedBuild[number,url],nextBuildNumber"},
                       auth=("alice", "t"), timeout=10).json()
    assert got == {"_class": "org.jenkinsci.plugins.workflow.job.WorkflowJob", "nextBuildNumber": 2,
                   "lastCompletedBuild": {"_class": "org.jenkinsci.plugins.workflow.job.WorkflowRun", "number": 1,
                                          "url": f"{jenkins_url}/job/shop-{unique}/job/PR-1/1/"}}


def test_trigger_queue_and_finish(jenkins_url: str, server: Any, unique: str) -> None:
    job = f"shop-{unique}/PR-4"
    requests.post(f"{jenkins_url}/_sandbox/jobs", json={"job": job}, timeout=10).raise_for_status()
    number = server.build_job(job, parameters={"TARGET": "main"})
    waiting = server.get_queue_item(number)
    assert_shape(waiting, fixture("queue.item.waiting.get.200.json"))
    assert waiting["_class"] == "hudson.model.Queue$WaitingItem" and "executable" not in waiting
    assert waiting["task"]["url"] == f"{jenkins_url}/job/shop-{unique}/job/PR-4/"
    assert server.get_job_info(job)["inQueue"] is True

    started = requests.post(f"{jenkins_url}/_sandbox/queue/{number}/start", json={"sha": HEAD}, timeout=10).json()
    left = server.get_queue_item(number)
    assert_shape(left, fixture("queue.item.left-started.get.200.json"))
    assert left["executable"]["number"] == started["number"] == 1
    running = server.get_build_info(job, 1)
    assert (running["building"], running["result"]) == (True, None)
    params = next(a for a in running["actions"] if a.get("_class") == "hudson.model.ParametersAction")
    assert params["parameters"][0]["name"] == "TARGET" and params["parameters"][0]["value"] == "main"

    requests.post(f"{jenkins_url}/_sandbox/finish", json={"job": job, "number": 1, "result": "UNSTABLE"},
                  timeout=10).raise_for_status()
    done = server.get_build_info(job, 1)
    assert (done["building"], done["result"]) == (False, "UNSTABLE")
    assert server.get_job_info(job)["lastCompletedBuild"]["number"] == 1


def test_auto_start_job_starts_at_once(jenkins_url: str, server: Any, unique: str) -> None:
    job = f"shop-{unique}/PR-5"
    requests.post(f"{jenkins_url}/_sandbox/jobs", json={"job": job, "auto_start": True, "sha": HEAD},
                  timeout=10).raise_for_status()
    item = server.get_queue_item(server.build_job(job))
    assert item["_class"] == "hudson.model.Queue$LeftItem"
    build = server.get_build_info(job, item["executable"]["number"])
    assert build["building"] is True


@pytest.mark.parametrize("auth", [None, ("alice", "bad-token")])
def test_401_without_or_with_bad_credentials(jenkins_url: str, auth: Any) -> None:
    import jenkins

    response = requests.get(f"{jenkins_url}/api/json", auth=auth, timeout=10)
    assert response.status_code == 401
    assert response.headers["X-Jenkins"] == "2.440.3"
    assert "<html>" in response.text
    if auth:
        client = jenkins.Jenkins(jenkins_url, username=auth[0], password=auth[1], timeout=10)
        with pytest.raises(jenkins.JenkinsException, match="401"):
            client.get_whoami()


def test_unknown_path_is_jenkins_404(jenkins_url: str) -> None:
    response = requests.get(f"{jenkins_url}/job/nothing-here/api/json", auth=("alice", "t"), timeout=10)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("text/html")
    assert "HTTP ERROR 404" in response.text


def test_whoami_is_the_basic_user(server: Any) -> None:
    assert server.get_whoami()["id"] == "alice"


def test_permalinks_and_parameters_in_the_body(jenkins_url: str, server: Any, unique: str) -> None:
    job = f"shop-{unique}/PR-6"
    seed(jenkins_url, job=job, result="SUCCESS", sha=HEAD)
    seed(jenkins_url, job=job, result=None, building=True, sha=HEAD)
    auth = ("alice", "t")
    base = f"{jenkins_url}/job/shop-{unique}/job/PR-6"
    assert requests.get(f"{base}/lastCompletedBuild/api/json", auth=auth, timeout=10).json()["number"] == 1
    assert requests.get(f"{base}/lastBuild/api/json", auth=auth, timeout=10).json()["number"] == 2
    assert requests.get(f"{base}/lastFailedBuild/api/json", auth=auth, timeout=10).status_code == 404

    crumb = requests.get(f"{jenkins_url}/crumbIssuer/api/json", auth=auth, timeout=10).json()["crumb"]
    response = requests.post(f"{base}/buildWithParameters", data={"PR": "6"}, auth=auth, timeout=10,
                             headers={"Jenkins-Crumb": crumb})
    assert response.status_code == 201
    item = requests.get(response.headers["Location"] + "api/json", auth=auth, timeout=10).json()
    assert item["params"] == "\nPR=6"


def test_reset_forgets_jobs(tmp_path: Path) -> None:
    from jenkins_docker_ci.sandbox.jenkins import JenkinsService
    from jenkins_docker_ci.sandbox.server import SandboxServer

    server = SandboxServer(JenkinsService(tmp_path)).start()
    try:
        seed(server.url, job="shop/PR-1", result="SUCCESS", sha=HEAD)
        assert requests.get(f"{server.url}/job/shop/api/json", auth=("a", "t"), timeout=10).status_code == 200
        requests.post(f"{server.url}/_sandbox/reset", timeout=10).raise_for_status()
        assert requests.get(f"{server.url}/job/shop/api/json", auth=("a", "t"), timeout=10).status_code == 404
    finally:
        server.stop()


def test_a_scripted_job_through_python_jenkins_queue_then_build_then_console(jenkins_url: str, server: Any,
                                                                              unique: str) -> None:
    job = f"release-{unique}"
    response = requests.post(f"{jenkins_url}/_sandbox/jobs", json={
        "job": job, "queue_polls": 2, "run_polls": 1, "result": "UNSTABLE", "console": "tests: 1 flaky\n"},
        timeout=10)
    assert response.status_code == 201
    queue_id = server.build_job(job, {"TAG": "v1"})
    held = [server.get_queue_item(queue_id) for _ in range(2)]
    for item in held:
        assert item["_class"] == "hudson.model.Queue$BuildableItem" and "executable" not in item
        assert_shape({k: v for k, v in item.items() if k != "why"},
                     {k: v for k, v in fixture("queue.item.blocked.get.200.json").items() if k != "why"})
    left = server.get_queue_item(queue_id)
    assert_shape(left, fixture("queue.item.left-started.get.200.json"))
    number = left["executable"]["number"]
    running = server.get_build_info(job, number)
    assert running["building"] is True and running["result"] is None
    done = server.get_build_info(job, number)
    assert (done["building"], done["result"]) == (False, "UNSTABLE")
    assert_shape(done, fixture("build.workflowrun.get.200.json"))
    assert server.get_build_console_output(job, number).endswith("tests: 1 flaky\nFinished: UNSTABLE\n")


def test_progressive_text_of_a_finished_build_has_no_more_data(jenkins_url: str, unique: str) -> None:
    seed(jenkins_url, job=f"done-{unique}", result="SUCCESS", sha=HEAD, console="a\nb\n")
    response = requests.get(f"{jenkins_url}/job/done-{unique}/1/logText/progressiveText?start=2",
                            auth=("alice", "t"), timeout=10)
    assert response.text == "b\nFinished: SUCCESS\n"
    assert response.headers["X-Text-Size"] == str(len("a\nb\nFinished: SUCCESS\n"))
    assert "X-More-Data" not in response.headers
