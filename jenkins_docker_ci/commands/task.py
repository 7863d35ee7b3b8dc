"""`jdci task run --image BASE --code DIR|TARBALL [--workdir /code] [--timeout S] [--env K=V] -- CMD...`

Builds BASE + the code package into a temporary image, runs CMD once in a throwaway container, prints its output
(live, on stdout; on stderr with --json) and removes the container and the image.
Exit code: the task's own exit code, as `docker run` does, so a pipeline step fails when the task fails.
A task killed at --timeout exits 1 (`"timed_out": true`). jdci's own failures keep jdci's codes (2 usage,
4 Docker engine), which --json tells apart by its "error" member.
With --json stdout is one object: {"exit_code", "output", "timed_out"}.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import JdciError, UsageError


def add_parser(sub: Any, common: Any, seconds: Any) -> None:
    p = sub.add_parser("task", help="run a command once in a base image plus a code package (throwaway)")
    tsub = p.add_subparsers(dest="task_command", metavar="ACTION", required=True, parser_class=type(p))
    t = tsub.add_parser("run", help="build BASE + code into a temporary image, run CMD, remove both")
    t.add_argument("--image", required=True, metavar="BASE", help="the base image, e.g. jdci-base/python:3-bookworm")
    t.add_argument("--code", required=True, metavar="DIR|TARBALL", help="the code package copied into the image")
    t.add_argument("--workdir", default="/code", help="where the code goes and CMD runs (default /code)")
    t.add_argument("--timeout", type=seconds, default=3600.0, metavar="S", help="kill the task after S seconds")
    t.add_argument("--env", action="append", default=[], metavar="K=V", help="an environment variable (repeat)")
    t.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    t.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- CMD", help="the command to run")
    t.set_defaults(func=cmd_task_run)


def cmd_task_run(args: argparse.Namespace) -> Any:
    from ..cli import Outcome
    from ..tasks import run_task

    command = list(args.cmd)
    if command and command[0] == "--":
        command = command[1:]
    env: dict[str, str] = {}
    for item in args.env:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--env {item!r} is not K=V")
        env[key] = value
    import codecs

    # through the text streams, not their byte buffers: jdci's secret filter sits on the text streams
    out = sys.stderr if args.json else sys.stdout
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")  # a character may span two chunks

    def stream(chunk: bytes) -> None:
        out.write(decoder.decode(chunk))
        out.flush()

    result = run_task(args.image, Path(args.code), command, workdir=args.workdir, timeout=args.timeout, env=env,
                      stream=stream)
    out.write(decoder.decode(b"", final=True))
    if result.timed_out:
        args._partial = result.to_json
        raise JdciError(f"task `{' '.join(command)}` in {args.image} + {args.code} was killed after "
                        f"{args.timeout:g} s (--timeout); its container and image are removed", kind="timeout")
    return Outcome(code=result.exit_code or 0, payload=result.to_json())
