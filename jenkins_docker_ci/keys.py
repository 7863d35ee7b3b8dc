"""JIRA ticket keys: where jdci looks for them and what counts as one. The ONE place for these rules.

Sources, in this order: the PR title, the source branch (`CHANGE_BRANCH` - never `BRANCH_NAME`, which is
`PR-42` in PR builds), then the messages of the commits between the merge-base with the target branch and
the head. Keys come out in order of first appearance, without duplicates, at most `max_keys` of them.

A key is a project key (a letter, then letters, digits or underscores; 2+ characters in all), `-`, and a
number without a leading zero, with no letter or digit touching it on either side: `ABC-12` is found in
`feature/ABC-12-login` and `[ABC-12]`, not in `XABC-12`, `ABC-12b` or `ABC-012`. Project keys on the
denylist (`UTF-8`, `SHA-256`, `PR-42`, ...) are ignored unless the project is explicitly allowed.
Branch names are often lower case (`fix/py3-10`): there, lower-case keys are accepted and upper-cased,
but marked as *candidates* - the linker drops a candidate that does not exist instead of failing.

Everything here is pure except `commit_messages`, which reads git.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Sequence

from .gitcmd import GitFailed

# A letter or digit in any script counts as "touching": `ÄBC-1` and `ABC-1é` are not keys.
_ALNUM = r"[^\W_]"
_UPPER = re.compile(rf"(?<!{_ALNUM})([A-Z][A-Z0-9_]+)-([1-9][0-9]*)(?!{_ALNUM})")
_ANY_CASE = re.compile(_UPPER.pattern, re.IGNORECASE)

MAX_COMMITS = 500  # a wrong target (no merge-base nearby) must not make us read a whole history


@dataclass(frozen=True)
class Source:
    """One text keys are looked for in: kind is "title", "branch" or "commit"; origin names it."""

    kind: str
    text: str
    origin: str = ""  # the branch name or the commit SHA

    def describe(self) -> str:
        if self.kind == "title":
            return "title"
        if self.kind == "branch":
            return f"branch '{self.origin or self.text}'"
        return f"commit {self.origin[:12]}" if self.origin else "a commit message"  # listed by the host, no SHA


@dataclass(frozen=True)
class FoundKey:
    key: str  # upper case, e.g. "ABC-123"
    source: Source  # where it was first seen
    lowercase: bool = False  # only ever seen in lower case in a branch name: a candidate, may not exist

    @property
    def project(self) -> str:
        return self.key.rsplit("-", 1)[0]

    @property
    def where(self) -> str:
        """"branch 'feature/abc-1'" - for messages."""
        return self.source.describe()

    @property
    def written(self) -> str:
        """The key as its source writes it (`abc-1` for a lower-case candidate) - for messages."""
        found = re.search(rf"(?<!{_ALNUM}){re.escape(self.key)}(?!{_ALNUM})", self.source.text, re.IGNORECASE)
        return found.group(0) if found else self.key


def find_in_text(text: str, *, lowercase: bool = False) -> list[tuple[str, bool]]:
    """Every key-shaped token in `text` as (KEY, was_lower_case), in order, duplicates kept.

    Without `lowercase`, only upper-case project keys count (JIRA keys are upper case; `fix bug-1` in prose
    is not a reference). With it, any case is accepted and reported upper-cased.
    """
    strong = [(m.start(), m.end(), f"{m.group(1)}-{m.group(2)}", False) for m in _UPPER.finditer(text)]
    if not lowercase:
        return [(key, lower) for _, _, key, lower in strong]
    # Upper-case keys win where a lower-case reading overlaps one: in `fix_ABC-1` the key is ABC-1,
    # not the candidate FIX_ABC-1.
    weak = [(m.start(), m.end(), f"{m.group(1).upper()}-{m.group(2)}", True) for m in _ANY_CASE.finditer(text)
            if not any(m.start() < end and start < m.end() for start, end, _, _ in strong)]
    return [(key, lower) for _, _, key, lower in sorted(strong + weak)]


def extract(sources: Iterable[Source], *, projects: Sequence[str] = (), deny: Sequence[str] = (),
            lowercase_branch_keys: bool = True, max_keys: int = 10) -> list[FoundKey]:
    """Apply the key rules to `sources` (in the order given). Pure."""
    allowed = {p.upper() for p in projects}
    denied = {d.upper() for d in deny} - allowed  # naming a project explicitly beats the denylist
    order: list[str] = []
    first: dict[str, FoundKey] = {}
    for source in sources:
        lower_ok = lowercase_branch_keys and source.kind == "branch"
        for key, was_lower in find_in_text(source.text, lowercase=lower_ok):
            project = key.rsplit("-", 1)[0]
            if project in denied or (allowed and project not in allowed):
                continue
            seen = first.get(key)
            if seen is None:
                first[key] = FoundKey(key, source, was_lower)
                order.append(key)
            elif seen.lowercase and not was_lower:
                # written in upper case somewhere: a real reference, not a guess from a branch name
                first[key] = FoundKey(key, seen.source, False)
    return [first[key] for key in order[:max_keys] if max_keys > 0]


def sources_for(title: str, branch: str, commits: Iterable[tuple[str, str]] = ()) -> list[Source]:
    """The sources in DESIGN.md's order; `commits` are (sha, message), oldest first."""
    found = []
    if title:
        found.append(Source("title", title))
    if branch:
        found.append(Source("branch", branch, branch))
    found.extend(Source("commit", message, sha) for sha, message in commits)
    return found


# -- git --------------------------------------------------------------------------------------------------
def _git(repo_dir: str, *args: str) -> str:
    from .gitcmd import run

    return run(repo_dir, *args, timeout=60)


def _resolve(repo_dir: str, ref: str) -> str | None:
    try:
        return _git(repo_dir, "rev-parse", "--verify", "--quiet", ref + "^{commit}").strip() or None
    except GitFailed:
        return None


def target_candidates(target: str, remote: str = "origin") -> list[str]:
    """Refs that may hold the target branch in a CI checkout: the remote-tracking branch first (a local
    branch of that name is often stale or absent on a Jenkins agent), then the name as given."""
    if not target:
        return []
    names = [f"refs/remotes/{remote}/{target}", target]
    if target.startswith(f"{remote}/"):
        names = [target]
    return list(dict.fromkeys(names))


def commit_messages(repo_dir: str, target: str, *, head: str = "HEAD", remote: str = "origin",
                    notes: list[str] | None = None) -> list[tuple[str, str]]:
    """(sha, message) of the commits on `head` since its merge-base with `target`, oldest first.

    Works on a detached HEAD and on a branch's first build (no previous build needed: the merge-base says
    where the branch started). Merge commits are skipped: their messages are generated and name *other*
    branches. Returns [] (with a note) when there is no repository, no such target or no common history.
    """
    return checkout_commits(repo_dir, target, head=head, remote=remote, notes=notes) or []


def checkout_commits(repo_dir: str, target: str, *, head: str = "HEAD", remote: str = "origin",
                     notes: list[str] | None = None) -> list[tuple[str, str]] | None:
    """As commit_messages, but None (with a note) when the checkout cannot say: no repository, no such target,
    no common history - so the caller can ask the SCM host instead."""
    notes = notes if notes is not None else []
    head_sha = _resolve(repo_dir, head) or (_resolve(repo_dir, "HEAD") if head != "HEAD" else None)
    if head_sha is None:
        notes.append(f"no git commit {head!r} in {repo_dir}; commit messages not searched")
        return None
    target_sha = next((sha for ref in target_candidates(target, remote) if (sha := _resolve(repo_dir, ref))), None)
    if target_sha is None:
        if target:
            notes.append(f"target branch {target!r} not found in {repo_dir} (fetch it to search commit messages)")
        return None
    try:
        base = _git(repo_dir, "merge-base", target_sha, head_sha).strip()
    except GitFailed:
        notes.append(f"no common history between {target!r} and {head_sha[:12]}; commit messages not searched")
        return None
    out = _git(repo_dir, "log", "--no-merges", "--reverse", f"--max-count={MAX_COMMITS}", "--format=%H%x00%B%x1e",
               f"{base}..{head_sha}")
    commits = []
    for record in out.split("\x1e"):
        sha, sep, message = record.strip("\n").partition("\x00")
        if sep:
            commits.append((sha, message.strip()))
    return commits
