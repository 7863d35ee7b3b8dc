"""Benchmark of preprod environments (standalone):

    python3 bench/envs.py [--rounds 9] [--parallel 20]

1. `jdci env up` until healthy versus `docker run` + a curl loop polling every 50 ms, for the same single
   container (the tiny busybox app), interleaved, median of the rounds; as a library call
   (environments.up) and as the CLI process Jenkins runs. Target: ratio <= 1.1.
2. `--parallel` single-container environments of the tiny image up at once (one `jdci env up` process each,
   as parallel Jenkins builds), then down: total time, peak memory (sum of the jdci processes' RSS, and
   dockerd's growth), and leftover containers, networks and volumes (must be 0).
Needs `make services` (engine and base images). Everything it creates is labelled with its own repository and
removed at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import sh, tiny_app  # noqa: E402 - after the path is set


def docker_run_and_curl(image: str) -> float:
    """The baseline: `docker run` then curl every 50 ms until /healthz answers 200. Returns seconds to healthy."""
    started = time.perf_counter()
    cid = sh("docker", "run", "-d", "--label", "io.jdci.bench=baseline", "-p", "127.0.0.1::8000", image)
    port = sh("docker", "port", cid, "8000/tcp").splitlines()[0].rsplit(":", 1)[1]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if subprocess.run(["curl", "-fs", "-o", "/dev/null", f"http://127.0.0.1:{port}/healthz"]).returncode == 0:
            break
        time.sleep(0.05)
    else:
        raise SystemExit("baseline container never became healthy")
    elapsed = time.perf_counter() - started
    sh("docker", "rm", "-f", cid)
    return elapsed


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def leftovers(repository: str) -> int:
    flt = ["--filter", f"label=io.jdci.repository={repository}"]
    return sum(len([x for x in sh("docker", kind, "ls", "-q", *flt).split() if x])
               for kind in ("container", "network", "volume"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--parallel", type=int, default=20)
    options = parser.parse_args()
    rounds, parallel = min(options.rounds, 50), min(options.parallel, 50)  # bounded

    from jenkins_docker_ci import config as config_module
    from jenkins_docker_ci import environments, images, log

    log.set_quiet(True)
    app, sha = tiny_app("jdci-bench-envs-")
    repository = f"jdci-bench/envs-{uuid.uuid4().hex[:6]}"
    image = f"{repository}:{sha}"
    sh("docker", "build", "-q", "-t", image, str(app))
    (app / "jdci.toml").write_text(f'[scm]\nrepository = "{repository}"\n[image]\nregistry = ""\nrepository = '
                                   f'"{repository}"\n[preprod]\nport = 8000\nhealth_path = "/healthz"\n')
    config = config_module.load(app / "jdci.toml")
    client = images.engine()
    cli = [sys.executable, "-m", "jenkins_docker_ci", "env", "up", "--config", str(app / "jdci.toml"),
           "--sha", sha, "--image", image, "--workspace", str(app)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("GITHUB_TOKEN", None)

    def library(pr: int) -> float:
        started = time.perf_counter()
        made = environments.up(config, repository=repository, pr_number=pr, head_sha=sha, image_ref=image,
                               client=client)
        elapsed = time.perf_counter() - started
        environments.down(made.name, client=client)
        return elapsed

    def process(pr: int) -> float:
        started = time.perf_counter()
        subprocess.run([*cli, "--pr", str(pr)], check=True, capture_output=True, env=env)
        elapsed = time.perf_counter() - started
        environments.down(environments.env_name(repository, pr), client=client)
        return elapsed

    try:
        docker_run_and_curl(image), library(1000), process(1001)  # warm up: caches, page cache
        ours, cli_times, theirs = [], [], []
        for i in range(rounds):  # interleaved, so drift on the shared machine hits both sides alike
            theirs.append(docker_run_and_curl(image))
            ours.append(library(1 + i))
            cli_times.append(process(100 + i))
        base = statistics.median(theirs)
        print(f"up -> healthy, median of {rounds} interleaved rounds (one container, tiny image)")
        print(f"  docker run + curl every 50 ms  {base:7.3f} s")
        print(f"  environments.up (library)      {statistics.median(ours):7.3f} s   ratio "
              f"{statistics.median(ours) / base:5.2f}   (per-round median ratio "
              f"{statistics.median(o / t for o, t in zip(ours, theirs)):5.2f})")
        print(f"  jdci env up (CLI process)      {statistics.median(cli_times):7.3f} s   ratio "
              f"{statistics.median(cli_times) / base:5.2f}")

        # -- many at once -------------------------------------------------------------------------------
        dockerd = int(sh("pidof", "dockerd").split()[0])
        dockerd_before = rss_kib(dockerd)
        started = time.perf_counter()
        procs = [subprocess.Popen([*cli, "--pr", str(2000 + n), "--json"], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=env) for n in range(parallel)]
        peak, peak_dockerd = 0, dockerd_before
        done = threading.Event()

        def sample() -> None:
            nonlocal peak, peak_dockerd
            while not done.is_set():
                peak = max(peak, sum(rss_kib(p.pid) for p in procs if p.poll() is None))
                peak_dockerd = max(peak_dockerd, rss_kib(dockerd))
                done.wait(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        outputs = [p.communicate(timeout=600) for p in procs]
        up_time = time.perf_counter() - started
        failed = [err.decode()[-300:] for p, (_, err) in zip(procs, outputs) if p.returncode != 0]
        urls = [json.loads(out)["url"] for p, (out, _) in zip(procs, outputs) if p.returncode == 0]
        down_started = time.perf_counter()
        downs = [subprocess.Popen([sys.executable, "-m", "jenkins_docker_ci", "env", "down",
                                   environments.env_name(repository, 2000 + n)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for n in range(parallel)]
        for p in downs:
            p.wait(timeout=300)
        done.set()
        sampler.join()
        total = time.perf_counter() - started
        print(f"\n{parallel} environments at once (one `jdci env up` process each), then down")
        print(f"  all up and healthy  {up_time:7.2f} s   ({len(urls)} up, {len(set(urls))} distinct URLs, "
              f"{len(failed)} failed)")
        print(f"  all down            {time.perf_counter() - down_started:7.2f} s")
        print(f"  total               {total:7.2f} s")
        print(f"  peak memory         {peak / 1024:7.1f} MiB (sum of jdci processes' RSS); dockerd +"
              f"{(peak_dockerd - dockerd_before) / 1024:.1f} MiB")
        print(f"  leftover objects    {leftovers(repository)} (containers, networks, volumes)")
        for message in failed[:3]:
            print("  failure:", message)
    finally:
        for env_summary in environments.ls(client, repository=repository):
            environments.down(env_summary.name, client=client)
        subprocess.run(["docker", "rm", "-f", *sh("docker", "ps", "-aq", "--filter",
                                                    "label=io.jdci.bench=baseline").split()],
                       capture_output=True)
        subprocess.run(["docker", "rmi", image], capture_output=True)


if __name__ == "__main__":
    main()
