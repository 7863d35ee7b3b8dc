"""Checks inside `jdci pr`: commit statuses per check (optional ones never block the gate), report links,
one PR comment edited in place across reruns, one Slack message per run (429 + Retry-After honoured)."""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests

from jenkins_docker_ci import cli, environments

from .test_pipeline import make_scenario, run_pr

pytestmark = pytest.mark.integration

CHECKS = """
[[checks.http]]
name = "extra"
path = "/nope"
required = false
[[checks.command]]
name = "smoke"
command = "{command}"
timeout = 60
[[checks.visual]]
name = "look"
viewports = ["640x480"]
[checks]
baseline_image = ""
baseline_store = "{store}"
"""


def slack_messages(sandbox, marker: str) -> list[str]:
    messages = requests.get(f"{sandbox['slack'].url}/_sandbox/messages", timeout=5).json()
    return [m["text"] for m in messages if marker in m["text"]]


def statuses(scenario) -> dict[str, dict]:
    data = scenario.api("GET", f"/commits/{scenario.head}/status").json()
    return {s["context"]: s for s in data["statuses"]}


def gate(scenario, capsys) -> dict:
    capsys.readouterr()
    cli.main(["gate", "--json", "--config", str(scenario.config), "--pr", str(scenario.number),
              "--workspace", str(scenario.workspace)])
    return json.loads(capsys.readouterr().out)


def test_checks_publish_everywhere_and_only_required_ones_block(sandbox, tmp_path, unique, capsys, monkeypatch,
                                                                 no_leaks):
    scenario = make_scenario(sandbox, tmp_path, unique, approve=False)
    base_config = scenario.config.read_text()
    store = tmp_path / "baselines"

    def configure(command: str) -> None:
        scenario.config.write_text(base_config + CHECKS.format(command=command, store=store))

    scenario.slack = scenario.slack.replace("B00000000", f"B{unique}")
    build_url = f"http://127.0.0.1:9/job/shop/job/PR-{scenario.number}/1/"
    configure("wget -q -O - http://app:8000/ | grep total")
    name = ""
    try:
        code, first, err = run_pr(scenario, capsys, monkeypatch, "--no-merge", "--build-url", build_url)
        name = first["environment"]["name"]
        assert code == 0, err
        assert {c["name"]: c["status"] for c in first["checks"]} == {
            "home": "passed", "extra": "failed", "smoke": "passed", "look": "skipped"}
        shown = statuses(scenario)
        assert shown["jdci/extra"]["state"] == "success"  # optional: reported, never blocking
        assert shown["jdci/extra"]["description"].startswith("optional: failed: GET /nope answered 404")
        assert shown["jdci/smoke"]["state"] == "success" and shown["jdci/look"]["state"] == "success"
        assert shown["jdci/look"]["description"].startswith("no baseline yet")
        assert shown["jdci/home"]["target_url"] == f"{build_url}artifact/jdci-reports/checks.html#check-home"
        reports = scenario.workspace / "jdci-reports"
        assert (reports / "checks.html").is_file() and (reports / "visual" / "look").is_dir()
        root = ET.parse(reports / "jdci-checks.xml").getroot()
        assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("4", "1", "1")
        required = [r for r in gate(scenario, capsys)["reasons"] if r["rule"] == "required_checks"][0]
        assert required["status"] == "ok", required
        comments = [c for c in scenario.api("GET", f"/issues/{scenario.number}/comments").json()
                    if "jdci:pr-report" in c["body"]]
        assert len(comments) == 1 and "`extra` (optional)" in comments[0]["body"]
        assert f"{build_url}artifact/jdci-reports/checks.html" in comments[0]["body"]
        assert len(slack_messages(sandbox, f"PR #{scenario.number} at")) == 1

        # Run 2: the required command now fails, and Slack answers the first try with 429 + Retry-After.
        configure("echo the total is missing; exit 4")
        requests.post(f"{sandbox['slack'].url}/_sandbox/faults", timeout=5, json={
            "method": "POST", "path": f"/B{unique}/", "status": 429, "headers": {"Retry-After": "1"}, "count": 1})
        code, second, err = run_pr(scenario, capsys, monkeypatch, "--no-merge", "--build-url", build_url)
        assert code == 1 and second["error"]["kind"] == "check" and "smoke" in second["error"]["message"]
        posts = [r for r in requests.get(f"{sandbox['slack'].url}/_sandbox/requests", timeout=5).json()
                 if f"/B{unique}/" in r["path"]]
        assert [p["status"] for p in posts] == [200, 429, 200]
        assert posts[2]["time"] - posts[1]["time"] >= 1  # the Retry-After was waited for, not ignored
        texts = slack_messages(sandbox, f"PR #{scenario.number} at")
        assert len(texts) == 2 and "1 required check(s) failed" in texts[1] and "smoke" in texts[1]
        assert statuses(scenario)["jdci/smoke"]["state"] == "failure"
        again = [c for c in scenario.api("GET", f"/issues/{scenario.number}/comments").json()
                 if "jdci:pr-report" in c["body"]]
        assert [c["id"] for c in again] == [comments[0]["id"]]  # the same comment, edited in place
        assert "exited 4" in again[0]["body"] and again[0]["body"] != comments[0]["body"]
        required = [r for r in gate(scenario, capsys)["reasons"] if r["rule"] == "required_checks"][0]
        assert required["status"] == "failed" and "jdci/smoke" in required["detail"]
        output = (Path(scenario.workspace) / "jdci-reports" / "checks.html").read_text()
        assert "the total is missing" in output  # the command's output is in the report
    finally:
        if name:
            environments.down(name)
