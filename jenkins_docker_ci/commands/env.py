"""`jdci env ...` and `jdci gc`: the PR's preprod environment by hand (the pipeline's `jdci pr` does `up` itself).

  jdci env up [--pr N] [--sha SHA] [--image REF] [--keep-on-failure] [--json]
      stand up (or keep, or replace) the PR's environment at SHA (default: the workspace's HEAD) running REF
      (default: [image] registry/repository:SHA, what `jdci pr` builds). An older commit than the running one is
      refused (exit 1). --json: {"name", "url", "status", "urls", "network", "services", "sha", "reused"}.
  jdci env down [NAME | --pr N]            remove an environment (containers, network, volumes)
  jdci env ls [--all] [--json]             URL, SHA, age, health of [scm] repository's environments (--all: all)
  jdci env logs SERVICE [--pr N | --name NAME] [--tail N]
  jdci env gc [--all] [--dry-run]          expired, PR merged/closed on the SCM host, orphaned networks/volumes
  jdci gc [--all] [--dry-run]              env gc, then image prune with the configured policy
Exit codes: 0 done, 1 the environment failed or was refused, 2 usage/config, 4 engine/SCM unreachable,
130/143 interrupted (what `up` had created is removed).
"""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Callable

from ..errors import EXIT_OK, UsageError

if TYPE_CHECKING:
    from ..config import Config


def register(sub: Any, common: Callable[[argparse.ArgumentParser], None],
             change_flags: Callable[[argparse.ArgumentParser], None], parser_class: type) -> None:
    """The `env` and `gc` subcommands (cli.py calls this; nothing heavy is imported here)."""
    p = sub.add_parser("env", help="preprod environments: up, down, ls, logs, gc")
    actions = p.add_subparsers(dest="env_action", metavar="ACTION", parser_class=parser_class, required=True)

    a = actions.add_parser("up", help="stand up the PR's environment (kept when healthy at this commit)")
    common(a)
    change_flags(a)
    from ..cli import _full_sha  # cli.py is loaded: it is the one calling

    a.add_argument("--sha", type=_full_sha, help="the commit to run (default: git rev-parse HEAD in the workspace; in a Jenkins "
                                 "\"merge\" checkout HEAD is a synthetic merge: pass the PR head)")
    a.add_argument("--image", metavar="REF", help="the app image (default: [image] registry/repository:SHA)")
    a.add_argument("--keep-on-failure", action="store_true",
                   help="leave a failed environment running for inspection (logs are saved either way)")
    a.set_defaults(func=cmd_up)

    a = actions.add_parser("down", help="remove an environment (containers, network, volumes)")
    a.add_argument("name", nargs="?", help="environment name, e.g. jdci-acme-shop-1a2b3c-pr-7 (or --pr N)")
    common(a)
    change_flags(a)
    a.set_defaults(func=cmd_down)

    a = actions.add_parser("ls", help="list environments: URL, SHA, age, health")
    a.add_argument("--all", action="store_true", help="every repository's (default: [scm] repository's)")
    common(a)
    a.set_defaults(func=cmd_ls)

    a = actions.add_parser("logs", help="print a service's log (\"app\" for the app)")
    a.add_argument("service")
    a.add_argument("--name", help="environment name (default: the PR's, from --pr / CHANGE_ID)")
    a.add_argument("--tail", type=int, default=500, help="last N lines (default 500)")
    common(a)
    change_flags(a)
    a.set_defaults(func=cmd_logs)

    for where, name, helptext, func in ((actions, "gc", "remove expired, closed-PR and orphaned environments", cmd_gc),
                                        (sub, "gc", "env gc, then image prune with the configured policy", cmd_gc_all)):
        a = where.add_parser(name, help=helptext)
        a.add_argument("--all", action="store_true",
                       help="every repository's environments, by this config's TTL (default: [scm] repository's)")
        a.add_argument("--dry-run", action="store_true",
                       help="list what would be removed; remove nothing (images that the removal of an environment "
                            "would free are still in use then, so they are not listed)")
        common(a)
        a.set_defaults(func=func)


def _repository(config: "Config", what: str) -> str:
    if not config.scm.repository:
        raise UsageError(f"jdci env {what}: which repository? set [scm] repository in {config.source}")
    return config.scm.repository


def _env_of(args: argparse.Namespace, config: "Config", what: str) -> str:
    from .. import cli, environments

    change = cli.change_from(args)
    if change.pr_number is None:
        raise UsageError(f"jdci env {what}: which environment? name it, or pass --pr N (see `jdci env ls`)")
    return environments.env_name(_repository(config, what), change.pr_number)


def cmd_up(args: argparse.Namespace) -> Any:
    from .. import cli, environments
    from ..cli import Outcome

    config = cli.load_config(args)
    secrets = cli.secrets()
    change = cli.change_from(args)
    repository = _repository(config, "up")
    if change.pr_number is None:
        raise UsageError("jdci env up: which pull request? pass --pr N (or run in a Jenkins PR build, which sets "
                         "CHANGE_ID)")
    workspace = change.workspace or "."
    from .checkout import checkout_head, pr_head_lookup

    pr_head = pr_head_lookup(config, secrets, change.pr_number)
    sha = (args.sha or checkout_head(workspace, pr_head, "jdci env up")).lower()
    image = args.image or f"{config.image.registry}/{config.image.repository or repository.lower()}:{sha}".lstrip("/")
    env = environments.up(config, repository=repository, pr_number=change.pr_number, head_sha=sha, image_ref=image,
                          report_dir=_report_dir(config, workspace), workspace=workspace,
                          pr_head=pr_head, keep_on_failure=args.keep_on_failure)
    text = f"{env.name}: {'kept' if env.reused else 'up'} at {env.url}\n" + "\n".join(
        f"  {service}: {url}" for service, url in env.urls.items())
    return Outcome(EXIT_OK, {**env.to_json(), "reused": env.reused}, text)


def _report_dir(config: "Config", workspace: str) -> Any:
    from pathlib import Path

    return Path(workspace) / config.report.directory


def cmd_down(args: argparse.Namespace) -> Any:
    from .. import cli, environments
    from ..cli import Outcome

    name = args.name or _env_of(args, cli.load_config(args), "down")
    removed = environments.down(name)
    text = f"removed {removed} objects of {name}" if removed else (
        f"no environment named {name} (nothing removed; see `jdci env ls`)")
    return Outcome(EXIT_OK, {"name": name, "removed": removed}, text)


def cmd_ls(args: argparse.Namespace) -> Any:
    from .. import cli, environments
    from ..cli import Outcome

    repository = None
    if not args.all:
        config = cli.load_config(args)
        repository = config.scm.repository or None
    envs = environments.ls(repository=repository)
    rows = [f"{e.name}\t{e.health or e.status or 'no app'}\tPR {e.pr or '-'}\t{e.sha[:12]}\t{_age(e.age())}\t"
            f"{e.url or '-'}" for e in envs]
    text = "\n".join(["ENVIRONMENT\tHEALTH\tPR\tSHA\tAGE\tURL", *rows]) if rows else "no environments"
    return Outcome(EXIT_OK, {"environments": [e.to_json() for e in envs]}, text)


def _age(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h" if seconds < 172800 else f"{seconds // 86400}d"


def cmd_logs(args: argparse.Namespace) -> Any:
    from .. import cli, environments
    from ..cli import Outcome

    import os

    from .. import log
    from ..errors import ConfigError
    from ..stack import referenced_secrets

    try:
        config = cli.load_config(args)
    except ConfigError:
        if not args.name:
            raise
        config = None  # a named environment's log is readable with a broken jdci.toml
    name = args.name or _env_of(args, config, "logs")
    if config is not None:  # the app may print its ${SECRET}s: mask them as `env up` did
        log.redact_values(referenced_secrets(config.preprod, os.environ))
    text = environments.logs(name, args.service, tail=max(1, min(args.tail, 100000)))
    return Outcome(EXIT_OK, {"name": name, "service": args.service, "log": text}, text.rstrip("\n"))


def _gc_envs(args: argparse.Namespace) -> tuple["Config", list[str]]:
    from .. import cli, environments

    config = cli.load_config(args)
    if not args.all and not config.scm.repository:
        raise UsageError(f"jdci gc: which repository? set [scm] repository in {config.source}, or pass --all "
                         f"to apply this TTL to every repository's environments")
    is_open = _pr_is_open(config, cli.secrets()) if config.scm.repository else None
    removed = environments.gc(config, repository=None if args.all else config.scm.repository, is_open=is_open,
                              dry_run=args.dry_run)
    return config, removed


def cmd_gc(args: argparse.Namespace) -> Any:
    from ..cli import Outcome

    _, removed = _gc_envs(args)
    verb = "would remove " if args.dry_run else ""
    return Outcome(EXIT_OK, {"removed": removed, "dry_run": args.dry_run},
                   "\n".join(verb + name for name in removed) or "nothing stale")


def cmd_gc_all(args: argparse.Namespace) -> Any:
    """`jdci gc`: environments first (their containers hold images), then images."""
    from ..cli import Outcome

    config, removed = _gc_envs(args)
    payload: dict[str, Any] = {"environments": {"removed": removed}, "dry_run": args.dry_run}
    verb = "would be removed" if args.dry_run else "removed"
    lines = [f"environment {verb}: {name}" for name in removed] or ["environments: nothing stale"]
    from .. import cli, images
    from ..image_inventory import ls, prune

    # then the images no environment runs any more, by [image] prune_keep / prune_older_than
    client = images.engine()
    if args.all:
        repositories = sorted({i.repository for i in ls(client, None)})
    else:
        repositories = [config.image.repository or config.scm.repository.lower()]
    older_than, found = images.parse_age(config.image.prune_older_than), cli.secrets()
    pruned: dict[str, list[str]] = {}
    for repository in repositories:
        result = prune(client, repository=repository, keep=config.image.prune_keep, older_than=older_than,
                       secrets=found, dry_run=args.dry_run)
        pruned[repository] = list(result.removed)
        lines += [f"image {verb}: {ref}" for ref in result.removed]
        lines += [f"image kept, could not remove: {ref}" for ref in result.failed]
    payload["images"] = {"removed": sorted(ref for refs in pruned.values() for ref in refs)}
    return Outcome(EXIT_OK, payload, "\n".join(lines))


def _pr_is_open(config: "Config", secrets: Any) -> Callable[[Any], bool] | None:
    """A test of "is this environment's PR still open", when the SCM host can answer it."""
    if config.scm.provider != "github" or not secrets.github_token:
        return None
    from ..scm import connect

    host = connect(config, secrets)

    def is_open(env: Any) -> bool:
        from .. import log
        from ..errors import Interrupted, JdciError

        if env.repository != host.repository or not env.pr.isdigit():
            return True  # not ours to judge
        try:
            return host.pull_request(int(env.pr)).state == "open"
        except Interrupted:  # an abort stops gc; it is no unreadable PR
            raise
        except JdciError as exc:  # one unreadable PR keeps its environment (the TTL still applies)
            log.warn("gc", f"kept {env.name}: could not read PR #{env.pr} of {env.repository} ({exc})")
            return True

    return is_open


__all__ = ["register", "cmd_up", "cmd_down", "cmd_ls", "cmd_logs", "cmd_gc", "cmd_gc_all"]
