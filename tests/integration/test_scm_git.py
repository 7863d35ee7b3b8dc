"""PlainGit against real bare repositories in temporary folders, with real git (no sandbox, no mocks)."""
from __future__ import annotations

import os
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from jenkins_docker_ci import config as cfg
from jenkins_docker_ci.context import Change
from jenkins_docker_ci.errors import ConfigError, ServiceError
from jenkins_docker_ci.scm import HeadMoved, NotMergeable, connect
from jenkins_docker_ci.scm.git import PlainGit, TargetMoved

pytestmark = pytest.mark.integration

IDENTITY = {"GIT_AUTHOR_NAME": "Ada Author", "GIT_AUTHOR_EMAIL": "ada@example.com",
            "GIT_COMMITTER_NAME": "Ada Author", "GIT_COMMITTER_EMAIL": "ada@example.com"}


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **IDENTITY, "GIT_TERMINAL_PROMPT": "0"})
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


class World:
    """A bare remote with `main`, and a developer clone to push commits from."""

    def __init__(self, root: Path) -> None:
        self.remote = root / "remote.git"
        self.dev = root / "dev"
        git(root, "init", "-q", "--bare", "-b", "main", str(self.remote))
        git(root, "clone", "-q", str(self.remote), str(self.dev))
        git(self.dev, "checkout", "-q", "-b", "main")
        self.commit("main", {"README.md": "shop\n", "app.py": "print('v1')\n"}, "initial")

    def commit(self, branch: str, files: dict[str, str], message: str, *, base: str = "main") -> str:
        """A commit on the remote's `branch` (created from `base` when new), pushed."""
        if self.has_head():  # start from the remote's view: jdci pushes to it behind this clone's back
            git(self.dev, "fetch", "-q", "origin")
            start = branch if self.head(branch) else base
            git(self.dev, "checkout", "-q", "-B", branch, f"origin/{start}")
        for name, text in files.items():
            (self.dev / name).write_text(text)
        git(self.dev, "add", "-A")
        git(self.dev, "commit", "-q", "-m", message)
        git(self.dev, "push", "-q", "origin", branch)
        return git(self.dev, "rev-parse", "HEAD")

    def has_head(self) -> bool:
        return subprocess.run(["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=self.dev,
                              capture_output=True).returncode == 0

    def head(self, branch: str) -> str:
        out = git(self.remote, "for-each-ref", "--format=%(objectname)", f"refs/heads/{branch}")
        return out

    def parents(self, sha: str) -> list[str]:
        return git(self.remote, "rev-list", "--parents", "-n", "1", sha).split()[1:]

    def contains(self, branch: str, sha: str) -> bool:
        return subprocess.run(["git", "merge-base", "--is-ancestor", sha, f"refs/heads/{branch}"],
                              cwd=self.remote).returncode == 0

    def show(self, rev: str, path: str) -> str:
        return git(self.remote, "show", f"{rev}:{path}")


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def feature(world: World, name: str = "feature") -> str:
    return world.commit(name, {"feature.py": "print('feature')\n"}, "add the feature")


# -- merge --------------------------------------------------------------------------------------------------


def test_merge_pushes_a_merge_commit_with_two_parents(world: World) -> None:
    before = world.head("main")
    sha = feature(world)
    result = PlainGit(str(world.remote)).merge_branches("feature", "main", sha, method="merge",
                                                        title="Merge SHOP-7", message="Adds the feature")
    assert result.merged and result.sha == world.head("main")
    assert world.parents(result.sha) == [before, sha]
    assert world.contains("main", sha)
    assert git(world.remote, "log", "-1", "--format=%B", result.sha) == "Merge SHOP-7\n\nAdds the feature"
    assert git(world.remote, "log", "-1", "--format=%cn", result.sha) == "jdci"


def test_squash_pushes_one_commit_with_one_parent_authored_by_the_author(world: World) -> None:
    before = world.head("main")
    sha = feature(world)
    result = PlainGit(str(world.remote)).merge_branches("feature", "main", sha, method="squash", title="Squashed")
    assert result.merged and result.sha == world.head("main")
    assert world.parents(result.sha) == [before]
    assert not world.contains("main", sha)  # squash: a new commit, not the branch's history
    assert world.show("main", "feature.py") == "print('feature')"
    assert git(world.remote, "log", "-1", "--format=%an|%s", result.sha) == "Ada Author|Squashed"


def test_rebase_replays_the_branch_on_the_moved_target(world: World) -> None:
    sha = feature(world)
    moved = world.commit("main", {"other.py": "x = 1\n"}, "unrelated change on main")
    result = PlainGit(str(world.remote)).merge_branches("feature", "main", sha, method="rebase")
    assert result.merged and result.sha == world.head("main")
    assert world.parents(result.sha) == [moved]  # linear history on top of the target
    assert world.show("main", "feature.py") == "print('feature')"
    assert world.show("main", "other.py") == "x = 1"


def test_merging_again_says_already_merged_and_pushes_nothing(world: World) -> None:
    sha = feature(world)
    host = PlainGit(str(world.remote))
    first = host.merge_branches("feature", "main", sha)
    later = world.commit("main", {"later.py": "x\n"}, "later work on main")
    again = host.merge_branches("feature", "main", sha)
    assert again.merged and again.sha == first.sha  # the merge commit, not whatever main is at now
    assert world.head("main") == later
    assert "already" in again.message


def test_fast_forwarded_change_reports_itself_as_the_merge_commit(world: World) -> None:
    sha = feature(world)
    git(world.dev, "push", "-q", "origin", f"{sha}:refs/heads/main")  # someone fast-forwarded main by hand
    world.commit("main", {"later.py": "x\n"}, "later work on main")
    result = PlainGit(str(world.remote)).merge_branches("feature", "main", sha)
    assert (result.merged, result.sha) == (True, sha)


def test_target_moved_between_fetch_and_push_pushes_nothing(world: World) -> None:
    sha = feature(world)
    seen: list[str] = []

    def someone_pushes_to_main(branch: str) -> None:
        seen.append(branch)
        world.commit("main", {"hotfix.py": "fix = True\n"}, "hotfix")

    host = PlainGit(str(world.remote), before_push=someone_pushes_to_main)
    with pytest.raises(TargetMoved) as caught:
        host.merge_branches("feature", "main", sha)
    assert seen == ["main"]  # the seam really ran between the merge and the push
    hotfix = world.head("main")
    assert git(world.remote, "log", "-1", "--format=%s", hotfix) == "hotfix"
    assert not world.contains("main", sha)
    assert "target 'main' moved during the merge" in caught.value.message
    assert "nothing was pushed; re-run the checks on the new target" in caught.value.message
    assert isinstance(caught.value, NotMergeable)  # callers that only know the Protocol still stop


def test_target_moved_inside_the_remote_push_is_refused_by_the_remote(world: World) -> None:
    """A pre-receive hook moves main just before the remote updates it: the remote's own compare-and-swap
    on the ref refuses our update, which is the real race this design relies on."""
    sha = feature(world)
    racer = world.commit("racer", {"race.py": "won = True\n"}, "the racer's commit")
    hook = world.remote / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        'if [ ! -e "$GIT_DIR/moved-once" ]; then\n'
        '  touch "$GIT_DIR/moved-once"\n'
        "  unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES\n"
        f"  git update-ref refs/heads/main {racer}\n"
        "fi\n"
        "cat >/dev/null\n"
    )
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(TargetMoved) as caught:
        PlainGit(str(world.remote)).merge_branches("feature", "main", sha)
    assert world.head("main") == racer
    assert not world.contains("main", sha)
    assert "nothing was pushed" in caught.value.message and racer[:12] in caught.value.message


def test_head_moved_raises_and_pushes_nothing(world: World) -> None:
    before = world.head("main")
    tested = feature(world)
    newer = world.commit("feature", {"feature.py": "print('untested')\n"}, "pushed after the checks")
    with pytest.raises(HeadMoved) as caught:
        PlainGit(str(world.remote)).merge_branches("feature", "main", tested)
    assert world.head("main") == before
    assert tested[:12] in caught.value.message and newer[:12] in caught.value.message
    assert "nothing was merged" in caught.value.message


@pytest.mark.parametrize("method", ["merge", "squash", "rebase"])
def test_conflict_names_the_files_and_pushes_nothing(world: World, method: str) -> None:
    sha = world.commit("feature", {"app.py": "print('feature')\n", "read me.md": "feature\n", "new.py": "ok\n"},
                       "feature edits")
    world.commit("main", {"app.py": "print('main')\n", "read me.md": "main\n"}, "main edits")
    before = world.head("main")
    with pytest.raises(NotMergeable) as caught:
        PlainGit(str(world.remote)).merge_branches("feature", "main", sha, method=method)
    assert world.head("main") == before
    assert "conflicts in 'read me.md', app.py" in caught.value.message or \
        "conflicts in app.py, read me.md" in caught.value.message
    assert "new.py" not in caught.value.message


def test_missing_source_branch_is_not_mergeable(world: World) -> None:
    with pytest.raises(NotMergeable, match="'gone' does not exist"):
        PlainGit(str(world.remote)).merge_branches("gone", "main", "a" * 40)


def test_merge_from_a_detached_workspace_leaves_it_untouched(world: World, tmp_path: Path) -> None:
    """As in Jenkins: the workspace is a clone on a detached HEAD; jdci finds the remote from it, reads the
    change from Jenkins' variables and merges without changing anything in it."""
    sha = feature(world)
    workspace = tmp_path / "workspace"
    git(tmp_path, "clone", "-q", str(world.remote), str(workspace))
    git(workspace, "checkout", "-q", "--detach", sha)
    (workspace / "build-output.txt").write_text("untracked file from the build\n")

    def snapshot() -> tuple[str, str, str]:
        return (git(workspace, "rev-parse", "HEAD"), git(workspace, "for-each-ref"),
                git(workspace, "status", "--porcelain"))

    before = snapshot()
    config = cfg.from_dict({"scm": {"provider": "git", "remote": "origin"}, "gate": {"approvals": 0}},
                           root=str(workspace))
    env = {"CHANGE_ID": "12", "CHANGE_BRANCH": "feature", "CHANGE_TARGET": "main", "GIT_COMMIT": sha,
           "CHANGE_TITLE": "SHOP-7 add the feature"}
    host = PlainGit.from_config(config, env=env)
    assert host.url == str(world.remote)
    pr = host.pull_request(12)
    assert (pr.head_sha, pr.head_ref, pr.base_ref, pr.state, pr.mergeable) == (sha, "feature", "main", "open", True)
    assert pr.title == "SHOP-7 add the feature"
    assert [p.number for p in host.open_pull_requests()] == [12]
    assert host.find_pull_request("feature") == pr and host.find_pull_request("other") is None
    assert host.reviews(12) == [] and host.reactions(12) == [] and host.comments(12) == []

    result = host.merge(12, sha, "merge", "Merge #12", "")
    assert result.merged and world.head("main") == result.sha
    assert snapshot() == before
    merged = host.pull_request(12)
    assert (merged.state, merged.merged, merged.merge_sha) == ("closed", True, result.sha)
    assert host.open_pull_requests() == []


def test_connect_builds_plain_git_from_config(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHANGE_BRANCH", "feature")
    monkeypatch.delenv("CHANGE_ID", raising=False)
    config = cfg.from_dict({"scm": {"provider": "git", "url": str(world.remote), "target_branch": "main"}})
    host = connect(config, cfg.Secrets())
    assert isinstance(host, PlainGit)
    assert host.change is not None and (host.change.source_branch, host.change.target_branch) == ("feature", "main")


def test_unknown_remote_name_is_a_config_error(world: World) -> None:
    config = cfg.from_dict({"scm": {"provider": "git", "remote": "upstream"}}, root=str(world.dev))
    with pytest.raises(ConfigError, match="'upstream' is not a remote"):
        PlainGit.from_config(config, env={})


def test_pull_request_without_branches_is_a_usage_error(world: World) -> None:
    from jenkins_docker_ci.errors import UsageError

    with pytest.raises(UsageError, match="no pull requests"):
        PlainGit(str(world.remote)).pull_request(1)


def test_pull_request_reports_behind_and_dirty(world: World) -> None:
    sha = feature(world)
    host = PlainGit(str(world.remote), change=Change(source_branch="feature", target_branch="main"))
    assert host.pull_request(0).mergeable_state == "clean"
    world.commit("main", {"other.py": "x\n"}, "main moves")
    pr = host.pull_request(0)
    assert (pr.mergeable, pr.mergeable_state, pr.base_sha) == (True, "behind", world.head("main"))
    world.commit("main", {"feature.py": "print('conflict')\n"}, "main conflicts")
    pr = host.pull_request(0)
    assert (pr.mergeable, pr.mergeable_state, pr.head_sha) == (False, "dirty", sha)


# -- update branch ----------------------------------------------------------------------------------------


def test_update_branch_merges_the_target_into_the_source(world: World) -> None:
    sha = feature(world)
    host = PlainGit(str(world.remote), change=Change(pr_number=3, source_branch="feature", target_branch="main"))
    assert host.update_source_branch("feature", "main", sha) == sha  # already up to date: nothing pushed
    assert world.head("feature") == sha
    moved = world.commit("main", {"other.py": "x\n"}, "main moves")
    host.update_branch(3, sha)
    updated = world.head("feature")
    assert world.parents(updated) == [sha, moved]
    assert host.pull_request(3).mergeable_state == "clean"


def test_update_branch_with_a_moved_head_raises(world: World) -> None:
    sha = feature(world)
    world.commit("main", {"other.py": "x\n"}, "main moves")
    newer = world.commit("feature", {"feature.py": "v2\n"}, "newer")
    with pytest.raises(HeadMoved):
        PlainGit(str(world.remote)).update_source_branch("feature", "main", sha)
    assert world.head("feature") == newer


# -- branches and statuses --------------------------------------------------------------------------------


def test_delete_branch_twice(world: World) -> None:
    feature(world)
    host = PlainGit(str(world.remote))
    assert host.delete_branch("feature") is True
    assert world.head("feature") == ""
    assert host.delete_branch("feature") is False


def test_statuses_round_trip_through_the_remote(world: World) -> None:
    sha = feature(world)
    writer = PlainGit(str(world.remote))
    assert writer.checks(sha) == []  # no notes ref on the remote yet
    writer.set_status(sha, "jdci/smoke", "pending", "running")
    writer.set_status(sha, "jdci/unit", "failure", "2 failed", "http://127.0.0.1/build/1")
    writer.set_status(sha, "jdci/smoke", "success", "3 passed")
    assert git(world.remote, "for-each-ref", "--format=%(refname)", "refs/notes") == "refs/notes/jdci-checks"

    checks = PlainGit(str(world.remote)).checks(sha)  # another instance: only the remote holds them
    assert [(c.name, c.state, c.description) for c in checks] == [
        ("jdci/smoke", "success", "3 passed"), ("jdci/unit", "failure", "2 failed")]
    assert checks[1].url == "http://127.0.0.1/build/1" and checks[0].created_at.endswith("Z")
    assert writer.checks(world.head("main")) == []


def test_statuses_reported_at_once_are_all_kept(world: World) -> None:
    sha = feature(world)
    errors: list[BaseException] = []

    def report(n: int) -> None:
        try:
            PlainGit(str(world.remote)).set_status(sha, f"jdci/check-{n}", "success")
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=report, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(c.name for c in PlainGit(str(world.remote)).checks(sha)) == [f"jdci/check-{n}" for n in range(4)]


# -- errors -------------------------------------------------------------------------------------------------


def test_git_errors_name_the_command_and_never_the_credentials() -> None:
    # Port 1 on loopback: refused at once, nothing leaves the machine.
    host = PlainGit("http://jenkins:s3cret-token@127.0.0.1:1/acme/shop.git")
    with pytest.raises(ServiceError) as caught:
        host.remote_heads("main")
    message = caught.value.message
    assert "s3cret" not in message and "jenkins:" not in message
    assert "git" in message and "ls-remote" in message and "exit 128" in message
    assert "http://***@127.0.0.1:1/acme/shop.git" in message
    assert host.repository == "acme/shop"


def test_statuses_refused_by_the_remote_fail_at_once_with_its_message(world: World) -> None:
    sha = feature(world)
    hook = world.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'notes are read-only here' >&2\nexit 1\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    with pytest.raises(ServiceError) as caught:
        PlainGit(str(world.remote)).set_status(sha, "jdci/smoke", "success")
    assert "notes are read-only here" in caught.value.message
    assert "git push" in caught.value.message and "exit 1" in caught.value.message
    assert "attempts" not in caught.value.message  # a refusal is an answer: not retried until the deadline


def test_branch_names_are_never_read_as_options(world: World, tmp_path: Path) -> None:
    from jenkins_docker_ci.errors import UsageError

    host = PlainGit(str(world.remote))
    with pytest.raises(UsageError, match="not a valid branch name"):
        host.merge_branches(f"--upload-pack=touch {tmp_path}/pwned", "main", "a" * 40)
    with pytest.raises(UsageError, match="not a valid branch name"):
        host.delete_branch("-f")
    assert not (tmp_path / "pwned").exists()


def test_update_branch_when_the_source_moves_during_the_update_pushes_nothing(world: World) -> None:
    sha = feature(world)
    world.commit("main", {"other.py": "x\n"}, "main moves")
    pushed: list[str] = []

    def developer_pushes(branch: str) -> None:
        pushed.append(world.commit("feature", {"feature.py": "v2\n"}, "developer keeps working"))

    with pytest.raises(HeadMoved, match="moved during the update") as caught:
        PlainGit(str(world.remote), before_push=developer_pushes).update_source_branch("feature", "main", sha)
    assert world.head("feature") == pushed[0]
    assert "nothing was pushed" in caught.value.message


def test_from_config_warns_about_gate_rules_plain_git_cannot_meet(world: World,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    config = cfg.from_dict({"scm": {"provider": "git", "url": str(world.remote)}, "gate": {"approvals": 1}})
    with caplog.at_level("WARNING", logger="jenkins_docker_ci.scm.git"):
        PlainGit.from_config(config, env={})
    assert any("approvals = 1" in r.getMessage() for r in caplog.records)
