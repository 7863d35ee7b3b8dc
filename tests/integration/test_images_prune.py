"""`jdci image ls` and `jdci image prune` on the real engine and registry, scoped to this test's repository."""
from __future__ import annotations


import pytest

from jenkins_docker_ci import config as config_module
from jenkins_docker_ci import images
from jenkins_docker_ci.config import Secrets
from jenkins_docker_ci.context import Change
from jenkins_docker_ci.registry import Registry

from .conftest import commit_page, make_tiny_app
from .registry_support import remove_local, run_jdci

pytestmark = pytest.mark.integration
REGISTRY = "127.0.0.1:5000"


@pytest.fixture
def scenario(tmp_path, unique, docker_client):
    """main: A (pushed, and tagged release-1 in the registry only), B (pushed), C (a stopped container uses it),
    D (newest, pushed); feature/x: F; plus an unmanaged image tagged into the same repository and a jdci image
    of another repository."""
    repository = f"jdci-tests/prune-{unique}"
    name = f"{REGISTRY}/{repository}"
    config = config_module.from_dict({"image": {"registry": REGISTRY, "repository": repository}},
                                     root=str(tmp_path))
    make_tiny_app(tmp_path, page="start")
    built = {}
    for key, branch in (("A", "main"), ("B", "main"), ("C", "main"), ("D", "main"), ("F", "feature/x")):
        sha = commit_page(tmp_path, f"{key} {unique}")
        change = Change(repository="acme/prune", source_branch=branch, head_sha=sha, workspace=str(tmp_path))
        plan = images.plan(config, change, commit_time="2026-01-01T00:00:00+00:00", tickets=[])
        images.build(docker_client, plan)
        if key in "ABD":
            images.push(docker_client, plan, Secrets(), timeout=30)
        built[key] = plan
    registry = Registry(REGISTRY)
    registry.put_manifest(repository, "release-1", registry.manifest(repository, built["A"].tags[0]))
    container = docker_client.api.create_container(built["C"].ref(), command=["true"],
                                                   name=f"jdci-test-prune-{unique}")
    unmanaged = tmp_path / "unmanaged"
    unmanaged.mkdir()
    (unmanaged / "Dockerfile").write_text(f"FROM jdci-base/busybox:latest\nRUN echo {unique} > /x\n")
    list(docker_client.api.build(path=str(unmanaged), tag=f"{name}:unmanaged", rm=True, decode=True))
    other = config_module.from_dict({"image": {"registry": REGISTRY, "repository": repository + "-other"}},
                                    root=str(tmp_path))
    other_plan = images.plan(other, Change(head_sha=built["A"].tags[0], source_branch="main",
                                           workspace=str(tmp_path)), commit_time="x", tickets=[])
    images.build(docker_client, other_plan)
    yield repository, built, other_plan
    docker_client.api.remove_container(container["Id"], force=True)
    remove_local(docker_client, name)
    remove_local(docker_client, other_plan.name)
    for digest in {registry.digest(repository, tag) for tag in registry.tags(repository)} - {None}:
        registry.delete_manifest(repository, digest)


def refs(plan):
    return {plan.ref(tag) for tag in plan.tags if tag != "main"}  # "main" moved on to the newest


def test_ls_lists_jdci_images_of_the_repository(scenario, tmp_path, docker_client):
    repository, built, _ = scenario
    done = run_jdci("image", "ls", "--repository", repository, "--json", cwd=tmp_path)
    assert done.code == 0, done.stderr
    found = done.json["images"]
    assert {i["id"] for i in found} == {docker_client.api.inspect_image(p.ref())["Id"] for p in built.values()}
    by_branch = {i["branch"] for i in found}
    assert by_branch == {"main", "feature/x"}
    assert all(i["repository"] == repository and i["size"] > 0 and i["age_seconds"] >= 0 for i in found)
    assert [i["in_use"] for i in found if built["C"].tags[0] in i["tags"]] == [True]
    assert not any("unmanaged" in i["tags"] for i in found)
    text = run_jdci("image", "ls", "--repository", repository, cwd=tmp_path)
    assert text.stdout.splitlines()[0] == "IMAGE\tTAGS\tBRANCH\tPR\tAGE\tSIZE"
    assert f"{REGISTRY}/{repository}\t" in text.stdout and "in use" in text.stdout


def test_prune_dry_run_then_real_run_removes_exactly_what_it_said(scenario, tmp_path, docker_client):
    repository, built, other = scenario
    args = ["image", "prune", "--repository", repository, "--keep", "1", "--older-than", "0", "--registry",
            "--json"]
    dry = run_jdci(*args, "--dry-run", cwd=tmp_path)
    assert dry.code == 0, dry.stderr
    assert set(dry.json["removed"]) == refs(built["A"]) | refs(built["B"])
    registry = Registry(REGISTRY)
    digest = {key: registry.digest(repository, built[key].tags[0]) for key in "ABD"}
    # A's digest is also release-1, a tag this machine does not have: it stays in the registry
    assert dry.json["registry_deleted"] == [f"{REGISTRY}/{repository}@{digest['B']}"]
    assert all(docker_client.api.images(filters={"reference": ref}) for ref in dry.json["removed"])  # dry: nothing

    real = run_jdci(*args, cwd=tmp_path)
    assert real.code == 0, real.stderr
    assert set(real.json["removed"]) == set(dry.json["removed"])
    assert real.json["registry_deleted"] == dry.json["registry_deleted"]
    assert real.json["failed"] == []
    left = run_jdci("image", "ls", "--repository", repository, "--json", cwd=tmp_path).json["images"]
    assert {t for i in left for t in i["tags"]} == {t for key in "CDF" for t in built[key].tags[:2]} | {
        "main", "feature-x"}
    assert {k["reason"] for k in real.json["kept"]} >= {"used by a container", "one of the newest 1 of its branch"}
    # never touched: an unmanaged image in the same repository, another repository's jdci image
    assert docker_client.api.images(filters={"reference": f"{REGISTRY}/{repository}:unmanaged"})
    assert docker_client.api.images(filters={"reference": other.ref()})
    # the registry: B's manifest gone, A's kept (release-1 points at it), D's kept
    assert registry.digest(repository, built["B"].tags[0]) is None
    assert registry.digest(repository, "release-1") == registry.digest(repository, built["A"].tags[0]) == digest["A"]
    assert registry.digest(repository, built["D"].tags[0]) == digest["D"]

    again = run_jdci(*args, "--dry-run", cwd=tmp_path)
    assert again.json["removed"] == [] and again.json["registry_deleted"] == []


def test_prune_needs_a_repository(tmp_path):
    (tmp_path / "jdci.toml").write_text("[image]\nregistry = \"127.0.0.1:5000\"\n")
    done = run_jdci("image", "prune", "--json", cwd=tmp_path)
    assert done.code == 2
    assert "which repository?" in done.json["error"]["message"]


def test_prune_removes_an_image_whose_tags_moved_to_a_rebuild(tmp_path, unique, docker_client):
    """A pushed image rebuilt without cache keeps only its digest ref (`<none>` in `docker images`): it still
    holds disk space, so ls shows it and prune removes it."""
    repository = f"jdci-tests/prune-{unique}"
    name = f"{REGISTRY}/{repository}"
    config = config_module.from_dict({"image": {"registry": REGISTRY, "repository": repository}},
                                     root=str(tmp_path))
    sha = make_tiny_app(tmp_path, page=unique)
    plan = images.plan(config, Change(repository="acme/p", source_branch="main", head_sha=sha,
                                      workspace=str(tmp_path)), commit_time="x", tickets=[])
    registry = Registry(REGISTRY)
    try:
        old_id = images.build(docker_client, plan)
        old = images.push(docker_client, plan, Secrets(), timeout=30)
        new_id = images.build(docker_client, plan, no_cache=True)
        images.push(docker_client, plan, Secrets(), timeout=30)
        assert new_id != old_id
        assert docker_client.api.inspect_image(old_id)["RepoTags"] == []
        listed = run_jdci("image", "ls", "--repository", repository, "--json", cwd=tmp_path).json["images"]
        assert [i["digests"] for i in listed if i["id"] == old_id] == [[old.digest]]
        done = run_jdci("image", "prune", "--repository", repository, "--keep", "1", "--older-than", "0", "--json",
                        cwd=tmp_path)
        assert done.code == 0, done.stderr
        assert done.json["removed"] == [f"{name}@{old.digest}"]
        assert [i["id"] for i in docker_client.api.images(all=True) if i["Id"] == old_id] == []
        assert docker_client.api.inspect_image(plan.ref())["Id"] == new_id
    finally:
        remove_local(docker_client, name)
        for digest in {registry.digest(repository, tag) for tag in registry.tags(repository)} - {None}:
            registry.delete_manifest(repository, digest)


def test_gc_prunes_the_configured_repository_by_the_configured_policy(scenario, tmp_path, docker_client):
    """`jdci gc` = env gc, then image prune with [image] prune_keep / prune_older_than (no flags)."""
    repository, built, other = scenario
    (tmp_path / "jdci.toml").write_text(f"""
[scm]
repository = "acme/prune"
[image]
registry = "{REGISTRY}"
repository = "{repository}"
prune_keep = 1
prune_older_than = "0"
""")
    preview = run_jdci("image", "prune", "--json", "--dry-run", cwd=tmp_path)
    dry = run_jdci("gc", "--json", "--dry-run", cwd=tmp_path)
    assert dry.code == 0 and dry.json["images"]["removed"] == sorted(preview.json["removed"]), dry.stderr
    done = run_jdci("gc", "--json", cwd=tmp_path)
    assert done.code == 0, done.stderr
    assert done.json["images"]["removed"] == sorted(preview.json["removed"])
    assert set(done.json["images"]["removed"]) == refs(built["A"]) | refs(built["B"])
    assert docker_client.api.images(filters={"reference": other.ref()})  # another repository: untouched
    again = run_jdci("gc", "--json", cwd=tmp_path)
    assert again.json["images"]["removed"] == []
