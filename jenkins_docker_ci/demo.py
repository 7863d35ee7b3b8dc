"""`jdci demo`: a FRESH scenario in the sandbox every time, then the real `jdci pr` on it.

New repository (the sample app on `main`, a feature branch with one change), a new JIRA ticket, a pull request
opened by alice and approved by bob, a collaborator with write access - all through the sandbox's public REST
APIs and real git pushes, exactly what people and other bots do on the real services. Then the pipeline runs as
a Jenkins PR build would: in a detached checkout of the PR head, with its own token. Running it again creates
another scenario and merges again.
"""
from __future__ import annotations

import dataclasses
import os
import secrets as random_secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from . import log
from .errors import JdciError, ServiceError, UsageError

if TYPE_CHECKING:
    from .config import Config, Secrets

AUTHOR, REVIEWER, BOT = "alice", "bob", "jdci-bot"
ORG = "acme"
PROJECT = "SHOP"


def sample_app_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "examples" / "sample-app", here / "sample-app"):
        if (candidate / "jdci.toml").is_file():
            return candidate
    raise JdciError("the bundled sample app (examples/sample-app) is not here; pass --app DIR", kind="usage")


def run(*, app: str | None = None, partial: Callable[[Callable[[], dict[str, Any]]], None] | None = None
        ) -> dict[str, Any]:
    from . import config as config_module
    from . import pipeline, sandbox
    from .config import Secrets
    from .context import Change

    app_dir = Path(app).resolve() if app else sample_app_dir()
    for needed in ("jdci.toml", "Dockerfile"):
        if not (app_dir / needed).is_file():
            raise UsageError(f"--app {app_dir}: no {needed} there; point --app at an app folder with a Dockerfile "
                             f"and a jdci.toml (like examples/sample-app)")
    base = config_module.load(cwd=str(app_dir))
    # The sample stack's database password is a secret read from the environment ([preprod.env] PGPASSWORD =
    # "${PGPASSWORD}"), as in Jenkins; the demo makes one up when none is set.
    os.environ.setdefault("PGPASSWORD", random_secrets.token_hex(12))
    urls = sandbox.up()
    log.say("demo", "sandbox: " + ", ".join(f"{k} {v}" for k, v in urls.items() if k != "slack"))
    github, jira = urls["github"], urls["jira"]

    key = seed_ticket(jira)
    name = f"shop-{time.strftime('%Y%m%d-%H%M%S')}-{random_secrets.token_hex(2)}"
    repository = f"{ORG}/{name}"
    branch = f"feature/{key}-checkout-total"
    title = f"{key}: Show the basket total on checkout"
    workspace = Path(tempfile.mkdtemp(prefix="jdci-demo-"))
    try:
        clone_url = create_repository(github, repository)
        push_sample(app_dir, workspace, clone_url, branch, key)
        pr = open_pull_request(github, repository, title, branch)
        approve(github, repository, pr["number"])
        log.say("demo", f"{repository}: PR #{pr['number']} {title!r} opened by {AUTHOR}, approved by {REVIEWER}")

        config = dataclasses.replace(
            base,
            scm=dataclasses.replace(base.scm, api_url=github, repository=repository),
            jira=dataclasses.replace(base.jira, url=jira),
            # the demo's checkout is temporary: reports go where the user ran the demo
            report=dataclasses.replace(base.report, directory=str(Path(base.report.directory).resolve())),
            root=str(workspace),
        )
        secrets = Secrets(github_token=BOT, jira_token=BOT, slack_webhook_url=urls.get("slack", ""))
        log.redact_values(secrets.values())
        if config.checks.visual:
            publish_target_image(config, secrets, workspace, repository)
        change = Change(repository=repository, pr_number=pr["number"], workspace=str(workspace),
                        build_url=f"{github.split('/api/')[0]}/{repository}/pull/{pr['number']}/checks")
        result = pipeline.Run(change)
        scenario = {"repository": repository, "pr_url": pr["html_url"], "ticket": key, "sandbox": urls}
        if partial:
            partial(lambda: {**result.to_json(), "demo": scenario})
        pipeline.run_pr(config, secrets, change, run=result)
        return {**result.to_json(), "demo": scenario}
    finally:
        shutil.rmtree(workspace, ignore_errors=True)


# -- the scenario, through the sandbox's public APIs ------------------------------------------------------
def _api(method: str, url: str, user: str, **kwargs: Any) -> Any:
    import requests

    try:
        response = requests.request(method, url, headers={"Authorization": f"token {user}"}, timeout=30, **kwargs)
    except requests.RequestException as exc:
        raise ServiceError("sandbox", f"{method} {url} failed ({type(exc).__name__}); is the sandbox up? "
                                      f"(`jdci sandbox up`)") from None
    if response.status_code >= 400:
        raise ServiceError("sandbox", f"{method} {url} answered {response.status_code}: {response.text[:300]}")
    return response.json() if response.content else None


def seed_ticket(jira: str) -> str:
    """Make sure project SHOP and its workflow exist, and create a new ticket in it. Returns its key."""
    _api("POST", f"{jira}/_sandbox/projects", BOT, json={
        "key": PROJECT, "name": "Sample Shop",
        "workflow": {
            "statuses": ["To Do", "In Progress", "In Review", "Done"],
            "transitions": [
                {"id": "11", "name": "Start Progress", "to": "In Progress"},
                {"id": "21", "name": "In Review", "to": "In Review"},
                {"id": "31", "name": "Done", "to": "Done"},
                {"id": "41", "name": "Reopen", "to": "To Do"},
            ],
        },
    })
    created = _api("POST", f"{jira}/_sandbox/issues", BOT, json={
        "project": PROJECT, "summary": "Show the basket total on checkout", "status": "To Do",
        "issuetype": "Story",
    })
    return created["key"]


def create_repository(github: str, repository: str, collaborators: tuple[str, ...] = (REVIEWER,)) -> str:
    """A new repository created by the author (its owner), with `collaborators` given write access: GitHub
    counts only approvals from people with write access, and so does the gate ([gate] approvals_from)."""
    org, name = repository.split("/", 1)
    repo = _api("POST", f"{github}/orgs/{org}/repos", AUTHOR, json={"name": name, "private": False})
    for user in collaborators:
        _api("PUT", f"{github}/repos/{repository}/collaborators/{user}", AUTHOR, json={"permission": "push"})
    return repo["clone_url"]


def _git(cwd: Path, *args: str, user: str = AUTHOR) -> None:
    import base64

    from .gitcmd import run

    auth = base64.b64encode(f"{user}:demo-password".encode()).decode()
    run(cwd, *args, config=(f"http.extraHeader=Authorization: Basic {auth}", f"user.name={user}",
                            f"user.email={user}@example.com", "init.defaultBranch=main"))


def push_sample(app_dir: Path, workspace: Path, clone_url: str, branch: str, key: str) -> None:
    """main = the sample app; `branch` = one real change on top. Leaves `workspace` on the PR head, detached,
    as a Jenkins checkout is."""
    shutil.copytree(app_dir, workspace, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "jdci-reports", ".git"))
    _git(workspace, "init", "-q")
    _git(workspace, "add", "-A")
    _git(workspace, "commit", "-q", "-m", "Sample shop: home and checkout pages")
    _git(workspace, "remote", "add", "origin", clone_url)
    _git(workspace, "push", "-q", "origin", "HEAD:refs/heads/main")
    _git(workspace, "checkout", "-q", "-b", branch)
    server = workspace / "app" / "server.py"
    server.write_text(server.read_text().replace(
        "<p>Your basket is empty.</p>",
        "<p>Your basket is empty.</p><p>Total: <span class=\\\"price\\\">0.00 EUR</span></p>"))
    _git(workspace, "commit", "-q", "-am", f"{key}: show the basket total on checkout")
    _git(workspace, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")
    _git(workspace, "checkout", "-q", "--detach")


def publish_target_image(config: "Config", secrets: "Secrets", workspace: Path, repository: str) -> None:
    """Build and push main's image, as the team's main-branch job would: the visual checks run it beside the PR's
    environment as their baseline ([checks] baseline_image = "{registry}/{repository}:{target}")."""
    from . import images
    from .context import Change
    from .gitcmd import run as git
    from .pipeline import source_tree

    sha = git(workspace, "rev-parse", "origin/main").strip()
    with source_tree(str(workspace), sha) as source:
        change = Change(repository=repository, source_branch="main", head_sha=sha, workspace=source)
        commit_time = git(source, "show", "-s", "--format=%cI", sha).strip()
        pushed = images.build_and_push(config, secrets, change, commit_time=commit_time, tickets=())
    log.say("demo", f"main's image (the visual checks' baseline): {pushed.ref} {pushed.digest[:19]}")


def open_pull_request(github: str, repository: str, title: str, branch: str) -> dict[str, Any]:
    return _api("POST", f"{github}/repos/{repository}/pulls", AUTHOR, json={
        "title": title, "head": branch, "base": "main", "body": "Shows the total on the checkout page.",
    })


def approve(github: str, repository: str, number: int) -> None:
    _api("POST", f"{github}/repos/{repository}/pulls/{number}/reviews", REVIEWER,
         json={"event": "APPROVE", "body": "Looks good."})
