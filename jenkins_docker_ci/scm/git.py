"""A plain git remote as an SCM host: for servers with no API (a bare repository over ssh, file or http).

What a plain remote cannot give is empty, not invented: reviews, reactions, labels and comments are empty lists,
so the gate's `approvals` and `thumbs_up` must be 0 for provider "git" or the gate waits forever.
A "pull request" is one change this host was built for: source branch -> target branch (Jenkins'
CHANGE_BRANCH/CHANGE_TARGET, or BRANCH_NAME and [scm] target_branch in a plain branch job).

Every write happens in a temporary clone (the user's workspace is only read, to find the remote's URL) and is
pushed without force: the remote's own compare-and-swap on the ref is what guarantees that a target which moved
during the merge gets nothing, and that only the tested head is merged.

Commit statuses are git notes under refs/notes/jdci-checks, pushed to the remote: Jenkins workspaces are
throwaway and a later `jdci merge --sweep` runs elsewhere, so statuses kept locally would be lost. One note per
commit, one JSON object per line (append-only); the latest line per context wins, as with GitHub's statuses.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Mapping, Sequence

from ..errors import ConfigError, ServiceError, UsageError
from . import CommitCheck, Comment, HeadMoved, MergeResult, NotMergeable, PullRequest, Reaction, Review
from .git_text import (
    METHODS, NOTES_REF, STATES, branch_problem, commit_message, conflict_message, decode_statuses,
    describe_command, encode_status, gate_problems, head_moved_message, is_full_sha, looks_like_url, now_utc, redact,
    repository_name,
    resolve_url, short, target_moved_message,
)

if TYPE_CHECKING:
    from ..config import Config
    from ..context import Change

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------------------------
# Running git


class GitCommandFailed(ServiceError):
    """A git command failed for a reason other than the ones that have a meaning (conflict, moved ref)."""

    def __init__(self, args: Sequence[str], status: int | None, stderr: str) -> None:
        super().__init__("git", describe_command(args, status, stderr))
        self.status = status
        self.stderr = redact(stderr)


class TargetMoved(NotMergeable):
    """The target branch moved between the fetch and the push: nothing landed; the new target needs checks."""


@dataclass(frozen=True)
class _Out:
    status: int
    stdout: str
    stderr: str


class _Runner:
    """git through GitPython's process runner, with jdci's identity and no prompts."""

    def __init__(self, name: str, email: str, timeout: float = 600.0) -> None:
        self.timeout = timeout  # a hung fetch (dead server, firewall) must end the job, not block it forever
        self.env = {
            "GIT_TERMINAL_PROMPT": "0",  # a CI job must fail on missing credentials, not hang on a prompt
            "GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email,
        }

    def __call__(self, cwd: str | os.PathLike[str], *args: str, ok: Sequence[int] = (0,)) -> _Out:
        import git

        # The agent's own git config stays in force (credential helpers, insteadOf, CA files), except what would
        # change jdci's commits: signing with a key CI lacks, the user's hooks, `merge.ff = only`.
        command = ["git", "-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", "-c", "merge.ff=true",
                   *args]
        try:
            status, stdout, stderr = git.Git(str(cwd)).execute(
                command, with_extended_output=True, with_exceptions=False, env=self.env,
                kill_after_timeout=self.timeout,
            )
        except git.GitCommandNotFound as exc:
            raise GitCommandFailed(args, None, f"git is not installed or not on PATH ({exc})") from None
        result = _Out(int(status or 0), str(stdout or ""), str(stderr or ""))
        if result.status not in ok:
            raise GitCommandFailed(args, result.status, result.stderr or result.stdout)
        return result


# ---------------------------------------------------------------------------------------------------------------
# The host


class PlainGit:
    """ScmHost for a git remote without an API. See the module docstring for what "pull request" means here."""

    def __init__(self, url: str, *, change: "Change | None" = None, repository: str = "",
                 committer: tuple[str, str] = ("jdci", "jdci@localhost"), notes_ref: str = NOTES_REF,
                 before_push: Callable[[str], None] | None = None) -> None:
        if not url or url.startswith("-"):
            raise ConfigError(f"git remote URL {redact(url)!r} is not a URL or a path; fix [scm] url / remote")
        self.url = url
        self.change = change
        self.repository = repository or repository_name(url)
        self.notes_ref = notes_ref
        self._git = _Runner(*committer)
        # Called with the ref about to be pushed, after everything was fetched and computed: the seam the
        # tests use to move the remote at the worst moment. Never set in production.
        self._before_push = before_push

    @classmethod
    def from_config(cls, config: "Config", change: "Change | None" = None,
                    env: Mapping[str, str] | None = None) -> "PlainGit":
        """The remote from [scm] url / remote; the change from `change`, else Jenkins' environment."""
        from .. import context

        env = os.environ if env is None else env
        scm = config.scm
        url = scm.url or (resolve_url(scm.remote, config.root) if looks_like_url(scm.remote) else "")
        runner = _Runner(scm.committer_name, scm.committer_email)
        if not url:
            try:
                raw = runner(config.root, "remote", "get-url", scm.remote).stdout.strip()
            except GitCommandFailed as exc:
                raise ConfigError(
                    f"{config.source}: [scm] remote = {scm.remote!r} is not a remote of the git checkout at "
                    f"{config.root} ({exc}); set [scm] url to the remote's URL"
                ) from None
            url = resolve_url(raw, config.root)
        for problem in gate_problems(config.gate.approvals, config.gate.thumbs_up):
            log.warning("[scm] %s: %s", config.source, problem)
        if change is None:
            change = context.from_env(env)
        # Plain git has no PR builds: a branch job's BRANCH_NAME is the source branch itself.
        source = change.source_branch or ("" if change.pr_number else env.get("BRANCH_NAME", ""))
        change = dataclasses.replace(
            change,
            source_branch=source,
            target_branch=change.target_branch or scm.target_branch,
            head_sha=change.head_sha or env.get("GIT_COMMIT", ""),
        )
        return cls(url, change=change, repository=scm.repository,
                   committer=(scm.committer_name, scm.committer_email))

    # -- reading the remote ---------------------------------------------------------------------------------

    def remote_heads(self, *branches: str) -> dict[str, str]:
        """branch -> SHA on the remote, for those of `branches` that exist."""
        self._check_branches(*branches)
        # ls-remote needs no repository; the temp folder only keeps git away from whatever the cwd is.
        out = self._git(tempfile.gettempdir(), "ls-remote", "--heads", self.url,
                        *[f"refs/heads/{b}" for b in branches])
        heads: dict[str, str] = {}
        for line in out.stdout.splitlines():
            sha, _, ref = line.partition("\t")
            name = ref.removeprefix("refs/heads/")
            if name in branches:
                heads[name] = sha
        return heads

    def pull_request(self, number: int) -> PullRequest:
        change = self._own(number)
        source, target = change.source_branch, change.target_branch
        with self._scratch(bare=True) as repo:
            heads = self._fetch(repo, source, target, required=(target,))
            head = heads.get(source, "")
            base = heads[target]
            tested = head or change.head_sha
            merged = bool(tested) and self._has(repo, tested) and self._is_ancestor(repo, tested, base)
            merge_sha = self._merge_commit(repo, tested, base) if merged else None
            mergeable: bool | None = None
            state = "unknown"
            if head and not merged:
                clean = self._git(repo, "merge-tree", "--write-tree", "--name-only", base, head, ok=(0, 1))
                mergeable = clean.status == 0
                state = "dirty" if not mergeable else "clean" if self._is_ancestor(repo, base, head) else "behind"
        return PullRequest(
            number=number, title=change.title or f"{source} -> {target}", head_sha=head or tested,
            head_ref=source, base_ref=target, base_sha=base,
            state="open" if head and not merged else "closed", merged=merged, merge_sha=merge_sha,
            author=change.author, url=change.pr_url or redact(self.url), fork=False,
            mergeable=mergeable, mergeable_state=state,
        )

    def open_pull_requests(self) -> list[PullRequest]:
        """Only the change this host was built for: a plain remote keeps no list of pull requests."""
        if self.change is None or not self.change.source_branch:
            return []
        pr = self.pull_request(self.change.pr_number or 0)
        return [pr] if pr.state == "open" else []

    def find_pull_request(self, branch: str) -> PullRequest | None:
        if self.change is None or self.change.source_branch != branch:
            return None
        pr = self.pull_request(self.change.pr_number or 0)
        return pr if pr.state == "open" else None

    def reviews(self, number: int) -> list[Review]:
        return []  # no reviews without a host: configure [gate] approvals = 0

    def reactions(self, number: int) -> list[Reaction]:
        return []  # configure [gate] thumbs_up = 0

    def comments(self, number: int) -> list[Comment]:
        return []

    def create_comment(self, number: int, body: str) -> Comment:
        log.info("[scm] %s is a plain git remote: it has no pull request comments; not posted", self.repository)
        return Comment(id=0, body=body)

    def update_comment(self, comment_id: int, body: str) -> Comment:
        return self.create_comment(0, body)

    # -- statuses as git notes ------------------------------------------------------------------------------

    def checks(self, sha: str) -> list[CommitCheck]:
        sha = self._full_sha(sha)
        with self._scratch(bare=True) as repo:
            if not self._fetch_notes(repo):
                return []
            out = self._git(repo, "notes", f"--ref={self.notes_ref}", "show", sha, ok=(0, 1))
        return decode_statuses(out.stdout) if out.status == 0 else []

    def set_status(self, sha: str, context: str, state: str, description: str = "", target_url: str = "") -> None:
        from ..http import with_retries

        sha = self._full_sha(sha)
        if state not in STATES:
            raise UsageError(f"commit status {state!r} for '{context}' is not one of {', '.join(STATES)}")
        line = encode_status(context, state, description, target_url, now_utc())

        def attempt() -> None:
            with self._scratch(bare=True) as repo:
                fetched = self._fetch_notes(repo)
                old = self._git(repo, "notes", f"--ref={self.notes_ref}", "show", sha, ok=(0, 1))
                note = (old.stdout.rstrip("\n") + "\n" if old.status == 0 and old.stdout.strip() else "") + line
                self._git(repo, "notes", f"--ref={self.notes_ref}", "add", "-f", "-m", note, sha)
                args = ["push", "--porcelain", self.url, f"{self.notes_ref}:{self.notes_ref}"]
                pushed = self._git(repo, *args, ok=(0, 1))
                if pushed.status != 0:
                    if self._notes_head(repo) != fetched:
                        raise _NotesRaced(pushed.stderr or pushed.stdout)
                    raise GitCommandFailed(args, pushed.status, pushed.stderr or pushed.stdout)

        # Two jobs reporting at once: the loser's push is not a fast-forward; fetch their note and append again.
        with_retries(attempt, service="git", what=f"status '{context}' on {short(sha)} ({redact(self.url)})",
                     deadline=30.0, retry_on=lambda exc: 0.0 if isinstance(exc, _NotesRaced) else None)

    # -- merging ---------------------------------------------------------------------------------------------

    def merge(self, number: int, sha: str, method: str, title: str, message: str) -> MergeResult:
        """ScmHost.merge for the change this host was built for."""
        change = self._own(number)
        return self.merge_branches(change.source_branch, change.target_branch, sha, method=method,
                                   title=title, message=message)

    def merge_branches(self, source: str, target: str, expected_head_sha: str, *, method: str = "merge",
                       title: str = "", message: str = "") -> MergeResult:
        """Merge `source` at exactly `expected_head_sha` into `target` on the remote.

        Raises HeadMoved (source is elsewhere), NotMergeable (conflicts: the files are named; or the remote
        refused the push), TargetMoved (target moved meanwhile: nothing landed). Already merged -> merged=True.
        """
        if method not in METHODS:
            raise UsageError(f"merge method {method!r} is not one of {', '.join(METHODS)}")
        self._check_branches(source, target)
        expected = self._full_sha(expected_head_sha)
        title = title or f"Merge branch '{source}' into {target}"
        with self._scratch(bare=False) as repo:
            heads = self._fetch(repo, source, target, required=(target,))
            base = heads[target]
            if self._has(repo, expected) and self._is_ancestor(repo, expected, base):
                done = self._merge_commit(repo, expected, base)
                return MergeResult(True, done, f"'{source}' at {short(expected)} is already in '{target}' "
                                               f"({short(done)})")
            head = heads.get(source)
            if head is None:
                raise NotMergeable(f"source branch '{source}' does not exist on {redact(self.url)}; nothing to merge")
            if head != expected:
                raise HeadMoved(head_moved_message(source, self.url, expected, head))
            if method == "rebase":
                self._git(repo, "checkout", "-q", "--detach", expected)
                self._conflicts(repo, source, target, method, "rebase", "--no-autosquash", base)
            else:
                self._git(repo, "checkout", "-q", "--detach", base)
                text = commit_message(title, message)
                if method == "merge":
                    self._conflicts(repo, source, target, method, "merge", "--no-ff", "--no-edit", "-m", text,
                                    expected)
                else:
                    self._conflicts(repo, source, target, method, "merge", "--squash", expected)
                    if self._git(repo, "diff", "--cached", "--quiet", ok=(0, 1)).status == 0:
                        raise NotMergeable(
                            f"squashing '{source}' into '{target}' changes nothing: '{target}' already has its "
                            "content; close the change instead"
                        )
                    author = self._git(repo, "log", "-1", "--format=%an <%ae>", expected).stdout.strip()
                    self._git(repo, "commit", "-q", f"--author={author}", "-m", text)
            merged = self._git(repo, "rev-parse", "HEAD").stdout.strip()
            self._push(repo, merged, target, base, moved=lambda now: TargetMoved(
                target_moved_message(target, self.url, base, now)))
        return MergeResult(True, merged, f"merged '{source}' at {short(expected)} into '{target}' "
                                         f"({method}): {short(merged)}")

    def update_branch(self, number: int, expected_head_sha: str) -> None:
        change = self._own(number)
        self.update_source_branch(change.source_branch, change.target_branch, expected_head_sha)

    def update_source_branch(self, source: str, target: str, expected_head_sha: str) -> str:
        """Merge `target` into `source` (at exactly `expected_head_sha`) and push; returns the source's new head.
        Nothing to do when `source` already contains `target`."""
        self._check_branches(source, target)
        expected = self._full_sha(expected_head_sha)
        with self._scratch(bare=False) as repo:
            heads = self._fetch(repo, source, target, required=(source, target))
            head, base = heads[source], heads[target]
            if head != expected:
                raise HeadMoved(head_moved_message(source, self.url, expected, head, doing="updated"))
            if self._is_ancestor(repo, base, head):
                return head
            self._git(repo, "checkout", "-q", "--detach", head)
            self._conflicts(repo, source, target, "merge", "merge", "--no-ff", "--no-edit", "-m",
                            f"Merge branch '{target}' into {source}\n", base)
            updated = self._git(repo, "rev-parse", "HEAD").stdout.strip()
            self._push(repo, updated, source, head, moved=lambda now: HeadMoved(
                f"source branch '{source}' moved during the update ({short(head)} -> {short(now)} on "
                f"{redact(self.url)}); nothing was pushed; run the checks on the new head"))
        return updated

    def delete_branch(self, branch: str) -> bool:
        """Push the branch's deletion. False when it was already gone (also when someone else won the race)."""
        self._check_branches(branch)
        if branch not in self.remote_heads(branch):
            return False
        with self._scratch(bare=True) as repo:
            out = self._git(repo, "push", "--porcelain", self.url, f":refs/heads/{branch}", ok=(0, 1))
            if out.status != 0:
                if branch not in self.remote_heads(branch):
                    return False
                raise GitCommandFailed(["push", "--porcelain", self.url, f":refs/heads/{branch}"], out.status,
                                       out.stderr or out.stdout)
        return True

    # -- internals -------------------------------------------------------------------------------------------

    def _own(self, number: int) -> "Change":
        change = self.change
        if change is None or not change.source_branch or not change.target_branch:
            raise UsageError(
                f"{self.repository} is a plain git remote: it has no pull requests of its own; give the source and "
                "target branches (CHANGE_BRANCH/CHANGE_TARGET, or --branch/--target)"
            )
        if change.pr_number and number != change.pr_number:
            raise UsageError(
                f"{self.repository} is a plain git remote; this run knows only change #{change.pr_number} "
                f"('{change.source_branch}' -> '{change.target_branch}'), not #{number}"
            )
        return change

    @contextlib.contextmanager
    def _scratch(self, *, bare: bool) -> Iterator[Path]:
        """A throwaway repository: every fetch, merge and note happens here, never in the user's checkout."""
        with tempfile.TemporaryDirectory(prefix="jdci-git-") as tmp:
            self._git(tmp, "init", "-q", *(["--bare"] if bare else []), tmp)
            yield Path(tmp)

    def _fetch(self, repo: Path, source: str, target: str, *, required: Sequence[str]) -> dict[str, str]:
        """Fetch the branches that exist into refs/jdci/*; returns branch -> SHA as fetched (the fetch, not an
        earlier ls-remote, is what later decisions rest on)."""
        present = self.remote_heads(source, target)
        for branch in required:
            if branch not in present:
                raise NotMergeable(f"branch '{branch}' does not exist on {redact(self.url)}")
        if present:
            refspecs = [f"+refs/heads/{b}:refs/jdci/{b}" for b in present]
            self._git(repo, "fetch", "-q", "--no-tags", self.url, *refspecs)
        heads: dict[str, str] = {}
        for branch in present:
            out = self._git(repo, "rev-parse", "--verify", "-q", f"refs/jdci/{branch}", ok=(0, 1))
            if out.status == 0:
                heads[branch] = out.stdout.strip()
        for branch in required:
            if branch not in heads:  # deleted between the listing and the fetch
                raise NotMergeable(f"branch '{branch}' does not exist on {redact(self.url)}")
        return heads

    def _notes_head(self, repo: Path) -> str:
        listed = self._git(repo, "ls-remote", self.url, self.notes_ref).stdout
        heads = [line.split("\t")[0] for line in listed.splitlines() if line.endswith(f"\t{self.notes_ref}")]
        return heads[0] if heads else ""

    def _fetch_notes(self, repo: Path) -> str:
        """Fetch the remote's status notes; returns the notes commit fetched ("" when there are none yet)."""
        if not self._notes_head(repo):
            return ""
        self._git(repo, "fetch", "-q", "--no-tags", self.url, f"+{self.notes_ref}:{self.notes_ref}")
        return self._git(repo, "rev-parse", self.notes_ref).stdout.strip()

    def _has(self, repo: Path, sha: str) -> bool:
        return self._git(repo, "cat-file", "-e", f"{sha}^{{commit}}", ok=(0, 1, 128)).status == 0

    def _is_ancestor(self, repo: Path, ancestor: str, descendant: str) -> bool:
        return self._git(repo, "merge-base", "--is-ancestor", ancestor, descendant, ok=(0, 1)).status == 0

    def _merge_commit(self, repo: Path, tested: str, base: str) -> str:
        """The commit of `base`'s first-parent line that brought `tested` in: the merge commit, or `tested`
        itself when the target was fast-forwarded to it."""
        line = self._git(repo, "rev-list", "--first-parent", "--ancestry-path", f"{tested}..{base}").stdout.split()
        if not line:
            return tested
        oldest = line[-1]
        first_parent = self._git(repo, "rev-parse", f"{oldest}^1").stdout.strip()
        return tested if first_parent == tested else oldest

    def _conflicts(self, repo: Path, source: str, target: str, method: str, *args: str) -> None:
        """Run a merge or rebase; on conflicts raise NotMergeable naming the files (the clone is thrown away)."""
        out = self._git(repo, *args, ok=(0, 1))
        if out.status == 0:
            return
        files = [f for f in self._git(repo, "diff", "-z", "--name-only", "--diff-filter=U").stdout.split("\0") if f]
        if not files:  # not a conflict: some other failure git reported with exit 1
            raise GitCommandFailed(args, out.status, out.stderr or out.stdout)
        raise NotMergeable(conflict_message(source, target, files, method))

    def _push(self, repo: Path, sha: str, branch: str, was: str, *, moved: Callable[[str], Exception]) -> None:
        """Push `sha` to `branch` without force. If it fails and the branch is no longer at `was`, it moved under
        us: raise `moved(new_sha)`. The remote, not this process, decides: its ref update is a compare-and-swap."""
        if self._before_push is not None:
            self._before_push(branch)
        args = ["push", "--porcelain", self.url, f"{sha}:refs/heads/{branch}"]
        out = self._git(repo, *args, ok=(0, 1))
        if out.status == 0:
            return
        now = self.remote_heads(branch).get(branch, "")
        if now != was:
            raise moved(now or "(deleted)")
        raise NotMergeable(f"{redact(self.url)} refused the push to '{branch}'; nothing was merged: "
                           + describe_command(args, out.status, out.stderr or out.stdout))

    def _check_branches(self, *branches: str) -> None:
        for branch in branches:
            problem = branch_problem(branch)
            if problem:
                raise UsageError(f"{branch!r} is not a valid branch name ({problem}); pass the branch's name")
        if len(branches) == 2 and branches[0] == branches[1]:
            raise UsageError(f"source and target are both '{branches[0]}'; a change merges one branch into another")

    def _full_sha(self, sha: str) -> str:
        sha = sha.strip().lower()
        if not is_full_sha(sha):
            raise UsageError(f"{sha!r} is not a full commit SHA; pass the 40-character SHA the checks ran on")
        return sha


class _NotesRaced(Exception):
    """Another job pushed statuses first (inside set_status's retry loop only)."""
