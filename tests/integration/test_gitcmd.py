import pytest

from jenkins_docker_ci.gitcmd import GitFailed, run

pytestmark = pytest.mark.integration


def test_failure_names_command_folder_exit_and_redacts_credentials(tmp_path):
    with pytest.raises(GitFailed) as info:
        run(tmp_path, "ls-remote", "http://user:s3cret@127.0.0.1:9/x.git", timeout=30, hint="check the URL")
    message = str(info.value)
    assert "`git ls-remote http://***@127.0.0.1:9/x.git` failed in" in message
    assert "exit 128" in message and message.endswith("; check the URL")
    assert "s3cret" not in message
    assert info.value.exit_code == 2


def test_output(tmp_path):
    run(tmp_path, "init", "-q")
    assert run(tmp_path, "rev-parse", "--is-inside-work-tree").strip() == "true"


def test_a_missing_checkout_is_named_not_taken_for_a_missing_git(tmp_path):
    from jenkins_docker_ci import gitcmd
    from jenkins_docker_ci.errors import JdciError

    with pytest.raises(JdciError, match="is not a folder: `git rev-parse HEAD` needs the checkout"):
        gitcmd.run(tmp_path / "gone", "rev-parse", "HEAD")
    (tmp_path / "file").write_text("x")
    with pytest.raises(JdciError, match="is not a folder"):
        gitcmd.run(tmp_path / "file", "rev-parse", "HEAD")
