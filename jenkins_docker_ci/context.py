"""The change being built: from Jenkins' environment, overridden by flags, completed from the SCM host."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

from .errors import UsageError

if TYPE_CHECKING:
    from .scm import PullRequest


@dataclass(frozen=True)
class Change:
    repository: str = ""  # owner/name
    pr_number: int | None = None
    title: str = ""
    source_branch: str = ""  # CHANGE_BRANCH - never BRANCH_NAME, which is "PR-42" in PR builds
    target_branch: str = ""
    head_sha: str = ""  # the PR head; with GitHub's merge strategy GIT_COMMIT is a synthetic merge commit
    pr_url: str = ""
    author: str = ""
    fork: bool = False
    build_url: str = ""
    job_name: str = ""
    build_number: str = ""
    workspace: str = "."

    @property
    def label(self) -> str:
        if self.pr_number:
            return f"{self.repository} PR #{self.pr_number}" if self.repository else f"PR #{self.pr_number}"
        return self.repository or "this change"


# Jenkins multibranch PR builds (branch-api + git plugin); see ENVIRONMENT.md.
_JENKINS_VARS: dict[str, str] = {
    "CHANGE_ID": "pr_number",
    "CHANGE_TITLE": "title",
    "CHANGE_BRANCH": "source_branch",
    "CHANGE_TARGET": "target_branch",
    "CHANGE_URL": "pr_url",
    "CHANGE_AUTHOR": "author",
    "BUILD_URL": "build_url",
    "JOB_NAME": "job_name",
    "BUILD_NUMBER": "build_number",
    "WORKSPACE": "workspace",
}


def from_env(env: Mapping[str, str], **overrides: object) -> Change:
    """Build the change from Jenkins' variables; non-empty `overrides` (the CLI flags) win."""
    values: dict[str, object] = {}
    for var, name in _JENKINS_VARS.items():
        if env.get(var):
            values[name] = env[var]
    if env.get("CHANGE_FORK"):
        values["fork"] = True
    for name, value in overrides.items():
        if value not in (None, ""):
            values[name] = value
    if "pr_number" in values:
        raw = values["pr_number"]
        try:
            values["pr_number"] = int(str(raw))
        except ValueError:
            raise UsageError(f"pull request number {raw!r} is not a number; pass --pr N or set CHANGE_ID") from None
    return Change(**values)  # type: ignore[arg-type]


def complete(change: Change, pr: "PullRequest", repository: str) -> Change:
    """Fill what Jenkins did not say from the host's view of the PR. The host's head SHA always wins:
    it is the commit a merge would take, and the one the checks must be about."""
    return dataclasses.replace(
        change,
        repository=change.repository or repository,
        pr_number=pr.number,
        title=change.title or pr.title,
        source_branch=change.source_branch or pr.head_ref,
        target_branch=change.target_branch or pr.base_ref,
        head_sha=pr.head_sha,
        pr_url=change.pr_url or pr.url,
        author=change.author or pr.author,
        fork=change.fork or pr.fork,
    )
