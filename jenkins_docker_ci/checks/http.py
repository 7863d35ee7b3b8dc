"""HTTP checks: one request to a service of the environment; the status, and optionally the body's text, a
regular expression and JSON values, must be as configured."""
from __future__ import annotations

import json
import re
import time
from typing import TYPE_CHECKING, Any

from . import CheckResult

if TYPE_CHECKING:
    from ..config import HttpCheck

_MISSING = object()


def json_value(document: Any, path: str) -> Any:
    """`items.0.name` in a decoded JSON document (pure); _MISSING when the path leads nowhere."""
    value = document
    for part in path.split(".") if path else []:
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.lstrip("-").isdigit() and -len(value) <= int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _as_text(value: Any) -> str:
    """How a JSON value compares with the string in jdci.toml: strings as they are, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def judge(check: "HttpCheck", status_code: int, body: str) -> tuple[str, str]:
    """(status, detail) for one response (pure)."""
    what = f"{check.method.upper()} {check.path}"
    if check.service != "app":
        what += f" on {check.service}"
    if status_code != check.status:
        return "failed", f"{what} answered {status_code}, expected {check.status}"
    if check.contains and check.contains not in body:
        return "failed", f"{what} answered {status_code} but the page lacks {check.contains!r}"
    if check.regex and not re.search(check.regex, body):
        return "failed", f"{what} answered {status_code} but the body does not match /{check.regex}/"
    if check.json:
        try:
            document = json.loads(body)
        except ValueError:
            return "failed", f"{what} answered {status_code} but the body is not JSON"
        for path, expected in check.json.items():
            found = json_value(document, path)
            if found is _MISSING:
                return "failed", f"{what}: JSON has no {path}"
            if _as_text(found) != expected:
                return "failed", f"{what}: JSON {path} is {_as_text(found)!r}, expected {expected!r}"
    matched = [f"{check.contains!r}" if check.contains else "", f"/{check.regex}/" if check.regex else "",
               ", ".join(f"{k} = {v!r}" for k, v in check.json.items())]
    matched = [m for m in matched if m]
    return "passed", f"{what} answered {status_code}" + (f" with {'; '.join(matched)}" if matched else "")


def run(check: "HttpCheck", base_url: str) -> CheckResult:
    import requests

    url = base_url.rstrip("/") + "/" + check.path.lstrip("/")
    started = time.monotonic()

    def result(status: str, detail: str, output: str = "") -> CheckResult:
        return CheckResult(check.name, status, detail, time.monotonic() - started, url, kind="http",
                           required=check.required, output=output)

    import os

    from .. import log
    from ..errors import ConfigError
    from ..stack import resolve_env

    try:  # "${NAME}" in a header (Authorization = "Bearer ${API_TOKEN}") from jdci's environment, as in [preprod]
        headers, secrets = resolve_env(check.headers, os.environ, f"[[checks.http]] {check.name!r} headers:")
    except ConfigError as exc:
        return result("error", str(exc))
    log.redact_values(secrets)
    try:
        response = requests.request(check.method.upper(), url, timeout=check.timeout, allow_redirects=True,
                                    data=check.body.encode() if check.body else None, headers=headers)
    except requests.RequestException as exc:
        return result("error", f"{check.method.upper()} {check.path} failed: {type(exc).__name__}")
    status, detail = judge(check, response.status_code, response.text)
    head = f"HTTP {response.status_code} {response.reason}\n" + "".join(
        f"{k}: {v}\n" for k, v in response.headers.items())
    return result(status, detail, log.redact(head + "\n" + response.text[:4000]))  # reports are archived
