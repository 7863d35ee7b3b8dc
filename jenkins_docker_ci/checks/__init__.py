"""Checks run against a preprod environment, and their results.

Statuses everywhere (DESIGN.md): passed | failed | error | skipped | pending, each with a reason (`detail`).
Each check is published as a commit status `jdci/<name>`; `commit_state` maps ours onto the host's four states.

Optional checks (`required = false`) only report: their commit status is always "success" (or "pending" while
they run) with a description that starts "optional:" and says what happened, so `required_checks = ["jdci/*"]`
never blocks on them while the PR page still shows the outcome.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STATUSES = ("passed", "failed", "error", "skipped", "pending")
CONTEXT_PREFIX = "jdci/"


@dataclass(frozen=True)
class Shot:
    """One page at one viewport of a visual check: where its images are, and what differs."""

    page: str
    viewport: str  # WxH
    status: str  # passed | failed | error | skipped
    detail: str = ""
    baseline: str = ""  # PNG paths (report folder); "" = none
    pr: str = ""
    diff: str = ""
    diff_ratio: float = 0.0
    dom_changes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"page": self.page, "viewport": self.viewport, "status": self.status, "detail": self.detail,
                "baseline": self.baseline, "pr": self.pr, "diff": self.diff,
                "diff_ratio": round(self.diff_ratio, 6), "dom_changes": list(self.dom_changes)}


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # one of STATUSES
    detail: str = ""
    duration: float = 0.0  # seconds
    url: str = ""  # what was checked
    kind: str = "http"  # http | command | visual
    required: bool = True
    output: str = ""  # the answer's start, the command's output: for the report
    shots: tuple[Shot, ...] = ()

    @property
    def context(self) -> str:
        return CONTEXT_PREFIX + self.name

    @property
    def blocks(self) -> bool:
        """Whether this result stops the PR (an optional check never does)."""
        return self.required and self.status in ("failed", "error")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "status": self.status, "detail": self.detail,
                                "duration": round(self.duration, 3), "url": self.url, "kind": self.kind,
                                "required": self.required}
        if self.shots:
            data["shots"] = [shot.to_json() for shot in self.shots]
        return data


def commit_state(status: str, required: bool = True) -> str:
    """Our status -> a commit status state. A skipped check is not a failure, and never "missing"; an optional
    check is "success" whatever happened (its description says what)."""
    if not required:
        return "pending" if status == "pending" else "success"
    return {"passed": "success", "skipped": "success", "failed": "failure", "error": "error",
            "pending": "pending"}[status]


def status_description(result: CheckResult) -> str:
    """The commit status' description: the reason, marked for optional checks whose outcome is not green."""
    if not result.required and result.status not in ("passed", "pending"):
        return f"optional: {result.status}: {result.detail}"
    return result.detail


def overall(results: list[CheckResult]) -> str:
    """passed when every check passed or was skipped; else the worst status."""
    for status in ("error", "failed", "pending"):
        if any(r.status == status for r in results):
            return status
    return "passed"
