from jenkins_docker_ci.image_inventory import LocalImage, in_scope, prune_plan

DAY = 86400.0
NOW = 100 * DAY


def img(id_, created_days_ago, branch="main", name="127.0.0.1:5000/team/app", in_use=False):
    return LocalImage(id_, name, (id_,), branch, "", NOW - created_days_ago * DAY, 1, in_use)


def going(decisions):
    return sorted(d.image.id for d in decisions if not d.keep)


def test_keeps_the_newest_n_per_branch():
    images = [img(f"m{i}", 10 + i) for i in range(4)] + [img(f"f{i}", 10 + i, branch="feature") for i in range(3)]
    assert going(prune_plan(images, keep=2, older_than=DAY, now=NOW)) == ["f2", "m2", "m3"]


def test_keeps_anything_newer_than_the_cut_off():
    images = [img("a", 1), img("b", 2), img("c", 3), img("d", 30)]
    assert going(prune_plan(images, keep=1, older_than=7 * DAY, now=NOW)) == ["d"]
    assert going(prune_plan(images, keep=1, older_than=0, now=NOW)) == ["b", "c", "d"]


def test_never_an_image_a_container_uses():
    images = [img("new", 1), img("used", 20, in_use=True), img("old", 30)]
    decisions = prune_plan(images, keep=1, older_than=0, now=NOW)
    assert going(decisions) == ["old"]
    assert [d.reason for d in decisions if d.image.id == "used"] == ["used by a container"]


def test_repositories_are_grouped_apart():
    images = [img("a", 5), img("b", 6, name="127.0.0.1:5000/team/other")]
    assert going(prune_plan(images, keep=1, older_than=0, now=NOW)) == []


def test_scope_matches_with_or_without_the_registry_host():
    assert in_scope("127.0.0.1:5000/team/app", "team/app")
    assert in_scope("127.0.0.1:5000/team/app", "127.0.0.1:5000/team/app")
    assert not in_scope("127.0.0.1:5000/team/app-x", "team/app")
    assert not in_scope("127.0.0.1:5000/team/app", "app")
    assert in_scope("team/app", "team/app")
    assert LocalImage("i", "localhost:5000/a/b", (), "", "", 0, 0).repository == "a/b"
    assert LocalImage("i", "localhost:5000/a/b", (), "", "", 0, 0).registry == "localhost:5000"
