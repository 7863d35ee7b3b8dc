"""Console log for Jenkins: short lines on stderr, prefixed by the step (`[build] ...`), secrets masked.

stdout is kept for --json output (and a command's plain-text summary).

- One secret filter for everything jdci prints: `install()` (called by the CLI at start-up) registers the values
  of DESIGN.md's secret variables and wraps sys.stdout and sys.stderr, so logs, summaries, --json, tracebacks
  and third-party messages all pass through `redact()`; files jdci writes (error logs) call `redact()` too.
- Timestamps (`jdci --timestamps` or JDCI_TIMESTAMPS=1) put `HH:MM:SS ` before every log line.
- Colour and carriage-return progress only when stderr is a terminal (never in a Jenkins console, never with
  NO_COLOR); escape sequences in messages (e.g. from a build's output) are dropped when it is not one.
- `progress(step, what)`: a long step says "still <what> (40 s)" after every ~10 s of silence instead of
  going quiet (a thread; the step's own code keeps running undisturbed).
"""
from __future__ import annotations

import io
import os
import re
import sys
import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator, Mapping, TextIO

# DESIGN.md: secrets come only from these variables
SECRET_VARS = ("GITHUB_TOKEN", "JIRA_TOKEN", "JIRA_USER", "REGISTRY_USER", "REGISTRY_PASSWORD", "JENKINS_USER",
               "JENKINS_TOKEN", "SLACK_WEBHOOK_URL")
# user names are masked too (a Basic credential is half of it), but only when long enough not to mask words
_MIN_LENGTH = 4
MASK = "***"

_secrets: list[str] = []
_pattern: re.Pattern[str] | None = None
_lock = threading.RLock()
_quiet = False
_timestamps = False
_last_output = time.monotonic()  # when jdci last printed a log line: progress() speaks only after silence
_dangling = False  # a terminal shows a "still ..." line without its newline: the next line replaces it
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def redact_values(values: Iterable[str]) -> None:
    """Register secret values that must never be printed (also their URL-encoded form)."""
    global _pattern
    values = [v for v in values if v]
    if not values:
        return
    from urllib.parse import quote

    with _lock:
        for value in values:
            for form in (value, quote(value or "", safe="")):
                if form and len(form) >= _MIN_LENGTH and form not in _secrets:
                    _secrets.append(form)
        # longest first, so a secret that contains another is masked whole
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in ordered)) if ordered else None


def redact(text: str) -> str:
    pattern = _pattern
    return pattern.sub(MASK, text) if pattern is not None and text else text


def secrets_from_env(env: Mapping[str, str]) -> list[str]:
    return [env.get(name, "") for name in SECRET_VARS if env.get(name)]


class RedactingStream(io.TextIOBase):
    """A text stream that masks secrets before they reach `target`. Text is held back until a line ends (or
    flush()), so a secret written in two pieces is still masked."""

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self._pending = ""
        self._guard = threading.RLock()  # a signal handler may write while the main thread is writing

    def write(self, text: str) -> int:
        with self._guard:
            self._pending += text
            cut = max(self._pending.rfind("\n"), self._pending.rfind("\r"))
            if cut >= 0:
                ready, self._pending = self._pending[: cut + 1], self._pending[cut + 1:]
                self.target.write(redact(ready))
        return len(text)

    def flush(self) -> None:
        with self._guard:
            if self._pending:
                self.target.write(redact(self._pending))
                self._pending = ""
        self.target.flush()

    def isatty(self) -> bool:
        return self.target.isatty()

    def fileno(self) -> int:
        return self.target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.target, "encoding", "utf-8")

    def writable(self) -> bool:
        return True


def install(env: Mapping[str, str] | None = None, *, timestamps: bool | None = None) -> Callable[[], None]:
    """Called by the CLI at start-up: register the environment's secrets, mask stdout and stderr, read
    JDCI_TIMESTAMPS. Returns what puts the original streams back (the CLI calls it on the way out)."""
    global _timestamps
    env = os.environ if env is None else env
    redact_values(secrets_from_env(env))  # added to what a caller registered (values are only ever added)
    _timestamps = timestamps if timestamps is not None else env.get("JDCI_TIMESTAMPS", "") not in ("", "0")
    saved = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, RedactingStream):
        sys.stdout = RedactingStream(sys.stdout)
    if not isinstance(sys.stderr, RedactingStream):
        sys.stderr = RedactingStream(sys.stderr)

    def restore() -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        sys.stdout, sys.stderr = saved

    return restore


def set_timestamps(on: bool) -> None:
    global _timestamps
    _timestamps = on


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def is_terminal(stream: TextIO | None = None) -> bool:
    """Colour and \\r are for people at a terminal: never in a Jenkins console (a pipe), never with NO_COLOR."""
    stream = stream or sys.stderr
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return tty and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def format_line(step: str, line: str, *, timestamps: bool = False, now: float | None = None,
                terminal: bool = False) -> str:
    """One console line. Pure: `[step] line`, with `HH:MM:SS ` first when asked, escape sequences dropped
    when the console is not a terminal."""
    if not terminal:
        line = _ANSI.sub("", line)
    prefix = time.strftime("%H:%M:%S ", time.localtime(now)) if timestamps else ""
    return f"{prefix}[{step}] {line}"


def say(step: str, message: str, *, stream: TextIO | None = None) -> None:
    global _last_output
    if _quiet:
        return
    out = stream or sys.stderr
    terminal = is_terminal(out)
    lines = redact(message).rstrip("\n").splitlines() or [""]
    global _dangling
    with _lock:
        if _dangling and terminal:
            out.write("\r\x1b[K")
        _dangling = False
        for line in lines:
            out.write(format_line(step, line, timestamps=_timestamps, terminal=terminal) + "\n")
        out.flush()
        _last_output = time.monotonic()


def warn(step: str, message: str) -> None:
    say(step, f"warning: {message}")


def final(message: str) -> None:
    """The last line of a run (`jdci: interrupted by SIGTERM; ...`): unprefixed, so it reads as the verdict."""
    out = sys.stderr
    line = redact(message)
    if _timestamps:
        line = time.strftime("%H:%M:%S ") + line
    with _lock:
        out.write(line + "\n")
        out.flush()


class Progress:
    """Handle of a `progress()` block: `update()` changes what the next "still ..." line says."""

    def __init__(self, step: str, what: str, interval: float) -> None:
        self.step, self.what, self.interval = step, what, interval
        self.started = time.monotonic()
        self._stop = threading.Event()

    def update(self, what: str) -> None:
        self.what = what

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _run(self) -> None:
        global _last_output, _dangling
        terminal = is_terminal()
        while True:
            silent_for = time.monotonic() - max(_last_output, self.started)
            if self._stop.wait(max(0.05, self.interval - silent_for)):
                break
            if time.monotonic() - max(_last_output, self.started) < self.interval:
                continue  # someone spoke meanwhile
            text = f"still {self.what} ({self.elapsed:.0f} s)"
            if terminal and not _timestamps:
                with _lock:  # a person at a terminal sees one line that updates itself
                    sys.stderr.write("\r" + format_line(self.step, text, terminal=True) + "\x1b[K")
                    sys.stderr.flush()
                    _last_output, _dangling = time.monotonic(), True
            else:
                say(self.step, text)

    def _close(self) -> None:
        self._stop.set()


@contextmanager
def progress(step: str, what: str, *, interval: float = 10.0) -> Iterator[Progress]:
    """Say "[step] still <what> (N s)" after every `interval` seconds without other output, until the block
    ends. For long steps (image build and push, waiting for an environment to be healthy, a Jenkins build):

        with log.progress("build", "building image acme/shop:pr-7") as p:
            ...                      # the work; log.say() lines in between reset the silence timer
            p.update("pushing acme/shop:pr-7")
    """
    handle = Progress(step, what, interval)
    if interval <= 0:  # progress lines switched off
        yield handle
        return
    thread = threading.Thread(target=handle._run, name=f"jdci-progress-{step}", daemon=True)
    thread.start()
    try:
        yield handle
    finally:
        handle._close()
        thread.join(timeout=5)
        global _dangling
        with _lock:
            if _dangling:
                sys.stderr.write("\r\x1b[K")  # clear the "still ..." line before what comes next
                sys.stderr.flush()
                _dangling = False
