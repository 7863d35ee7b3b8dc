"""Link a pull request to its JIRA tickets: find keys, validate them, keep ONE comment and ONE remote link per
PR and ticket up to date, and move tickets through their workflow by transition *name*.

Order of work, so that a "no" never leaves a partial write: find keys -> look every ticket up -> check
project/status/type -> plan each transition (read the available ones) -> only then write (comment, remote
link, transition, fix version). A write happens only when something changed: a rerun makes no write.

The comment's marker. JIRA wiki markup has no HTML comments, so the comment starts with an anchor macro,
`{anchor:jdci-pr-acme-shop-42}`: Server/Data Center render it as an empty, invisible anchor, it survives
edits made in the UI, and it names repository and PR. jdci finds its comment again by that marker text
(with a boundary, so PR 4 never matches PR 42), never by author or position.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Collection

from .config import Config, JiraConfig, Secrets
from .context import Change
from .errors import TicketError
from .jira_adapter import Comment, JiraAdapter, JiraRefused, Ticket, Transition
from .keys import FoundKey, checkout_commits, extract, sources_for

EVENTS = ("opened", "checks_failed", "merged", "closed")
# How link() treats the PR's comment: "upsert" = create it or edit it to match `details` (`jdci link`);
# "create" = create it when missing, never edit it (`jdci pr` links before the build with partial details,
# then update() writes the full comment: editing it back and forth would notify watchers twice per build).
COMMENT_MODES = ("upsert", "create")
Log = Callable[[str], None]
HostCommits = Callable[[], list[str]]  # the PR's commit messages as the SCM host lists them (no checkout needed)


def _stderr(message: str) -> None:
    from . import log  # redacts every secret registered by the CLI

    log.say("link", message)


@dataclass(frozen=True)
class CommentDetails:
    pr_url: str
    pr_title: str
    pr_number: int | None
    build_url: str = ""
    image_ref: str = ""
    image_digest: str = ""
    preview_url: str = ""
    checks: tuple[tuple[str, str], ...] = ()  # (name, status)


@dataclass
class LinkResult:
    """What link() did. Pass one in to see it grow: after a failure it still says what was done before."""

    tickets: list[str] = field(default_factory=list)  # the keys linked so far (comment and remote link in place)
    notes: list[str] = field(default_factory=list)
    writes: int = 0
    found: list[FoundKey] = field(default_factory=list)  # everything extraction found
    actions: list[str] = field(default_factory=list)  # each write, e.g. "SHOP-1: comment added"

    def to_json(self) -> dict[str, object]:
        return {"tickets": list(self.tickets), "notes": list(self.notes), "writes": self.writes,
                "actions": list(self.actions)}


# -- finding keys ---------------------------------------------------------------------------------------------
def find_keys(config: JiraConfig, change: Change, *, repo_dir: str | None, notes: list[str] | None = None,
              host_commits: HostCommits | None = None) -> list[FoundKey]:
    """The keys in the PR title, source branch and commit messages: those of the checkout in `repo_dir` (with a
    target branch), else - when the checkout cannot say - those `host_commits` lists (the SCM host's view)."""
    return search_keys(config, change, repo_dir=repo_dir, notes=notes, host_commits=host_commits)[0]


def search_keys(config: JiraConfig, change: Change, *, repo_dir: str | None, notes: list[str] | None = None,
                host_commits: HostCommits | None = None) -> tuple[list[FoundKey], bool]:
    """As find_keys: (keys, whether commit messages were searched at all - for an honest "no key" message)."""
    commits: list[tuple[str, str]] | None = None
    tried: list[str] = []
    if repo_dir and change.target_branch:
        commits = checkout_commits(repo_dir, change.target_branch, head=change.head_sha or "HEAD", notes=tried)
    if commits is None and host_commits is not None:
        commits = [("", message) for message in host_commits()]
        tried = ["commit messages read from the pull request on the SCM host (no usable git checkout)"]
    if notes is not None:
        notes.extend(tried)
    found = extract(sources_for(change.title, change.source_branch, commits or []), projects=config.projects,
                    deny=config.deny_keys, lowercase_branch_keys=config.lowercase_branch_keys,
                    max_keys=config.max_keys)
    return found, commits is not None


# -- the comment (pure) -----------------------------------------------------------------------------------------
_STATUS_ICON = {"passed": "(/)", "failed": "(x)", "error": "(!)", "skipped": "(off)", "pending": "(?)"}
_WIKI_SPECIAL = re.compile(r"([\\\[\]{}|*_^~+#])")


def wiki_escape(text: str) -> str:
    """Plain text for JIRA wiki markup: a PR title like `Fix [x] | *y*` must not turn into links or tables."""
    return _WIKI_SPECIAL.sub(r"\\\1", text.replace("\r", " ").replace("\n", " "))


def marker(repository: str, pr_number: int | None) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", repository).strip("-").lower() or "repo"
    return f"jdci-pr-{slug}-{pr_number}"


def has_marker(body: str, mark: str) -> bool:
    return re.search(re.escape(mark) + r"(?![A-Za-z0-9-])", body) is not None


def render_comment(repository: str, details: CommentDetails) -> str:
    """The one comment jdci keeps on a ticket for one PR. Deterministic: same inputs, same text."""
    label = f"{repository}#{details.pr_number}" if repository else f"PR #{details.pr_number}"
    title = wiki_escape(details.pr_title) if details.pr_title else ""
    link = f"[{wiki_escape(label)}|{details.pr_url}]" if details.pr_url else wiki_escape(label)
    lines = [f"{{anchor:{marker(repository, details.pr_number)}}}*Pull request* {link}" + (f": {title}" if title
                                                                                             else "")]
    if details.build_url:
        lines.append(f"*Build:* [{details.build_url}]")
    if details.image_ref:
        digest = f" @ {{{{{details.image_digest}}}}}" if details.image_digest else ""
        lines.append(f"*Image:* {{{{{details.image_ref}}}}}{digest}")
    if details.preview_url:
        lines.append(f"*Preview:* [{details.preview_url}]")
    if details.checks:
        lines.append("*Checks:*")
        lines.append("||Check||Status||")
        for name, status in details.checks:
            lines.append(f"|{wiki_escape(name)}|{_STATUS_ICON.get(status, '')} {status}|")
    lines.append("_Kept up to date by jdci; edits to this comment are overwritten._")
    return "\n".join(lines)


def _same_text(a: str, b: str) -> bool:
    def norm(text: str) -> str:
        return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").strip().split("\n"))

    return norm(a) == norm(b)


# -- the remote link (pure) -------------------------------------------------------------------------------------
APPLICATION = {"type": "io.jdci", "name": "jdci"}
RELATIONSHIP = "pull request"


def remote_link(repository: str, details: CommentDetails, *, resolved: bool = False) -> tuple[str, dict[str, object]]:
    """(globalId, object) for the link from a ticket to the PR; the globalId makes re-posting an update."""
    global_id = f"jdci:pr:{details.pr_url or f'{repository}#{details.pr_number}'}"[:255]
    title = f"{repository}#{details.pr_number}" if repository else f"PR #{details.pr_number}"
    obj: dict[str, object] = {"url": details.pr_url, "title": title[:255], "summary": details.pr_title[:255],
                              "status": {"resolved": resolved}}
    return global_id, obj


def _link_matches(existing: dict[str, object], obj: dict[str, object]) -> bool:
    current = existing.get("object") or {}
    return (isinstance(current, dict) and all(current.get(k) == v for k, v in obj.items())
            and existing.get("relationship") == RELATIONSHIP and existing.get("application") == APPLICATION)


# -- validation and transitions (policy; the adapter only reads) ------------------------------------------------
def check_ticket(config: JiraConfig, found: FoundKey, ticket: Ticket, url: str) -> str | None:
    """What is wrong with an existing ticket under the config, or None."""
    where = f"(from {found.where})"
    if config.projects and ticket.project not in {p.upper() for p in config.projects}:
        return (f"JIRA ticket {found.key} at {url} is in project {ticket.project}, not one of "
                f"{', '.join(config.projects)} {where}; reference a ticket of an allowed project")
    if config.allowed_statuses and ticket.status.lower() not in {s.lower() for s in config.allowed_statuses}:
        return (f"JIRA ticket {found.key} at {url} is in status '{ticket.status}', not one of "
                f"{', '.join(repr(s) for s in config.allowed_statuses)} {where}; move the ticket or fix the key")
    if config.allowed_issue_types and ticket.issue_type.lower() not in {t.lower() for t in
                                                                        config.allowed_issue_types}:
        return (f"JIRA ticket {found.key} at {url} is a {ticket.issue_type}, not one of "
                f"{', '.join(config.allowed_issue_types)} {where}; link a ticket of an allowed type")
    return None


@dataclass(frozen=True)
class TransitionPlan:
    key: str
    name: str
    transition: Transition | None = None  # None: nothing to do (already there) or not available
    problem: str = ""
    note: str = ""


def plan_transition(key: str, status: str, name: str, available: list[Transition], *, event: str) -> TransitionPlan:
    """Pick the transition called `name` (case-insensitive) for a ticket in `status`. Pure."""
    if status.lower() == name.lower():
        return TransitionPlan(key, name, note=f"{key} is already in '{status}'; no transition")
    for transition in available:
        if transition.name.lower() == name.lower():
            if transition.to.lower() == status.lower():
                return TransitionPlan(key, name, note=f"{key} is already in '{status}'; no transition")
            return TransitionPlan(key, name, transition)
    offered = ", ".join(f"'{t.name}' (-> {t.to})" for t in available) or "none"
    return TransitionPlan(key, name, problem=(
        f"JIRA ticket {key} in status '{status}' has no transition '{name}' (for event '{event}'); available: "
        f"{offered}; fix [jira.transitions] {event} or the workflow"))


def no_key_found(change: Change, fix: str = "put a key such as ABC-123 in the PR title", *,
                 commits_searched: bool | None = None) -> str:
    """The problem when no source names a key at all. `commits_searched` None: as a target branch suggests."""
    searched = bool(change.target_branch) if commits_searched is None else commits_searched
    looked = [f"the title {change.title!r}" if change.title else "",
              f"branch {change.source_branch!r}" if change.source_branch else "",
              "commit messages" if searched else ""]
    looked = [part for part in looked if part]
    where = (", ".join(looked[:-1]) + " or " + looked[-1] if len(looked) > 1 else "".join(looked)) or "this change"
    of = f" of {change.label.strip()}" if change.repository or change.pr_number else ""
    return f"no JIRA ticket key found in {where}{of}; {fix}"


def no_ticket_from_candidates(dropped: list[FoundKey], url: str) -> str:
    """The problem when the only keys were lower-case guesses from the branch name and none is a ticket."""
    written = ", ".join(k.written for k in dropped)
    keys = ", ".join(k.key for k in dropped)
    verb = "does not exist" if len(dropped) == 1 else "do not exist"
    return (f"no JIRA ticket found: the {dropped[0].where} names {written}, but {keys} {verb} at {url}; "
            f"put the key of an existing ticket (e.g. ABC-123) in the PR title or branch")


def _decide(config: JiraConfig, problems: list[str], notes: list[str], setting: str, log: Log) -> None:
    """Raise for `problems` when the policy says fail, else keep them as notes."""
    if not problems:
        return
    if setting == "fail":
        raise TicketError("; ".join(problems))
    for problem in problems:
        notes.append(problem)
        log(f"warning: {problem}")


# -- operations -----------------------------------------------------------------------------------------------------
class _Linker:
    def __init__(self, config: Config, secrets: Secrets, log: Log) -> None:
        self.config = config
        self.jira_config = config.jira
        self.adapter = JiraAdapter(config.jira, secrets)
        self.url = self.adapter.url
        self.secrets = secrets
        self.log = self._redacting(log)
        self.writes = 0
        self.actions: list[str] = []

    def wrote(self, message: str) -> None:
        self.writes += 1
        self.actions.append(message)
        self.log(message)

    def _redacting(self, log: Log) -> Log:
        secrets = [s for s in self.secrets.values() if len(s) >= 4]

        def out(message: str) -> None:
            for secret in secrets:
                message = message.replace(secret, "***")
            log(message)

        return out

    def validate(self, found: list[FoundKey], change: Change, notes: list[str], *, commits_searched: bool = True
                 ) -> list[Ticket]:
        setting = self.jira_config.require_ticket
        tickets: list[Ticket] = []
        problems: list[str] = []
        dropped: list[FoundKey] = []  # lower-case branch candidates that are not tickets
        for key in found:
            ticket = self.adapter.ticket(key.key)
            if ticket is None:
                if key.lowercase:
                    dropped.append(key)
                    continue
                problems.append(f"JIRA ticket {key.key} not found at {self.url} (from {key.where}); create it or "
                                f"fix the key")
                continue
            problem = check_ticket(self.jira_config, key, ticket, self.url)
            if problem:
                problems.append(problem)
            else:
                tickets.append(ticket)
        if tickets or problems or setting == "off":
            # something else decides the outcome: a dropped guess is only worth a note
            for key in dropped:
                note = f"{key.key} (read from lower-case {key.where}) is not a JIRA ticket at {self.url}; ignored"
                notes.append(note)
                self.log(note)
        elif dropped:
            problems.append(no_ticket_from_candidates(dropped, self.url))
        else:
            problems.append(no_key_found(change, commits_searched=commits_searched))
        _decide(self.jira_config, problems, notes, "fail" if setting == "fail" else "warn", self.log)
        return tickets

    def plan(self, tickets: list[Ticket], event: str | None, notes: list[str]) -> list[TransitionPlan]:
        name = self.jira_config.transitions.get(event or "", "") if event else ""
        if not name:
            return []
        plans = []
        for ticket in tickets:
            available = [] if ticket.status.lower() == name.lower() else self.adapter.transitions(ticket.key)
            plans.append(plan_transition(ticket.key, ticket.status, name, available, event=event or ""))
        _decide(self.jira_config, [p.problem for p in plans if p.problem], notes,
                self.jira_config.on_missing_transition, self.log)
        return plans

    def upsert_comment(self, ticket_key: str, repository: str, details: CommentDetails, notes: list[str], *,
                       edit: bool = True) -> None:
        if details.pr_number is None:
            notes.append(f"no pull request number: no comment on {ticket_key}")
            return
        mark = marker(repository, details.pr_number)
        body = render_comment(repository, details)
        mine: list[Comment] = [c for c in self.adapter.comments(ticket_key) if has_marker(c.body, mark)]
        if not mine:
            self.adapter.add_comment(ticket_key, body)
            self.wrote(f"{ticket_key}: comment added")
            return
        if not edit:
            return
        if len(mine) > 1:
            notes.append(f"{ticket_key} has {len(mine)} comments marked {mark}; updating the first only")
        if _same_text(mine[0].body, body):
            return
        self.adapter.update_comment(ticket_key, mine[0], body)
        self.wrote(f"{ticket_key}: comment updated")

    def upsert_link(self, ticket_key: str, repository: str, details: CommentDetails, *, resolved: bool) -> None:
        if details.pr_number is None or not details.pr_url:
            return
        global_id, obj = remote_link(repository, details, resolved=resolved)
        existing = [link for link in self.adapter.remote_links(ticket_key) if link.get("globalId") == global_id]
        if existing and _link_matches(existing[0], obj):
            return
        self.adapter.put_remote_link(ticket_key, global_id, obj, APPLICATION, RELATIONSHIP)
        self.wrote(f"{ticket_key}: remote link {'updated' if existing else 'added'}")

    def apply(self, plans: list[TransitionPlan], notes: list[str]) -> None:
        for plan in plans:
            if plan.transition is None:
                if plan.note:
                    self.log(plan.note)
                continue
            try:
                self.adapter.do_transition(plan.key, plan.transition)
            except JiraRefused as exc:  # the ticket moved between our read and our write
                _decide(self.jira_config, [f"JIRA refused transition '{plan.name}' on {plan.key}: "
                                           f"{'; '.join(exc.messages) or exc}"], notes,
                        self.jira_config.on_missing_transition, self.log)
                continue
            self.wrote(f"{plan.key}: transition '{plan.name}' done, now {plan.transition.to}")

    def fix_version(self, tickets: list[Ticket], event: str | None) -> None:
        version = self.jira_config.fix_version
        if event != "merged" or not version:
            return
        for ticket in tickets:
            if version in ticket.fix_versions:
                continue
            try:
                self.adapter.add_fix_version(ticket, version)
            except JiraRefused as exc:
                raise TicketError(f"JIRA refused fix version '{version}' on {ticket.key}: "
                                  f"{'; '.join(exc.messages) or exc}; create the version in project "
                                  f"{ticket.project} or fix [jira] fix_version") from None
            self.wrote(f"{ticket.key}: fix version {version}")


def link(config: Config, secrets: Secrets, change: Change, details: CommentDetails, *, event: str | None = "opened",
         log: Log = _stderr, repo_dir: str | None = None, comment: str = "upsert",
         host_commits: HostCommits | None = None, result: LinkResult | None = None) -> LinkResult:
    """Find, validate, comment, remote-link and transition (for `event`). Raises TicketError (exit 1) when the
    policy says no, ConfigError (2) for bad credentials, ServiceError (4) when JIRA stays unreachable.
    `comment` is one of COMMENT_MODES: "create" leaves an existing comment alone (update() keeps it current).
    `host_commits` lists the PR's commit messages when the checkout cannot (see find_keys). Pass `result` to
    know, after a failure, what was done before it: the tickets linked so far, the writes."""
    if comment not in COMMENT_MODES:
        raise ValueError(f"comment={comment!r}; use one of {', '.join(COMMENT_MODES)}")
    result = LinkResult() if result is None else result
    repo_dir = change.workspace if repo_dir is None else repo_dir
    result.found, commits_searched = search_keys(config.jira, change, repo_dir=repo_dir or None,
                                                 notes=result.notes, host_commits=host_commits)
    if config.jira.require_ticket == "off" and not result.found:
        return result
    linker = _Linker(config, secrets, log)
    linker.log(f"keys: {', '.join(f'{k.key} ({k.where})' for k in result.found) or 'none'}")
    tickets = linker.validate(result.found, change, result.notes, commits_searched=commits_searched)
    plans = linker.plan(tickets, event, result.notes)
    try:
        resolved = event in ("merged", "closed")
        for ticket in tickets:
            linker.upsert_comment(ticket.key, change.repository, details, result.notes, edit=comment == "upsert")
            linker.upsert_link(ticket.key, change.repository, details, resolved=resolved)
            result.tickets.append(ticket.key)
        linker.apply(plans, result.notes)
        linker.fix_version(tickets, event)
    finally:
        result.writes = linker.writes
        result.actions[:] = linker.actions
    if tickets:
        linker.log(f"linked {', '.join(result.tickets)} ({result.writes} write{'s' if result.writes != 1 else ''})")
    return result


def update(config: Config, secrets: Secrets, change: Change, keys: list[str], details: CommentDetails, *,
           log: Log = _stderr) -> int:
    """Refresh the PR's comment on each ticket (e.g. after the checks ran). Returns the number of writes."""
    linker = _Linker(config, secrets, log)
    for key in keys:
        linker.upsert_comment(key, change.repository, details, [])
    return linker.writes


def transition(config: Config, secrets: Secrets, keys: list[str], event: str, *, log: Log = _stderr,
               optional: Collection[str] = ()) -> list[str]:
    """Move each ticket by the transition configured for `event`. Returns notes (skips, warnings).
    Keys in `optional` (lower-case branch candidates) are skipped with a note when they do not exist."""
    notes: list[str] = []
    if event not in EVENTS:
        from .errors import UsageError

        raise UsageError(f"unknown event {event!r}; use one of {', '.join(EVENTS)}")
    if not config.jira.transitions.get(event):
        notes.append(f"no transition configured for '{event}' ([jira.transitions] {event})")
        return notes
    linker = _Linker(config, secrets, log)
    tickets = []
    for key in keys:
        ticket = linker.adapter.ticket(key)
        if ticket is None:
            if key in optional:
                notes.append(f"{key} (read from a lower-case branch name) is not a JIRA ticket; ignored")
                continue
            raise TicketError(f"JIRA ticket {key} not found at {linker.url}; create it or fix the key")
        tickets.append(ticket)
    plans = linker.plan(tickets, event, notes)
    linker.apply(plans, notes)
    linker.fix_version(tickets, event)
    notes.extend(p.note for p in plans if p.note)
    return notes


def statuses(config: Config, secrets: Secrets, keys: list[str]) -> list[tuple[str, str | None]]:
    """(key, status name or None when the ticket does not exist), in `keys` order, from ONE search (for the
    gate's "ticket in an allowed status" rule). Server: /search; Cloud: /search/jql with nextPageToken."""
    if not keys:
        return []
    adapter = JiraAdapter(config.jira, secrets)
    found = {issue["key"]: ((issue.get("fields") or {}).get("status") or {}).get("name", "")
             for issue in adapter.search(f"key in ({', '.join(keys)})")}
    return [(key, found.get(key)) for key in keys]
