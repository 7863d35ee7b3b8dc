"""Benchmarks: jdci's operations against the raw docker CLI doing the same work, as ratios (lower is better).

    .venv/bin/python bench/run.py [--rounds 5] [--only overview|images|envs|checks|startup]

First an overview (build+push rerun, preprod up+down, --help), then each topic's own benchmark, which also runs
alone: bench/images.py (build+push cold and warm), bench/envs.py (up-to-healthy, 20 environments at once),
bench/checks.py (task run, screenshots), bench/startup.py (`jdci --version` vs `python -c pass`).

Each pair runs the same work on the same tiny busybox app (warm builder cache, image already in the registry,
as in a rerun of a PR build). Timings are medians over the rounds. Needs `make services`.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import median_seconds, sh, tiny_app  # noqa: E402 - after the path is set


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=("overview", *TOPICS))
    options = parser.parse_args()
    rounds = min(options.rounds, 50)  # bounded
    if options.only in (None, "overview"):
        overview(rounds)
    for topic in TOPICS:
        if options.only in (None, topic):
            print(f"\n== bench/{topic}.py", flush=True)
            subprocess.run([sys.executable, str(ROOT / "bench" / f"{topic}.py")], check=False)


TOPICS = ("images", "envs", "checks", "startup")


def overview(rounds: int) -> None:
    from jenkins_docker_ci import config as config_module
    from jenkins_docker_ci import environments, images, log
    from jenkins_docker_ci.config import Secrets
    from jenkins_docker_ci.context import Change

    log.set_quiet(True)
    app, sha = tiny_app()
    repo = f"jdci-bench/app-{uuid.uuid4().hex[:6]}"
    config = config_module.from_dict({"image": {"repository": repo}, "preprod": {"health_path": "/healthz"}},
                                     root=str(app))
    change = Change(repository="acme/bench", pr_number=1, source_branch="b", head_sha=sha, workspace=str(app))
    client = images.engine()
    ref = f"127.0.0.1:5000/{repo}:{sha}"

    def jdci_build_push() -> None:
        images.build_and_push(config, Secrets(), change, commit_time="2026-01-01T00:00:00Z", tickets=[],
                              client=client)

    def docker_build_push() -> None:
        sh("docker", "build", "-q", "-t", ref, str(app))
        sh("docker", "push", "-q", ref)

    jdci_build_push()  # warm: cache and registry
    docker_build_push()
    rows = [("build + push (rerun)", median_seconds(jdci_build_push, rounds), median_seconds(docker_build_push, rounds))]

    def jdci_env() -> None:
        env = environments.up(config, repository="acme/bench", pr_number=1, head_sha=sha, image_ref=ref,
                              client=client)
        environments.down(env.name, client=client)

    def docker_env() -> None:
        import requests

        # the same work jdci does: a network of its own, the app on it, port on loopback, health polled
        network = f"jdci-bench-{uuid.uuid4().hex[:6]}"
        sh("docker", "network", "create", "--label", "io.jdci.managed=true", network)
        cid = sh("docker", "run", "-d", "--label", "io.jdci.managed=true", "--network", network,
                 "-p", "127.0.0.1::8000", ref)
        port = sh("docker", "port", cid, "8000/tcp").splitlines()[0].rsplit(":", 1)[1]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.05)
        sh("docker", "rm", "-f", cid)
        sh("docker", "network", "rm", network)

    rows.append(("preprod up + healthy + down", median_seconds(jdci_env, rounds), median_seconds(docker_env, rounds)))

    def jdci_help() -> None:
        subprocess.run([sys.executable, "-m", "jenkins_docker_ci", "--help"], check=True, capture_output=True)

    def python_pass() -> None:
        subprocess.run([sys.executable, "-c", "pass"], check=True)

    rows.append(("jdci --help vs python -c pass", median_seconds(jdci_help, rounds), median_seconds(python_pass, rounds)))

    print(f"{'benchmark':32} {'jdci s':>8} {'baseline s':>10} {'ratio':>6}")
    for name, ours, theirs in rows:
        print(f"{name:32} {ours:8.3f} {theirs:10.3f} {ours / theirs:6.2f}")


if __name__ == "__main__":
    main()
