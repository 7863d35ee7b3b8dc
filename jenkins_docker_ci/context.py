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
    # The rest of what Jenkins says about the build (ENVIRONMENT.md), for reports, links and messages:
    branch_name: str = ""  # BRANCH_NAME: "PR-42" in a PR build, the branch in a branch build
    tag_name: str = ""  # TAG_NAME: set in tag builds only
    author_display_name: str = ""
    author_email: str = ""
    git_commit: str = ""  # GIT_COMMIT: what was checked out - a merge commit under the "merge" strategy
    git_previous_successful_commit: str = ""
    git_branch: str = ""  # GIT_BRANCH: "PR-42" or "origin/main", not the PR's source branch
    git_url: str = ""
    build_id: str = ""
    build_tag: str = ""  # "jenkins-shop-PR-42-7": unique per build, good for naming throwaway things
    job_base_name: str = ""
    job_url: str = ""
    jenkins_url: str = ""
    node_name: str = ""
    executor_number: str = ""

    @property
    def label(self) -> str:
        if self.pr_number:
            return f"{self.repository} PR #{self.pr_number}" if self.repository else f"PR #{self.pr_number}"
        return self.repository or "this change"

    @property
    def in_jenkins(self) -> bool:
        return bool(self.jenkins_url or self.build_url)


# Jenkins multibranch builds (branch-api, git plugin, Jenkins core); see ENVIRONMENT.md. The one place they are
# read: every other module takes a Change.
JENKINS_VARS: dict[str, str] = {
    "CHANGE_ID": "pr_number",
    "CHANGE_TITLE": "title",
    "CHANGE_BRANCH": "source_branch",
    "CHANGE_TARGET": "target_branch",
    "CHANGE_URL": "pr_url",
    "CHANGE_AUTHOR": "author",
    "CHANGE_AUTHOR_DISPLAY_NAME": "author_display_name",
    "CHANGE_AUTHOR_EMAIL": "author_email",
    "BRANCH_NAME": "branch_name",
    "TAG_NAME": "tag_name",
    "GIT_COMMIT": "git_commit",
    "GIT_PREVIOUS_SUCCESSFUL_COMMIT": "git_previous_successful_commit",
    "GIT_BRANCH": "git_branch",
    "GIT_URL": "git_url",
    "BUILD_URL": "build_url",
    "BUILD_NUMBER": "build_number",
    "BUILD_ID": "build_id",
    "BUILD_TAG": "build_tag",
    "JOB_NAME": "job_name",
    "JOB_BASE_NAME": "job_base_name",
    "JOB_URL": "job_url",
    "JENKINS_URL": "jenkins_url",
    "WORKSPACE": "workspace",
    "NODE_NAME": "node_name",
    "EXECUTOR_NUMBER": "executor_number",
}
_JENKINS_VARS = JENKINS_VARS  # the name other modules used before


def from_env(env: Mapping[str, str], **overrides: object) -> Change:
    """Build the change from Jenkins' variables; non-empty `overrides` (the CLI flags) win.

    - The source branch is CHANGE_BRANCH, never BRANCH_NAME ("PR-42" in a PR build; kept as `branch_name`).
      Jenkins checks out a detached HEAD, so the branch never comes from git either.
    - head_sha is left empty: GIT_COMMIT is the synthetic merge commit under GitHub's "merge" discovery
      strategy, so the head comes from the SCM host (`complete`) or the checkout's second parent
      (`pipeline.tested_sha`). It is kept as `git_commit`.
    - CHANGE_FORK is set (to the fork's owner or "true") only for a PR from a fork; "false" counts as not.
    """
    values: dict[str, object] = {}
    for var, name in JENKINS_VARS.items():
        if env.get(var):
            values[name] = env[var]
    if env.get("CHANGE_FORK") and env["CHANGE_FORK"].lower() != "false":
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


def pr_head_of_checkout(head: str, parents: list[str], host_head: str = "") -> str:
    """The PR head a Jenkins checkout holds, or "" when it cannot be told. Pure.

    `head` is `git rev-parse HEAD` (detached, as Jenkins leaves it), `parents` its parents. A merge commit
    (GitHub's "merge" strategy) holds the PR head as its second parent; otherwise HEAD is the PR head itself.
    With `host_head` (the SCM host's view) only a checkout that holds exactly it answers.
    """
    candidate = parents[1] if len(parents) == 2 else head
    if host_head and host_head not in (head, candidate):
        return ""
    return host_head or candidate


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
