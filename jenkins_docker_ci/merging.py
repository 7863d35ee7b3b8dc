"""Gate and merge one pull request: gather the gate's inputs from the hosts, evaluate, merge the evaluated SHA,
then clean up after the merge. Shared by `jdci pr`, `jdci gate` and `jdci merge` (commands/merge.py).

The policy itself is pure and lives in gate.py; what to do with a decision is the pure `next_step`; this module
fetches and acts. The safety rules it keeps:
- the only commit ever merged is the head the gate evaluated (passed to the host, which refuses with 409 if the
  head moved: HeadMoved); a head that is not the tested `--sha` is refused before asking;
- a refusal (moved head, 405 not mergeable, a target that moved during a plain-git push) is reported, never
  retried into a merge: the next evaluation starts from scratch and needs checks on whatever is there then;
- a branch behind its target is updated (update-branch) and then *waits*: the new head has no checks yet.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping, Sequence

from . import log
from .errors import EXIT_NO, EXIT_OK, EXIT_WAIT, ConfigError, Interrupted, JdciError, MergeError

if TYPE_CHECKING:
    from .config import Config, Secrets
    from .keys import FoundKey
    from .gate import Decision
    from .scm import PullRequest, ScmHost

Action = Literal["merged", "already-merged", "merged-elsewhere", "updated", "would-merge", "would-update", "wait",
                 "block", "refused", "error"]
Step = Literal["done", "merge", "update", "wait", "block"]

_CODES: dict[str, int] = {"merged": EXIT_OK, "already-merged": EXIT_OK, "merged-elsewhere": EXIT_OK,
                          "would-merge": EXIT_OK, "updated": EXIT_WAIT, "would-update": EXIT_WAIT,
                          "wait": EXIT_WAIT, "block": EXIT_NO, "refused": EXIT_NO}


@dataclass
class MergeOutcome:
    merged: bool
    merge_sha: str | None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"merged": self.merged, "merge_sha": self.merge_sha}


@dataclass(frozen=True)
class Evaluation:
    """One look at a pull request: what the host said and what the gate made of it."""

    pr: "PullRequest"
    decision: "Decision"
    tickets: tuple[str, ...] = ()
    behind: bool | None = None  # the head lacks the target's head; None = not known
    target_head: str = ""


@dataclass
class Attempt:
    """What one `jdci merge` pass over one pull request did."""

    number: int
    action: Action
    message: str
    evaluation: Evaluation | None = None
    outcome: MergeOutcome = field(default_factory=lambda: MergeOutcome(False, None))
    error: JdciError | None = None

    @property
    def code(self) -> int:
        if self.error is not None and self.action == "error":
            return self.error.exit_code
        return _CODES[self.action]

    @property
    def decision(self) -> "Decision | None":
        return self.evaluation.decision if self.evaluation else None

    def to_json(self) -> dict[str, Any]:
        """DESIGN.md's gate JSON plus merged/merge_sha, and what was done."""
        found: dict[str, Any] = self.decision.to_json() if self.decision else \
            {"decision": None, "sha": None, "reasons": []}
        found.update(self.outcome.to_json())
        found["action"] = self.action
        found["message"] = self.message
        if self.outcome.notes:
            found["notes"] = list(self.outcome.notes)
        return found


# -- deciding (pure) ---------------------------------------------------------------------------------------------
def next_step(decision: "Decision", behind: bool | None) -> Step:
    """What `jdci merge` does with a decision. A branch behind its target is updated only when that is the one
    thing left: updating earlier would make CI rebuild for a PR that is not ready anyway."""
    if decision.merged:
        return "done"
    if decision.decision == "merge":
        return "merge"
    if decision.decision == "block":
        return "block"
    if behind and {r.rule for r in decision.pending} == {"up_to_date"}:
        return "update"
    return "wait"


def commit_text(template: str, pr: "PullRequest", sha: str, key: str) -> str:
    """[merge] commit_title / commit_message with {number} {branch} {title} {sha} filled in."""
    try:
        return template.format(number=pr.number, branch=pr.head_ref, title=pr.title, sha=sha)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"[merge] {key} = {template!r} cannot be filled in ({exc!r}); use only the placeholders "
                          f"{{number}}, {{branch}}, {{title}}, {{sha}} and write a literal brace as {{{{ or }}}}"
                          ) from None


def short(sha: str | None) -> str:
    return (sha or "")[:12] or "?"


# -- gathering (reads only) ----------------------------------------------------------------------------------------
def up_to_date(config: "Config", scm: "ScmHost", pr: "PullRequest") -> tuple[bool | None, str]:
    """(behind, the target's head). GitHub says "behind" in mergeable_state only under branch protection, so ask
    its compare API; a plain git host computes mergeable_state itself ("behind" or "clean")."""
    if pr.merged or pr.state != "open":
        return None, pr.base_sha
    if pr.mergeable_state == "behind":
        return True, pr.base_sha
    if not config.gate.require_up_to_date:
        return None, pr.base_sha
    compare = getattr(scm, "compare", None)
    if callable(compare):
        found = compare(pr.base_ref, pr.head_sha)
        return found.behind_by > 0, found.base_sha or pr.base_sha
    if pr.mergeable_state == "clean":
        return False, pr.base_sha
    return None, pr.base_sha


def _evaluate(config: "Config", secrets: "Secrets", scm: "ScmHost", pr: "PullRequest", *,
              ticket_statuses: Sequence[tuple[str, str | None]] | None,
              env: Mapping[str, str] | None) -> tuple["Decision", bool | None, str]:
    from .gate import GateInput, evaluate

    if pr.merged:  # nothing to fetch: the gate only says so
        return evaluate(GateInput(pr=pr, now=datetime.now(timezone.utc), config=config.gate)), None, pr.base_sha
    env = os.environ if env is None else env
    jenkins_job = jenkins_build = own_build = None
    if config.gate.require_jenkins:
        from . import jenkins

        if not (config.jenkins.url and config.jenkins.job):
            raise ConfigError(f"{config.source}: [gate] require_jenkins needs [jenkins] url and job")
        jenkins_job = jenkins.pr_job_name(config.jenkins.job, pr.number)
        jenkins_build = jenkins.last_build(config, secrets, config.jenkins.job, pr.number)
        own_build = jenkins.OwnBuild.from_env(env)
    behind, target_head = up_to_date(config, scm, pr)
    decision = evaluate(GateInput(
        pr=pr,
        now=datetime.now(timezone.utc),
        config=config.gate,
        reviews=scm.reviews(pr.number),
        reactions=scm.reactions(pr.number) if config.gate.thumbs_up else (),
        checks=scm.checks(pr.head_sha),
        tickets=ticket_statuses,
        jenkins_job=jenkins_job,
        jenkins=jenkins_build,
        own_build=own_build,
        target_head_sha=target_head,
        behind=behind,
    ))
    return decision, behind, target_head


def ticket_keys(config: "Config", scm: "ScmHost", pr: "PullRequest") -> list["FoundKey"]:
    """The PR's ticket keys by the same rules as `jdci link` (title, branch, commit messages when the host
    lists them); [] when neither the gate nor a "merged" transition needs them."""
    if not (config.gate.require_ticket or (config.jira.url and config.jira.transitions.get("merged"))):
        return []
    from .keys import extract, sources_for

    commits: list[tuple[str, str]] = []
    listed = getattr(scm, "commit_messages", None)
    if callable(listed) and not pr.merged:
        commits = [("", message) for message in listed(pr.number)]
    return extract(sources_for(pr.title, pr.head_ref, commits), projects=config.jira.projects,
                   deny=config.jira.deny_keys, lowercase_branch_keys=config.jira.lowercase_branch_keys,
                   max_keys=config.jira.max_keys)


def linked_tickets(config: "Config", secrets: "Secrets", found: Sequence["FoundKey"]
                   ) -> tuple[list[str], list[tuple[str, str | None]] | None]:
    """(keys, their statuses for the gate). As `jdci link` does, a lower-case candidate read from the branch
    (`fix/py3-10` -> PY3-10) that is no ticket is dropped, never held against the PR. Statuses are None when
    JIRA is not consulted (no [jira] url)."""
    keys = [f.key for f in found]
    if not config.jira.url or not keys:
        return keys, ([] if config.jira.url else None)
    from . import tickets

    statuses = tickets.statuses(config, secrets, keys)
    guesses = {f.key for f in found if f.lowercase}
    statuses = [(key, status) for key, status in statuses if status is not None or key not in guesses]
    kept = {key for key, _ in statuses}
    return [key for key in keys if key in kept], statuses


def evaluate_pr(config: "Config", secrets: "Secrets", scm: "ScmHost", number: int, *,
                env: Mapping[str, str] | None = None) -> Evaluation:
    """Read the PR fresh and evaluate it. Reads only: `jdci gate` is this and nothing more."""
    pr = scm.pull_request(number)
    keys, statuses = linked_tickets(config, secrets, ticket_keys(config, scm, pr))
    gate_statuses = statuses if config.gate.require_ticket else None
    decision, behind, target_head = _evaluate(config, secrets, scm, pr, ticket_statuses=gate_statuses, env=env)
    return Evaluation(pr, decision, tuple(keys), behind, target_head)


# -- acting ------------------------------------------------------------------------------------------------------
def merge(config: "Config", scm: "ScmHost", pr: "PullRequest", sha: str) -> MergeOutcome:
    """Merge exactly `sha` (the evaluated head). HeadMoved / NotMergeable propagate: never retried."""
    title = commit_text(config.merge.commit_title, pr, sha, "commit_title")
    message = commit_text(config.merge.commit_message, pr, sha, "commit_message")
    result = scm.merge(pr.number, sha, config.merge.method, title, message)
    log.say("merge", f"merged PR #{pr.number} at {short(sha)} into {pr.base_ref} as {short(result.sha)} "
                     f"({config.merge.method})")
    return MergeOutcome(True, result.sha)


def after_merge(config: "Config", secrets: "Secrets", scm: "ScmHost", pr: "PullRequest",
                tickets: Sequence[str], outcome: MergeOutcome, *, announce: bool = True) -> None:
    """Post-merge housekeeping. Each part is attempted even if another fails: the merge already happened.
    Every part is idempotent (a branch already gone, a ticket already Done, no environment), so it also runs
    when the PR was found merged - finishing what an interrupted run, or a merge answered by a 502, left
    undone. `announce` is for the run that merged: only it notifies."""
    if config.merge.delete_branch and not pr.fork:
        try:
            gone = scm.delete_branch(pr.head_ref)
            outcome.notes.append(f"deleted branch {pr.head_ref}" if gone else f"branch {pr.head_ref} already gone")
        except JdciError as exc:
            outcome.notes.append(f"could not delete branch {pr.head_ref}: {exc}")
    if tickets and config.jira.url and config.jira.transitions.get("merged"):
        from . import tickets as jira_tickets

        try:
            outcome.notes.extend(jira_tickets.transition(config, secrets, list(tickets), "merged"))
        except JdciError as exc:
            outcome.notes.append(f"could not transition {', '.join(tickets)} for 'merged': {exc}; run "
                                 f"`jdci merge --pr {pr.number}` (or `jdci ticket transition merged --pr "
                                 f"{pr.number}`) again once JIRA answers")
    try:
        from . import environments

        # A plain-git change without a number (0) had its environment named by SHA, as the pipeline names it.
        environments.down(environments.env_name(scm.repository, pr.number or None, pr.head_sha))
    except JdciError as exc:
        outcome.notes.append(f"could not remove the preprod environment: {exc}")
    except ImportError as exc:  # docker-py missing: nothing jdci could have started either
        outcome.notes.append(f"preprod environment not checked ({exc})")
    for note in outcome.notes:
        log.say("merge", note)
    if not announce:
        return
    from . import notify

    # The console line is the notification every Jenkins job shows; Slack too when SLACK_WEBHOOK_URL is set.
    log.say("notify", f"{scm.repository} PR #{pr.number} {pr.title!r} merged into {pr.base_ref} "
                      f"as {short(outcome.merge_sha)}" + (f" ({pr.url})" if pr.url else ""))
    notify.slack(secrets, notify.pr_merged(scm.repository, pr.number, pr.url, pr.head_sha, pr.base_ref,
                                           outcome.merge_sha or "", list(tickets)))


def attempt(config: "Config", secrets: "Secrets", scm: "ScmHost", number: int, *, expected_sha: str = "",
            dry_run: bool = False, env: Mapping[str, str] | None = None,
            before_merge: Callable[["PullRequest"], None] | None = None,
            evaluated: Callable[["Decision"], None] | None = None) -> Attempt:
    """Evaluate PR `number` and do the one thing the decision allows: merge, update the branch, or nothing.

    `expected_sha` is the head the caller tested (`--sha`): any other head is refused. Refusals from the host
    come back as action "refused" with the error; other JdciErrors (service, config) propagate.
    `before_merge` runs between the evaluation and the merge call: a seam for tests (a head pushed at the worst
    moment); never set in production. `evaluated` sees the decision before anything is done about it (so
    `jdci pr` logs the gate's reasons before the merge's lines, not after).
    """
    from .scm import HeadMoved, NotMergeable

    found = evaluate_pr(config, secrets, scm, number, env=env)
    pr, decision = found.pr, found.decision
    if evaluated is not None:
        evaluated(decision)
    label = f"PR #{number}" if number else f"{pr.head_ref} -> {pr.base_ref}"
    if decision.merged:
        done = Attempt(number, "already-merged", f"{label} is already merged"
                       + (f" (as {short(pr.merge_sha)})" if pr.merge_sha else "") + "; nothing to do",
                       found, MergeOutcome(True, pr.merge_sha))
        if not dry_run:
            after_merge(config, secrets, scm, pr, found.tickets, done.outcome, announce=False)
        return done
    if expected_sha and expected_sha != pr.head_sha:
        return _refused(number, found, HeadMoved(
            f"{label} head is {short(pr.head_sha)}, not the tested {short(expected_sha)}: it moved after the "
            f"checks ran; nothing merged - {short(pr.head_sha)} needs its own checks"))
    step = next_step(decision, found.behind)
    if step == "block":
        return Attempt(number, "block", f"the gate blocks {label} at {short(decision.sha)}: "
                       + "; ".join(f"{r.rule}: {r.detail}" for r in decision.failed), found)
    if step == "wait":
        return Attempt(number, "wait", f"waiting on {label} at {short(decision.sha)}: "
                       + "; ".join(f"{r.rule}: {r.detail}" for r in decision.pending), found)
    if step == "update":
        return _update(config, secrets, scm, number, label, found, dry_run=dry_run)
    if dry_run:
        return Attempt(number, "would-merge", f"would merge {label} at {short(decision.sha)} into {pr.base_ref} "
                                              f"({config.merge.method})", found)
    if before_merge is not None:
        before_merge(pr)
    if config.gate.require_up_to_date:
        # GitHub merges the head into the target as it is *now*: if the target moved since the evaluation,
        # that merge was never checked. Look again right before asking (branch protection's "require
        # branches to be up to date" closes the last gap, between this look and the merge call).
        behind, target_head = up_to_date(config, scm, scm.pull_request(number))
        if behind or (target_head and found.target_head and target_head != found.target_head):
            log.say("merge", f"{pr.base_ref} moved to {short(target_head)} after the evaluation "
                             f"(was {short(found.target_head)}): not merging an untested combination")
            return _update(config, secrets, scm, number, label, found, dry_run=False)
    try:
        outcome = merge(config, scm, pr, decision.sha)
    except HeadMoved as exc:
        now = _head_now(scm, number)
        moved = f" to {short(now)}" if now and now != decision.sha else ""
        return _refused(number, found, HeadMoved(
            f"{label} head moved from {short(decision.sha)}{moved} after the gate evaluated "
            f"{short(decision.sha)}; nothing merged - the new head needs its own checks ({exc})"))
    except NotMergeable as exc:
        elsewhere = _merged_elsewhere(config, secrets, scm, number, label, found)
        if elsewhere is not None:  # another run (or a person) merged it between our evaluation and our call
            return elsewhere
        return _refused(number, found, type(exc)(f"{exc}; nothing merged and not retried - evaluate again once "
                                                 f"the cause is fixed"))
    after_merge(config, secrets, scm, pr, found.tickets, outcome)
    return Attempt(number, "merged", f"merged {label} at {short(decision.sha)} into {pr.base_ref} as "
                                     f"{short(outcome.merge_sha)}", found, outcome)


def _update(config: "Config", secrets: "Secrets", scm: "ScmHost", number: int, label: str, found: Evaluation,
            *, dry_run: bool) -> Attempt:
    """Bring the PR's branch up to date with its target; the new head then waits for its own checks."""
    from .scm import HeadMoved, NotMergeable

    pr, decision = found.pr, found.decision
    where = f"{pr.head_ref} with {pr.base_ref}" + (f" ({short(found.target_head)})" if found.target_head else "")
    if dry_run:
        return Attempt(number, "would-update", f"would update {where}, then wait for checks on the new head", found)
    try:
        scm.update_branch(number, expected_head_sha=decision.sha)
    except (HeadMoved, NotMergeable) as exc:
        # Another run may have merged it since we looked (which moved the target and made it look behind).
        elsewhere = _merged_elsewhere(config, secrets, scm, number, label, found)
        if elsewhere is not None:
            return elsewhere
        if isinstance(exc, HeadMoved):
            return _refused(number, found, HeadMoved(f"{label} moved during the update: {exc}"))
        return _refused(number, found, NotMergeable(
            f"could not update {where}: {exc}; nothing merged - update the branch by hand"))
    new_head = _head_now(scm, number)
    if new_head and new_head != decision.sha:
        message = f"updated; waiting for checks on the new head {short(new_head)} ({where}; the tested " \
                  f"{short(decision.sha)} lacked {pr.base_ref}'s head, so it is not merged)"
    else:
        message = f"updated; waiting for checks on the new head (asked the host to update {where}; " \
                  f"{short(decision.sha)} is not merged)"
    log.say("merge", message)
    return Attempt(number, "updated", message, found)


def _refused(number: int, found: Evaluation, error: MergeError) -> Attempt:
    log.say("merge", error.message)
    return Attempt(number, "refused", error.message, found, error=error)


def _head_now(scm: "ScmHost", number: int) -> str:
    """The PR's head now, for messages; "" if the host cannot say (the refusal matters more)."""
    try:
        return scm.pull_request(number).head_sha
    except JdciError:
        return ""


def _merged_elsewhere(config: "Config", secrets: "Secrets", scm: "ScmHost", number: int, label: str,
                      found: Evaluation) -> Attempt | None:
    """After a refusal: if the PR is merged now, someone else did it - report that instead of the refusal."""
    try:
        pr = scm.pull_request(number)
    except JdciError:
        return None
    if not pr.merged:
        return None
    message = f"{label} was merged meanwhile (as {short(pr.merge_sha)}, by another run or by our own call " \
              f"whose answer was lost); not merged twice"
    log.say("merge", message)
    done = Attempt(number, "merged-elsewhere", message, found, MergeOutcome(True, pr.merge_sha))
    after_merge(config, secrets, scm, pr, found.tickets, done.outcome, announce=False)
    return done


def attempt_until_done(config: "Config", secrets: "Secrets", scm: "ScmHost", number: int, *, timeout: float,
                       expected_sha: str = "", env: Mapping[str, str] | None = None,
                       clock: Callable[[], float] = time.monotonic,
                       sleep: Callable[[float], None] = time.sleep,
                       seen: Callable[[Attempt], None] | None = None) -> Attempt:
    """`jdci merge --wait`: attempt, and while the answer is "wait" (or "updated"), look again with backoff
    until merged, blocked, refused or `timeout` seconds have passed (then the last answer, a wait)."""
    from .http import backoff_delays

    end = clock() + timeout
    delays = backoff_delays(first=0.5, factor=2.0, cap=max(0.5, config.merge.poll_max))
    for _ in range(100_000):  # bounded by the deadline; the count only guards against a broken clock
        result = attempt(config, secrets, scm, number, expected_sha=expected_sha, env=env)
        if seen is not None:  # e.g. so an interrupted `--wait --json` still shows the last evaluation
            seen(result)
        if result.action not in ("wait", "updated"):
            return result
        if result.action == "updated" and expected_sha:
            # the update made a new head; --sha pins the old one, which can never be merged now
            result.message += f"; --sha {short(expected_sha)} can no longer be merged: the new head needs its " \
                              f"own build"
            return result
        remaining = end - clock()
        if remaining <= 0:
            result.message += f"; still waiting after {timeout:.0f} s (--timeout / [merge] wait_timeout)"
            return result
        pause = min(next(delays), remaining)
        log.say("merge", f"{result.message}; looking again in {pause:.1f} s")
        sleep(pause)
    return result


def sweep(config: "Config", secrets: "Secrets", scm: "ScmHost", *, dry_run: bool = False,
          env: Mapping[str, str] | None = None) -> list[Attempt]:
    """`jdci merge --sweep`: one attempt per open PR. A failure on one PR (a service error) is recorded and the
    sweep goes on: one broken PR must not keep the others from merging."""
    results: list[Attempt] = []
    for listed in scm.open_pull_requests():
        try:
            results.append(attempt(config, secrets, scm, listed.number, dry_run=dry_run, env=env))
        except Interrupted:  # a Jenkins abort ends the sweep: the next PR must not be merged after it
            raise
        except JdciError as exc:
            log.say("merge", f"PR #{listed.number}: {exc.message}")
            results.append(Attempt(listed.number, "error", exc.message, error=exc))
        last = results[-1]
        log.say("merge", f"PR #{listed.number}: {last.action} - {last.message}")
    return results
