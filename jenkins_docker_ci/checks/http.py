"""HTTP smoke checks: GET a path of the environment, expect a status and, optionally, a text."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

from . import CheckResult

if TYPE_CHECKING:
    from ..config import HttpCheck


def judge(check: "HttpCheck", status_code: int, body: str) -> tuple[str, str]:
    """(status, detail) for one response (pure)."""
    if status_code != check.status:
        return "failed", f"GET {check.path} answered {status_code}, expected {check.status}"
    if check.contains and check.contains not in body:
        return "failed", f"GET {check.path} answered {status_code} but the page lacks {check.contains!r}"
    return "passed", f"GET {check.path} answered {status_code}" + (
        f" with {check.contains!r}" if check.contains else "")


def run(check: "HttpCheck", base_url: str) -> CheckResult:
    import requests

    url = base_url.rstrip("/") + "/" + check.path.lstrip("/")
    started = time.monotonic()
    try:
        response = requests.get(url, timeout=check.timeout, allow_redirects=True)
    except requests.RequestException as exc:
        return CheckResult(check.name, "error", f"GET {check.path} failed: {type(exc).__name__}",
                           time.monotonic() - started, url)
    status, detail = judge(check, response.status_code, response.text)
    return CheckResult(check.name, status, detail, time.monotonic() - started, url)
