"""Pure rules of the plain git host (scm/git.py), tested without git: URLs and their credentials, branch names,
the messages users read, and the format of the status notes."""
from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from typing import Sequence

from . import CommitCheck

NOTES_REF = "refs/notes/jdci-checks"
STATES = ("success", "failure", "error", "pending")
METHODS = ("merge", "squash", "rebase")

# The whole userinfo goes: "https://TOKEN@host" carries a secret without any colon.
_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/?#\s]+@")
_SCP_LIKE = re.compile(r"^[\w.+-]+@[\w.-]+:")  # git@host:owner/repo.git
_FULL_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


def redact(text: str) -> str:
    """Remove credentials embedded in URLs (`https://user:pass@host` -> `https://***@host`)."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


def looks_like_url(remote: str) -> bool:
    """True when [scm] remote names a URL or a path rather than a remote of the checkout."""
    return (
        "://" in remote
        or remote.startswith(("/", "./", "../", "~"))
        or bool(_SCP_LIKE.match(remote))
    )


def resolve_url(url: str, base: str | os.PathLike[str]) -> str:
    """A remote URL as git would use it from `base`: relative paths (`../shop.git`) become absolute."""
    if "://" in url or _SCP_LIKE.match(url) or os.path.isabs(url):
        return url
    # Like git: relative to the checkout, symlinks left alone (and no file system access: a pure rule).
    return os.path.normpath(os.path.join(os.path.abspath(base), os.path.expanduser(url)))


def repository_name(url: str) -> str:
    """owner/name from a remote URL or path, for messages and labels."""
    path = redact(url).rstrip("/")
    path = path.split(":", 1)[1] if _SCP_LIKE.match(path) else path
    parts = [p for p in re.split(r"[/\\]", path) if p]
    parts[-1:] = [parts[-1].removesuffix(".git")] if parts else []
    return "/".join(parts[-2:])


def describe_command(args: Sequence[str], status: int | None, stderr: str) -> str:
    """`git push *** ...` failed (exit N): stderr - with credentials removed from every part."""
    command = redact(" ".join(["git", *args]))
    detail = redact(stderr.strip()) or "no error output"
    if len(detail) > 2000:  # a Jenkins console line, not a dump
        detail = detail[:2000] + " ..."
    code = "not started" if status is None else f"exit {status}"
    return f"`{command}` failed ({code}): {detail}"


def branch_problem(name: str) -> str:
    """Why `name` cannot be a branch name (git check-ref-format's rules), or "" when it can. Checked before
    any git call so that a name can never be read as an option (`--upload-pack=...`)."""
    if not name:
        return "it is empty"
    if name.startswith(("-", "/", ".")) or name.endswith(("/", ".", ".lock")):
        return "it starts with '-', '/' or '.', or ends with '/', '.' or '.lock'"
    if ".." in name or "//" in name or "@{" in name or "/." in name or name == "@":
        return "it contains '..', '//', '/.' or '@{'"
    if any(c in name for c in " ~^:?*[\\") or any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "it contains a space, a control character or one of ~^:?*[\\"
    return ""


def is_full_sha(sha: str) -> bool:
    return bool(_FULL_SHA.match(sha))


def short(sha: str) -> str:
    return sha[:12]


def commit_message(title: str, message: str) -> str:
    return f"{title}\n\n{message}".strip() + "\n" if message.strip() else title.strip() + "\n"


def target_moved_message(target: str, remote: str, was: str, now: str) -> str:
    return (
        f"target '{target}' moved during the merge ({short(was)} -> {short(now)} on {redact(remote)}); "
        "nothing was pushed; re-run the checks on the new target"
    )


def head_moved_message(source: str, remote: str, expected: str, actual: str, doing: str = "merged") -> str:
    return (
        f"source branch '{source}' is at {short(actual)} on {redact(remote)}, not the tested {short(expected)}; "
        f"nothing was {doing}; run the checks on the new head"
    )


def conflict_message(source: str, target: str, files: Sequence[str], method: str = "merge") -> str:
    listed = ", ".join(files) if files else "(git named no file)"
    return (
        f"'{source}' cannot be {'rebased onto' if method == 'rebase' else 'merged into'} '{target}': "
        f"conflicts in {listed}; merge '{target}' into '{source}', resolve them and push"
    )


def encode_status(context: str, state: str, description: str, target_url: str, created_at: str) -> str:
    """One status as one line of the commit's note."""
    return json.dumps(
        {"context": context, "state": state, "description": description, "target_url": target_url,
         "created_at": created_at},
        sort_keys=True,
    )


def decode_statuses(note: str) -> list[CommitCheck]:
    """The latest status per context, in order of first report. Lines that are not ours are skipped:
    a note can be edited by hand, and one bad line must not hide the others."""
    latest: dict[str, CommitCheck] = {}
    for line in note.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if not isinstance(item, dict) or not isinstance(item.get("context"), str) or item.get("state") not in STATES:
            continue
        latest[item["context"]] = CommitCheck(
            name=item["context"], state=item["state"], url=str(item.get("target_url") or ""),
            description=str(item.get("description") or ""), created_at=str(item.get("created_at") or ""),
            kind="status",
        )
    return list(latest.values())


def now_utc() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def gate_problems(approvals: int, thumbs_up: int) -> list[str]:
    """What in a [gate] policy can never pass on a plain git remote, which has no reviews and no reactions."""
    problems = []
    if approvals:
        problems.append(f"[gate] approvals = {approvals}, but a plain git remote has no reviews: the gate would "
                        "wait forever; set approvals = 0 for provider \"git\"")
    if thumbs_up:
        problems.append(f"[gate] thumbs_up = {thumbs_up}, but a plain git remote has no reactions: the gate would "
                        "wait forever; set thumbs_up = 0 for provider \"git\"")
    return problems
