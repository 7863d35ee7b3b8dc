import json
import subprocess
import sys

import pytest


from jenkins_docker_ci import cli
from jenkins_docker_ci.errors import ServiceError


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_bad_usage_with_json_prints_one_object_and_exits_2(capsys):
    code, out, err = run_cli(capsys, "pr", "--json", "--pr", "x")
    assert code == 2
    payload = json.loads(out)
    assert payload["error"]["kind"] == "usage" and "--pr" in payload["error"]["message"]
    assert "[error]" in err


@pytest.mark.parametrize("argv, message", [
    (["merge", "--pr", "0"], "0 is not a pull request number"),
    (["merge", "--pr", "-1"], "is not a pull request number"),
    (["merge", "--pr", "1", "--sha", "abc1234"], "not a full 40-character commit SHA"),
    (["merge", "--pr", "1", "--wait", "--timeout", "-5"], "-5 s is not between 0 and 86400"),
    (["image", "prune", "--repository", "a/b", "--keep", "0"], "0 would keep no image"),
    (["env", "up", "--pr", "1", "--sha", "garbage"], "'garbage' is not a full 40-character commit SHA"),
    (["image", "prune", "--repository", "Team/App", "--dry-run"], "cannot name an image"),
    (["image", "ls", "--repository", "acme/shop:pr-7"], "names an image, not a repository; drop the :pr-7"),
    (["check", "run", "--url", "notaurl"], "--url 'notaurl' is not an http(s) URL"),
    (["check", "approve", "--url", "127.0.0.1:8000"], "is not an http(s) URL"),
    (["env", "up", "--pr", "3", "--workspace", "/nonexistent-jdci"], "--workspace /nonexistent-jdci is not a folder"),
    (["check", "run", "--url", "http://127.0.0.1:9", "--report-dir", "/proc/jdci-nope"],
     "report folder /proc/jdci-nope cannot be made"),
])
def test_bad_values_are_refused_before_any_work(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv, "--json")
    assert code == 2 and message in json.loads(out)["error"]["message"]


def test_unknown_command_is_usage_error(capsys):
    code, out, err = run_cli(capsys, "frobnicate")
    assert code == 2 and out == "" and "invalid choice" in err


def test_service_error_maps_to_exit_4_with_partial_json(capsys, monkeypatch):
    def boom(args):
        args._partial = lambda: {"tickets": ["SHOP-1"]}
        raise ServiceError("registry", "registry 127.0.0.1:5999 not reachable")

    monkeypatch.setattr(cli, "_cmd_pr", boom)
    code, out, _ = run_cli(capsys, "pr", "--json")
    assert code == 4
    assert json.loads(out) == {"tickets": ["SHOP-1"], "error": {"kind": "service",
                                                                "message": "registry 127.0.0.1:5999 not reachable"}}


def test_internal_error_exit_3_names_a_log_file_and_redacts(capsys, monkeypatch, tmp_path):
    from jenkins_docker_ci import log

    log.redact_values(["s3cr3t-token-value"])

    def bug(args):
        raise RuntimeError("bug near s3cr3t-token-value")

    monkeypatch.setattr(cli, "_cmd_pr", bug)
    code, out, err = run_cli(capsys, "pr", "--json", "--workspace", str(tmp_path))
    assert code == 3
    message = json.loads(out)["error"]["message"]
    files = list((tmp_path / "jdci-reports").glob("jdci-error-*.log"))  # where the Jenkins step archives
    assert len(files) == 1 and str(files[0]) in message
    assert "s3cr3t-token-value" not in files[0].read_text() + out + err
    assert "RuntimeError" in files[0].read_text()


def test_bad_config_json_has_the_pipeline_shape(capsys, tmp_path):
    (tmp_path / "jdci.toml").write_text("[gate\n")
    code, out, _ = run_cli(capsys, "pr", "--json", "--workspace", str(tmp_path))
    payload = json.loads(out)
    assert code == 2 and payload["error"]["kind"] == "config"
    assert payload["merge"] == {"merged": False, "merge_sha": None} and payload["tickets"] == []


def test_help_imports_no_heavy_library():
    code = ("import sys; from jenkins_docker_ci import cli; cli.build_parser().format_help(); "
            "print(sorted(m for m in ('requests', 'docker', 'jira', 'jenkins', 'git', 'urllib3') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_json_after_double_dash_belongs_to_the_task_not_to_jdci(capsys):
    # `jdci task run ... -- tool --json`: the task's own flag must not switch jdci's output to JSON
    code, out, err = run_cli(capsys, "frobnicate", "--", "tool", "--json")
    assert code == 2 and out == "" and "invalid choice" in err
    code, out, err = run_cli(capsys, "frobnicate", "--json", "--", "tool")
    assert code == 2 and json.loads(out)["error"]["kind"] == "usage"


def test_summary_marks_optional_checks_so_a_failed_one_beside_merged_true_is_not_a_surprise():
    from jenkins_docker_ci.cli import pipeline_summary

    text = pipeline_summary({"tickets": ["SHOP-1"], "checks": [
        {"name": "home", "status": "passed", "required": True},
        {"name": "look-checkout", "status": "failed", "required": False}], "merge": {"merged": True}})
    assert "check:       home: passed\n" in text
    assert "check:       look-checkout: failed (optional)\n" in text
