"""`jdci pr`: the lifecycle of one pull request, as steps that each feed the next.

context -> link -> build + push -> preprod -> checks -> publish -> gate -> merge -> after merge.
The run keeps what each step produced in `Run`, so the summary (and --json) says what was done even when a
step fails. Whatever this run started and did not hand on is removed on the way out.
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from . import log, notify
from .errors import CheckFailed, GateBlocked, Interrupted, JdciError, UsageError

if TYPE_CHECKING:
    from .checks import CheckResult
    from .config import Config, Secrets
    from .context import Change
    from .environments import Environment
    from .gate import Decision
    from .images import PushedImage
    from .merging import MergeOutcome
    from .scm import PullRequest, ScmHost


@dataclass
class Run:
    change: "Change"
    tickets: list[str] = field(default_factory=list)
    image: "PushedImage | None" = None
    environment: "Environment | None" = None
    checks: list["CheckResult"] = field(default_factory=list)
    gate: "Decision | None" = None
    merge: "MergeOutcome | None" = None
    notes: list[str] = field(default_factory=list)
    reports: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        env = self.environment
        return {
            "pr": self.change.pr_number,
            "sha": self.change.head_sha,
            "tickets": self.tickets,
            "image": self.image.to_json() if self.image else None,
            "environment": env.to_json() if env else {"url": None, "status": "down"},
            "checks": [c.to_json() for c in self.checks],
            "gate": ({"decision": self.gate.decision, "reasons": [r.to_json() for r in self.gate.reasons]}
                     if self.gate else None),
            "merge": self.merge.to_json() if self.merge else {"merged": False, "merge_sha": None},
            "reports": self.reports,
            "notes": self.notes,
        }


def git_output(workspace: str, *args: str) -> str:
    from . import gitcmd

    return gitcmd.run(workspace, *args, timeout=60,
                      hint="run jdci inside a git checkout of the pull request").strip()


def tested_sha(workspace: str, pr: "PullRequest") -> str:
    """Check that the workspace holds the PR head and return it. Jenkins' "merge" strategy checks out a
    synthetic merge commit whose second parent is the PR head; anything else (the PR moved on since this
    checkout, or another repository's checkout) is refused before anything is written."""
    from .context import pr_head_of_checkout

    head = git_output(workspace, "rev-parse", "HEAD")
    if head == pr.head_sha:
        return head
    parents = git_output(workspace, "rev-list", "--parents", "-n", "1", "HEAD").split()[1:]
    if pr_head_of_checkout(head, parents, pr.head_sha):
        return pr.head_sha
    raise UsageError(f"the workspace {workspace} is at {head[:12]}, not at the head {pr.head_sha[:12]} of PR "
                     f"#{pr.number} (nor a merge of it): the PR moved on since this checkout, or this is another "
                     f"checkout. Nothing was done; the build of the new head will run (or check out the PR head)")


@contextmanager
def source_tree(workspace: str, sha: str) -> Iterator[str]:
    """A folder holding exactly commit `sha`: the workspace itself when it is at `sha`, else a temporary
    worktree (Jenkins' merge checkout holds the merge result, which is not what the tag `sha` promises)."""
    if git_output(workspace, "rev-parse", "HEAD") == sha:
        yield workspace
        return
    folder = tempfile.mkdtemp(prefix="jdci-src-")
    git_output(workspace, "worktree", "add", "--detach", "--force", folder, sha)
    try:
        yield folder
    finally:
        try:
            git_output(workspace, "worktree", "remove", "--force", folder)
        except JdciError as exc:  # the folder goes below anyway; git prunes a worktree whose folder is gone
            log.warn("pr", f"could not unregister the temporary worktree {folder}: {exc}")
        shutil.rmtree(folder, ignore_errors=True)


def run_pr(config: "Config", secrets: "Secrets", change: "Change", *, run: Run | None = None,
           merge: bool = True, env: Mapping[str, str] | None = None) -> Run:
    """The whole PR pipeline. Raises JdciError (with `run` holding what was done) when a step says no."""
    from . import scm as scm_module
    from .context import complete

    scm = scm_module.connect(config, secrets)
    run = run or Run(change)
    pr = _pull_request(scm, change)
    run.change = change = complete(change, pr, scm.repository)
    if pr.merged:
        from .merging import MergeOutcome

        log.say("pr", f"PR #{pr.number} is already merged ({pr.merge_sha}); nothing to do")
        run.merge = MergeOutcome(True, pr.merge_sha)
        return run
    if pr.state != "open":
        _closed(config, secrets, scm, change, run)
        return run
    sha = tested_sha(change.workspace, pr)
    run.change = change = dataclasses.replace(change, head_sha=sha)
    log.say("pr", f"{change.label}: {_short(change.title)!r} {change.source_branch} -> {change.target_branch} "
                  f"at {sha[:12]}")
    with source_tree(change.workspace, sha) as source:
        from .checks.report import writable_folder

        writable_folder(Path(change.workspace) / config.report.directory, "set [report] directory to a writable "
                                                                           "folder")
        client = _preflight(config, secrets, dataclasses.replace(change, workspace=source))
        _link(config, secrets, scm, change, run)
        statuses = _Statuses(scm, change)
        statuses.step("build", lambda: _build(config, secrets, change, source, run, client))
        try:
            statuses.step("preprod", lambda: _preprod(config, change, run, scm))
            _check(config, secrets, change, run)
            _publish(config, secrets, scm, statuses, change, run)  # Slack hears of the checks from here
            failed = [c for c in run.checks if c.blocks]  # an optional check only reports
            if failed:
                _transition(config, secrets, run, "checks_failed")
                what = f"{len(failed)} check(s) failed at {sha[:12]}: " + "; ".join(
                    f"{c.name}: {c.detail}" for c in failed)
                raise CheckFailed(f"{what} ({change.label})")
            if merge:
                _gate_and_merge(config, secrets, scm, change, run, env)
        except BaseException:  # a failed run leaves no environment of its own behind (logs are in the reports)
            if run.environment and run.environment.status == "up":
                _env_down(run)
            raise
    return run


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _preflight(config: "Config", secrets: "Secrets", change: "Change") -> Any:
    """Everything that can be checked before the first write (JIRA comment, push, container): the image name,
    the Dockerfile, the Docker engine, the registry. Returns the engine client."""
    from . import images

    image = images.plan(config, change, commit_time="", tickets=())
    images.check_sources(image)
    client = images.engine()
    images.check_registry(config.image.registry, secrets)
    return client


class _Statuses:
    """The tested SHA's commit statuses, posted only when they differ from what the host shows already: a
    rerun with nothing new writes nothing (GitHub keeps every status posted, up to 1000 per context)."""

    def __init__(self, scm: "ScmHost", change: "Change") -> None:
        self.scm = scm
        self.sha = change.head_sha
        self.build_url = change.build_url
        self._shown: dict[str, tuple[str, str, str]] | None = None

    def post(self, context: str, state: str, description: str, url: str = "") -> None:
        description, url = _short(description, 140), url or self.build_url
        if self._shown is None:
            self._shown = {c.name: (c.state, c.description, c.url) for c in self.scm.checks(self.sha)
                           if c.kind == "status"}
        if self._shown.get(context) == (state, description, url):
            return
        self.scm.set_status(self.sha, context, state, description, url)
        self._shown[context] = (state, description, url)

    def step(self, name: str, work: Callable[[], None]) -> None:
        """Run a step and publish its outcome as jdci/<name>, so a PR whose build or environment failed shows
        it (and a later success on the same commit replaces it)."""
        from .checks import CONTEXT_PREFIX

        try:
            work()
        except JdciError as exc:
            self._post_quietly(CONTEXT_PREFIX + name, "failure", str(exc))
            raise
        self._post_quietly(CONTEXT_PREFIX + name, "success", f"{name} ok")

    def _post_quietly(self, context: str, state: str, description: str) -> None:
        try:
            self.post(context, state, description)
        except Interrupted:  # an abort while reporting a success must not let the next step (a merge) run
            raise
        except JdciError as exc:  # the step's own outcome matters more than its report
            log.warn("publish", f"could not set {context} on {self.sha[:12]}: {exc}")


def _closed(config: "Config", secrets: "Secrets", scm: "ScmHost", change: "Change", run: Run) -> None:
    """A PR closed without merging: remove its environment, transition its tickets for "closed"."""
    from . import environments

    removed = environments.down(environments.env_name(scm.repository, change.pr_number, change.head_sha))
    run.notes.append(f"PR #{change.pr_number} is closed without merging; removed its environment" if removed
                     else f"PR #{change.pr_number} is closed without merging; nothing to do")
    log.say("pr", run.notes[-1])
    if config.jira.url and config.jira.transitions.get("closed"):
        from . import tickets

        keys = [found.key for found in tickets.find_keys(config.jira, change, repo_dir="")]
        if keys:
            run.tickets = keys
            run.notes.extend(tickets.transition(config, secrets, keys, "closed"))


def _pull_request(scm: "ScmHost", change: "Change") -> "PullRequest":
    if change.pr_number is not None:
        return scm.pull_request(change.pr_number)
    if change.source_branch:
        found = scm.find_pull_request(change.source_branch)
        if found:
            return found
        raise UsageError(f"no open pull request from branch {change.source_branch!r} in {scm.repository}; "
                         f"open one or pass --pr N")
    raise UsageError("which pull request? pass --pr N (or run in a Jenkins PR build, which sets CHANGE_ID)")


def _details(change: "Change", run: Run) -> Any:
    from .tickets import CommentDetails

    return CommentDetails(
        pr_url=change.pr_url, pr_title=change.title, pr_number=change.pr_number, build_url=change.build_url,
        image_ref=run.image.ref if run.image else "", image_digest=run.image.digest if run.image else "",
        preview_url=run.environment.url if run.environment and run.environment.status == "up" else "",
        checks=tuple((c.name, c.status) for c in run.checks),
    )


def _link(config: "Config", secrets: "Secrets", scm: "ScmHost", change: "Change", run: Run) -> None:
    if config.jira.require_ticket == "off" and not config.jira.url:
        return
    from . import tickets

    if not config.jira.url:
        raise UsageError(f"{config.source}: [jira] url is empty; set it, or set [jira] require_ticket = \"off\"")
    # "create": the comment is made here if missing; _publish() keeps it current once there is more to say,
    # so a rerun with nothing new writes nothing. link() raises when require_ticket = "fail" finds no ticket.
    listed = getattr(scm, "commit_messages", None)  # when the checkout lacks the target branch to diff against
    number = change.pr_number
    host_commits = (lambda: listed(number)) if callable(listed) and number else None
    result = tickets.LinkResult()
    try:
        tickets.link(config, secrets, change, _details(change, run), event="opened", comment="create",
                     host_commits=host_commits, result=result)
    finally:  # what was linked before a failure is part of what this run did
        run.tickets = list(result.tickets)
        run.notes.extend(result.notes)


def _build(config: "Config", secrets: "Secrets", change: "Change", source: str, run: Run, client: Any) -> None:
    from . import images

    commit_time = git_output(source, "show", "-s", "--format=%cI", change.head_sha)
    run.image = images.build_and_push(config, secrets, dataclasses.replace(change, workspace=source),
                                      commit_time=commit_time, tickets=run.tickets, client=client)


def _preprod(config: "Config", change: "Change", run: Run, scm: "ScmHost | None" = None) -> None:
    """The PR's environment at the tested SHA. With `scm`, the PR's current head on the host decides that a
    slow build of an earlier push does not replace a newer one (else git in the workspace decides, when it can)."""
    from . import environments

    assert run.image is not None
    number = change.pr_number
    pr_head = (lambda: scm.pull_request(number).head_sha) if scm is not None and number else None
    try:
        run.environment = environments.up(config, repository=change.repository, pr_number=change.pr_number,
                                          head_sha=change.head_sha, image_ref=run.image.ref,
                                          report_dir=Path(change.workspace) / config.report.directory,
                                          workspace=change.workspace, pr_head=pr_head)
    except JdciError:
        # "failed", never "up": the run's clean-up must not remove an environment it did not create (an older
        # commit's run refused to replace the newer one's)
        name = environments.env_name(change.repository, change.pr_number, change.head_sha)
        run.environment = environments.Environment(name, "", "failed", run.image.ref)
        raise


def _check(config: "Config", secrets: "Secrets", change: "Change", run: Run) -> None:
    from .checks.runner import Target, run_all
    from .stack import resolve_env

    env = run.environment
    assert env is not None
    # checks talk to the published 127.0.0.1 ports, never to the preview URL (a template may name another host)
    urls = dict(env.urls)
    app_env, _ = resolve_env(config.preprod.env, os.environ, "[preprod]")
    target = Target(
        urls=urls, network=env.network or env.name, env_name=env.name,
        image=run.image.ref if run.image else env.image, registry=config.image.registry,
        repository=config.image.repository or change.repository.lower(),
        target_branch=change.target_branch or "main", app_port=config.preprod.port,
        health_path=config.preprod.health_path or "/", app_env=app_env)
    run.checks.extend(run_all(config.checks, target, Path(change.workspace) / config.report.directory,
                              secrets=secrets))


def _publish(config: "Config", secrets: "Secrets", scm: "ScmHost", statuses: _Statuses, change: "Change",
             run: Run) -> None:
    """Commit statuses on the tested SHA (linking to the report), JUnit XML, the HTML report, the PR comment,
    the JIRA comment, one Slack message."""
    from .checks import commit_state, html_report, report, status_description
    from .scm.comments import upsert_comment

    assert change.pr_number is not None
    directory = Path(change.workspace) / config.report.directory
    preview = run.environment.url if run.environment and run.environment.status == "up" else ""
    run.reports["junit"] = str(report.write_junit(run.checks, directory))
    run.reports["html"] = str(html_report.write(
        run.checks, directory, title=f"jdci checks: {change.repository} PR #{change.pr_number} at "
                                     f"{change.head_sha[:12]}", preview_url=preview, build_url=change.build_url))
    link = html_report.report_url(report_dir=directory, workspace=Path(change.workspace),
                                  build_url=change.build_url, configured=config.checks.report_url)
    # GitHub refuses a status whose target_url is not http(s) (422): a local file is named in the comment only
    web_link = link if link.startswith(("http://", "https://")) else ""
    for result in run.checks:
        statuses.post(result.context, commit_state(result.status, result.required), status_description(result),
                      f"{web_link}#{html_report.anchor(result.name)}" if web_link else "")
    body = report.pr_comment(
        sha=change.head_sha, results=run.checks, preview_url=preview,
        image=run.image.ref if run.image else "", digest=run.image.digest if run.image else "",
        build_url=change.build_url, tickets=run.tickets, report_url=link)
    upsert_comment(scm, change.pr_number, report.PR_COMMENT_MARKER, body)
    if run.tickets:
        from . import tickets

        tickets.update(config, secrets, change, run.tickets, _details(change, run))
    if config.checks.slack:
        notify.slack(secrets, notify.checks_summary(
            repository=change.repository, number=change.pr_number, pr_url=change.pr_url, sha=change.head_sha,
            results=run.checks, report_url=link if web_link else "", preview_url=preview))


def _transition(config: "Config", secrets: "Secrets", run: Run, event: str) -> None:
    if run.tickets and config.jira.transitions.get(event):
        from . import tickets

        run.notes.extend(tickets.transition(config, secrets, run.tickets, event))


def _gate_and_merge(config: "Config", secrets: "Secrets", scm: "ScmHost", change: "Change", run: Run,
                    env: Mapping[str, str] | None) -> None:
    """The same pass as `jdci merge --sha <tested>`: merge only the head this run tested, or update a branch
    that is behind, or wait."""
    from . import merging

    assert change.pr_number is not None
    def explain(decision: "Decision") -> None:  # before the merge's own lines, in the order things happen
        for reason in decision.reasons:
            log.say("gate", f"{reason.rule}: {reason.status} - {reason.detail}")

    attempt = merging.attempt(config, secrets, scm, change.pr_number, expected_sha=change.head_sha, env=env,
                              evaluated=explain)
    run.gate = attempt.decision
    if attempt.action in ("merged", "already-merged", "merged-elsewhere"):
        run.merge = attempt.outcome
        run.notes.extend(attempt.outcome.notes)
        if run.environment:
            run.environment = dataclasses.replace(run.environment, status="down")
        return
    if attempt.action in ("wait", "updated"):
        preview = run.environment.url if run.environment else "-"
        log.say("gate", f"{attempt.message}. `jdci merge --sweep` merges it once the gate passes; the preview "
                        f"stays up at {preview}")
        run.notes.append(attempt.message)
        return
    if attempt.action == "block":
        notify.slack(secrets, notify.pr_failed(change.repository, change.pr_number, change.pr_url, attempt.message))
        raise GateBlocked(attempt.message)
    raise attempt.error or GateBlocked(attempt.message)  # "refused": never retried into a merge


def _env_down(run: Run) -> None:
    from . import environments

    assert run.environment is not None
    if run.environment.reused:  # it predates this run (the PR's preview): not this run's to remove
        return
    try:
        environments.down(run.environment.name, run_id=run.environment.run_id)
        run.environment = dataclasses.replace(run.environment, status="down")
    except JdciError as exc:
        log.warn("preprod", f"could not remove {run.environment.name}: {exc}")
