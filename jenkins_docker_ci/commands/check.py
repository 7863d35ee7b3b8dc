"""`jdci check approve` and `jdci check run`.

  jdci check approve [--check NAME ...] [--report-dir DIR | --url PREVIEW_URL] [--target BRANCH]
      make the PR's screenshots (and DOM) from the last check run in the report folder the stored baseline of
      the target branch ([checks] baseline_store: the registry image REPO-baselines:TARGET, or a folder).
      With --url, the screenshots are taken afresh from that running app (e.g. the PR's preview, which stays
      up while the PR waits for reviews): no workspace of the build is needed.
  jdci check run --url URL [--network NET] [--image REF] [--target BRANCH] [--report-dir DIR]
      run the configured checks against a running app (no pipeline, no statuses); writes JUnit and HTML reports.
"""
from __future__ import annotations

import argparse
import os
from typing import Any


def add_parser(sub: Any, common: Any, change_flags: Any) -> None:
    p = sub.add_parser("check", help="visual baselines and ad-hoc check runs")
    csub = p.add_subparsers(dest="check_command", metavar="ACTION", required=True, parser_class=type(p))
    a = csub.add_parser("approve", help="make the PR's screenshots the new baseline of the target branch")
    a.add_argument("--check", action="append", default=[], metavar="NAME", help="only this visual check (repeat)")
    a.add_argument("--report-dir", metavar="DIR", help="the report folder of the check run (default: "
                                                       "[report] directory in the workspace)")
    a.add_argument("--url", help="take the screenshots afresh from this running app (e.g. the PR's preview)")
    a.add_argument("--target", help="target branch (default: the run's, CHANGE_TARGET)")
    a.add_argument("--workspace", metavar="DIR", help="the workspace (WORKSPACE, default .)")
    common(a)
    a.set_defaults(func=cmd_approve)
    r = csub.add_parser("run", help="run the configured checks against a running app and write the reports")
    r.add_argument("--url", required=True, help="the app's base URL, e.g. http://127.0.0.1:8000")
    r.add_argument("--network", default="", help="docker network for command checks and the baseline")
    r.add_argument("--image", default="", help="image for command checks without their own")
    r.add_argument("--target", default=None, help="target branch, for baselines (default CHANGE_TARGET or main)")
    r.add_argument("--report-dir", metavar="DIR", help="where the reports go (default [report] directory)")
    r.add_argument("--workspace", metavar="DIR", help="the workspace (WORKSPACE, default .)")
    common(r)
    r.set_defaults(func=cmd_run)


def _report_dir(args: argparse.Namespace, config: Any) -> Any:
    from pathlib import Path

    if args.report_dir:
        return Path(args.report_dir)
    workspace = args.workspace or os.environ.get("WORKSPACE") or "."
    return Path(workspace) / config.report.directory


def _url(url: str) -> str:
    """--url, checked before any browser or container starts."""
    from ..errors import UsageError

    if not url.startswith(("http://", "https://")) or len(url.split("://", 1)[1].strip("/")) == 0:
        raise UsageError(f"--url {url!r} is not an http(s) URL; pass the app's base URL, e.g. "
                         f"http://127.0.0.1:8000 (see `jdci env ls`)")
    return url.rstrip("/")


def _repository(config: Any) -> str:
    return config.image.repository or config.scm.repository.lower()


def cmd_approve(args: argparse.Namespace) -> Any:
    from ..checks.approve import approve
    from ..cli import Outcome, load_config, secrets

    config = load_config(args)
    found = secrets()
    if args.url is not None:
        args.url = _url(args.url)
    if not args.url:
        approved = approve(config, _report_dir(args, config), checks=args.check, target=args.target,
                           secrets=found)
        return Outcome(payload=approved.to_json(), text=approved.summary())
    import dataclasses
    import shutil
    import tempfile
    from pathlib import Path

    from ..checks.runner import Target, run_all
    from ..errors import UsageError

    if not config.checks.visual:
        raise UsageError(f"{config.source} has no [[checks.visual]]: nothing to approve")
    known = [c.name for c in config.checks.visual]
    unknown = [name for name in args.check if name not in known]
    if unknown:  # before Chromium takes every page's screenshot
        raise UsageError(f"--check {', '.join(unknown)}: no such [[checks.visual]] in {config.source} "
                         f"(there: {', '.join(known)})")
    visual_only = dataclasses.replace(config.checks, http=(), command=(), baseline_image="", slack=False)
    branch = args.target or os.environ.get("CHANGE_TARGET") or "main"
    directory = Path(tempfile.mkdtemp(prefix="jdci-approve-"))
    try:
        results = run_all(visual_only, Target(urls={"app": args.url.rstrip("/")}, network="", env_name="",
                                              image="", registry=config.image.registry,
                                              repository=_repository(config), target_branch=branch),
                          directory, secrets=found)
        broken = [r for r in results if not any(s.pr for s in r.shots)]
        if broken:
            raise UsageError("could not take the screenshots to approve: " + "; ".join(
                f"{r.name}: {r.detail}" for r in broken))
        approved = approve(config, directory, checks=args.check, target=branch, secrets=found)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return Outcome(payload=approved.to_json(), text=approved.summary())


def cmd_run(args: argparse.Namespace) -> Any:
    from ..checks import html_report, report
    from ..checks.report import writable_folder
    from ..checks.runner import Target, run_all
    from ..cli import Outcome, load_config, secrets
    from ..errors import EXIT_NO

    config = load_config(args)
    args.url = _url(args.url)
    directory = _report_dir(args, config)
    writable_folder(directory, "pass --report-dir DIR or set [report] directory to a writable folder")
    target = Target(urls={"app": args.url.rstrip("/")}, network=args.network, env_name=args.network,
                    image=args.image, registry=config.image.registry, repository=_repository(config),
                    target_branch=args.target or os.environ.get("CHANGE_TARGET") or "main",
                    app_port=config.preprod.port, health_path=config.preprod.health_path or "/")
    results = run_all(config.checks, target, directory, secrets=secrets())
    junit = report.write_junit(results, directory)
    html = html_report.write(results, directory, title=f"jdci checks of {args.url}", preview_url=args.url)
    code = EXIT_NO if any(r.blocks for r in results) else 0
    return Outcome(code=code, payload={"checks": [r.to_json() for r in results],
                                       "reports": {"junit": str(junit), "html": str(html)}},
                   text="\n".join(f"{r.name}: {r.status}{'' if r.required else ' (optional)'} - {r.detail}"
                                  for r in results))
