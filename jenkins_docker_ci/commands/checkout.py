"""Which commit a command run inside a Jenkins checkout is about (shared by `env up` and `image build`)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ..errors import UsageError

if TYPE_CHECKING:
    from ..config import Config


def pr_head_lookup(config: "Config", secrets: Any, number: int | None) -> Callable[[], str | None] | None:
    """The PR's head on the SCM host, when jdci can ask it (GitHub with a token and a PR number)."""
    if number is None or config.scm.provider != "github" or not secrets.github_token:
        return None
    from ..scm import connect

    return lambda: connect(config, secrets).pull_request(number).head_sha


def checkout_head(workspace: str, pr_head: Callable[[], str | None] | None, command: str) -> str:
    """The PR head this checkout holds. Jenkins' "merge" checkout (and its GIT_COMMIT) is a synthetic merge whose
    second parent is the PR head; only the SCM host can say that such a second parent IS the PR head (a PR
    branch may itself contain merges), so without the host the checkout's HEAD is taken as it is."""
    from .. import gitcmd
    from ..context import pr_head_of_checkout

    hint = "pass --sha, or run in the PR's checkout"
    head = gitcmd.run(workspace, "rev-parse", "HEAD", hint=hint).strip()
    host_head = pr_head() if pr_head is not None else None
    if not host_head:
        return head
    parents = gitcmd.run(workspace, "rev-list", "--parents", "-n", "1", "HEAD", hint=hint).split()[1:]
    found = pr_head_of_checkout(head, parents, host_head)
    if not found:
        raise UsageError(f"{command}: the workspace {workspace} is at {head[:12]}, not at the PR's head "
                         f"{host_head[:12]} (nor a merge of it): the PR moved on since this checkout; pass --sha "
                         f"to use another commit")
    return found
