"""The merge policy, pure: (pull request, reviews, reactions, checks, tickets, Jenkins, [gate] config, now) ->
Decision "merge" | "wait" | "block", with one reason per rule.

No I/O and no clock: callers fetch everything and pass `now`. Anything unknown is "pending", never "ok" -
a check that has not reported, `mergeable: null`, a Jenkins build of another commit - so the worst an unknown
can do is make jdci wait. Every rule always appears in the reasons (a disabled one says so, status "ok"), so
`jdci gate --json` explains each case the same way.

Reviews count as GitHub counts them for required reviews: each reviewer's latest approval or change request,
never the author's own, and only from reviewers whose `author_association` is in [gate] approvals_from (by
default OWNER, MEMBER, COLLABORATOR: people with write access). Approvals and change requests from anyone else
are named in the detail as ignored; a drive-by "request changes" does not block, as on GitHub.

Rules, in the order they are reported: state, draft, fork, title, labels, required_checks, approvals,
changes_requested, thumbs_up, tickets, jenkins, up_to_date, mergeable.
"""
from __future__ import annotations

import difflib
import fnmatch
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Literal, Sequence

from .config import GateConfig
from .jenkins import JenkinsBuild, OwnBuild
from .scm import CommitCheck, PullRequest, Reaction, Review

Status = Literal["ok", "pending", "failed"]
DecisionName = Literal["merge", "wait", "block"]

RULES = ("state", "draft", "fork", "title", "labels", "required_checks", "approvals", "changes_requested",
         "thumbs_up", "tickets", "jenkins", "up_to_date", "mergeable")

_GREEN = {"success"}
_RED = {"failure", "error"}


@dataclass(frozen=True)
class Reason:
    rule: str
    status: Status
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"rule": self.rule, "status": self.status, "detail": self.detail}


@dataclass(frozen=True)
class Decision:
    decision: DecisionName
    sha: str  # the head SHA evaluated: the only commit a merge may take
    reasons: list[Reason]
    merged: bool = False  # the PR was already merged; nothing was evaluated

    def to_json(self) -> dict[str, Any]:
        return {"decision": self.decision, "sha": self.sha, "reasons": [r.to_json() for r in self.reasons]}

    def reason(self, rule: str) -> Reason:
        return next(r for r in self.reasons if r.rule == rule)

    @property
    def failed(self) -> list[Reason]:
        return [r for r in self.reasons if r.status == "failed"]

    @property
    def pending(self) -> list[Reason]:
        return [r for r in self.reasons if r.status == "pending"]


@dataclass(frozen=True)
class GateInput:
    pr: PullRequest
    now: datetime
    config: GateConfig = field(default_factory=GateConfig)
    reviews: Sequence[Review] = ()
    reactions: Sequence[Reaction] = ()
    checks: Sequence[CommitCheck] = ()  # reported on pr.head_sha
    tickets: Sequence[tuple[str, str | None]] | None = None  # (key, status; None = not found); None = not looked up
    jenkins_job: str | None = None  # the PR's Jenkins job full name; None = Jenkins not consulted
    jenkins: JenkinsBuild | None = None  # the last completed build of jenkins_job
    own_build: OwnBuild | None = None  # the build jdci runs inside (JOB_NAME/BUILD_NUMBER)
    target_head_sha: str = ""  # the target branch's head now
    behind: bool | None = None  # the head lacks the target's head; None = not known


def evaluate(gate: GateInput) -> Decision:
    """Apply every rule; any failed -> block, else any pending -> wait, else merge."""
    pr = gate.pr
    if pr.merged:
        where = f" as {short(pr.merge_sha)}" if pr.merge_sha else ""
        reasons = [Reason("state", "ok", f"already merged{where}; nothing to do")]
        reasons += [Reason(rule, "ok", "not evaluated: the pull request is already merged") for rule in RULES[1:]]
        return Decision("merge", pr.head_sha, reasons, merged=True)
    reasons = [_RULES[rule](gate) for rule in RULES]
    if any(r.status == "failed" for r in reasons):
        decision: DecisionName = "block"
    elif any(r.status == "pending" for r in reasons):
        decision = "wait"
    else:
        decision = "merge"
    return Decision(decision, pr.head_sha, reasons)


def short(sha: str | None) -> str:
    return (sha or "")[:7] or "?"


# -- the rules, one function each ------------------------------------------------------------------------------
def _state(g: GateInput) -> Reason:
    if g.pr.state != "open":
        return Reason("state", "failed", f"closed without merging; reopen PR #{g.pr.number} to merge it")
    return Reason("state", "ok", "open")


def _draft(g: GateInput) -> Reason:
    if g.pr.draft:
        return Reason("draft", "pending", "draft pull request; mark it ready for review")
    return Reason("draft", "ok", "ready for review")


def _fork(g: GateInput) -> Reason:
    if not g.pr.fork:
        return Reason("fork", "ok", "branch in this repository")
    if g.config.allow_forks:
        return Reason("fork", "ok", "from a fork; allowed ([gate] allow_forks = true)")
    return Reason("fork", "failed", "from a fork; forks are not merged automatically ([gate] allow_forks = false)")


def _title(g: GateInput) -> Reason:
    if not g.config.blocking_title_patterns:
        return Reason("title", "ok", "no blocking title patterns configured")
    for pattern in g.config.blocking_title_patterns:
        try:
            found = re.search(pattern, g.pr.title)
        except re.error as exc:
            return Reason("title", "failed", f"[gate] blocking_title_patterns: {pattern!r} is not a valid "
                                             f"regular expression ({exc}); fix the config")
        if found:
            return Reason("title", "failed", f"title {g.pr.title!r} matches {pattern!r} (work in progress); "
                                             f"edit the title when it is ready")
    return Reason("title", "ok", "title matches no blocking pattern")


def _labels(g: GateInput) -> Reason:
    if not g.config.blocking_labels:
        return Reason("labels", "ok", "no blocking labels configured")
    blocking = {label.lower() for label in g.config.blocking_labels}  # GitHub labels are case-insensitive
    found = [label for label in g.pr.labels if label.lower() in blocking]
    if found:
        return Reason("labels", "failed", f"blocking label {', '.join(repr(x) for x in found)}; remove it to merge")
    return Reason("labels", "ok", "no blocking label")


def _required_checks(g: GateInput) -> Reason:
    patterns = g.config.required_checks
    if not patterns:
        return Reason("required_checks", "ok", "no required checks configured")
    latest = _latest_checks(g.checks)
    names = list(latest)
    first = _first_report(g.checks)
    overdue = first is not None and (_aware(g.now) - first).total_seconds() >= g.config.never_reported_after
    failed: list[str] = []
    pending: list[str] = []
    green: list[str] = []
    for pattern in patterns:
        is_glob = any(c in pattern for c in "*?[")
        matches = [n for n in names if fnmatch.fnmatchcase(n, pattern)] if is_glob else \
            [n for n in names if n == pattern]
        if not matches:
            if overdue:
                missing = f"{pattern} never reported within {_duration(g.config.never_reported_after)} of " \
                          f"the first status"
            else:
                missing = f"{pattern} has not reported yet"
            near = difflib.get_close_matches(pattern, names, n=3, cutoff=0.5)
            if near:
                missing += f" (similar names reported: {', '.join(near)}; is the name right?)"
            (failed if overdue else pending).append(missing)
            continue
        for name in matches:
            state = latest[name].state
            if state in _GREEN:
                green.append(name)
            elif state in _RED:
                failed.append(f"{name} {state}" + (f": {latest[name].description}" if latest[name].description
                                                    else ""))
            else:
                pending.append(f"{name} {state}")
    # a check matched by two patterns (jdci/* and jdci/smoke) is reported once
    green, failed, pending = (list(dict.fromkeys(x)) for x in (green, failed, pending))
    on = f"on {short(g.pr.head_sha)}: "
    if failed or pending:
        return Reason("required_checks", "failed" if failed else "pending", on + "; ".join(failed + pending))
    return Reason("required_checks", "ok", f"{on}{len(green)} green ({', '.join(green)})")


def _approvals(g: GateInput) -> Reason:
    needed = g.config.approvals
    latest = _latest_reviews(g.reviews, g.pr.author)
    approved = [r for r in latest.values() if r.state == "APPROVED"]
    valid = [r for r in approved if _counts(g.config, r)]
    ignored = [r for r in approved if r not in valid]
    counted = [r for r in valid if not g.config.approvals_on_head_only or r.commit_sha == g.pr.head_sha]
    older = [r for r in valid if r not in counted]
    if needed == 0:
        return Reason("approvals", "ok", f"none required ({len(approved)} given)")
    detail = f"{len(counted)} of {needed} approvals"
    if counted:
        detail += f" ({', '.join(r.user for r in counted)})"
    if older:
        detail += (f"; not counted, given on older commits (approvals_on_head_only): "
                   f"{', '.join(f'{r.user} on {short(r.commit_sha)}' for r in older)}")
    detail += _ignored(ignored)
    if len(counted) >= needed:
        return Reason("approvals", "ok", detail)
    return Reason("approvals", "pending", detail)


def _changes_requested(g: GateInput) -> Reason:
    """Only change requests from reviewers whose approvals would count block (GitHub's rule for required reviews:
    anyone may comment, but a drive-by "request changes" does not stop a merge); the others are named."""
    latest = _latest_reviews(g.reviews, g.pr.author)
    requests = [r for r in latest.values() if r.state == "CHANGES_REQUESTED"]
    blocking = [r.user for r in requests if _counts(g.config, r)]
    ignored = _ignored([r for r in requests if not _counts(g.config, r)])
    if blocking:
        return Reason("changes_requested", "failed",
                      f"changes requested by {', '.join(blocking)}; address them and ask for a new review{ignored}")
    return Reason("changes_requested", "ok", f"no changes requested{ignored}")


def _thumbs_up(g: GateInput) -> Reason:
    needed = g.config.thumbs_up
    users = list(dict.fromkeys(r.user for r in g.reactions if r.content == "+1" and r.user != g.pr.author))
    if needed == 0:
        return Reason("thumbs_up", "ok", f"none required ({len(users)} given)")
    detail = f"{len(users)} of {needed} +1 reactions from people other than the author"
    if users:
        detail += f" ({', '.join(users)})"
    return Reason("thumbs_up", "ok" if len(users) >= needed else "pending", detail)


def _tickets(g: GateInput) -> Reason:
    if not g.config.require_ticket:
        return Reason("tickets", "ok", "not required ([gate] require_ticket = false)")
    if g.tickets is None:
        return Reason("tickets", "failed", "required, but tickets were not looked up; set [jira] url, "
                                           "or [gate] require_ticket = false")
    if not g.tickets:
        return Reason("tickets", "failed", "no ticket linked; put the ticket key in the title or the branch name")
    missing = [key for key, status in g.tickets if not status]
    if missing:
        return Reason("tickets", "failed", f"{', '.join(missing)} not found; fix the key or create the ticket")
    allowed = g.config.ticket_statuses
    wrong = [(k, s) for k, s in g.tickets if allowed and s not in allowed]
    listed = ", ".join(f"{k} ({s})" for k, s in g.tickets)
    if wrong:
        return Reason("tickets", "failed", f"{', '.join(f'{k} is {s!r}' for k, s in wrong)}; "
                                           f"allowed: {', '.join(allowed)}")
    return Reason("tickets", "ok", listed)


def _jenkins(g: GateInput) -> Reason:
    if not g.config.require_jenkins:
        return Reason("jenkins", "ok", "not required ([gate] require_jenkins = false)")
    job, build, own = g.jenkins_job, g.jenkins, g.own_build
    if job is None:
        return Reason("jenkins", "failed", "required, but no Jenkins job was consulted; set [jenkins] url and job, "
                                           "or [gate] require_jenkins = false")
    if own is not None and own.job == job:
        # Waiting for the build we run inside would wait forever; its checks are the required checks.
        return Reason("jenkins", "ok", f"this is {job} #{own.number}, running now; its checks stand for it")
    hint = ""
    if own is not None and own.job.rsplit("/", 1)[-1] == job.rsplit("/", 1)[-1]:
        hint = f" (jdci runs in {own.job}, not {job}: does [jenkins] job match JOB_NAME?)"
    if build is None:
        return Reason("jenkins", "pending", f"{job} has no completed build yet{hint}")
    head = g.pr.head_sha
    if build.building or build.result is None:
        return Reason("jenkins", "pending", f"{build.label} is still running")
    if not build.sha:
        return Reason("jenkins", "failed", f"{build.label} recorded no git revision, so what it tested is unknown; "
                                           f"check the job checks out the pull request (checkout scm)")
    if build.sha != head:
        return Reason("jenkins", "pending", f"{build.label} built {short(build.sha)}, not the head "
                                            f"{short(head)}; waiting for a build of the head{hint}")
    if build.result in g.config.jenkins_results:
        return Reason("jenkins", "ok", f"{build.label} at {short(head)}: {build.result}")
    return Reason("jenkins", "failed", f"{build.label} at {short(head)}: {build.result} "
                                       f"(accepted: {', '.join(g.config.jenkins_results)})")


def _up_to_date(g: GateInput) -> Reason:
    target = g.pr.base_ref
    if not g.config.require_up_to_date:
        return Reason("up_to_date", "ok", "not required ([gate] require_up_to_date = false)")
    if g.behind or g.pr.mergeable_state == "behind":
        where = f" (now at {short(g.target_head_sha)})" if g.target_head_sha else ""
        return Reason("up_to_date", "pending", f"branch is behind {target}{where}; update it")
    if g.behind is None:
        return Reason("up_to_date", "pending", f"not known yet whether the branch contains {target}'s head")
    where = f" at {short(g.target_head_sha)}" if g.target_head_sha else ""
    return Reason("up_to_date", "ok", f"contains {target}{where}")


def _mergeable(g: GateInput) -> Reason:
    if g.pr.mergeable is None:
        return Reason("mergeable", "pending", "the host has not computed mergeability yet")
    if not g.pr.mergeable:
        return Reason("mergeable", "failed", f"conflicts with {g.pr.base_ref}; merge or rebase it and resolve them")
    return Reason("mergeable", "ok", f"merges cleanly into {g.pr.base_ref}")


_RULES: dict[str, Callable[[GateInput], Reason]] = {
    "state": _state, "draft": _draft, "fork": _fork, "title": _title, "labels": _labels,
    "required_checks": _required_checks, "approvals": _approvals, "changes_requested": _changes_requested,
    "thumbs_up": _thumbs_up, "tickets": _tickets, "jenkins": _jenkins, "up_to_date": _up_to_date,
    "mergeable": _mergeable,
}
assert tuple(_RULES) == RULES


# -- helpers -----------------------------------------------------------------------------------------------------
_SEVERITY = {"failure": 3, "error": 3, "pending": 2, "success": 1}


def _latest_checks(checks: Sequence[CommitCheck]) -> dict[str, CommitCheck]:
    """The standing report per check name. Within one kind the latest wins (a re-run or a later status
    replaces an earlier one); across kinds the worse wins: a commit status and a check run are reported by
    different parties, so a check run named like a failing status (anyone with checks access can make one)
    never turns it green - GitHub's combined status stays red too."""
    latest: dict[tuple[str, str], CommitCheck] = {}
    for check in sorted(checks, key=lambda c: _parse_time(c.created_at) or datetime.min.replace(tzinfo=timezone.utc)):
        latest[(check.name, check.kind)] = check
    standing: dict[str, CommitCheck] = {}
    for (name, _), check in latest.items():
        held = standing.get(name)
        if held is None or _SEVERITY.get(check.state, 2) > _SEVERITY.get(held.state, 2):
            standing[name] = check
    return standing


def _first_report(checks: Sequence[CommitCheck]) -> datetime | None:
    times = [t for t in (_parse_time(c.created_at) for c in checks) if t is not None]
    return min(times) if times else None


def _latest_reviews(reviews: Sequence[Review], author: str) -> dict[str, Review]:
    """Each reviewer's standing review, as GitHub counts it: the latest APPROVED or CHANGES_REQUESTED wins,
    a later COMMENTED does not undo it, DISMISSED clears it; the author's own reviews never count."""
    standing: dict[str, Review] = {}
    ordered = sorted(enumerate(reviews), key=lambda p: (_parse_time(p[1].submitted_at)
                                                        or datetime.min.replace(tzinfo=timezone.utc), p[0]))
    for _, review in ordered:
        if review.user == author:
            continue
        if review.state in ("APPROVED", "CHANGES_REQUESTED"):
            standing[review.user] = review
        elif review.state == "DISMISSED":
            standing.pop(review.user, None)
    return standing


# Associations GitHub gives people without write access to the repository.
_NO_WRITE_ACCESS = {"CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER", "MANNEQUIN", "NONE"}


def _counts(config: GateConfig, review: Review) -> bool:
    """Whether the reviewer's association is one [gate] approvals_from accepts (empty: anyone's)."""
    allowed = {a.upper() for a in config.approvals_from}
    return not allowed or review.author_association.upper() in allowed


def _ignored(reviews: Sequence[Review]) -> str:
    def why(association: str) -> str:
        if not association:
            return "no author_association reported"
        if association.upper() in _NO_WRITE_ACCESS:
            return f"{association}: no write access"
        return f"{association}: not in [gate] approvals_from"

    if not reviews:
        return ""
    return "; ignored: " + ", ".join(f"{r.user} ({why(r.author_association)})" for r in reviews)


def _parse_time(value: str) -> datetime | None:
    if not value:
        return None
    try:
        return _aware(datetime.fromisoformat(value))
    except ValueError:
        return None


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:.0f} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:.0f} min"
    return f"{seconds:.0f} s"


# -- rendering for people ----------------------------------------------------------------------------------------
def render_table(decision: Decision, *, title: str = "") -> str:
    """A plain-text table, one line per rule, for a Jenkins console or a terminal."""
    head = f"gate: {decision.decision.upper()} at {short(decision.sha)}" + (f" ({title})" if title else "")
    width = max(len("RULE"), *(len(r.rule) for r in decision.reasons))
    marks = {"ok": "ok", "pending": "WAIT", "failed": "FAIL"}
    lines = [head, f"  {'RULE'.ljust(width)}  {'STATUS'.ljust(6)}  DETAIL"]
    for reason in decision.reasons:
        lines.append(f"  {reason.rule.ljust(width)}  {marks[reason.status].ljust(6)}  {reason.detail}")
    return "\n".join(lines)
