import xml.etree.ElementTree as ET

import pytest

from jenkins_docker_ci.checks import CheckResult, commit_state, overall
from jenkins_docker_ci.checks.http import judge
from jenkins_docker_ci.checks.report import PR_COMMENT_MARKER, junit_xml, pr_comment
from jenkins_docker_ci.config import HttpCheck


@pytest.mark.parametrize("check, code, body, status", [
    (HttpCheck("home"), 200, "", "passed"),
    (HttpCheck("home"), 500, "", "failed"),
    (HttpCheck("home", contains="Shop"), 200, "Sample Shop", "passed"),
    (HttpCheck("home", contains="Shop"), 200, "Oops", "failed"),
    (HttpCheck("gone", status=404), 404, "", "passed"),
])
def test_judge(check, code, body, status):
    assert judge(check, code, body)[0] == status


def test_commit_state_and_overall():
    assert commit_state("passed") == "success"
    assert commit_state("failed") == "failure"
    assert commit_state("pending") == "pending"
    results = [CheckResult("a", "passed"), CheckResult("b", "skipped")]
    assert overall(results) == "passed"
    assert overall(results + [CheckResult("c", "failed")]) == "failed"
    assert overall(results + [CheckResult("c", "error"), CheckResult("d", "failed")]) == "error"
    assert CheckResult("home", "passed").context == "jdci/home"


def test_junit_xml_counts():
    xml = junit_xml([CheckResult("a", "passed", duration=0.5), CheckResult("b", "failed", "bad"),
                     CheckResult("c", "error", "boom"), CheckResult("d", "skipped")])
    root = ET.fromstring(xml.split("\n", 1)[1])
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("4", "1", "1", "1")
    assert root.find("testcase[@name='b']/failure").get("message") == "bad"


def test_pr_comment_carries_marker_and_results():
    body = pr_comment(sha="a" * 40, results=[CheckResult("home", "passed", "ok|fine")], preview_url="http://p",
                      image="r/x:1", digest="sha256:d", build_url="", tickets=["SHOP-1"])
    assert body.startswith(PR_COMMENT_MARKER)
    assert "ok\\|fine" in body and "SHOP-1" in body and "http://p" in body
