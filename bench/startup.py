"""Start-up cost of the CLI: `jdci --version` (and `jdci --help`) against a bare `python -c pass`.

    python3 bench/startup.py [--runs N]

Runs the commands interleaved (so machine noise hits both alike), N times each, and prints the medians and the
ratio; the target is a ratio of at most 3 (argparse and lazy imports: no docker, jira, jenkins, git or
requests at start-up). Uses the installed `jdci` when there is one (.venv/bin/jdci, then PATH), else
`python -m jenkins_docker_ci`. Exit 0 always: a benchmark reports, it does not judge.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def jdci_command() -> list[str]:
    venv = ROOT / ".venv" / "bin" / "jdci"
    if venv.exists():
        return [str(venv)]
    found = shutil.which("jdci")
    return [found] if found else [sys.executable, "-m", "jenkins_docker_ci"]


def timed(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    jdci = jdci_command()
    python = [sys.executable if jdci[0] == sys.executable else _python_of(jdci[0]), "-c", "pass"]
    commands = {"python -c pass": python, "jdci --version": [*jdci, "--version"], "jdci --help": [*jdci, "--help"]}
    for command in commands.values():  # warm the page cache and write .pyc files before measuring
        timed(command, env)
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(max(1, args.runs)):
        for name, command in commands.items():
            samples[name].append(timed(command, env))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    base = medians["python -c pass"]
    result = {"runs": args.runs, "jdci": " ".join(jdci),
              "median_ms": {name: round(value * 1000, 1) for name, value in medians.items()},
              "ratio_version": round(medians["jdci --version"] / base, 2),
              "ratio_help": round(medians["jdci --help"] / base, 2), "target": 3.0}
    if args.json:
        print(json.dumps(result))
    else:
        for name, value in result["median_ms"].items():
            print(f"{name:16} {value:7.1f} ms (median of {args.runs})")
        print(f"jdci --version / python -c pass = {result['ratio_version']:.2f} (target <= 3)")
        print(f"jdci --help    / python -c pass = {result['ratio_help']:.2f}")
    return 0


def _python_of(script: str) -> str:
    """The interpreter a console script runs with (its #! line), so both sides pay the same interpreter."""
    try:
        first = Path(script).read_text(errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return sys.executable
    return first[2:].strip().split()[0] if first.startswith("#!") else sys.executable


if __name__ == "__main__":
    sys.exit(main())
