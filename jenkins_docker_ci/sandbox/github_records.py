"""The GitHub sandbox's state: plain records of what GitHub keeps (repositories, pull requests, reviews, ...).

Data, and a few facts derived from it; the routes in github_*.py change it and github_json.py renders it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def now_iso() -> str:
    """GitHub's timestamp format: UTC, whole seconds."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Label:
    id: int
    name: str
    color: str = "ededed"
    description: str | None = None


@dataclass
class ReviewRecord:
    id: int
    user: str
    state: str
    body: str
    commit_id: str
    submitted_at: str | None


@dataclass
class CommentRecord:
    id: int
    number: int
    user: str
    body: str
    created_at: str
    updated_at: str


@dataclass
class ReactionRecord:
    id: int
    user: str
    content: str
    created_at: str


@dataclass
class StatusRecord:
    id: int
    sha: str
    state: str
    context: str
    description: str | None
    target_url: str | None
    creator: str
    created_at: str
    updated_at: str


@dataclass
class CheckRunRecord:
    id: int
    head_sha: str
    name: str
    status: str
    conclusion: str | None
    details_url: str | None
    external_id: str
    started_at: str
    completed_at: str | None
    output: dict[str, Any]
    creator: str


@dataclass
class PullRecord:
    number: int
    id: int
    title: str
    body: str | None
    author: str
    head_owner: str
    head_repo: "Repo | None"
    head_ref: str
    base_ref: str
    draft: bool
    created_at: str
    updated_at: str
    head_sha: str  # last seen; frozen once closed
    base_sha: str
    state: str = "open"
    closed_at: str | None = None
    merged: bool = False
    merged_at: str | None = None
    merge_commit_sha: str | None = None
    merged_by: str | None = None
    labels: list[str] = field(default_factory=list)
    reviews: list[ReviewRecord] = field(default_factory=list)
    reactions: list[ReactionRecord] = field(default_factory=list)
    comment_ids: list[int] = field(default_factory=list)
    null_reads: int = 0


@dataclass
class Repo:
    owner: str
    name: str
    id: int
    path: Path
    org: bool
    creator: str
    private: bool
    description: str | None
    default_branch: str
    created_at: str
    updated_at: str
    pushed_at: str | None
    parent: "Repo | None" = None
    forks: list["Repo"] = field(default_factory=list)
    pulls: dict[int, PullRecord] = field(default_factory=dict)
    next_number: int = 1
    labels: dict[str, Label] = field(default_factory=dict)
    statuses: list[StatusRecord] = field(default_factory=list)
    check_runs: list[CheckRunRecord] = field(default_factory=list)
    up_to_date_branches: set[str] = field(default_factory=set)
    collaborators: dict[str, str] = field(default_factory=dict)  # login (lower case) -> permission (pull, push...)
    # The owning organisation's members (lower case): the one set the service keeps for that organisation, shared
    # by all its repositories, so a member added later is a member everywhere at once. Empty for a user's repo.
    org_members: set[str] = field(default_factory=set)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def source(self) -> "Repo":
        """The repository at the root of this one's fork network (itself if it is no fork)."""
        root = self
        while root.parent is not None:
            root = root.parent
        return root

    def owned_by(self, login: str | None) -> bool:
        return login is not None and login.lower() in (self.owner.lower(), self.creator.lower())

    def permission(self, login: str | None) -> str:
        """The user's role here, as GitHub's collaborator permission: admin, maintain, push, triage, pull, or ""
        (no access beyond what a public repository gives everyone)."""
        if login is None:
            return ""
        if self.owned_by(login):
            return "admin"
        granted = self.collaborators.get(login.lower(), "")
        if granted:
            return granted
        # Organisation members get the base permission; GitHub's default base permission is read, but the
        # sandbox's members are the team that works on the code, so they may push.
        return "push" if login.lower() in self.org_members else ""

    def can_push(self, login: str | None) -> bool:
        return self.permission(login) in WRITE_PERMISSIONS


WRITE_PERMISSIONS = ("push", "maintain", "admin")
PERMISSIONS = ("pull", "triage", "push", "maintain", "admin")

