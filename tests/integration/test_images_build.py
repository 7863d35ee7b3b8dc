"""Building through `jdci image build` on the real engine, pushing to the real registry (127.0.0.1:5000)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from jenkins_docker_ci import config as config_module
from jenkins_docker_ci import images
from jenkins_docker_ci.context import Change

from .registry_support import remove_local, run_jdci

pytestmark = pytest.mark.integration

MULTI_STAGE = """# a base chosen by build arg, two stages, a debug stage after the one we ship
ARG BASE=jdci-base/debian:bookworm
FROM ${BASE} AS build
ARG GREETING=hello
COPY . /out/src
RUN echo "$GREETING" > /out/greeting
FROM ${BASE} AS final
COPY --from=build /out /www
EXPOSE 8000
CMD ["httpd", "-f", "-p", "8000", "-h", "/www"]
FROM final AS debug
RUN touch /debug
"""


def git(root: Path, *args: str) -> str:
    base = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"]
    return subprocess.run([*base, *args], cwd=root, check=True, capture_output=True, text=True).stdout.strip()


def make_app(root: Path, unique: str, *, dockerfile: str = MULTI_STAGE, registry: str = "127.0.0.1:5000",
             extra_config: str = "", target: str = "final") -> str:
    """A checkout with a multi-stage Dockerfile, a .dockerignore and a jdci.toml; returns the commit SHA."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Dockerfile").write_text(dockerfile)
    (root / "app.txt").write_text("the app\n")
    (root / "secret.txt").write_text("not for the image\n")
    (root / "notes.tmp").write_text("scratch\n")
    (root / ".dockerignore").write_text(".git\nsecret.txt\n*.tmp\n")
    (root / "jdci.toml").write_text(f"""
[scm]
repository = "acme/tiny-{unique}"
[image]
registry = "{registry}"
repository = "jdci-tests/img-{unique}"
target = "{target}"
push_timeout = 60
{extra_config}
[image.build_args]
BASE = "jdci-base/busybox"
GREETING = "hi"
""")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "app")
    return git(root, "rev-parse", "HEAD")


LONG_BRANCH = "Feature/SHOP-7_" + "very-long-branch-name-" * 8


def build_args(root: Path, *more: str) -> list[str]:
    return ["image", "build", "--json", "--workspace", str(root), "--pr", "7", "--branch", LONG_BRANCH,
            "--tickets", "SHOP-7,SHOP-8", *more]


ENV = {"CHANGE_URL": "http://127.0.0.1:9/acme/tiny/pull/7"}


def test_labels_tags_base_and_dockerignore_on_a_multi_stage_build(tmp_path, unique, docker_client):
    name = f"127.0.0.1:5000/jdci-tests/img-{unique}"
    try:
        sha = make_app(tmp_path, unique)
        done = run_jdci(*build_args(tmp_path, "--push"), cwd=tmp_path, env=ENV)
        assert done.code == 0, done.stderr
        image = done.json["image"]
        branch_tag = images.sanitize_tag(LONG_BRANCH)
        assert len(branch_tag) == 128 and branch_tag.startswith("feature-shop-7_very-long")
        assert image["tags"] == [sha, sha[:7], "pr-7", branch_tag]
        assert image["ref"] == f"{name}:{sha}"
        assert image["base"] == "jdci-base/busybox"  # the final stage's FROM ${BASE}, build arg applied
        assert image["digest"].startswith("sha256:")
        for tag in image["tags"]:  # every tag in the registry, under the registry host:port
            assert images.registry_digest("127.0.0.1:5000", f"jdci-tests/img-{unique}", tag) == image["digest"]
            assert f"{name}:{tag}" in docker_client.images.get(f"{name}:{tag}").tags

        labels = docker_client.images.get(image["ref"]).labels
        created = git(tmp_path, "show", "-s", "--format=%cI", sha)
        assert labels["org.opencontainers.image.revision"] == sha
        assert labels["org.opencontainers.image.created"] == created
        assert labels["org.opencontainers.image.source"] == "http://127.0.0.1:9/acme/tiny"
        assert labels["org.opencontainers.image.url"] == "http://127.0.0.1:9/acme/tiny"
        assert labels["org.opencontainers.image.title"] == f"img-{unique}"
        assert labels["org.opencontainers.image.version"] == sha[:12]
        assert labels["io.jdci.managed"] == "true"
        assert labels["io.jdci.repository"] == f"acme/tiny-{unique}"
        assert labels["io.jdci.pr"] == "7" and labels["io.jdci.tickets"] == "SHOP-7,SHOP-8"
        assert labels["io.jdci.branch"] == LONG_BRANCH

        # target "final": not the debug stage; the build arg reached the build stage; .dockerignore honoured
        listing = docker_client.containers.run(image["ref"], ["sh", "-c", "ls -a /www/src; cat /www/greeting; "
                                                                          "ls /debug || true"], remove=True)
        files = listing.decode().split()
        assert "app.txt" in files and "Dockerfile" in files
        assert "secret.txt" not in files and "notes.tmp" not in files and ".git" not in files
        assert "hi" in files
        assert "/debug" not in files  # `ls /debug` failed: that stage was not built into this image
        assert "[build] Step 1/" in done.stderr and "| " in done.stderr  # step headers and prefixed output

        again = run_jdci(*build_args(tmp_path, "--push"), cwd=tmp_path, env=ENV)
        assert again.code == 0, again.stderr
        assert again.json["image"]["digest"] == image["digest"]  # same sources -> same digest
        assert again.json["image"]["pushed_tags"] == []
        assert "| using cache" in again.stderr
    finally:
        remove_local(docker_client, name)


def test_rebuild_on_a_clean_engine_reuses_the_registry_image_as_cache(tmp_path, unique, docker_client):
    name = f"127.0.0.1:5000/jdci-tests/img-{unique}"
    try:
        make_app(tmp_path, unique)
        first = run_jdci(*build_args(tmp_path, "--push"), cwd=tmp_path, env=ENV)
        assert first.code == 0, first.stderr
        remove_local(docker_client, name)  # another agent: nothing of this image in its engine
        again = run_jdci(*build_args(tmp_path, "--push"), cwd=tmp_path, env=ENV)
        assert again.code == 0, again.stderr
        assert f"pulling {name}:{images.sanitize_tag(LONG_BRANCH)}" in again.stderr
        assert again.json["image"]["digest"] == first.json["image"]["digest"]
        assert again.json["image"]["pushed_tags"] == []
    finally:
        remove_local(docker_client, name)


def test_no_cache_when_the_registry_has_no_previous_image(tmp_path, unique, docker_client):
    name = f"127.0.0.1:5000/jdci-tests/img-{unique}"
    try:
        make_app(tmp_path, unique)
        done = run_jdci(*build_args(tmp_path), cwd=tmp_path, env=ENV)
        assert done.code == 0, done.stderr
        assert "pulling" not in done.stderr and "cache from" not in done.stderr
        assert "digest" not in done.json["image"]  # built, not pushed
    finally:
        remove_local(docker_client, name)


def test_a_silent_step_gets_progress_lines(tmp_path, unique, docker_client, capsys):
    name = f"127.0.0.1:5000/jdci-tests/img-{unique}"
    dockerfile = f"FROM jdci-base/busybox:latest\nRUN sleep 3 && echo {unique} > /done\n"
    sha = make_app(tmp_path, unique, dockerfile=dockerfile, target="")
    config = config_module.load(tmp_path / "jdci.toml")
    change = Change(repository="acme/x", head_sha=sha, source_branch="main", workspace=str(tmp_path))
    plan = images.plan(config, change, commit_time="2026-01-01T00:00:00+00:00", tickets=[])
    try:
        images.build(docker_client, plan, silent_after=1.0)
        err = capsys.readouterr().err
        assert "[build] still building: step 2/" in err
        assert images.base_image(plan) == "jdci-base/busybox:latest"
    finally:
        remove_local(docker_client, name)


def test_an_unresolvable_base_is_unknown_not_a_crash(tmp_path, unique, docker_client):
    name = f"127.0.0.1:5000/jdci-tests/img-{unique}"
    dockerfile = "ARG TAG\nFROM jdci-base/busybox:${TAG:-latest}\nARG LATER=x\nCOPY app.txt /\n"
    try:
        make_app(tmp_path, unique, dockerfile=dockerfile.replace("${TAG:-latest}", "latest${SUFFIX}")
                 .replace("ARG TAG", "ARG SUFFIX"), target="")
        done = run_jdci("image", "build", "--json", "--workspace", str(tmp_path), "--branch", "main",
                        cwd=tmp_path)
        assert done.code == 0, done.stderr  # docker expands the empty ARG; jdci cannot know: "unknown"
        assert done.json["image"]["base"] == "unknown"
    finally:
        remove_local(docker_client, name)


def test_a_target_the_dockerfile_lacks_is_a_config_error_before_building(tmp_path, unique):
    make_app(tmp_path, unique, target="relase")
    done = run_jdci(*build_args(tmp_path), cwd=tmp_path)
    assert done.code == 2
    assert "no stage named 'relase'" in done.json["error"]["message"]
    assert "build, final, debug" in done.json["error"]["message"]


def test_latest_on_the_default_branch_and_a_separate_push_step(tmp_path, unique, docker_client):
    name = f"127.0.0.1:5000/jdci-tests/img-{unique}"
    try:
        sha = make_app(tmp_path, unique, extra_config="latest_on_default_branch = true")
        missing = run_jdci("image", "push", "--json", "--workspace", str(tmp_path), "--branch", "main",
                           cwd=tmp_path)
        assert missing.code == 2 and "build it first: jdci image build" in missing.json["error"]["message"]

        built = run_jdci("image", "build", "--json", "--workspace", str(tmp_path), "--branch", "main",
                         cwd=tmp_path)
        assert built.code == 0, built.stderr
        assert built.json["image"]["tags"] == [sha, sha[:7], "main", "latest"]
        pushed = run_jdci("image", "push", "--json", "--workspace", str(tmp_path), "--branch", "main",
                          cwd=tmp_path)
        assert pushed.code == 0, pushed.stderr
        assert pushed.json["image"]["pushed_tags"] == [sha, sha[:7], "main", "latest"]
        assert images.registry_digest("127.0.0.1:5000", f"jdci-tests/img-{unique}", "latest") == \
            pushed.json["image"]["digest"]
        again = run_jdci("image", "push", "--workspace", str(tmp_path), "--branch", "main", cwd=tmp_path)
        assert again.code == 0, again.stderr
        assert again.stdout == f"{name}:{sha}\ndigest: {pushed.json['image']['digest']}\n"
        assert "nothing to push" in again.stderr
    finally:
        remove_local(docker_client, name)


def test_build_in_a_jenkins_merge_checkout_builds_exactly_the_pr_head(sandbox, tmp_path, unique, docker_client):
    """GitHub's "merge" strategy checks out a synthetic merge (GIT_COMMIT too): `jdci image build` asks the host
    for the PR head and builds that commit's sources, which is what the SHA tag promises."""
    from .conftest import TINY_DOCKERFILE
    from .github_scenario import Scenario, git

    (tmp_path / "gh").mkdir()
    gh = Scenario(sandbox["github"], tmp_path / "gh", f"img-merge-{unique}")
    gh.push("main", {"Dockerfile": TINY_DOCKERFILE, "www/index.html": "main page\n", "www/healthz": "ok"},
            start="origin/main")
    pr = gh.pr_with_branch("feature/look", {"www/index.html": "PR page\n"})
    head = pr["head"]["sha"]
    gh.push("main", {"www/other.txt": "main moved on\n"}, start="origin/main")  # the merge differs from the head
    git(gh.work, "checkout", "-q", "--detach", "origin/main")
    git(gh.work, "merge", "-q", "--no-ff", "-m", "synthetic merge", head)
    merge = git(gh.work, "rev-parse", "HEAD").stdout.strip()
    repository = f"jdci-tests/img-merge-{unique}"
    (gh.work / "jdci.toml").write_text(f'[scm]\nrepository = "{gh.full_name}"\napi_url = "{gh.api}"\n'
                                       f'[image]\nregistry = ""\nrepository = "{repository}"\n')
    try:
        done = run_jdci("image", "build", "--pr", str(pr["number"]), "--json", cwd=gh.work,
                        env={"GITHUB_TOKEN": "bob", "GIT_COMMIT": merge})
        assert done.code == 0, done.stderr
        built = done.json["image"]
        assert built["tags"][0] == head != merge
        labels = docker_client.api.inspect_image(built["ref"])["Config"]["Labels"]
        assert labels["org.opencontainers.image.revision"] == head
        page = docker_client.containers.run(built["ref"], ["cat", "/www/index.html"], remove=True)
        assert page.decode() == "PR page\n"
        # built from a temporary worktree: the checkout itself is left as it was
        assert git(gh.work, "rev-parse", "HEAD").stdout.strip() == merge
        assert (gh.work / "www" / "other.txt").is_file()
    finally:
        remove_local(docker_client, repository)
