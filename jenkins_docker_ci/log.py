"""Console log for Jenkins: short lines on stderr, prefixed by the step (`[build] ...`), secrets redacted.

stdout is kept for --json output only.
"""
from __future__ import annotations

import sys
import threading
from typing import Iterable, TextIO

_secrets: list[str] = []
_lock = threading.Lock()
_quiet = False


def redact_values(values: Iterable[str]) -> None:
    """Register secret values that must never be printed (from config.Secrets)."""
    for value in values:
        if value and len(value) >= 4 and value not in _secrets:
            _secrets.append(value)


def redact(text: str) -> str:
    for value in _secrets:
        text = text.replace(value, "***")
    return text


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def say(step: str, message: str, *, stream: TextIO | None = None) -> None:
    if _quiet:
        return
    out = stream or sys.stderr
    lines = redact(message).rstrip("\n").splitlines() or [""]
    with _lock:
        for line in lines:
            out.write(f"[{step}] {line}\n")
        out.flush()


def warn(step: str, message: str) -> None:
    say(step, f"warning: {message}")
