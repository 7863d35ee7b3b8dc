"""Benchmarks for checks: `jdci task run` against the raw docker CLI doing the same work, and a visual check's
screenshot against `chromium --screenshot`, as ratios (lower is better). Standalone:

    .venv/bin/python bench/checks.py [--rounds 5]

Needs `make services` (engine, base images, Chromium). Timings are medians over the rounds.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import median_seconds  # noqa: E402 - after the path is set
BASE = "jdci-base/busybox:latest"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    rounds = max(1, min(parser.parse_args().rounds, 50))  # bounded

    from jenkins_docker_ci import log
    from jenkins_docker_ci.checks.browser import Browser
    from jenkins_docker_ci.tasks import run_task

    log.set_quiet(True)
    code = Path(tempfile.mkdtemp(prefix="jdci-bench-task-"))
    (code / "main.sh").write_text("echo hello from the task\n")

    def jdci_task() -> None:
        assert run_task(BASE, code, ["sh", "main.sh"]).exit_code == 0

    def raw_task() -> None:
        tag = f"jdci-bench/task-{uuid.uuid4().hex[:8]}"
        context = Path(tempfile.mkdtemp(prefix="jdci-bench-ctx-"))
        shutil.copytree(code, context / "code")
        (context / "Dockerfile").write_text(f"FROM {BASE}\nCOPY code/ /code/\nWORKDIR /code\n")
        try:
            subprocess.run(["docker", "build", "-q", "-t", tag, str(context)], check=True, capture_output=True)
            subprocess.run(["docker", "run", "--rm", tag, "sh", "main.sh"], check=True, capture_output=True)
        finally:
            subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
            shutil.rmtree(context, ignore_errors=True)

    page = Path(tempfile.mkdtemp(prefix="jdci-bench-page-")) / "index.html"
    page.write_text("<h1>Checkout</h1><p>" + "text " * 400 + "</p>")
    out = page.parent / "shot.png"

    def jdci_shot() -> None:
        with Browser.start("/usr/bin/chromium", deadline=time.monotonic() + 60) as browser:
            browser.capture(page.as_uri(), width=1280, height=800, full_page=False)

    def raw_shot() -> None:
        profile = tempfile.mkdtemp(prefix="jdci-bench-profile-")
        try:
            subprocess.run(["/usr/bin/chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                            f"--screenshot={out}", "--window-size=1280,800", page.as_uri()],
                           check=True, capture_output=True, timeout=60)
        finally:
            shutil.rmtree(profile, ignore_errors=True)

    for name, ours, raw in (("task run (build + run + remove)", jdci_task, raw_task),
                            ("screenshot of one page", jdci_shot, raw_shot)):
        ours_s, raw_s = median_seconds(ours, rounds), median_seconds(raw, rounds)
        print(f"{name:34} jdci {ours_s:6.2f} s   raw {raw_s:6.2f} s   ratio {ours_s / raw_s:5.2f}")
    shutil.rmtree(code, ignore_errors=True)
    shutil.rmtree(page.parent, ignore_errors=True)


if __name__ == "__main__":
    main()
