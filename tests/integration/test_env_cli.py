"""`jdci env ...` as Jenkins runs it: separate processes, signals, two builds at once, gc against the GitHub
sandbox."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from jenkins_docker_ci import environments

from .conftest import make_tiny_app
from .github_scenario import Scenario
from .test_env_lifecycle import BUSYBOX, build_tiny, objects

pytestmark = pytest.mark.integration


def write_config(root: Path, repository: str, *, api_url: str = "https://api.github.com", extra: str = "") -> Path:
    path = root / "jdci.toml"
    path.write_text(f"""
[scm]
repository = "{repository}"
api_url = "{api_url}"
[image]
registry = ""
repository = "{repository.lower()}"
[preprod]
port = 8000
health_path = "/healthz"
health_timeout = 120
{extra}
[report]
directory = "{root / 'reports'}"
""")
    return path


def jdci_env() -> dict[str, str]:
    env = {**os.environ}
    for var in ("GITHUB_TOKEN", "CHANGE_ID", "WORKSPACE", "JDCI_CONFIG"):
        env.pop(var, None)
    return env


def jdci(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jenkins_docker_ci", *args], env=env or jdci_env(), cwd=cwd,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture
def app(tmp_path, unique, docker_client):
    """(root, repository, sha, image, config path)."""
    sha = make_tiny_app(tmp_path)
    repository = f"jdci-tests/envs-{unique}"
    image = build_tiny(docker_client, tmp_path, unique, sha)
    return tmp_path, repository, sha, image


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_during_up_removes_what_was_created(app, docker_client, no_leaks, signum, code):
    root, repository, sha, image = app
    # `slow` runs but never becomes healthy: the run is caught in the middle of `up`, a volume already made
    config = write_config(root, repository, extra=f"""
[[preprod.services]]
name = "slow"
image = "{BUSYBOX}"
command = "sleep 600"
health = "false"
volumes = ["data:/data"]
""")
    name = environments.env_name(repository, 21)
    process = subprocess.Popen([sys.executable, "-m", "jenkins_docker_ci", "env", "up", "--pr", "21", "--sha", sha,
                                "--image", image, "--config", str(config), "--workspace", str(root)],
                               env=jdci_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not any(c["State"] == "running" for c in docker_client.api.containers(
                filters={"label": f"io.jdci.env={name}"})):
            assert process.poll() is None and time.monotonic() < deadline, process.communicate()
            time.sleep(0.05)
        assert f"{name}-data" in objects(docker_client, name) and name in objects(docker_client, name)
        process.send_signal(signum)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == code, err
    assert "interrupted by" in err
    assert objects(docker_client, name) == set()


def test_two_ups_at_once_for_one_pr_end_with_one_environment(app, docker_client, no_leaks):
    root, repository, sha, image = app
    config = write_config(root, repository)
    command = [sys.executable, "-m", "jenkins_docker_ci", "env", "up", "--json", "--pr", "22", "--sha", sha,
               "--image", image, "--config", str(config), "--workspace", str(root)]
    name = environments.env_name(repository, 22)
    processes = [subprocess.Popen(command, env=jdci_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True) for _ in range(2)]
    try:
        results = [p.communicate(timeout=120) for p in processes]
        assert [p.returncode for p in processes] == [0, 0], results
        first, second = (json.loads(out) for out, _ in results)
        assert first["name"] == second["name"] == name and first["url"] == second["url"]
        assert sorted([first["reused"], second["reused"]]) == [False, True]
        assert objects(docker_client, name) == {f"{name}-app", name}
    finally:
        environments.down(name, client=docker_client)


def test_ls_logs_down_through_the_cli(app, docker_client, no_leaks):
    root, repository, sha, image = app
    config = write_config(root, repository, extra=f"""
[[preprod.services]]
name = "cache"
image = "{BUSYBOX}"
command = "sh -c 'echo cache says hello; exec httpd -f -p 6379 -h /etc'"
port = 6379
""")
    name = environments.env_name(repository, 23)
    up = jdci("env", "up", "--json", "--pr", "23", "--sha", sha, "--image", image, "--config", str(config),
              "--workspace", str(root))
    try:
        assert up.returncode == 0, up.stderr
        env = json.loads(up.stdout)
        assert env["status"] == "up" and env["network"] == name and set(env["urls"]) == {"app", "cache"}

        listed = jdci("env", "ls", "--json", "--config", str(config))
        assert listed.returncode == 0, listed.stderr
        (entry,) = json.loads(listed.stdout)["environments"]
        assert (entry["name"], entry["url"], entry["sha"], entry["pr"]) == (name, env["url"], sha, "23")
        assert entry["health"] == "running" and isinstance(entry["age"], int)
        table = jdci("env", "ls", "--config", str(config)).stdout.splitlines()
        assert table[0].split("\t") == ["ENVIRONMENT", "HEALTH", "PR", "SHA", "AGE", "URL"]
        assert table[1].startswith(f"{name}\trunning\tPR 23\t{sha[:12]}\t")

        logs = jdci("env", "logs", "cache", "--pr", "23", "--config", str(config))
        assert logs.returncode == 0 and "cache says hello" in logs.stdout, logs.stderr
        missing = jdci("env", "logs", "nope", "--pr", "23", "--config", str(config))
        assert missing.returncode == 1 and "no service 'nope'" in missing.stderr and "cache" in missing.stderr

        down = jdci("env", "down", "--pr", "23", "--config", str(config), "--json")
        assert down.returncode == 0 and json.loads(down.stdout) == {"name": name, "removed": 3}, down.stderr
        assert objects(docker_client, name) == set()
    finally:
        environments.down(name, client=docker_client)


def test_gc_removes_expired_and_closed_pr_environments_and_orphans_and_only_those(
        sandbox, app, docker_client, unique, tmp_path_factory, no_leaks):
    root, _, sha, image = app
    gh = Scenario(sandbox["github"], tmp_path_factory.mktemp("gh"), f"envs-gc-{unique}")
    repository = gh.full_name
    open_pr = gh.pr_with_branch("feature/open")["number"]
    closed_pr = gh.pr_with_branch("feature/closed")["number"]
    expired_pr = gh.pr_with_branch("feature/expired")["number"]
    assert gh.repo_call("PATCH", f"/pulls/{closed_pr}", json={"state": "closed"}).status_code == 200
    config_path = write_config(root, repository, api_url=gh.api)
    from jenkins_docker_ci import config as config_module

    config = config_module.load(config_path)
    # io.jdci.expires = int(created + 0.36 s) = the creation second, already past when gc runs
    short = config_module.from_dict({"preprod": {"ttl_hours": 0.0001}}, root=str(root))

    def up(repo: str, pr: int, cfg=config):
        return environments.up(cfg, repository=repo, pr_number=pr, head_sha=sha, image_ref=image,
                               client=docker_client).name

    other_repository = f"jdci-tests/envs-other-{unique}"
    names = {"open": up(repository, open_pr), "closed": up(repository, closed_pr),
             "expired": up(repository, expired_pr, short), "other": up(other_repository, 1, short)}
    orphan = environments.env_name(repository, 99)
    docker_client.api.create_network(orphan, labels=environments.env_labels(orphan, repository, 99, sha, "network"))
    try:
        # bob (a collaborator) reads the PRs: the sandbox's token IS the login, and jdci masks its token in
        # every line it prints, so alice's token would mask the environments' names (alice/...)
        env = {**jdci_env(), "GITHUB_TOKEN": "bob"}
        preview = jdci("env", "gc", "--dry-run", "--json", "--config", str(config_path), env=env)
        assert preview.returncode == 0, preview.stderr
        assert json.loads(preview.stdout)["removed"] == sorted([names["closed"], names["expired"], orphan])
        assert {e.name for e in environments.ls(docker_client)} >= set(names.values())  # dry: nothing removed
        assert objects(docker_client, orphan) != set()
        done = jdci("env", "gc", "--json", "--config", str(config_path), env=env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["removed"] == sorted([names["closed"], names["expired"], orphan])
        left = {e.name for e in environments.ls(docker_client)}
        assert names["open"] in left and names["other"] in left  # another repository's TTL is not ours to judge
        assert not {names["closed"], names["expired"]} & left and objects(docker_client, orphan) == set()

        # `jdci gc` does the same first (then image prune, wired by the lead): nothing stale is left now
        again = jdci("gc", "--json", "--config", str(config_path), env=env)
        assert again.returncode == 0 and json.loads(again.stdout)["environments"]["removed"] == [], again.stderr
    finally:
        for name in (*names.values(), orphan):
            environments.down(name, client=docker_client)


def test_up_in_a_jenkins_merge_checkout_runs_the_pr_head_not_the_synthetic_merge(
        sandbox, app, docker_client, unique, tmp_path_factory, no_leaks):
    root, _, _, image = app
    gh = Scenario(sandbox["github"], tmp_path_factory.mktemp("gh"), f"envs-merge-{unique}")
    pr = gh.pr_with_branch("feature/merge-checkout")
    head = pr["head"]["sha"]
    # what GitHub's "merge" discovery strategy checks out: a detached merge of the PR into its target
    gh.push("main", {"other.txt": "moved on\n"}, start="origin/main")
    from .github_scenario import git

    git(gh.work, "checkout", "-q", "--detach", "origin/main")
    git(gh.work, "merge", "-q", "--no-ff", "-m", "synthetic merge", head)
    merge = git(gh.work, "rev-parse", "HEAD").stdout.strip()
    config_path = write_config(root, gh.full_name, api_url=gh.api)
    # run from inside the checkout, as Jenkins does (the package is found from this source tree)
    env = {**jdci_env(), "GITHUB_TOKEN": "alice", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = jdci("env", "up", "--pr", str(pr["number"]), "--image", image, "--json", "--config", str(config_path),
                env=env, cwd=gh.work)
    try:
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["sha"] == head != merge
        # the PR moved on since this checkout: refused, nothing stood up
        gh.push("feature/merge-checkout", {"more.txt": "more\n"}, start="origin/feature/merge-checkout")
        git(gh.work, "checkout", "-q", "--detach", merge)
        stale = jdci("env", "up", "--pr", str(pr["number"]), "--image", image, "--json", "--config",
                     str(config_path), env=env, cwd=gh.work)
        assert stale.returncode == 2 and "moved on" in json.loads(stale.stdout)["error"]["message"]
    finally:
        environments.down(environments.env_name(gh.full_name, pr["number"]), client=docker_client)
