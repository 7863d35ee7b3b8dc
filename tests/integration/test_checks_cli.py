"""`jdci check run` and `jdci check approve` through the CLI, with a stored baseline in a folder."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .checks_apps import app, build, network, page, remove_images

pytestmark = pytest.mark.integration

CONFIG = """
[image]
repository = "jdci-tests/cli-{unique}"
[[checks.http]]
name = "home"
contains = "Checkout"
[[checks.visual]]
name = "look"
viewports = ["640x480"]
[checks]
baseline_image = ""
baseline_store = "{store}"
"""


ROOT = Path(__file__).resolve().parents[2]


def jdci(*args: str, cwd) -> tuple[int, dict, str]:
    """The CLI run in the folder holding jdci.toml (as a Jenkins step runs it in the workspace)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("JDCI_CONFIG", "WORKSPACE", "CHANGE_TARGET"):
        env.pop(name, None)
    ran = subprocess.run([sys.executable, "-m", "jenkins_docker_ci", *args, "--json"], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=180)
    return ran.returncode, json.loads(ran.stdout), ran.stderr


def test_check_run_then_approve_then_a_change_fails(docker_client, unique, no_leaks, tmp_path):
    env = f"jdci-tests-cli-{unique}"
    (tmp_path / "jdci.toml").write_text(CONFIG.format(unique=unique, store=tmp_path / "baselines"))
    same, changed = f"jdci-tests/cli-{unique}:same", f"jdci-tests/cli-{unique}:changed"
    build(docker_client, same, page())
    build(docker_client, changed, page(title="Pay now"))
    try:
        with network(docker_client, env):
            with app(docker_client, same, env) as url:
                code, first, err = jdci("check", "run", "--url", url, "--target", "main", cwd=tmp_path)
            assert code == 0, err
            assert {c["name"]: c["status"] for c in first["checks"]} == {"home": "passed", "look": "skipped"}
            code, approved, err = jdci("check", "approve", "--target", "main", cwd=tmp_path)
            assert code == 0, err
            assert approved["files"] == ["look/index@640x480.dom.json", "look/index@640x480.png"]
            assert (tmp_path / "baselines" / f"jdci-tests_cli-{unique}" / "main" / "look").is_dir()
            with app(docker_client, changed, env) as url:
                code, second, err = jdci("check", "run", "--url", url, "--target", "main", cwd=tmp_path)
            assert code == 1, err
            look = [c for c in second["checks"] if c["name"] == "look"][0]
            assert look["status"] == "failed" and "h1#title: 'Checkout' -> 'Pay now'" in look["detail"]
            assert second["reports"]["html"].endswith("jdci-reports/checks.html")
            code, refused, err = jdci("check", "approve", "--check", "nope", cwd=tmp_path)
            assert code == 2 and "no visual check nope" in refused["error"]["message"]
            # approving from the running preview: the changed page becomes the baseline, then it passes
            with app(docker_client, changed, env) as url:
                code, approved, err = jdci("check", "approve", "--url", url, "--target", "main", cwd=tmp_path)
                assert code == 0, err
                code, third, err = jdci("check", "run", "--url", url, "--target", "main", cwd=tmp_path)
            # the page now matches its new baseline; the http check still wants "Checkout"
            assert code == 1 and {c["name"]: c["status"] for c in third["checks"]} == {"home": "failed",
                                                                                      "look": "passed"}, third
    finally:
        remove_images(docker_client, same, changed)
