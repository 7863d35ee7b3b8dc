import pytest

from jenkins_docker_ci import config as config_module
from jenkins_docker_ci.checks import CheckResult, Shot, commit_state, status_description
from jenkins_docker_ci.checks import command, visual
from jenkins_docker_ci.checks.baselines import page_slug, shot_key
from jenkins_docker_ci.checks.containers import labels, memory_bytes
from jenkins_docker_ci.checks.http import _MISSING, judge, json_value
from jenkins_docker_ci.checks.runner import Target, baseline_ref
from jenkins_docker_ci.config import CommandCheck, HttpCheck
from jenkins_docker_ci.errors import ConfigError
from jenkins_docker_ci.tasks import dockerfile


@pytest.mark.parametrize("check, code, body, status, detail", [
    (HttpCheck("a", regex=r"total: \d+"), 200, "total: 42", "passed", "/total: \\d+/"),
    (HttpCheck("a", regex=r"total: \d+"), 200, "total: n/a", "failed", "does not match"),
    (HttpCheck("a", json={"status": "ok", "items.1.n": "2", "up": "true"}), 200,
     '{"status": "ok", "items": [{"n": 1}, {"n": 2}], "up": true}', "passed", "status = 'ok'"),
    (HttpCheck("a", json={"status": "ok"}), 200, '{"status": "down"}', "failed", "JSON status is 'down'"),
    (HttpCheck("a", json={"a.b": "1"}), 200, '{"a": {}}', "failed", "JSON has no a.b"),
    (HttpCheck("a", json={"a": "1"}), 200, "<html>", "failed", "not JSON"),
    (HttpCheck("a", method="POST", path="/api", status=201, service="api"), 201, "", "passed",
     "POST /api on api answered 201"),
])
def test_http_judge(check, code, body, status, detail):
    got = judge(check, code, body)
    assert got[0] == status and detail in got[1]


def test_json_value_paths():
    doc = {"a": [{"b": None}, 3]}
    assert json_value(doc, "a.0.b") is None and json_value(doc, "a.-1") == 3
    assert json_value(doc, "a.5") is _MISSING and json_value(doc, "b") is _MISSING and json_value(doc, "") == doc


@pytest.mark.parametrize("exit_code, timed_out, status, detail", [
    (0, False, "passed", "exited 0"), (2, False, "failed", "exited 2"),
    (137, False, "failed", "out of memory"), (None, True, "error", "did not finish within 5 s; killed"),
])
def test_command_judge(exit_code, timed_out, status, detail):
    got = command.judge(CommandCheck("t", "make test", timeout=5), exit_code, timed_out)
    assert got[0] == status and detail in got[1]


def test_optional_checks_never_block_and_say_so():
    failed = CheckResult("lint", "failed", "3 warnings", required=False)
    assert commit_state(failed.status, failed.required) == "success" and not failed.blocks
    assert status_description(failed) == "optional: failed: 3 warnings"
    assert commit_state("error", False) == "success" and commit_state("pending", False) == "pending"
    assert status_description(CheckResult("lint", "passed", "clean", required=False)) == "clean"
    assert CheckResult("smoke", "error", "boom").blocks and not CheckResult("smoke", "skipped").blocks


def test_visual_judge():
    base = visual.Baseline("live", "r/x:main")
    ok = Shot("/", "800x600", "passed", "identical")
    bad = Shot("/cart", "800x600", "failed", "2% differ")
    assert visual.judge([ok], base) == ("passed", "1 screenshot(s) match the baseline (live: r/x:main)")
    assert visual.judge([ok, bad], base) == ("failed", "/cart @ 800x600: 2% differ")
    assert visual.judge([bad, Shot("/", "1x1", "error", "timed out")], base)[0] == "error"
    skipped = visual.judge([Shot("/", "800x600", "skipped")], visual.Baseline("none"))
    assert skipped[0] == "skipped" and "jdci check approve" in skipped[1]
    assert visual.viewport_size("1280x800") == (1280, 800)


def test_baseline_names():
    assert page_slug("/") == "index" and page_slug("/shop/cart?x=1") == "shop_cart_x_1"
    assert shot_key("look", "/cart", "375x667") == "look/cart@375x667"
    target = Target(urls={}, network="n", env_name="n", image="r/acme/shop:abc", registry="127.0.0.1:5000",
                    repository="acme/shop", target_branch="release/1.2")
    assert baseline_ref("{registry}/{repository}:{target}", target) == "127.0.0.1:5000/acme/shop:release-1.2"
    assert baseline_ref("", target) == ""
    assert baseline_ref("{registry}/{repository}:{target}",
                        Target(urls={}, network="n", env_name="n", image="", repository="x/y")) == "x/y:main"


def test_container_helpers():
    assert memory_bytes("512m") == 512 * 1024 ** 2 and memory_bytes("2g") == 2 * 1024 ** 3
    assert memory_bytes("") is None and memory_bytes("1000") == 1000
    assert labels("check", env="jdci-x-pr-1") == {"io.jdci.managed": "true", "io.jdci.role": "check",
                                                   "io.jdci.env": "jdci-x-pr-1"}
    assert "io.jdci.env" not in labels("task")


def test_task_dockerfile():
    assert dockerfile("python:3", "/code", tarball=False) == \
        'FROM python:3\nCOPY ["code/", "/code/"]\nWORKDIR /code\n'
    assert dockerfile("python:3", "/srv/app/", tarball=True).splitlines()[1] == 'ADD ["code.tar", "/srv/app/"]'
    # a workdir with a space is one path, not two arguments of COPY
    assert dockerfile("python:3", "/my code", tarball=False).splitlines()[1] == 'COPY ["code/", "/my code/"]'


def test_check_config_keys_and_validation():
    loaded = config_module.from_dict({"checks": {
        "http": [{"name": "api", "method": "post", "service": "api", "json": {"ok": "true"}, "required": False}],
        "command": [{"name": "unit", "command": "pytest", "memory": "1g", "cpus": 0.5}],
        "visual": [{"name": "look", "pages": ["/", "/cart"], "viewports": ["1280x800", "375x667"],
                    "ignore": [".ad"], "wait_for": "#app"}]}})
    assert loaded.checks.http[0].required is False and loaded.checks.command[0].timeout == 300
    assert loaded.checks.visual[0].threshold == 0.1 and loaded.checks.baseline_store == "registry"


@pytest.mark.parametrize("checks, message", [
    ({"http": [{"name": "a"}], "visual": [{"name": "a"}]}, "must be unique: a"),
    ({"command": [{"name": "x y", "command": "true"}]}, "checks.command name 'x y'"),
    ({"command": [{"name": "c", "command": " "}]}, "command is empty"),
    ({"command": [{"name": "c", "command": "true", "memory": "lots"}]}, "memory 'lots'"),
    ({"http": [{"name": "h", "method": "FETCH"}]}, "method 'FETCH'"),
    ({"http": [{"name": "h", "regex": "("}]}, "is not a regular expression"),
    ({"visual": [{"name": "v", "viewports": ["1280*800"]}]}, "viewport '1280*800'"),
    ({"visual": [{"name": "v", "pages": ["cart"]}]}, "must be a path"),
    ({"visual": [{"name": "v", "pages": []}]}, "pages is empty"),
    ({"visual": [{"name": "v", "max_diff_ratio": 2}]}, "between 0 and 1"),
    ({"visual": [{"name": "v", "treshold": 0.2}]}, "did you mean 'threshold'"),
    ({"baseline_image": "{registry}/{repo}:{target}"}, "unknown placeholder ('repo')"),
])
def test_check_config_errors_name_the_check_and_the_fix(checks, message):
    with pytest.raises(ConfigError, match=None) as error:
        config_module.from_dict({"checks": checks})
    assert message in str(error.value)


def test_command_check_without_any_image_is_an_error_naming_the_fix():
    # `jdci check run --url` without --image: the check reports what to set instead of docker-py's NullResource
    got = command.run(CommandCheck("e2e", "pytest", required=False), image="", network="", env_name="",
                      client=object())  # type: ignore[arg-type] - never reached
    assert got.status == "error" and "--image" in got.detail and "e2e" in got.detail and not got.required


@pytest.mark.parametrize("prefix, start", [("jdci-acme-shop-1a2b3c-pr-7-baseline", "jdci-acme-shop-1a2b3c-pr-7-baseline-"),
                                           ("-baseline", "jdci-baseline-"), ("", "jdci-")])
def test_unique_name_is_a_valid_docker_name(prefix, start):
    import re

    from jenkins_docker_ci.checks.containers import unique_name

    name = unique_name(prefix)
    assert name.startswith(start) and re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", name)


def test_a_live_follower_keeps_only_the_tail_of_a_huge_output():
    from types import SimpleNamespace

    from jenkins_docker_ci.checks.containers import BUFFER_LIMIT, _Follower

    chunk = b"x" * 65536 + b"\n"
    fake = SimpleNamespace(api=SimpleNamespace(logs=lambda *a, **k: iter([chunk] * 200 + [b"the end\n"])))
    seen: list[int] = []
    follower = _Follower(fake, "cid", lambda data: seen.append(len(data)))
    assert follower.finish()
    assert len(seen) == 201  # every chunk was still streamed live
    assert len(follower.buffer) <= 2 * BUFFER_LIMIT and follower.buffer.endswith(b"the end\n")


def test_the_end_a_live_follower_missed_is_found_in_the_engines_tail():
    from jenkins_docker_ci.checks.containers import missing_end

    assert missing_end(b"/code\n", b"/code\nhello") == b"hello"  # the unfinished last line
    assert missing_end(b"/code\nhello", b"/code\nhello") == b""
    assert missing_end(b"", b"all of it") == b"all of it"
    assert missing_end(b"x" * 10 + b"end\n", b"end\nmore", anchor=4) == b"more"
    assert missing_end(b"cannot be lined up", b"other text") == b""
    assert missing_end(b"a\n", b"a\nb\na\n") == b"b\na\n"  # repeated lines: the start lines them up
