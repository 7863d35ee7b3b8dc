"""One comment per pull request, found again by a hidden marker and edited in place (any ScmHost)."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from . import Comment, ScmHost

PR_REPORT_MARKER = "<!-- jdci:pr-report -->"


def with_marker(marker: str, body: str) -> str:
    """The body as stored: the marker first, so it survives edits of the visible text."""
    return body if marker in body else f"{marker}\n{body}"


def upsert_comment(host: "ScmHost", number: int, marker: str, body: str) -> "tuple[Comment, bool]":
    """Create or update the PR's comment carrying `marker`; returns (comment, whether anything was written).

    An unchanged body is not written again, so re-running a pipeline does not bump the comment's edit time.
    When several comments carry the marker (two runs raced), the oldest one is kept up to date.
    """
    wanted = with_marker(marker, body)
    for comment in host.comments(number):
        if marker in comment.body:
            if comment.body == wanted:
                return comment, False
            return host.update_comment(comment.id, wanted), True
    return host.create_comment(number, wanted), True
