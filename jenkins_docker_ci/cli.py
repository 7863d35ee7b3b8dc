"""`jdci`: the command line. argparse only at start-up; every command imports what it needs when it runs,
so `jdci --help` stays fast.

Contract (DESIGN.md): logs on stderr; with --json, stdout is exactly one JSON object, on failure too, carrying
`"error": {"kind", "message"}`; exit codes 0 / 1 / 2 / 3 / 4 / 75 / 130 / 143.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any, Callable

from .errors import EXIT_INTERNAL, EXIT_OK, Interrupted, JdciError, UsageError


class Outcome:
    """What a command hands back: exit code, the --json payload, the text people see without --json.
    (A plain class: importing dataclasses costs `jdci --version` about 6 ms.)"""

    def __init__(self, code: int = EXIT_OK, payload: dict[str, Any] | None = None, text: str = "") -> None:
        self.code = code
        self.payload = payload if payload is not None else {}
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Outcome) and (self.code, self.payload, self.text) == (
            other.code, other.payload, other.text)

    def __repr__(self) -> str:
        return f"Outcome(code={self.code!r}, payload={self.payload!r}, text={self.text!r})"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="PATH", help="jdci.toml to use (default: $JDCI_CONFIG, ./jdci.toml, "
                                                         "[tool.jdci] in ./pyproject.toml)")
    parser.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")


def _change_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("the change (default: Jenkins' CHANGE_* variables)")
    group.add_argument("--pr", type=_positive_int, metavar="N", help="pull request number (CHANGE_ID)")
    group.add_argument("--title", help="pull request title (CHANGE_TITLE)")
    group.add_argument("--branch", help="source branch (CHANGE_BRANCH)")
    group.add_argument("--target", help="target branch (CHANGE_TARGET)")
    group.add_argument("--build-url", help="link to this build (BUILD_URL)")
    group.add_argument("--workspace", metavar="DIR", help="git checkout of the PR (WORKSPACE, default .)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="jdci", description="Take a pull request from opened to merged safely: JIRA ticket, "
                                              "Docker image, preprod environment, checks, gated merge.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("--timestamps", action="store_true",
                        help="put HH:MM:SS before every log line (also JDCI_TIMESTAMPS=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("pr", help="run the whole PR pipeline (link, build, preprod, checks, gate, merge)")
    _common(p)
    _change_flags(p)
    p.add_argument("--no-merge", action="store_true", help="stop after the checks and statuses")
    p.set_defaults(func=_cmd_pr)

    p = sub.add_parser("demo", help="create a fresh sandbox scenario of the sample app and run `jdci pr` on it")
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    p.add_argument("--app", metavar="DIR", help="the app to use (default: the bundled examples/sample-app)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("sandbox", help="start or stop the GitHub/JIRA/Jenkins/Slack stand-ins")
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    p.set_defaults(func=_cmd_sandbox)

    from .commands import env as env_commands  # `jdci env up|down|ls|logs|gc` and `jdci gc`

    env_commands.register(sub, _common, _change_flags, _Parser)

    p = sub.add_parser("link", help="find, check and link the JIRA tickets of a pull request")
    _common(p)
    _change_flags(p)
    p.add_argument("--dry-run", action="store_true", help="only print the keys found; contact no JIRA")
    p.set_defaults(func=_lazy("jenkins_docker_ci.commands.link", "cmd_link"))

    p = sub.add_parser("gate", help="evaluate the merge policy for a pull request and explain it (no side effects)")
    _common(p)
    _change_flags(p)
    p.set_defaults(func=_lazy("jenkins_docker_ci.commands.merge", "cmd_gate"))

    p = sub.add_parser("merge", help="gate, then merge the evaluated head of a pull request (or --sweep them all)")
    _common(p)
    _change_flags(p)
    p.add_argument("--sha", type=_full_sha, help="the head that was tested (provider git: default GIT_COMMIT); another head is "
                                 "refused")
    p.add_argument("--dry-run", action="store_true", help="evaluate and say what would be done; write nothing")
    p.add_argument("--wait", action="store_true", help="look again with backoff until merged, blocked or the "
                                                       "deadline ([merge] wait_timeout); exit 75 at the deadline")
    p.add_argument("--timeout", type=_seconds, metavar="S", help="with --wait: seconds before giving up")
    p.add_argument("--sweep", action="store_true", help="every open pull request: merge those that pass")
    p.set_defaults(func=_lazy("jenkins_docker_ci.commands.merge", "cmd_merge"))

    p = sub.add_parser("image", help="Docker images: build, push, promote, ls, prune")
    isub = p.add_subparsers(dest="image_command", metavar="ACTION", parser_class=_Parser, required=True)
    for action, help_text in (("build", "build the checkout's image with jdci's labels and tags"),
                              ("push", "push the image `jdci image build` made for this commit")):
        i = isub.add_parser(action, help=help_text)
        _common(i)
        _change_flags(i)
        i.add_argument("--sha", type=_full_sha, help="the commit to label and tag (default: GIT_COMMIT, then HEAD)")
        i.add_argument("--tickets", metavar="KEYS", help="comma-separated ticket keys for the io.jdci.tickets label")
        if action == "build":
            i.add_argument("--push", action="store_true", help="push every tag after the build")
            i.add_argument("--no-cache", action="store_true", help="build without the builder cache")
        i.set_defaults(func=_lazy("jenkins_docker_ci.commands.image", f"cmd_{action}"))
    i = isub.add_parser("promote", help="point a new tag at an image's digest in the registry (no rebuild)")
    i.add_argument("source", metavar="SRC", help="REGISTRY/REPO:TAG or REGISTRY/REPO@sha256:...")
    i.add_argument("dest", metavar="DEST", help="a tag (release-1.4) or REGISTRY/OTHER-REPO:TAG")
    _common(i)
    i.set_defaults(func=_lazy("jenkins_docker_ci.commands.image", "cmd_promote"))
    i = isub.add_parser("ls", help="jdci's local images: repository, tags, branch, PR, age, size")
    i.add_argument("--repository", metavar="REPO", help="only this repository (default: [image] repository)")
    i.add_argument("--all", action="store_true", help="every repository's jdci images")
    _common(i)
    i.set_defaults(func=_lazy("jenkins_docker_ci.commands.image", "cmd_ls"))
    i = isub.add_parser("prune", help="remove a repository's old jdci images (newest N per branch are kept)")
    i.add_argument("--repository", metavar="REPO", help="the repository (default: [image] repository)")
    i.add_argument("--keep", type=_count, metavar="N", help="newest images kept per branch "
                                                                   "(default: [image] prune_keep)")
    i.add_argument("--older-than", metavar="AGE", help="keep anything newer than this, e.g. 7d, 12h, 0 "
                                                       "(default: [image] prune_older_than)")
    i.add_argument("--dry-run", action="store_true", help="list what would be removed; remove nothing")
    i.add_argument("--registry", action="store_true", help="also delete the removed images' manifests in the "
                                                           "registry when no kept tag points at them")
    _common(i)
    i.set_defaults(func=_lazy("jenkins_docker_ci.commands.image", "cmd_prune"))

    p = sub.add_parser("ticket", help="JIRA ticket operations")
    tsub = p.add_subparsers(dest="ticket_command", metavar="ACTION", parser_class=_Parser, required=True)
    t = tsub.add_parser("transition", help="transition the PR's tickets for a lifecycle event")
    t.add_argument("event", choices=["opened", "checks_failed", "merged", "closed"])
    t.add_argument("--keys", help="comma-separated ticket keys (default: found from the change)")
    _common(t)
    _change_flags(t)
    t.set_defaults(func=_lazy("jenkins_docker_ci.commands.link", "cmd_ticket_transition"))

    p = sub.add_parser("jenkins", help="trigger a Jenkins job and wait for it, or show a job's last build")
    jsub = p.add_subparsers(dest="jenkins_command", metavar="ACTION", parser_class=_Parser, required=True)
    j = jsub.add_parser("trigger", help="queue a build (with parameters); --wait follows it to its result")
    j.add_argument("job", help="full name (team/shop/PR-7) or URL path (job/team/job/shop)")
    j.add_argument("-p", "--param", action="append", default=[], metavar="K=V", help="build parameter (repeat)")
    j.add_argument("--wait", action="store_true", help="wait for the result; exit 1 with the console tail if it "
                                                       "is not SUCCESS, 75 at the timeout")
    j.add_argument("--timeout", type=_seconds, metavar="S", help="with --wait: seconds before giving up "
                                                                 "(default [jenkins] wait_timeout)")
    j.add_argument("--url", help="Jenkins base URL (default [jenkins] url, else $JENKINS_URL)")
    _common(j)
    j.set_defaults(func=_lazy("jenkins_docker_ci.commands.jenkins", "cmd_trigger"))
    j = jsub.add_parser("status", help="a job's last build: result, SHA, URL, running or not")
    j.add_argument("job", help="full name (team/shop/PR-7) or URL path (job/team/job/shop)")
    j.add_argument("--pr", type=_positive_int, metavar="N", help="the job is a multibranch project: its PR-N")
    j.add_argument("--url", help="Jenkins base URL (default [jenkins] url, else $JENKINS_URL)")
    _common(j)
    j.set_defaults(func=_lazy("jenkins_docker_ci.commands.jenkins", "cmd_status"))

    from .commands import check as check_command, task as task_command  # light: argparse only at import

    task_command.add_parser(sub, _common, _seconds)
    check_command.add_parser(sub, _common, _change_flags)
    return parser


def _at_least_one(too_small: str) -> Callable[[str], int]:
    """An argparse type: a whole number >= 1; `too_small` says why a smaller one makes no sense ({value})."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if value < 1:
            raise argparse.ArgumentTypeError(too_small.format(value=value))
        return value

    return parse


_positive_int = _at_least_one("{value} is not a pull request number (1 or more)")
_count = _at_least_one("{value} would keep no image, not even the one just built; use 1 or more")


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 <= value <= 86400:
        raise argparse.ArgumentTypeError(f"{value:g} s is not between 0 and 86400")
    return value


def _full_sha(text: str) -> str:
    if not (len(text) == 40 and all(c in "0123456789abcdef" for c in text.lower())):
        raise argparse.ArgumentTypeError(f"{text!r} is not a full 40-character commit SHA (git rev-parse HEAD)")
    return text.lower()


def _version() -> str:
    from . import __version__

    return __version__


def _lazy(module: str, name: str) -> Callable[[argparse.Namespace], Any]:
    def call(args: argparse.Namespace) -> Any:
        import importlib

        return getattr(importlib.import_module(module), name)(args)

    return call


# -- commands --------------------------------------------------------------------------------------------------
def load_config(args: argparse.Namespace) -> Any:
    from . import config as config_module

    workspace = getattr(args, "workspace", None) or os.environ.get("WORKSPACE") or "."
    if not args.config and not os.path.isdir(workspace):  # else its jdci.toml is silently "not there": defaults
        from .errors import UsageError

        where = "--workspace" if getattr(args, "workspace", None) else "WORKSPACE"
        raise UsageError(f"{where} {workspace} is not a folder; pass the PR's checkout")
    return config_module.load(args.config, cwd=workspace if not args.config else ".")


def secrets() -> Any:
    from . import log
    from .config import Secrets

    found = Secrets.from_env()
    log.redact_values(found.values())
    return found


def change_from(args: argparse.Namespace) -> Any:
    from .context import from_env

    return from_env(os.environ, pr_number=args.pr, title=args.title, source_branch=args.branch,
                    target_branch=args.target, build_url=args.build_url, workspace=args.workspace)


def _cmd_pr(args: argparse.Namespace) -> Outcome:
    from . import pipeline
    from .context import Change

    args._partial = pipeline.Run(Change()).to_json  # the same JSON shape even when the config is bad
    run = pipeline.Run(change_from(args))
    args._partial = run.to_json  # what --json shows if a step fails
    config = load_config(args)
    pipeline.run_pr(config, secrets(), run.change, run=run, merge=not args.no_merge)
    return Outcome(EXIT_OK, run.to_json(), pipeline_summary(run.to_json()))


def pipeline_summary(data: dict[str, Any]) -> str:
    lines = []
    if data.get("demo"):
        lines.append(f"repository:  {data['demo']['repository']}")
        lines.append(f"pull request: {data['demo']['pr_url']}")
    lines.append(f"tickets:     {', '.join(data['tickets']) or '-'}")
    if data.get("image"):
        lines.append(f"image:       {data['image']['ref']}")
        lines.append(f"digest:      {data['image']['digest']}")
    env = data.get("environment") or {}
    if env.get("status") == "up":
        lines.append(f"environment: up at {env.get('url')} ({env.get('name')})")
    elif env.get("name"):
        what = "failed, removed" if env.get("status") == "failed" else "removed"
        lines.append(f"environment: {what} ({env.get('name')})")
    else:
        lines.append("environment: -")
    for check in data.get("checks", []):
        optional = "" if check.get("required", True) else " (optional)"
        lines.append(f"check:       {check['name']}: {check['status']}{optional}")
    if data.get("gate"):
        lines.append(f"gate:        {data['gate']['decision']}")
    merge = data.get("merge") or {}
    lines.append(f"merged:      {str(merge.get('merged', False)).lower()}"
                 + (f" ({merge['merge_sha']})" if merge.get("merge_sha") else ""))
    return "\n".join(lines)


def _cmd_demo(args: argparse.Namespace) -> Outcome:
    from . import demo

    result = demo.run(app=args.app, partial=lambda fn: setattr(args, "_partial", fn))
    return Outcome(EXIT_OK, result, pipeline_summary(result))


def _cmd_sandbox(args: argparse.Namespace) -> Outcome:
    from . import sandbox

    if args.action == "up":
        found = sandbox.up()
        return Outcome(EXIT_OK, found, "\n".join(f"{k}: {v}" for k, v in found.items()))
    if args.action == "down":
        was = sandbox.down()
        return Outcome(EXIT_OK, {"stopped": was}, "stopped" if was else "the sandbox was not running")
    found = sandbox.status()
    return Outcome(EXIT_OK, found, "\n".join(f"{k}: {v}" for k, v in found.items()) or "not running")


# -- running a command -------------------------------------------------------------------------------------
class _Signals:
    """SIGTERM (a Jenkins abort) and SIGINT (Ctrl-C): the first one raises Interrupted where the code is, so the
    steps' own clean-up runs on the way out; any later one is noted and ignored, so that a second abort or an
    impatient Ctrl-C cannot stop the clean-up halfway (leaving an environment behind)."""

    def __init__(self) -> None:
        self.first: int | None = None
        self.later: list[int] = []
        self.done = False  # the command has finished: the process is only exiting
        self._saved: dict[int, Any] = {}

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            try:
                self._saved[signum] = signal.signal(signum, self._handle)
            except ValueError:  # not the main thread (an embedding program): leave signals to it
                return

    def restore(self) -> None:
        for signum, previous in self._saved.items():
            signal.signal(signum, previous)

    def _handle(self, signum: int, frame: object) -> None:
        if self.done:
            return
        if self.first is None:
            self.first = signum
            raise Interrupted(signum)
        self.later.append(signum)
        sys.stderr.write(f"jdci: {signal.Signals(signum).name} received while cleaning up after "
                         f"{signal.Signals(self.first).name}; finishing the clean-up first\n")
        sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    as_program = argv is None  # `jdci ...`: the process ends after this, so a late signal must not kill it
    argv = sys.argv[1:] if argv is None else argv
    # jdci's own options end at "--": what follows is a task's command line (`jdci task run ... -- CMD --json`)
    own = argv[:argv.index("--")] if "--" in argv else argv
    want_json = "--json" in own
    args: argparse.Namespace | None = None
    from . import log

    if "--timestamps" in own:  # accepted anywhere, not only before the command: it is about the console
        argv = [a for a in own if a != "--timestamps"] + argv[len(own):]
        restore_streams = log.install(timestamps=True)
    else:
        restore_streams = log.install()
    signals = _Signals()
    signals.install()
    try:
        args = build_parser().parse_args(argv)
        if not getattr(args, "func", None):
            build_parser().print_help(sys.stderr)
            return 2
        outcome = args.func(args)
        if not isinstance(outcome, Outcome):  # commands from other modules may return a bare exit code
            outcome = Outcome(int(outcome or 0))
        _emit(outcome.payload, outcome.text, want_json)
        return outcome.code
    except KeyboardInterrupt:
        signals.first = signals.first or signal.SIGINT  # from here on, signals no longer interrupt
        return _fail(Interrupted(signal.SIGINT), args, want_json)
    except JdciError as exc:
        if isinstance(exc, Interrupted) and signals.first is None:
            signals.first = exc.exit_code - 128  # raised by a command itself: still protect what follows
        return _fail(exc, args, want_json)
    except Exception:  # noqa: BLE001 - a bug in jdci: keep the traceback for the bug report
        return _internal_error(args, want_json)
    finally:
        signals.done = True
        if not as_program:  # a caller in the same process (tests, a wrapper) gets its own handlers back
            signals.restore()
        restore_streams()


def interrupted_summary(signum: int, payload: dict[str, Any], note: str = "") -> str:
    """The last line of an interrupted run: what was cleaned up, from what the run reported. Pure."""
    try:
        name = signal.Signals(signum).name
    except ValueError:
        name = f"signal {signum}"
    parts = [f"interrupted by {name}"]
    env = payload.get("environment")
    if isinstance(env, dict):
        if env.get("name") and env.get("status") in ("down", "failed"):
            parts.append(f"removed environment {env['name']}")
        elif env.get("name") and env.get("status") == "up":
            parts.append(f"kept environment {env['name']} (it predates this run)")
        else:
            parts.append("no environment was started")
    merge = payload.get("merge") if isinstance(payload.get("merge"), dict) else (
        payload if "merged" in payload else None)
    if merge is not None:
        parts.append(f"merged before the interruption ({merge.get('merge_sha')})" if merge.get("merged")
                     else "nothing merged")
    if note:
        parts.append(note)
    return "jdci: " + "; ".join(parts)


def _emit(payload: dict[str, Any], text: str, want_json: bool) -> None:
    import json

    if want_json:
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
    elif text:
        sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _partial(args: argparse.Namespace | None) -> dict[str, Any]:
    partial = getattr(args, "_partial", None) if args is not None else None
    try:
        return dict(partial()) if callable(partial) else {}
    except Exception:  # noqa: BLE001 - the error report must not fail
        return {}


def _fail(exc: JdciError, args: argparse.Namespace | None, want_json: bool) -> int:
    from . import log

    payload = _partial(args)
    if isinstance(exc, Interrupted):
        note = getattr(args, "_interrupt_note", None) if args is not None else None
        message = interrupted_summary(exc.exit_code - 128, payload, note() if callable(note) else "")
        if want_json:
            payload["error"] = {"kind": exc.kind, "message": message}
            _emit(payload, "", True)
        log.final(message)  # the last line of the console says what was cleaned up
        return exc.exit_code
    message = log.redact(exc.message)
    log.say("error", message)
    if want_json:
        payload["error"] = {"kind": exc.kind, "message": message}
        _emit(payload, "", True)
    return exc.exit_code


def _internal_error(args: argparse.Namespace | None, want_json: bool) -> int:
    import tempfile
    import time
    import traceback

    from . import log

    text = log.redact(traceback.format_exc())
    name = f"jdci-error-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    # Beside the other reports, where the Jenkins steps archive them; the temp folder when that is not writable.
    workspace = (getattr(args, "workspace", None) if args is not None else None) or os.environ.get("WORKSPACE") or "."
    path = os.path.join(workspace, "jdci-reports", name)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError:
        path = os.path.join(tempfile.gettempdir(), name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    message = (f"internal error: {text.strip().splitlines()[-1]}; the traceback is in {path} - "
               f"archive it with the build and report it")
    log.say("error", message)
    if want_json:
        payload = _partial(args)
        payload["error"] = {"kind": "internal", "message": message}
        _emit(payload, "", True)
    return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
