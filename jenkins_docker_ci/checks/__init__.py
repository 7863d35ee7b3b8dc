"""Checks run against a preprod environment, and their results.

Statuses everywhere (DESIGN.md): passed | failed | error | skipped | pending. Each check is published as a commit
status `jdci/<name>`; `commit_state` maps ours onto the host's four states.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STATUSES = ("passed", "failed", "error", "skipped", "pending")
CONTEXT_PREFIX = "jdci/"


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # one of STATUSES
    detail: str = ""
    duration: float = 0.0  # seconds
    url: str = ""  # what was checked

    @property
    def context(self) -> str:
        return CONTEXT_PREFIX + self.name

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail,
                "duration": round(self.duration, 3), "url": self.url}


def commit_state(status: str) -> str:
    """Our status -> a commit status state. A skipped check is not a failure, and never "missing"."""
    return {"passed": "success", "skipped": "success", "failed": "failure", "error": "error",
            "pending": "pending"}[status]


def overall(results: list[CheckResult]) -> str:
    """passed when every check passed or was skipped; else the worst status."""
    for status in ("error", "failed", "pending"):
        if any(r.status == status for r in results):
            return status
    return "passed"
