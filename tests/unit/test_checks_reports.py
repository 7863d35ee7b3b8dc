import xml.etree.ElementTree as ET
from pathlib import Path

from jenkins_docker_ci import notify
from jenkins_docker_ci.checks import CheckResult, Shot
from jenkins_docker_ci.checks import html_report
from jenkins_docker_ci.checks.report import junit_xml, pr_comment


def results():
    return [CheckResult("home", "passed", "GET / answered 200", 0.2, kind="http"),
            CheckResult("unit", "failed", "`pytest` exited 1", 3.0, kind="command", output="E  \x1b[31massert\x1b[0m"),
            CheckResult("lint", "error", "boom", kind="command", required=False),
            CheckResult("look", "skipped", "no baseline yet", kind="visual",
                        shots=(Shot("/", "800x600", "skipped", pr="visual/look/index@800x600.pr.png"),))]


def test_junit_one_testcase_per_check_counts_and_optional_class():
    root = ET.fromstring(junit_xml(results()).split("\n", 1)[1])
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("4", "1", "1", "1")
    assert [c.get("name") for c in root.findall("testcase")] == ["home", "unit", "lint", "look"]
    assert root.find("testcase[@name='lint']").get("classname") == "jdci.command.optional"
    assert "assert" in root.find("testcase[@name='unit']/system-out").text  # output, control characters dropped
    assert "/ @ 800x600: skipped" in root.find("testcase[@name='look']/system-out").text


def test_html_report_escapes_and_marks_missing_images(tmp_path: Path):
    page = tmp_path / "visual" / "look"
    page.mkdir(parents=True)
    (page / "index@800x600.pr.png").write_bytes(b"\x89PNG fake")
    evil = CheckResult("x", "failed", "<script>alert(1)</script>", output="</pre><img src=x onerror=alert(1)>")
    text = html_report.render(results() + [evil], tmp_path, title="t & <b>", preview_url="http://p/?a=1&b=\"2\"")
    assert "<script>alert" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<img src=x" not in text and "t &amp; &lt;b&gt;" in text
    assert 'href="http://p/?a=1&amp;b=&quot;2&quot;"' in text
    assert text.count("data:image/png;base64,") == 1  # the PR shot; baseline and diff say "none"
    assert '<div class="missing">none</div>' in text
    assert 'id="check-look"' in text and "optional" in text


def test_report_url():
    ws = Path("/ws")
    assert html_report.report_url(report_dir=ws / "jdci-reports", workspace=ws, build_url="http://j/job/x/3/") == \
        "http://j/job/x/3/artifact/jdci-reports/checks.html"
    assert html_report.report_url(report_dir=ws / "r", workspace=ws, build_url="", configured="http://x/r") == \
        "http://x/r"
    assert html_report.report_url(report_dir=ws / "r", workspace=ws, build_url="") == "file:///ws/r/checks.html"
    assert html_report.anchor("a.b/c") == "check-a-b-c"


def test_pr_comment_table_marks_optional_and_links_the_report():
    body = pr_comment(sha="b" * 40, results=results(), preview_url="http://p", image="", digest="",
                      build_url="", tickets=[], report_url="http://j/1/artifact/jdci-reports/checks.html")
    assert "| `lint` (optional) | ⚠️ error | boom |" in body
    assert "- Report: http://j/1/artifact/jdci-reports/checks.html" in body and "- Preview: http://p" in body


def test_slack_summary():
    text = notify.checks_summary(repository="acme/shop", number=7, pr_url="http://gh/pr/7", sha="c" * 40,
                                 results=results(), report_url="http://j/r.html", preview_url="")
    lines = text.splitlines()
    assert lines[0] == (":x: acme/shop PR #7 at cccccccccccc: 1 required check(s) failed "
                        "(1 passed, 1 failed, 1 error, 1 skipped)")
    assert "• unit: failed - `pytest` exited 1" in lines and "• lint (optional): error - boom" in lines
    assert lines[-1] == "<http://j/r.html|report> · <http://gh/pr/7|pull request>"
    ok = notify.checks_summary(repository="a/b", number=1, pr_url="", sha="d" * 40, results=results()[:1],
                               report_url="", preview_url="")
    assert ok == ":white_check_mark: a/b PR #1 at dddddddddddd: checks passed (1 passed)"
