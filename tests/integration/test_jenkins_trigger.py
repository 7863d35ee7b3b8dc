"""`jdci jenkins trigger|status` against the Jenkins sandbox, through the real python-jenkins client."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from jenkins_docker_ci import cli

pytestmark = pytest.mark.integration

HEAD = "3" * 40


@pytest.fixture
def url(sandbox: dict) -> str:
    return sandbox["jenkins"].url


@pytest.fixture
def run(tmp_path: Path, url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """jdci with a config pointing at the sandbox (quick polls), as user alice; -> (code, JSON, stderr)."""
    config = tmp_path / "jdci.toml"
    config.write_text(f'[jenkins]\nurl = "{url}"\npoll_max = 0.2\ntimeout = 5\n')
    monkeypatch.setenv("JENKINS_USER", "alice")
    monkeypatch.setenv("JENKINS_TOKEN", "api-token-4711")
    monkeypatch.delenv("JENKINS_URL", raising=False)

    def go(*argv: str) -> tuple[int, dict[str, Any], str]:
        code = cli.main([*argv, "--json", "--config", str(config)])
        out, err = capsys.readouterr()
        return code, json.loads(out), err

    return go


def script(url: str, job: str, **spec: Any) -> None:
    response = requests.post(f"{url}/_sandbox/jobs", json={"job": job, **spec}, timeout=10)
    assert response.status_code == 201, response.text


def seed(url: str, **spec: Any) -> None:
    response = requests.post(f"{url}/_sandbox/builds", json=spec, timeout=10)
    assert response.status_code == 201, response.text


def requests_to(url: str, part: str) -> list[dict[str, Any]]:
    return [r for r in requests.get(f"{url}/_sandbox/requests", timeout=10).json() if part in r["path"]]


def test_trigger_waits_through_the_queue_and_the_build_to_success(url, run, unique):
    job = f"release-{unique}"
    script(url, job, queue_polls=3, run_polls=2, result="SUCCESS", sha=HEAD)
    code, result, err = run("jenkins", "trigger", job, "-p", "IMAGE=acme/shop@sha256:1", "-p", "TAG=v1", "--wait")
    assert code == 0, err
    assert result["result"] == "SUCCESS" and result["number"] == 1 and result["sha"] == HEAD
    assert result["url"] == f"{url}/job/{job}/1/"
    assert "queued - Waiting for next available executor" in err
    assert f"{job} #1 started" in err
    assert len(requests_to(url, f"/queue/item/{result['queue_id']}/")) == 4  # 3 held reads, then the left item
    build = requests.get(f"{url}/job/{job}/1/api/json", auth=("alice", "x"), timeout=10).json()
    parameters = next(a for a in build["actions"] if a["_class"] == "hudson.model.ParametersAction")
    assert {(p["name"], p["value"]) for p in parameters["parameters"]} == {("IMAGE", "acme/shop@sha256:1"),
                                                                         ("TAG", "v1")}


def test_a_failed_build_exits_1_with_the_console_tail(url, run, unique):
    job = f"deploy-{unique}"
    console = "".join(f"step {i}\n" for i in range(1, 51))
    script(url, job, run_polls=1, result="FAILURE", console=console)
    code, result, err = run("jenkins", "trigger", job, "--wait")
    assert code == 1
    assert result["result"] == "FAILURE" and result["error"]["kind"] == "jenkins"
    assert result["console_tail"] == [f"step {i}" for i in range(22, 51)] + ["Finished: FAILURE"]
    assert "[jenkins] | step 50" in err and "step 21\n" not in err
    assert f"{url}/job/{job}/1/console" in result["error"]["message"]


def test_without_wait_it_returns_once_queued(url, run, unique):
    job = f"nightly-{unique}"
    script(url, job, queue_polls=100)
    code, result, _ = run("jenkins", "trigger", job)
    assert code == 0 and result["queue_id"] and result["number"] is None
    assert requests_to(url, f"/job/{job}/build")[0]["status"] == 201  # no parameters: plain build


def test_timeout_is_not_yet_75(url, run, unique):
    job = f"slow-{unique}"
    script(url, job, queue_polls=100000)
    code, result, err = run("jenkins", "trigger", job, "--wait", "--timeout", "0.5")
    assert code == 75, err
    assert result["error"]["kind"] == "timeout" and "still in the queue" in result["error"]["message"]


@pytest.mark.parametrize("form", ["{f}/shop/PR-7", "job/{f}/job/shop/job/PR-7", "/job/{f}/job/shop/job/PR-7/",
                                  "{url}/job/{f}/job/shop/job/PR-7/"])
def test_folder_and_multibranch_paths(url, run, unique, form):
    folder = f"team-{unique}"
    script(url, f"{folder}/shop/PR-7", run_polls=0, result="SUCCESS")
    code, result, err = run("jenkins", "trigger", form.format(f=folder, url=url), "--wait")
    assert code == 0, err
    assert result["job"] == f"{folder}/shop/PR-7"
    assert result["url"].endswith(f"/job/{folder}/job/shop/job/PR-7/{result['number']}/")


def test_a_multibranch_project_cannot_be_built(url, run, unique):
    script(url, f"team-{unique}/shop/PR-7", result="SUCCESS")
    code, result, _ = run("jenkins", "trigger", f"team-{unique}/shop")
    assert code == 2 and "multibranch" in result["error"]["message"]


def test_a_missing_job_names_what_is_there(url, run, unique):
    script(url, f"team-{unique}/shop/PR-7", result="SUCCESS")
    code, result, _ = run("jenkins", "trigger", f"team-{unique}/shpo")
    assert code == 2
    assert f"jobs in folder team-{unique}: team-{unique}/shop" in result["error"]["message"]


def test_a_503_on_trigger_is_retried_and_the_crumb_is_sent(url, run, unique):
    job = f"flaky-{unique}"
    script(url, job, result="SUCCESS")
    requests.post(f"{url}/_sandbox/faults", json={"method": "POST", "path": f"/job/{job}/build", "status": 503,
                                                  "count": 1}, timeout=10)
    code, result, err = run("jenkins", "trigger", job, "--wait")
    assert code == 0, err
    assert [r["status"] for r in requests_to(url, f"/job/{job}/build")] == [503, 201]
    assert result["number"] == 1  # one build, not two


def test_a_bad_token_is_a_config_error(url, run, unique, monkeypatch):
    script(url, f"x-{unique}", result="SUCCESS")
    monkeypatch.setenv("JENKINS_TOKEN", "bad-token")
    code, result, _ = run("jenkins", "trigger", f"x-{unique}")
    assert code == 2 and "JENKINS_USER/JENKINS_TOKEN" in result["error"]["message"]


def test_bad_parameter_is_usage(run):
    code, result, _ = run("jenkins", "trigger", "x", "-p", "novalue")
    assert code == 2 and "K=V" in result["error"]["message"]


def test_status_of_a_pr_job(url, run, unique):
    seed(url, job=f"shop-{unique}/PR-5", result="FAILURE", sha=HEAD, merge_sha="4" * 40)
    seed(url, job=f"shop-{unique}/PR-5", result=None, sha="5" * 40, building=True)
    code, result, _ = run("jenkins", "status", f"shop-{unique}", "--pr", "5")
    assert code == 0
    assert result == {"job": f"shop-{unique}/PR-5", "number": 2, "result": None, "building": True,
                      "sha": "5" * 40, "url": f"{url}/job/shop-{unique}/job/PR-5/2/"}
    requests.post(f"{url}/_sandbox/finish", json={"job": f"shop-{unique}/PR-5", "number": 2, "result": "SUCCESS"},
                  timeout=10)
    code, result, _ = run("jenkins", "status", f"job/shop-{unique}/job/PR-5")
    assert (result["result"], result["building"]) == ("SUCCESS", False)


def test_status_of_a_project_lists_its_jobs_and_a_job_without_builds(url, run, unique):
    script(url, f"shop-{unique}/PR-1")
    code, result, _ = run("jenkins", "status", f"shop-{unique}")
    assert code == 0 and result["jobs"] == [f"shop-{unique}/PR-1"]
    code, result, _ = run("jenkins", "status", f"shop-{unique}", "--pr", "1")
    assert code == 0 and result["number"] is None and result["building"] is False


def test_progressive_text_follows_a_running_build(url, unique):
    job = f"prog-{unique}"
    script(url, job, run_polls=2, result="SUCCESS", console="one\ntwo\n")
    auth = ("alice", "t")
    crumb = requests.get(f"{url}/crumbIssuer/api/json", auth=auth, timeout=10).json()["crumb"]
    queued = requests.post(f"{url}/job/{job}/build", auth=auth, headers={"Jenkins-Crumb": crumb}, timeout=10)
    item = requests.get(f"{queued.headers['Location']}api/json", auth=auth, timeout=10).json()
    assert item["executable"]["number"] == 1  # queue_polls = 0: it starts on its first read
    first = requests.get(f"{url}/job/{job}/1/logText/progressiveText?start=0", auth=auth, timeout=10)
    assert first.headers["X-More-Data"] == "true"
    start, texts = int(first.headers["X-Text-Size"]), [first.text]
    for _ in range(10):  # run_polls = 2: done by the third read
        later = requests.get(f"{url}/job/{job}/1/logText/progressiveText?start={start}", auth=auth, timeout=10)
        texts.append(later.text)
        start = int(later.headers["X-Text-Size"])
        if "X-More-Data" not in later.headers:
            break
    assert "".join(texts) == "Started by user alice\none\ntwo\nFinished: SUCCESS\n"


def test_inside_a_jenkins_build_jenkins_url_is_enough(url, unique, tmp_path, capsys, monkeypatch):
    script(url, f"here-{unique}", result="SUCCESS")
    (tmp_path / "jdci.toml").write_text("")
    monkeypatch.setenv("JENKINS_URL", url + "/")  # Jenkins sets it, with its trailing slash
    monkeypatch.setenv("JENKINS_USER", "alice")
    monkeypatch.setenv("JENKINS_TOKEN", "t0ken")
    code = cli.main(["jenkins", "status", f"here-{unique}", "--config", str(tmp_path / "jdci.toml")])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out == f"here-{unique}: no builds yet\n"


def test_no_jenkins_url_anywhere_is_a_config_error(tmp_path, capsys, monkeypatch):
    (tmp_path / "jdci.toml").write_text("")
    monkeypatch.delenv("JENKINS_URL", raising=False)
    assert cli.main(["jenkins", "status", "x", "--config", str(tmp_path / "jdci.toml")]) == 2
    assert "pass --url, set [jenkins] url" in capsys.readouterr().err
