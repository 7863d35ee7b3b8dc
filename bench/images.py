"""Benchmark: build + push through jdci against the raw `docker build` + `docker push` CLI on the same context.

    python3 bench/images.py [--rounds 5]

The context is a Dockerfile FROM a local base (jdci-base/busybox) with COPY steps only, so nothing is downloaded
and the ratio measures jdci, not a mirror. Both sides produce the same image: the same labels and the same four
tags (SHA, short SHA, pr-N, branch), each side in a repository of its own on the registry at 127.0.0.1:5000.
A third column runs the raw CLI without the labels: the least work a plain `docker build` + `docker push` does.
  cold: --no-cache on both sides (every step rebuilt; new config blob and manifest pushed)
  warm: unchanged sources (every step a cache hit; nothing new for the registry)
Runs are interleaved (jdci, raw, jdci, raw, ...) so drift on the shared machine hits both; medians are printed
with the ratio jdci / raw (lower is better; the target is at most 1.05). A warm rebuild must be a cache hit with
the same digest: asserted. Needs `make services`; takes well under 2 minutes.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import sh  # noqa: E402 - the shared helper, after the path is set

DOCKERFILE = """FROM jdci-base/busybox:latest
COPY static /app/static
COPY data /app/data
COPY conf/app.conf /app/conf/app.conf
COPY VERSION /app/VERSION
CMD ["httpd", "-f", "-p", "8000", "-h", "/app/static"]
"""
REGISTRY = "127.0.0.1:5000"


def make_context() -> Path:
    app = Path(tempfile.mkdtemp(prefix="jdci-bench-images-"))
    for folder, count, size in (("static", 20, 4096), ("data", 4, 512 * 1024)):
        (app / folder).mkdir()
        for i in range(count):  # random bytes: layers the registry cannot have from an earlier run
            (app / folder / f"f{i}.bin").write_bytes(os.urandom(size))
    (app / "conf").mkdir()
    (app / "conf" / "app.conf").write_text("mode = bench\n")
    (app / "VERSION").write_text("1.0\n")
    (app / "Dockerfile").write_text(DOCKERFILE)
    git = ["git", "-c", "user.name=b", "-c", "user.email=b@example.com", "-c", "init.defaultBranch=main"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "bench"]):
        subprocess.run([*git, *cmd], cwd=app, check=True)
    return app


def timed(work: Callable[[], str]) -> tuple[float, str]:
    started = time.perf_counter()
    result = work()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    rounds = max(1, min(parser.parse_args().rounds, 20))  # bounded

    from jenkins_docker_ci import config as config_module
    from jenkins_docker_ci import images, log
    from jenkins_docker_ci.config import Secrets
    from jenkins_docker_ci.context import Change

    log.set_quiet(True)
    app = make_context()
    sha = sh("git", "-C", str(app), "rev-parse", "HEAD")
    run_id = uuid.uuid4().hex[:6]
    ours, theirs = f"jdci-bench/images-jdci-{run_id}", f"jdci-bench/images-raw-{run_id}"
    plain = f"jdci-bench/images-plain-{run_id}"
    config = config_module.from_dict({"image": {"repository": ours, "push_timeout": 60}}, root=str(app))
    change = Change(repository="acme/bench", pr_number=1, source_branch="bench/images", head_sha=sha,
                    workspace=str(app))
    plan = images.plan(config, change, commit_time=sh("git", "-C", str(app), "show", "-s", "--format=%cI"),
                       tickets=[])
    client = images.engine()
    raw_name, plain_name = f"{REGISTRY}/{theirs}", f"{REGISTRY}/{plain}"
    labels = [arg for key, value in plan.labels.items() for arg in ("--label", f"{key}={value}")]

    def jdci(cold: bool) -> Callable[[], str]:
        def run() -> str:
            return images.build_and_push(config, Secrets(), change, commit_time=plan.labels[
                "org.opencontainers.image.created"], tickets=[], client=client, no_cache=cold).digest
        return run

    def raw(cold: bool, with_labels: bool = True) -> Callable[[], str]:
        def run() -> str:
            name = raw_name if with_labels else plain_name
            names = [arg for tag in plan.tags for arg in ("-t", f"{name}:{tag}")]
            sh("docker", "build", "-q", *(["--no-cache"] if cold else []), *(labels if with_labels else []),
               *names, str(app))
            sh("docker", "push", "-q", "--all-tags", name)
            return ""
        return run

    started = time.monotonic()
    rows = []
    try:
        for mode, cold in (("cold (--no-cache)", True), ("warm (unchanged sources)", False)):
            runners = [jdci(cold), raw(cold), raw(cold, with_labels=False)]
            for runner in runners:  # the first run of each mode warms what it may: base layer, connections
                runner()
            times: list[list[float]] = [[], [], []]
            for _ in range(rounds):
                for index, runner in enumerate(runners):
                    times[index].append(timed(runner)[0])
            rows.append((mode, *(statistics.median(t) for t in times)))

        # unchanged sources: a cache hit giving the same image and digest
        image_id = client.api.inspect_image(plan.ref())["Id"]
        first = jdci(False)()
        again = jdci(False)()
        assert first == again, f"rebuild changed the digest: {first} -> {again}"
        assert client.api.inspect_image(plan.ref())["Id"] == image_id, "rebuild was not a cache hit"
    finally:
        names = {f"{REGISTRY}/{name}" for name in (ours, theirs, plain)}
        for attrs in client.api.images():  # tagged, and the earlier cold builds known by digest only
            refs = [r for r in attrs.get("RepoTags") or [] if r.rpartition(":")[0] in names]
            refs += [r for r in attrs.get("RepoDigests") or [] if r.partition("@")[0] in names]
            if refs:
                client.api.remove_image(attrs["Id"], force=True)
        subprocess.run(["rm", "-rf", str(app)], check=False)

    print(f"{'images benchmark':26} {'jdci s':>7} {'raw s':>7} {'ratio':>6} {'raw, no labels s':>17} {'ratio':>6}")
    for name, mine_s, base_s, plain_s in rows:
        print(f"{name:26} {mine_s:7.3f} {base_s:7.3f} {mine_s / base_s:6.2f} {plain_s:17.3f} "
              f"{mine_s / plain_s:6.2f}")
    print(f"rebuild with unchanged sources: cache hit, same digest {first[:19]}...; "
          f"{rounds} interleaved rounds per mode in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
