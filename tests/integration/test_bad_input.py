"""Bad input, as a careful user would type it: a clear error naming the object and the fix, the exit code of
DESIGN.md (2 for a user's mistake, never 3), exactly one JSON object on stdout, and nothing left behind."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .registry_support import ROOT
from .test_checks_command import BUSYBOX, task_leftovers, task_objects

pytestmark = pytest.mark.integration


def jdci(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "CHANGE_ID", "WORKSPACE", "JDCI_CONFIG")}
    clean["PYTHONPATH"] = str(ROOT)  # from any folder (cwd=), this checkout's jdci
    return subprocess.run([sys.executable, "-m", "jenkins_docker_ci", *args], cwd=cwd, env={**clean, **(env or {})},
                          capture_output=True, text=True, timeout=300)


def failed(ran: subprocess.CompletedProcess[str], code: int) -> dict:
    """The run failed with `code` and printed one JSON object with an error; returns that error."""
    assert ran.returncode == code, (ran.returncode, ran.stdout, ran.stderr)
    payload = json.loads(ran.stdout)
    assert "Traceback" not in ran.stderr and "internal error" not in ran.stderr
    return payload["error"]


@pytest.mark.parametrize("command", [["nosuchbinary-xyz"], [""]])
def test_task_run_with_a_command_missing_from_the_image_is_a_usage_error(docker_client, tmp_path, command):
    before = task_objects(docker_client)
    ran = jdci("task", "run", "--image", BUSYBOX, "--code", str(tmp_path), "--json", "--", *command)
    error = failed(ran, 2)
    assert "not in the image" in error["message"] and BUSYBOX in error["message"]
    assert task_leftovers(docker_client, before) == []


def test_task_run_with_a_malformed_image_reference_is_a_usage_error(docker_client, tmp_path):
    before = task_objects(docker_client)
    error = failed(jdci("task", "run", "--image", "Not An Image", "--code", str(tmp_path), "--json", "--", "true"), 2)
    assert "'Not An Image' is not an image reference" in error["message"]
    assert task_leftovers(docker_client, before) == []


def test_task_run_with_a_workdir_holding_a_space(docker_client, tmp_path):
    (tmp_path / "data.txt").write_text("hello")
    before = task_objects(docker_client)
    ran = jdci("task", "run", "--image", BUSYBOX, "--code", str(tmp_path), "--workdir", "/my code", "--json", "--",
               "sh", "-c", "pwd; cat data.txt")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["output"] == "/my code\nhello"
    assert task_leftovers(docker_client, before) == []


@pytest.fixture
def site(tmp_path):
    """A static site on a free loopback port: "/" exists, anything else answers 404."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    root = tmp_path / "site"
    root.mkdir()
    (root / "index.html").write_text("<html><body><h1>Shop</h1></body></html>")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_visual_page_that_answers_404_is_an_error_and_never_becomes_a_baseline(site, tmp_path):
    store = tmp_path / "baselines"
    config = tmp_path / "jdci.toml"
    config.write_text(f"""
[image]
repository = "jdci-tests/bad-input"
[checks]
baseline_image = ""
baseline_store = "{store}"
[[checks.visual]]
name = "look"
pages = ["/", "/no-such-page"]
timeout = 60
[report]
directory = "{tmp_path / 'reports'}"
""")
    ran = jdci("check", "run", "--url", site, "--config", str(config), "--json")
    assert ran.returncode == 1, ran.stderr
    shots = {s["page"]: s for s in json.loads(ran.stdout)["checks"][0]["shots"]}
    assert shots["/"]["status"] == "skipped"  # no baseline yet
    assert shots["/no-such-page"]["status"] == "error"
    assert "answered HTTP 404" in shots["/no-such-page"]["detail"]
    approved = jdci("check", "approve", "--config", str(config), "--json")
    assert approved.returncode == 0, approved.stderr
    assert all("no-such-page" not in name for name in json.loads(approved.stdout)["files"])


def test_env_logs_masks_the_stacks_secrets_in_a_process_that_did_not_start_it(tmp_path, unique, docker_client,
                                                                               no_leaks):
    from .conftest import make_tiny_app
    from .test_env_lifecycle import build_tiny

    sha = make_tiny_app(tmp_path)
    image = build_tiny(docker_client, tmp_path, unique, sha)
    repository = f"jdci-tests/envs-{unique}"
    config = tmp_path / "jdci.toml"
    config.write_text(f"""
[scm]
repository = "{repository}"
[image]
registry = ""
repository = "{repository}"
[preprod]
health_path = "/healthz"
command = "sh -c 'echo password is $DB_PASSWORD; exec httpd -f -p 8000 -h /www'"
[preprod.env]
DB_PASSWORD = "${{BAD_INPUT_DB_PASSWORD}}"
[report]
directory = "{tmp_path / 'reports'}"
""")
    secret = {"BAD_INPUT_DB_PASSWORD": f"s3cret-{unique}"}
    common = ["--pr", "31", "--config", str(config), "--workspace", str(tmp_path)]
    up = jdci("env", "up", "--sha", sha, "--image", image, "--json", *common, env=secret)
    try:
        assert up.returncode == 0, up.stderr
        logs = jdci("env", "logs", "app", "--json", *common, env=secret)
        assert logs.returncode == 0, logs.stderr
        assert json.loads(logs.stdout)["log"] == "password is ***\n"
        assert secret["BAD_INPUT_DB_PASSWORD"] not in logs.stdout + logs.stderr
    finally:
        assert jdci("env", "down", *common).returncode == 0


def test_check_run_without_network_runs_command_checks_with_secrets_masked_in_the_reports(site, tmp_path, unique,
                                                                                         docker_client):
    secret = f"tok-{unique}-secret"
    reports = tmp_path / "reports"
    config = tmp_path / "jdci.toml"
    config.write_text(f"""
[[checks.command]]
name = "api-token"
image = "{BUSYBOX}"
command = "test -n \\"$TOKEN\\" && echo token is $TOKEN"
[checks.command.env]
TOKEN = "${{BAD_INPUT_API_TOKEN}}"
[report]
directory = "{reports}"
""")
    before = {c["Id"] for c in docker_client.api.containers(all=True, filters={"label": "io.jdci.check"})}
    ran = jdci("check", "run", "--url", site, "--config", str(config), "--json",
               env={"BAD_INPUT_API_TOKEN": secret})
    assert ran.returncode == 0, ran.stdout + ran.stderr
    check = json.loads(ran.stdout)["checks"][0]
    assert check["status"] == "passed"
    assert secret not in ran.stdout + ran.stderr
    for report in reports.rglob("*"):
        if report.is_file():
            assert secret not in report.read_text(errors="replace"), report
    assert "token is ***" in (reports / "jdci-checks.xml").read_text()
    after = {c["Id"] for c in docker_client.api.containers(all=True, filters={"label": "io.jdci.check"})}
    assert after <= before


@pytest.mark.parametrize("command", [["image", "push"], ["image", "build", "--push"]])
def test_push_without_a_registry_is_a_config_error_before_any_build(tmp_path, unique, docker_client, command):
    from .conftest import make_tiny_app

    make_tiny_app(tmp_path)
    repository = f"jdci-tests/bad-input-{unique}"
    (tmp_path / "jdci.toml").write_text(f'[image]\nregistry = ""\nrepository = "{repository}"\n')
    error = failed(jdci(*command, "--pr", "3", "--json", cwd=tmp_path), 2)
    assert "[image] registry is empty" in error["message"]
    assert not docker_client.api.images(name=repository)  # nothing built


@pytest.fixture
def silent_site():
    """A loopback port that accepts connections and never answers: a page that never loads."""
    import socket
    import threading

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(50)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    server.close()


def test_sigterm_during_a_visual_check_stops_the_run_with_143(silent_site, tmp_path):
    import signal

    config = tmp_path / "jdci.toml"
    config.write_text(f"""
[checks]
baseline_image = ""
baseline_store = "{tmp_path / 'baselines'}"
[[checks.visual]]
name = "look"
timeout = 120
[report]
directory = "{tmp_path / 'reports'}"
""")
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_TOKEN", "CHANGE_ID", "WORKSPACE")}
    env["PYTHONPATH"] = str(ROOT)
    with subprocess.Popen([sys.executable, "-m", "jenkins_docker_ci", "check", "run", "--url", silent_site,
                           "--config", str(config), "--json"], env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as process:
        for line in process.stderr:  # the baseline is decided: next the browser opens the page that never loads
            if "baseline:" in line:
                break
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=120)
    assert process.returncode == 143, out + err
    assert json.loads(out)["error"]["kind"] == "interrupted"


def test_check_approve_url_with_an_unknown_check_is_refused_before_any_screenshot(site, tmp_path):
    config = tmp_path / "jdci.toml"
    config.write_text(f'[checks]\nbaseline_image = ""\nbaseline_store = "{tmp_path / "b"}"\n'
                      f'[[checks.visual]]\nname = "look"\n')
    ran = jdci("check", "approve", "--url", site, "--check", "lok", "--config", str(config), "--json")
    error = failed(ran, 2)
    assert "--check lok: no such [[checks.visual]]" in error["message"] and "(there: look)" in error["message"]
    assert "baseline:" not in ran.stderr  # no check ran
    assert not (tmp_path / "b").exists()


def test_http_check_headers_take_secrets_from_the_environment_and_mask_them(tmp_path, unique):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    secret = f"api-{unique}-secret"

    class EchoesAuthorization(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            ok = self.headers.get("Authorization") == f"Bearer {secret}"
            body = f"you sent {self.headers.get('Authorization')}".encode()
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoesAuthorization)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    reports = tmp_path / "reports"
    config = tmp_path / "jdci.toml"
    config.write_text(f"""
[[checks.http]]
name = "api"
path = "/me"
[checks.http.headers]
Authorization = "Bearer ${{BAD_INPUT_API_TOKEN}}"
[report]
directory = "{reports}"
""")
    try:
        ran = jdci("check", "run", "--url", f"http://127.0.0.1:{server.server_address[1]}", "--config", str(config),
                   "--json", env={"BAD_INPUT_API_TOKEN": secret})
    finally:
        server.shutdown()
        server.server_close()
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert json.loads(ran.stdout)["checks"][0]["status"] == "passed"
    assert secret not in ran.stdout + ran.stderr
    texts = [p.read_text(errors="replace") for p in reports.rglob("*") if p.is_file()]
    assert texts and not any(secret in text for text in texts)
    assert any("you sent Bearer ***" in text for text in texts)


def test_env_up_pulls_an_image_only_in_the_registry_and_a_bad_image_keeps_the_running_env(tmp_path, unique,
                                                                                          docker_client, no_leaks):
    from .conftest import make_tiny_app
    from .test_env_lifecycle import build_tiny

    sha = make_tiny_app(tmp_path)
    local = build_tiny(docker_client, tmp_path, unique, sha)
    repository = f"jdci-tests/envs-{unique}"
    remote = f"127.0.0.1:5000/{repository}:{sha}"
    docker_client.api.tag(local, f"127.0.0.1:5000/{repository}", sha)
    for chunk in docker_client.api.push(f"127.0.0.1:5000/{repository}", tag=sha, stream=True, decode=True):
        assert "error" not in chunk, chunk
    docker_client.api.remove_image(remote)  # as on another agent than the one that built it
    config = tmp_path / "jdci.toml"
    config.write_text(f'[scm]\nrepository = "{repository}"\n[image]\nregistry = "127.0.0.1:5000"\n'
                      f'repository = "{repository}"\n[preprod]\nhealth_path = "/healthz"\n'
                      f'[report]\ndirectory = "{tmp_path / "reports"}"\n')
    common = ["--pr", "41", "--config", str(config), "--workspace", str(tmp_path), "--json"]
    try:
        up = jdci("env", "up", "--sha", sha, *common)  # the default image: [image] registry/repository:SHA
        assert up.returncode == 0, up.stderr
        running = json.loads(up.stdout)
        assert running["status"] == "up" and running["image"] == remote
        typo = jdci("env", "up", "--sha", "f" * 40, "--image", f"127.0.0.1:5000/{repository}:nosuch", *common)
        error = failed(typo, 1)
        assert "not found on the engine nor in its registry" in error["message"]
        listed = json.loads(jdci("env", "ls", "--json", "--config", str(config)).stdout)["environments"]
        assert [(e["name"], e["sha"]) for e in listed] == [(running["name"], sha)]  # still there, untouched
    finally:
        assert jdci("env", "down", *common).returncode == 0
        docker_client.api.remove_image(remote, force=True)


def test_task_run_with_a_damaged_tarball_is_a_usage_error(docker_client, tmp_path):
    damaged = tmp_path / "code.tar.gz"
    damaged.write_bytes(b"\x1f\x8b this is no gzip stream" * 40)
    before = task_objects(docker_client)
    error = failed(jdci("task", "run", "--image", BUSYBOX, "--code", str(damaged), "--json", "--", "ls"), 2)
    assert "is not a tar archive" in error["message"]
    assert task_leftovers(docker_client, before) == []


def test_a_visual_run_that_fails_early_leaves_no_earlier_screenshots_to_approve(site, tmp_path):
    reports = tmp_path / "reports"
    folder = tmp_path / "folder.toml"
    folder.write_text(f'[checks]\nbaseline_image = ""\nbaseline_store = "{tmp_path / "b"}"\n'
                      f'[[checks.visual]]\nname = "look"\n[report]\ndirectory = "{reports}"\n')
    assert jdci("check", "run", "--url", site, "--config", str(folder), "--json").returncode == 0
    assert (reports / "visual" / "manifest.json").exists()  # an earlier run's screenshots
    # the next run (another commit) stores baselines in a registry, and names none
    registry = tmp_path / "registry.toml"
    registry.write_text(f'[image]\nregistry = ""\nrepository = "jdci-tests/bad-input"\n'
                        f'[checks]\nbaseline_image = ""\n[[checks.visual]]\nname = "look"\n'
                        f'[report]\ndirectory = "{reports}"\n')
    ran = jdci("check", "run", "--url", site, "--config", str(registry), "--json")
    assert ran.returncode == 1
    detail = json.loads(ran.stdout)["checks"][0]["detail"]
    assert "baseline_store = \"registry\" needs [image] registry" in detail
    error = failed(jdci("check", "approve", "--config", str(folder), "--json"), 2)
    assert "no visual check run found" in error["message"]
    assert not (tmp_path / "b").exists()  # nothing approved


def test_chromium_named_by_its_command_is_found_on_path_and_missing_from_path_is_named(site, tmp_path):
    config = tmp_path / "jdci.toml"
    config.write_text(f'[checks]\nchromium = "chromium"\nbaseline_image = ""\nbaseline_store = "{tmp_path / "b"}"\n'
                      f'[[checks.visual]]\nname = "look"\n[report]\ndirectory = "{tmp_path / "reports"}"\n')
    found = jdci("check", "run", "--url", site, "--config", str(config), "--json",
                 env={"PATH": "/usr/local/bin:/usr/bin:/bin"})
    assert found.returncode == 0, found.stdout + found.stderr
    assert json.loads(found.stdout)["checks"][0]["status"] == "skipped"  # screenshots taken; no baseline yet
    missing = jdci("check", "run", "--url", site, "--config", str(config), "--json",
                   env={"PATH": str(tmp_path)})
    assert missing.returncode == 1
    assert "Chromium not found at chromium" in json.loads(missing.stdout)["checks"][0]["detail"]
