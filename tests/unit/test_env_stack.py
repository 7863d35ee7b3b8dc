"""The preprod stack spec as data (stack.py): no docker, no git."""
from __future__ import annotations

import pytest

from jenkins_docker_ci import config as config_module
from jenkins_docker_ci.config import PreprodConfig, ServiceSpec
from jenkins_docker_ci.errors import ConfigError
from jenkins_docker_ci.stack import (env_labels, expired, plan_up, port_range, preview_url, problems, resolve_env,
                                     sources_digest, start_levels)

OLD, NEW, OTHER = "1" * 40, "2" * 40, "3" * 40


def service(name: str, **kwargs) -> ServiceSpec:
    return ServiceSpec(name=name, **{"image": "img:1", **kwargs})


def test_waves_follow_depends_on_and_keep_declaration_order():
    stack = (service("web", depends_on=("db", "cache")), service("db"), service("cache"),
             service("worker", depends_on=("web",)), service("mail"))
    assert [[s.name for s in wave] for wave in start_levels(stack)] == [["db", "cache", "mail"], ["web"], ["worker"]]


def test_a_cycle_is_named():
    stack = (service("a", depends_on=("b",)), service("b", depends_on=("c",)), service("c", depends_on=("a",)))
    with pytest.raises(ConfigError, match=r"cycle \(a -> b -> c -> a\)"):
        start_levels(stack)


@pytest.mark.parametrize("spec, fragment", [
    (service("Redis"), "lower-case letters"),
    (service("app"), "the name 'app' is the app itself"),
    (ServiceSpec(name="db"), "exactly one of image"),
    (service("db", dockerfile="x/Dockerfile"), "exactly one of image"),
    (service("db", context="x"), "context is for dockerfile"),
    (service("db", health="/healthz"), "set port too"),
    (service("db", depends_on=("nope",)), "depends_on 'nope' is not a service here"),
    (service("db", volumes=("/host/path:/data",)), "NAME:/absolute/path"),
    (service("db", volumes=("data:relative",)), "NAME:/absolute/path"),
    (service("db", command="sh -c 'echo"), "'db': command = \"sh -c 'echo\" cannot be split"),
    (service("db", health="test -e '/tmp"), "'db': health"),
    (service("db", init="echo \"x"), "'db': init"),
])
def test_spec_problems_name_the_service_and_the_fix(spec, fragment):
    found = problems(PreprodConfig(services=(spec,)))
    assert len(found) == 1 and fragment in found[0], found


def test_unbalanced_quotes_in_the_apps_command_or_init_are_config_errors():
    assert "[preprod] command" in problems(PreprodConfig(command="sh -c 'echo"))[0]
    assert "[preprod] init" in problems(PreprodConfig(init="python3 'migrate.py"))[0]


def test_good_spec_and_duplicates():
    good = PreprodConfig(services=(service("db", port=5432, health="pg_isready", volumes=("data:/var/lib/pg",)),
                                   ServiceSpec(name="cache", dockerfile="services/redis/Dockerfile")))
    assert problems(good) == []
    assert "unique: db" in problems(PreprodConfig(services=(service("db"), service("db"))))[0]


@pytest.mark.parametrize("template, ok", [
    ("http://127.0.0.1:{port}", True), ("https://pr-{pr}.preview.example.com", True),
    ("http://{host}:{port}/{name}/{sha}", True), ("http://{hots}:{port}", False), ("pr-{pr}.example.com", False),
    ("http://{port", False),
])
def test_url_template_placeholders(template, ok):
    assert (problems(PreprodConfig(url_template=template)) == []) is ok


def test_preview_url_fills_the_template():
    assert preview_url("http://127.0.0.1:{port}", port=32768, host="h", pr=7, name="n", sha=OLD) == \
        "http://127.0.0.1:32768"
    assert preview_url("https://pr-{pr}.preview.example.com/{sha}", port=1, host="h", pr=7, name="n", sha=OLD) == \
        f"https://pr-7.preview.example.com/{OLD[:12]}"


def test_port_range():
    assert port_range("") is None
    assert port_range("20000-20999") == (20000, 20999)
    for bad in ("20999-20000", "80-90", "x", "20000"):
        with pytest.raises(ConfigError, match="port_range"):
            port_range(bad)


def test_secrets_come_from_the_environment_and_a_missing_one_names_the_key():
    values, used = resolve_env({"PGPASSWORD": "${PGPASSWORD}", "URL": "postgres://shop:${PGPASSWORD}@db/shop",
                                "PLAIN": "x"}, {"PGPASSWORD": "hunter22"}, "[preprod]")
    assert values == {"PGPASSWORD": "hunter22", "URL": "postgres://shop:hunter22@db/shop", "PLAIN": "x"}
    assert set(used) == {"hunter22"}
    with pytest.raises(ConfigError, match=r"\[preprod\] env PGPASSWORD = '\$\{PGPASSWORD\}' needs \$PGPASSWORD, "
                                          r"which is not set; export PGPASSWORD"):
        resolve_env({"PGPASSWORD": "${PGPASSWORD}"}, {}, "[preprod]")


def test_labels_carry_expiry_and_never_env_values():
    labels = env_labels("env", "acme/shop", 7, OLD, "app", "run1", created=1000, ttl_hours=2)
    assert labels["io.jdci.expires"] == str(1000 + 7200) and labels["io.jdci.pr"] == "7"
    assert labels["io.jdci.managed"] == "true" and labels["io.jdci.env"] == "env"
    assert expired(labels, now=1000 + 7201, ttl_hours=999) and not expired(labels, now=1000 + 7199, ttl_hours=0)
    assert expired({"io.jdci.created": "1000"}, now=1000 + 3601, ttl_hours=1)  # labelled before io.jdci.expires
    # ttl_hours = 0 makes no io.jdci.expires label: such an environment has no TTL, it is not expired at once
    assert env_labels("e", "a/b", 1, "s" * 40, "app", created=1000, ttl_hours=0).get("io.jdci.expires") is None
    assert not expired({"io.jdci.created": "1000"}, now=1000 + 86400 * 365, ttl_hours=0)


def never(a: str, b: str) -> bool | None:
    raise AssertionError("git not needed")


@pytest.mark.parametrize("running, image, healthy, new, ancestor, action", [
    (None, "", False, NEW, never, "create"),
    (NEW, "img:new", True, NEW, never, "reuse"),
    (NEW, "img:new", False, NEW, never, "replace"),  # same commit, not healthy
    (NEW, "img:other", True, NEW, never, "replace"),  # same commit, another image
    (OLD, "img:old", True, NEW, lambda a, b: False, "replace"),  # newer commit
    (NEW, "img:new", True, OLD, lambda a, b: True, "refuse"),  # provably older
    (NEW, "img:new", True, OTHER, lambda a, b: None, "replace"),  # cannot tell: a force-push, a fresh checkout
    ("", "", False, NEW, never, "replace"),  # leftovers without an app container
])
def test_what_up_does_with_what_runs(running, image, healthy, new, ancestor, action):
    plan = plan_up(running_sha=running, running_image=image, healthy=healthy, new_sha=new, new_image="img:new",
                   is_ancestor=ancestor)
    assert plan.action == action, plan


def test_sources_digest_changes_with_any_source_only():
    base = sources_digest(b"FROM x", [("a.sh", b"1"), ("b", b"2")])
    assert base == sources_digest(b"FROM x", [("b", b"2"), ("a.sh", b"1")])
    assert len({base, sources_digest(b"FROM y", [("a.sh", b"1"), ("b", b"2")]),
                sources_digest(b"FROM x", [("a.sh", b"1"), ("b", b"3")]),
                sources_digest(b"FROM x", [("a.sh", b"1"), ("c", b"2")])}) == 4


def test_config_reads_the_stack_and_rejects_a_bad_one():
    config = config_module.from_dict({"preprod": {
        "init": "python3 migrate.py", "url_template": "https://pr-{pr}.preview.example.com",
        "services": [{"name": "db", "dockerfile": "db/Dockerfile", "port": 5432, "health": "pg_isready",
                      "volumes": ["data:/var/lib/pg"], "env": {"POSTGRES_PASSWORD": "${PGPASSWORD}"}},
                     {"name": "web", "image": "nginx:1", "depends_on": ["db"]}]}})
    assert [s.name for s in config.preprod.services] == ["db", "web"]
    assert config.preprod.services[1].depends_on == ("db",)
    with pytest.raises(ConfigError, match=r"\[\[preprod.services\]\] 'web': depends_on 'cache'"):
        config_module.from_dict({"preprod": {"services": [{"name": "web", "image": "x", "depends_on": ["cache"]}]}})
    with pytest.raises(ConfigError, match="unknown key 'volume'.*did you mean 'volumes'"):
        config_module.from_dict({"preprod": {"services": [{"name": "web", "image": "x", "volume": ["a:/b"]}]}})


def test_the_sample_apps_stack_is_valid():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "examples" / "sample-app"
    config = config_module.load(cwd=str(root))
    assert [s.name for s in config.preprod.services] == ["redis", "postgres", "worker"]
    assert config.preprod.env["PGPASSWORD"] == "${PGPASSWORD}"  # a secret from the environment, not the file
    redis, postgres, worker = config.preprod.services
    assert (root / redis.dockerfile).is_file() and (root / postgres.dockerfile).is_file()
    assert worker.image == "@app" and worker.depends_on == ("redis",)
