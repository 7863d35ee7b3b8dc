"""`jdci gate` and `jdci merge`.

  jdci gate --pr N [--json]
      evaluate the merge policy for PR N and explain every rule; writes nothing anywhere.
      Exit 0 merge, 1 block, 75 wait. --json: {"decision", "sha", "reasons": [{"rule", "status", "detail"}]}.
  jdci merge --pr N [--json] [--dry-run] [--wait [--timeout S]] [--sha SHA]
      gate, then merge exactly the evaluated head ([merge] method and commit templates). A branch behind its
      target is updated and the run answers "wait" (75): the new head needs its checks. --sha: the head that was
      tested; any other head is refused. --json: the gate JSON plus "merged", "merge_sha", "action", "message".
      Exit 0 merged (now or before), 1 blocked or refused, 75 wait.
  jdci merge --sweep [--json] [--dry-run]
      every open PR, one attempt each (a Jenkins cron job: Jenkins does not rebuild on an approval).
      --json: {"pull_requests": [...]}; exit 0 unless a PR hit an error (then that error's code).
Provider "git" (a plain remote, no PRs): the change is --branch/--target (CHANGE_BRANCH/CHANGE_TARGET) and the
tested head --sha (GIT_COMMIT); set [gate] approvals = 0 and thumbs_up = 0, a plain remote has no reviews.
"""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from ..errors import EXIT_NO, EXIT_OK, EXIT_WAIT, GateBlocked, UsageError

if TYPE_CHECKING:
    from ..config import Config
    from ..merging import Attempt
    from ..scm import ScmHost

_GATE_CODES = {"merge": EXIT_OK, "block": EXIT_NO, "wait": EXIT_WAIT}


def _setup(args: argparse.Namespace) -> tuple["Config", Any, "ScmHost", int, str]:
    """(config, secrets, host, PR number, tested head or "")."""
    from .. import cli, scm as scm_module
    from ..scm.git import PlainGit

    config = cli.load_config(args)
    secrets = cli.secrets()
    change = cli.change_from(args)
    expected = (getattr(args, "sha", None) or "").strip().lower()
    if config.scm.provider == "git":
        if expected:
            import dataclasses

            change = dataclasses.replace(change, head_sha=expected)
        host = PlainGit.from_config(config, change=change)
        assert host.change is not None
        # GIT_COMMIT is the head a plain-git job built (no synthetic merge commits there), so it pins the merge.
        return config, secrets, host, host.change.pr_number or 0, host.change.head_sha
    if change.pr_number is None and not getattr(args, "sweep", False):
        raise UsageError(f"{args.command}: which pull request? pass --pr N (or run in a Jenkins PR build, which "
                         f"sets CHANGE_ID)")
    # Not GIT_COMMIT: with GitHub's merge strategy it is a synthetic merge commit, not the PR head.
    return config, secrets, scm_module.connect(config, secrets), change.pr_number or 0, expected


def cmd_gate(args: argparse.Namespace) -> Any:
    from ..cli import Outcome
    from ..gate import render_table
    from ..merging import evaluate_pr

    config, secrets, host, number, _ = _setup(args)
    found = evaluate_pr(config, secrets, host, number)
    decision = found.decision
    title = f"{host.repository} PR #{number}" if number else f"{found.pr.head_ref} -> {found.pr.base_ref}"
    return Outcome(_GATE_CODES[decision.decision], decision.to_json(), render_table(decision, title=title))


def cmd_merge(args: argparse.Namespace) -> Any:
    from .. import merging
    from ..cli import Outcome

    if args.sweep and (args.wait or args.pr is not None or args.sha):
        raise UsageError("jdci merge --sweep looks at every open pull request; drop --pr, --sha and --wait")
    if args.timeout is not None and not args.wait:
        raise UsageError("jdci merge: --timeout only applies with --wait")
    config, secrets, host, number, expected = _setup(args)
    if args.sweep:
        partial: list[dict[str, Any]] = []
        args._partial = lambda: {"pull_requests": partial}
        results = merging.sweep(config, secrets, host, dry_run=args.dry_run)
        partial.extend(_sweep_entry(r) for r in results)
        failed = [r for r in results if r.action == "error"]
        text = "\n".join(f"PR #{r.number}: {r.action}: {r.message}" for r in results) or "no open pull requests"
        return Outcome(failed[0].code if failed else EXIT_OK, {"pull_requests": partial}, text)
    if args.wait and not args.dry_run:
        timeout = args.timeout if args.timeout is not None else config.merge.wait_timeout
        last: dict[str, Any] = {}
        args._partial = lambda: last
        result = merging.attempt_until_done(config, secrets, host, number, timeout=timeout, expected_sha=expected,
                                            seen=lambda found: last.update(found.to_json()))
    else:
        result = merging.attempt(config, secrets, host, number, expected_sha=expected, dry_run=args.dry_run)
    payload = result.to_json()
    args._partial = lambda: payload
    if (result.error is not None or result.action == "block") and not args.json and result.decision:
        from ..gate import render_table

        # people want the table that explains the refusal; the error line itself goes to stderr
        sys.stdout.write(render_table(result.decision) + "\n")
    if result.error is not None:
        raise result.error  # cli prints the payload beside "error" and exits 1
    if result.action == "block":
        raise GateBlocked(result.message)
    return Outcome(result.code, payload, _text(result))


def _text(result: "Attempt") -> str:
    from ..gate import render_table

    lines = [render_table(result.decision)] if result.decision and result.action != "already-merged" else []
    lines.append(result.message)
    return "\n".join(lines)


def _sweep_entry(result: "Attempt") -> dict[str, Any]:
    entry: dict[str, Any] = {"number": result.number, **result.to_json()}
    if result.error is not None and result.action == "error":
        entry["error"] = {"kind": result.error.kind, "message": result.error.message}
    return entry
