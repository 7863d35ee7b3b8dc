"""SCM hosts behind one Protocol: what jdci needs from GitHub (scm/github.py) or a plain git remote (scm/git.py).

The gate and the pipeline see only these types; adapters turn API answers into them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ..errors import MergeError

if TYPE_CHECKING:
    from ..config import Config, Secrets


@dataclass(frozen=True)
class PullRequest:
    number: int
    title: str
    head_sha: str
    head_ref: str  # the source branch
    base_ref: str  # the target branch
    base_sha: str = ""  # the target's head as the host last saw it
    state: str = "open"  # "open" | "closed"
    merged: bool = False
    merge_sha: str | None = None
    draft: bool = False
    author: str = ""
    url: str = ""  # the page people open
    fork: bool = False
    mergeable: bool | None = None  # None = the host has not computed it yet: wait, never "yes"
    mergeable_state: str = "unknown"  # GitHub's: clean, behind, dirty, blocked, unstable, unknown, ...
    labels: tuple[str, ...] = ()
    body: str = ""


@dataclass(frozen=True)
class Review:
    user: str
    state: str  # APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED | PENDING
    commit_sha: str
    submitted_at: str = ""
    # GitHub's relation of the reviewer to the repository: OWNER, MEMBER, COLLABORATOR (these have write access),
    # CONTRIBUTOR, FIRST_TIME_CONTRIBUTOR, FIRST_TIMER, MANNEQUIN, NONE; "" = not reported. [gate] approvals_from
    # says which count.
    author_association: str = ""


@dataclass(frozen=True)
class Reaction:
    user: str
    content: str  # "+1", "-1", "laugh", ...


@dataclass(frozen=True)
class CommitCheck:
    """One reported check on a commit: a commit status (latest per context) or a check run."""

    name: str  # status context or check-run name
    state: str  # success | failure | error | pending  (check runs are mapped onto these)
    url: str = ""
    description: str = ""
    created_at: str = ""  # ISO 8601
    kind: str = "status"  # "status" | "check_run"


@dataclass(frozen=True)
class Comment:
    id: int
    body: str
    user: str = ""
    url: str = ""


@dataclass(frozen=True)
class MergeResult:
    merged: bool
    sha: str | None
    message: str = ""


@dataclass(frozen=True)
class Comparison:
    """How a head relates to a base (GitHub's compare): `behind_by` > 0 means the head lacks base commits."""

    status: str  # ahead | behind | diverged | identical
    ahead_by: int
    behind_by: int
    base_sha: str  # the base's head at the time of the comparison


class HeadMoved(MergeError):
    """The PR head is no longer the SHA that was checked (GitHub 409): never merge, report."""


class NotMergeable(MergeError):
    """The host refuses the merge (GitHub 405): conflicts, branch protection, out of date, already merged."""


class ScmHost(Protocol):
    repository: str

    def pull_request(self, number: int) -> PullRequest: ...

    def open_pull_requests(self) -> list[PullRequest]: ...

    def find_pull_request(self, branch: str) -> PullRequest | None:
        """The open PR whose source branch is `branch`, if any."""
        ...

    def reviews(self, number: int) -> list[Review]: ...

    def reactions(self, number: int) -> list[Reaction]: ...

    def checks(self, sha: str) -> list[CommitCheck]:
        """Every check reported on `sha`: latest status per context, plus check runs."""
        ...

    def set_status(self, sha: str, context: str, state: str, description: str = "", target_url: str = "") -> None: ...

    def comments(self, number: int) -> list[Comment]: ...

    def create_comment(self, number: int, body: str) -> Comment: ...

    def update_comment(self, comment_id: int, body: str) -> Comment: ...

    def merge(self, number: int, sha: str, method: str, title: str, message: str) -> MergeResult:
        """Merge exactly `sha`; raises HeadMoved or NotMergeable."""
        ...

    def update_branch(self, number: int, expected_head_sha: str) -> None: ...

    def delete_branch(self, branch: str) -> bool:
        """False when it was already gone."""
        ...


def connect(config: "Config", secrets: "Secrets") -> ScmHost:
    """The SCM host the config names."""
    from ..errors import ConfigError

    if config.scm.provider == "github":
        from .github import GitHub

        if not config.scm.repository:
            if config.source == "defaults":
                raise ConfigError(f"no jdci.toml in {config.root} (nor [tool.jdci] in its pyproject.toml); "
                                  f"create one (see examples/sample-app/jdci.toml) or pass --config PATH")
            raise ConfigError(f"{config.source}: [scm] repository is empty; set it to owner/name")
        if not secrets.github_token:
            raise ConfigError("GITHUB_TOKEN is not set; export a token that can read and merge pull requests")
        return GitHub(config.scm.api_url, config.scm.repository, secrets.github_token,
                      mergeable_wait=config.merge.mergeable_wait, deadline=config.scm.timeout)
    from .git import PlainGit

    return PlainGit.from_config(config)
