"""Gate and merge one pull request: gather the gate's inputs from the hosts, evaluate, merge the evaluated SHA,
then clean up after the merge. Shared by `jdci pr`, `jdci gate` and `jdci merge`.

The policy itself is pure and lives in gate.py; this module only fetches and acts.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from . import log
from .errors import JdciError

if TYPE_CHECKING:
    from .config import Config, Secrets
    from .gate import Decision
    from .scm import PullRequest, ScmHost


@dataclass
class MergeOutcome:
    merged: bool
    merge_sha: str | None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"merged": self.merged, "merge_sha": self.merge_sha}


def gather(config: "Config", secrets: "Secrets", scm: "ScmHost", pr: "PullRequest", *,
           ticket_statuses: Sequence[tuple[str, str | None]] | None,
           env: Mapping[str, str] | None = None) -> "Decision":
    """Fetch what the gate needs about `pr` and evaluate it (no writes)."""
    from .gate import GateInput, evaluate

    env = os.environ if env is None else env
    jenkins_job = jenkins_build = own_build = None
    if config.gate.require_jenkins:
        from . import jenkins

        if not (config.jenkins.url and config.jenkins.job):
            from .errors import ConfigError

            raise ConfigError(f"{config.source}: [gate] require_jenkins needs [jenkins] url and job")
        jenkins_job = jenkins.pr_job_name(config.jenkins.job, pr.number)
        jenkins_build = jenkins.last_build(config, secrets, config.jenkins.job, pr.number)
        own_build = jenkins.OwnBuild.from_env(env)
    return evaluate(GateInput(
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
        behind=_behind(pr),
    ))


def _behind(pr: "PullRequest") -> bool | None:
    if pr.mergeable_state == "behind":
        return True
    if pr.mergeable_state in ("unknown", ""):
        return None
    return False


def merge(config: "Config", scm: "ScmHost", pr: "PullRequest", sha: str) -> MergeOutcome:
    """Merge exactly `sha` (the evaluated head). HeadMoved / NotMergeable propagate: never retried."""
    title = config.merge.commit_title.format(number=pr.number, branch=pr.head_ref, title=pr.title)
    message = config.merge.commit_message.format(number=pr.number, branch=pr.head_ref, title=pr.title)
    result = scm.merge(pr.number, sha, config.merge.method, title, message)
    log.say("merge", f"merged PR #{pr.number} at {sha[:12]} into {pr.base_ref} as {result.sha}")
    return MergeOutcome(True, result.sha)


def after_merge(config: "Config", secrets: "Secrets", scm: "ScmHost", pr: "PullRequest",
                tickets: Sequence[str], outcome: MergeOutcome) -> None:
    """Post-merge housekeeping. Each part is attempted even if another fails: the merge already happened."""
    from . import environments

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
            outcome.notes.append(f"could not transition {', '.join(tickets)}: {exc}")
    try:
        environments.down(environments.env_name(scm.repository, pr.number, pr.head_sha))
    except JdciError as exc:
        outcome.notes.append(f"could not remove the preprod environment: {exc}")
    for note in outcome.notes:
        log.say("merge", note)
    from . import notify

    notify.slack(secrets, notify.pr_merged(scm.repository, pr.number, pr.url, pr.head_sha, pr.base_ref,
                                           outcome.merge_sha or "", list(tickets)))
