"""scm/git_text.py: the plain git host's pure rules; no git, no files."""
from __future__ import annotations

import pytest

from jenkins_docker_ci.scm.git_text import (
    branch_problem, commit_message, conflict_message, gate_problems, decode_statuses, describe_command, encode_status, head_moved_message,
    looks_like_url, redact, repository_name, resolve_url, target_moved_message,
)

A = "a" * 40
B = "b" * 40


@pytest.mark.parametrize("text, expected", [
    ("https://user:pass@git.example.com/acme/shop.git", "https://***@git.example.com/acme/shop.git"),
    ("https://ghp_TOKEN@github.com/acme/shop", "https://***@github.com/acme/shop"),
    ("http://x-access-token:t0k%40en@127.0.0.1:8080/r.git", "http://***@127.0.0.1:8080/r.git"),
    ("https://u:p@ss@host/r.git", "https://***@host/r.git"),  # a raw '@' in the password leaks nothing
    ("fatal: unable to access 'https://bob:secret@host/r.git/': refused; retry https://bob:secret@host/x",
     "fatal: unable to access 'https://***@host/r.git/': refused; retry https://***@host/x"),
    ("https://host/path@v1/r.git", "https://host/path@v1/r.git"),  # an '@' in the path is not userinfo
    ("git@github.com:acme/shop.git", "git@github.com:acme/shop.git"),
    ("/srv/git/shop.git", "/srv/git/shop.git"),
])
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_describe_command_names_command_exit_code_and_stderr_without_secrets() -> None:
    text = describe_command(["push", "https://u:hunter2@h/r.git", "HEAD:refs/heads/main"], 128,
                            "fatal: Authentication failed for 'https://u:hunter2@h/r.git/'\n")
    assert text == ("`git push https://***@h/r.git HEAD:refs/heads/main` failed (exit 128): "
                    "fatal: Authentication failed for 'https://***@h/r.git/'")
    assert "not started" in describe_command(["fetch"], None, "")
    assert "no error output" in describe_command(["fetch"], 1, "  \n")
    assert len(describe_command(["log"], 1, "x" * 5000)) < 2100


@pytest.mark.parametrize("remote, is_url", [
    ("origin", False), ("upstream", False), ("https://h/r.git", True), ("file:///srv/r.git", True),
    ("/srv/r.git", True), ("../r.git", True), ("./r.git", True), ("git@github.com:acme/shop.git", True),
    ("ssh://git@h/r.git", True),
])
def test_looks_like_url(remote: str, is_url: bool) -> None:
    assert looks_like_url(remote) is is_url


def test_resolve_url_makes_relative_paths_absolute_only() -> None:
    assert resolve_url("../shop.git", "/work/ws") == "/work/shop.git"
    assert resolve_url("https://h/r.git", "/work/ws") == "https://h/r.git"
    assert resolve_url("git@h:a/b.git", "/work/ws") == "git@h:a/b.git"
    assert resolve_url("/srv/r.git", "/work/ws") == "/srv/r.git"


@pytest.mark.parametrize("url, name", [
    ("https://u:p@github.com/acme/shop.git", "acme/shop"), ("git@github.com:acme/shop.git", "acme/shop"),
    ("/tmp/x/remote.git", "x/remote"), ("file:///srv/git/acme/shop.git/", "acme/shop"), ("shop.git", "shop"),
])
def test_repository_name(url: str, name: str) -> None:
    assert repository_name(url) == name


def test_messages_name_the_branch_the_shas_and_what_to_do() -> None:
    moved = target_moved_message("main", "https://u:p@h/r.git", A, B)
    assert moved == (f"target 'main' moved during the merge ({A[:12]} -> {B[:12]} on https://***@h/r.git); "
                     "nothing was pushed; re-run the checks on the new target")
    head = head_moved_message("feature", "/r.git", A, B)
    assert f"'feature' is at {B[:12]}" in head and f"tested {A[:12]}" in head and "nothing was merged" in head
    conflict = conflict_message("feature", "main", ["app.py", "docs/x.md"])
    assert "conflicts in app.py, docs/x.md" in conflict and "merged into 'main'" in conflict
    assert "rebased onto 'main'" in conflict_message("feature", "main", ["a"], "rebase")


def test_commit_message() -> None:
    assert commit_message("Merge #1", "") == "Merge #1\n"
    assert commit_message("Merge #1", "Body\n") == "Merge #1\n\nBody\n"


def test_statuses_keep_the_latest_per_context_in_first_report_order() -> None:
    note = "\n".join([
        encode_status("jdci/smoke", "pending", "", "", "2026-01-01T00:00:00Z"),
        encode_status("jdci/unit", "failure", "2 failed", "http://j/1", "2026-01-01T00:00:01Z"),
        "not json, written by hand",
        '{"context": "jdci/x", "state": "green"}',  # not a state: ignored
        encode_status("jdci/smoke", "success", "ok", "", "2026-01-01T00:00:02Z"),
    ])
    checks = decode_statuses(note)
    assert [(c.name, c.state, c.created_at) for c in checks] == [
        ("jdci/smoke", "success", "2026-01-01T00:00:02Z"), ("jdci/unit", "failure", "2026-01-01T00:00:01Z")]
    assert checks[1].url == "http://j/1" and checks[1].kind == "status"
    assert decode_statuses("") == []


@pytest.mark.parametrize("name", ["main", "feature/SHOP-7-login", "release-1.2", "user@x", "a_b"])
def test_valid_branch_names(name: str) -> None:
    assert branch_problem(name) == ""


@pytest.mark.parametrize("name", ["", "--upload-pack=touch /tmp/x", "-f", "a..b", "a b", "a:b", "x.lock", "a/",
                                  "/a", "a\\b", "a~1", "a^", "a?", "a*", "a[", "@", "a@{1}", "a//b", ".hidden",
                                  "a/.b", "tab\there"])
def test_invalid_branch_names(name: str) -> None:
    assert branch_problem(name) != ""


def test_gate_problems_name_the_rules_that_can_never_pass_on_plain_git() -> None:
    assert gate_problems(0, 0) == []
    problems = gate_problems(1, 2)
    assert len(problems) == 2
    assert problems[0].startswith("[gate] approvals = 1") and "set approvals = 0" in problems[0]
    assert problems[1].startswith("[gate] thumbs_up = 2") and "set thumbs_up = 0" in problems[1]
