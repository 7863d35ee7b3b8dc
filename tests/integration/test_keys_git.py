"""Keys in commit messages, read from a real git repository: first build of a branch, detached HEAD,
remote-tracking target, merge commits skipped; and `jdci link --dry-run --json` end to end."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jenkins_docker_ci.config import JiraConfig
from jenkins_docker_ci.context import Change
from jenkins_docker_ci.keys import commit_messages
from jenkins_docker_ci.tickets import find_keys

pytestmark = pytest.mark.integration
ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
       "GIT_COMMITTER_EMAIL": "t@example.com"}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=ENV).stdout.strip()


def commit(repo: Path, message: str) -> str:
    git(repo, "commit", "--allow-empty", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main with history naming OLD-1; feature/login branched off with keys only in its commits."""
    git(tmp_path, "init", "-q", "-b", "main")
    commit(tmp_path, "OLD-1 initial")
    commit(tmp_path, "OLD-2 on main before the branch")
    git(tmp_path, "checkout", "-q", "-b", "feature/login")
    commit(tmp_path, "Add the form")
    commit(tmp_path, "ABC-77: validate input\n\nAlso refs DEF-5.")
    git(tmp_path, "checkout", "-q", "main")
    commit(tmp_path, "NEW-3 on main after the branch")
    git(tmp_path, "checkout", "-q", "feature/login")
    return tmp_path


def test_first_build_finds_keys_only_in_the_branch_commits(repo: Path) -> None:
    messages = [m for _, m in commit_messages(str(repo), "main")]
    assert messages == ["Add the form", "ABC-77: validate input\n\nAlso refs DEF-5."]
    change = Change(title="Login page", source_branch="feature/login", target_branch="main")
    found = find_keys(JiraConfig(), change, repo_dir=str(repo))
    assert [(k.key, k.source.kind) for k in found] == [("ABC-77", "commit"), ("DEF-5", "commit")]
    assert found[0].where.startswith("commit ")


def test_detached_head_and_remote_tracking_target(repo: Path) -> None:
    head = git(repo, "rev-parse", "HEAD")
    # Jenkins: a detached checkout, the target only as origin/main, and a stale local main
    git(repo, "update-ref", "refs/remotes/origin/main", git(repo, "rev-parse", "main"))
    git(repo, "checkout", "-q", "--detach", head)
    git(repo, "branch", "-q", "-f", "main", git(repo, "rev-parse", "main~2"))
    found = find_keys(JiraConfig(), Change(target_branch="main", head_sha=head), repo_dir=str(repo))
    assert [k.key for k in found] == ["ABC-77", "DEF-5"]


def test_merge_commits_are_skipped(repo: Path) -> None:
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge branch 'OPS-9-hotfix' into feature/login", "main")
    keys = [k.key for k in find_keys(JiraConfig(), Change(target_branch="main"), repo_dir=str(repo))]
    assert keys == ["ABC-77", "DEF-5"]


def test_missing_target_or_repository_gives_a_note_not_an_error(repo: Path, tmp_path_factory: pytest.TempPathFactory
                                                                ) -> None:
    notes: list[str] = []
    assert commit_messages(str(repo), "develop", notes=notes) == []
    assert "target branch 'develop' not found" in notes[0]
    empty = tmp_path_factory.mktemp("not-a-repo")
    assert commit_messages(str(empty), "main", notes=notes) == []
    assert len(notes) == 2


def test_without_a_usable_checkout_the_hosts_commit_messages_are_searched(
        repo: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    listed = ["Basket: total", "OPS-3 fix the rounding"]
    empty = str(tmp_path_factory.mktemp("not-a-repo"))
    notes: list[str] = []
    found = find_keys(JiraConfig(), Change(target_branch="main"), repo_dir=empty, notes=notes,
                      host_commits=lambda: listed)
    assert [(k.key, k.where) for k in found] == [("OPS-3", "a commit message")]
    assert notes == ["commit messages read from the pull request on the SCM host (no usable git checkout)"]
    def never() -> list[str]:
        raise AssertionError("the host was asked although the checkout can say")

    found = find_keys(JiraConfig(), Change(target_branch="main"), repo_dir=str(repo), host_commits=never)
    assert [k.key for k in found] == ["ABC-77", "DEF-5"]


def test_cli_dry_run_prints_one_json_object_and_contacts_no_jira(repo: Path) -> None:
    env = {k: v for k, v in ENV.items() if not k.startswith(("CHANGE_", "JIRA_", "JDCI_"))}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    env["CHANGE_TARGET"] = "main"
    (repo / "jdci.toml").write_text('[jira]\nurl = "http://127.0.0.1:9"\n')  # nothing listens: must not matter
    done = subprocess.run([sys.executable, "-m", "jenkins_docker_ci", "link", "--dry-run", "--json",
                           "--title", "XYZ-1 Fix UTF-8 names", "--branch", "feature/abc-2-login", "--workspace",
                           str(repo)], capture_output=True, text=True, env=env, cwd=repo, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"tickets": ["XYZ-1", "ABC-2", "ABC-77", "DEF-5"]}
    assert all(line.startswith("[link] ") for line in done.stderr.splitlines())
    none = subprocess.run([sys.executable, "-m", "jenkins_docker_ci", "link", "--dry-run", "--json", "--title",
                           "docs", "--branch", "docs"], capture_output=True, text=True, env={**env,
                           "CHANGE_TARGET": ""}, cwd=repo, timeout=60)
    assert none.returncode == 0 and json.loads(none.stdout) == {"tickets": []}
