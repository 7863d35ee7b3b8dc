"""`jdci link` and `jdci ticket transition`.

  jdci link [--dry-run] [--json] [--title T] [--branch B] [--target T] [--pr N] [--workspace DIR]
      find the keys (title, branch, commits since the merge-base with the target), check the tickets, keep the
      PR's comment and remote link on each, transition for "opened". --dry-run only prints the keys found:
      no JIRA is contacted, nothing is written, no key is not an error.
  jdci ticket transition EVENT [--keys K1,K2] [--pr N]
      move the tickets (default: the change's keys) by the transition configured for EVENT.
With --pr N (or CHANGE_ID) and a GitHub [scm] section (GITHUB_TOKEN set), both read the PR's title, branch and
URL from GitHub for what the flags and CHANGE_* variables do not say, and the PR's commit messages when there is
no usable git checkout (`--dry-run` contacts nothing). When jdci cannot read PR N and finds no key elsewhere,
that is a ConfigError (exit 2) saying what would let it read the PR.
Logs go to stderr prefixed `[link]`; with --json stdout carries exactly one JSON object (cli.py prints it).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from ..errors import ConfigError, UsageError


def _say(message: str) -> None:
    try:
        from .. import log
    except ImportError:  # pragma: no cover - older trees without log.py
        print(f"[link] {message}", file=sys.stderr, flush=True)
        return
    log.say("link", message)


def _context(args: argparse.Namespace) -> tuple[Any, Any]:
    from .. import config as config_module
    from ..context import from_env

    change = from_env(os.environ, pr_number=getattr(args, "pr", None), title=getattr(args, "title", None),
                      source_branch=getattr(args, "branch", None), target_branch=getattr(args, "target", None),
                      build_url=getattr(args, "build_url", None), workspace=getattr(args, "workspace", None))
    config_path = getattr(args, "config", None)
    config = config_module.load(config_path, cwd="." if config_path else change.workspace)
    return config, change


def _from_scm(config: Any, secrets: Any, change: Any) -> tuple[Any, str, Any]:
    """(change completed from the SCM host, "", the PR's commit messages as a HostCommits) when it can say more
    about PR N; else (change, a hint on what would let jdci read the PR, None) - for the "no keys" message."""
    if change.pr_number is None:
        return change, "", None
    if config.scm.provider != "github":
        return change, "", None
    if not config.scm.repository:
        return change, f"; or set [scm] repository so jdci reads PR #{change.pr_number} from GitHub", None
    if not secrets.github_token:
        return change, (f"; or export GITHUB_TOKEN so jdci reads PR #{change.pr_number} of "
                        f"{config.scm.repository} from GitHub"), None
    from .. import scm
    from ..context import complete

    host = scm.connect(config, secrets)
    number = change.pr_number
    listed = getattr(host, "commit_messages", None)
    commits = (lambda: list(listed(number))) if callable(listed) else None
    return complete(change, host.pull_request(number), host.repository), "", commits


def _unreadable_pr(config: Any, change: Any, hint: str, notes: list[str]) -> None:
    """Raise the ConfigError for "jdci could not read PR N (`hint` says why) and nothing else names a key"."""
    from .. import tickets

    if not hint or config.jira.require_ticket == "off":
        return
    found, searched = tickets.search_keys(config.jira, change, repo_dir=change.workspace, notes=notes)
    if not found:
        raise ConfigError(tickets.no_key_found(change, "pass --title/--branch that name a key such as ABC-123" + hint,
                                               commits_searched=searched))


def _secrets() -> Any:
    from ..config import Secrets

    secrets = Secrets.from_env()
    try:
        from .. import log

        log.redact_values(secrets.values())
    except ImportError:  # pragma: no cover
        pass
    return secrets


def _outcome(code: int, payload: dict[str, Any], text: str, args: argparse.Namespace) -> Any:
    """cli.py's Outcome (it prints the JSON); standalone, print it here."""
    try:
        from ..cli import Outcome
    except ImportError:
        sys.stdout.write((json.dumps(payload) if getattr(args, "json", False) else text) + "\n")
        return code
    return Outcome(code, payload, text)


def link_payload(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    """The work of `jdci link`: (JSON payload, text for people). Raises JdciError subclasses."""
    from .. import tickets

    config, change = _context(args)
    notes: list[str] = []
    if getattr(args, "dry_run", False):
        found = tickets.find_keys(config.jira, change, repo_dir=change.workspace, notes=notes)
        for note in notes:
            _say(note)
        for key in found:
            _say(f"{key.key} from {key.where}" + (" (lower-case candidate)" if key.lowercase else ""))
        keys = [key.key for key in found]
        return {"tickets": keys}, "\n".join(keys) or "no ticket keys found"
    secrets = _secrets()
    change, hint, host_commits = _from_scm(config, secrets, change)
    _unreadable_pr(config, change, hint, [])
    details = tickets.CommentDetails(pr_url=change.pr_url, pr_title=change.title, pr_number=change.pr_number,
                                     build_url=change.build_url)
    result = tickets.LinkResult()
    args._partial = result.to_json  # what --json shows if linking fails half-way: what was done until then
    tickets.link(config, secrets, change, details, event="opened", log=_say, host_commits=host_commits,
                 result=result)
    return result.to_json(), "\n".join(result.tickets) or "no tickets linked"


def cmd_link(args: argparse.Namespace) -> Any:
    payload, text = link_payload(args)
    return _outcome(0, payload, text, args)


def cmd_ticket_transition(args: argparse.Namespace) -> Any:
    from .. import tickets

    config, change = _context(args)
    secrets = _secrets()
    optional: set[str] = set()
    if getattr(args, "keys", None):
        keys = [k.strip().upper() for k in args.keys.split(",") if k.strip()]
    else:
        change, hint, host_commits = _from_scm(config, secrets, change)
        found, searched = tickets.search_keys(config.jira, change, repo_dir=change.workspace,
                                              host_commits=host_commits)
        keys = [k.key for k in found]
        optional = {k.key for k in found if k.lowercase}
        if not keys:
            raise (ConfigError if hint else UsageError)(tickets.no_key_found(
                change, "pass --keys ABC-1,ABC-2 or a --title/--branch that names them" + hint,
                commits_searched=searched))
    notes = tickets.transition(config, secrets, keys, args.event, log=_say, optional=optional)
    for note in notes:
        _say(note)
    return _outcome(0, {"tickets": keys, "event": args.event, "notes": notes}, "\n".join(notes), args)
