"""Headless Chromium driven over the DevTools protocol (one browser per check run, one target per page).

    with Browser.start("/usr/bin/chromium", deadline=time.monotonic() + 60) as browser:
        page = browser.capture(url, width=1280, height=800, ignore=[".ad"], wait_for="", full_page=True)

The browser is killed and its temporary profile removed on the way out, on a timeout or an exception too.
No fixed sleeps: every wait polls with backoff against the caller's deadline.
"""
from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import JdciError

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--disable-default-apps", "--hide-scrollbars", "--mute-audio", "--font-render-hinting=none",
         "--force-color-profile=srgb", "--disable-crash-reporter", "--disable-breakpad", "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1")
MAX_HEIGHT = 16384  # a full-page screenshot taller than this is cut (Chromium's texture limit)

# Stops what makes two screenshots of the same page differ: animations, transitions, the blinking caret.
FREEZE_CSS = ("*, *::before, *::after { animation: none !important; transition: none !important; "
              "caret-color: transparent !important; scroll-behavior: auto !important; }")

# Serialises the DOM for dom.py; elements matching an ignored selector are marked, not dropped, so the
# normaliser (pure, tested) decides what counts.
SERIALIZE_JS = r"""
(ignore) => {
  const hidden = new Set();
  for (const sel of ignore) { for (const el of document.querySelectorAll(sel)) hidden.add(el); }
  const walk = (el) => ({
    tag: el.tagName.toLowerCase(), id: el.id || "",
    class: Array.from(el.classList || []), ignored: hidden.has(el),
    children: Array.from(el.childNodes).map((n) =>
      n.nodeType === 1 ? walk(n) : (n.nodeType === 3 ? n.textContent : null)).filter((n) => n !== null),
  });
  return document.documentElement ? walk(document.documentElement) : null;
}
"""


class BrowserError(JdciError):
    kind = "check"


@dataclass(frozen=True)
class Capture:
    png: bytes
    dom: dict[str, Any] | None
    width: int
    height: int
    value: Any = None  # what the `evaluate` expression returned
    status: int = 0  # the document's HTTP status (0: not known, e.g. a file: URL)


class Browser:
    def __init__(self, process: subprocess.Popen[bytes], profile: str, socket: Any, deadline: float) -> None:
        self.process = process
        self.profile = profile
        self.socket = socket
        self.deadline = deadline
        self._ids = itertools.count(1)
        self._events: list[dict[str, Any]] = []

    # -- life cycle ---------------------------------------------------------------------------------------
    @classmethod
    def start(cls, executable: str, *, deadline: float) -> "Browser":
        if "/" not in executable:  # a command name ("chromium", "chromium-browser"): found on PATH, as a shell does
            import shutil

            executable = shutil.which(executable) or executable
        if not os.path.isfile(executable) or not os.access(executable, os.X_OK):
            raise BrowserError(f"Chromium not found at {executable}; install it (`apt-get install -y chromium`, "
                               f"or `bash scripts/services.sh chromium`) or set [checks] chromium")
        profile = tempfile.mkdtemp(prefix="jdci-chromium-")
        log = open(Path(profile) / "chromium.log", "wb")  # noqa: SIM115 - closed with the process
        process = None
        try:
            process = subprocess.Popen([executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                                       stdout=subprocess.DEVNULL, stderr=log, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
            ws_url = _devtools_url(Path(profile), process, deadline)
            import websocket

            socket = websocket.create_connection(ws_url, timeout=_left(deadline), suppress_origin=True,
                                                 enable_multithread=False)
            return cls(process, profile, socket, deadline)
        except BaseException:
            _kill(process)
            shutil.rmtree(profile, ignore_errors=True)
            raise
        finally:
            log.close()

    def close(self) -> None:
        try:
            self.socket.close()
        except Exception:  # noqa: BLE001 - the process goes next anyway
            pass
        _kill(self.process)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- protocol -----------------------------------------------------------------------------------------
    def send(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> dict[str, Any]:
        """Send one command and return its result; events received meanwhile are kept for `wait_event`."""
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.socket.send(json.dumps(message))
        while True:
            answer = self._receive(f"an answer to {method}")
            if answer.get("id") == message_id:
                if "error" in answer:
                    raise BrowserError(f"Chromium refused {method}: {answer['error'].get('message')}")
                return answer.get("result") or {}
            if "method" in answer:
                self._events = self._events[-500:] + [answer]

    def wait_event(self, session: str, names: set[str], what: str, deadline: float, loader: str = ""
                   ) -> dict[str, Any]:
        """The first event of `session` whose method (or Page.lifecycleEvent name) is in `names`; with `loader`,
        only lifecycle events of that navigation (enabling them replays about:blank's)."""
        while True:
            for event in self._events:
                if event.get("sessionId") == session and _event_name(event) in names and \
                        (not loader or event.get("params", {}).get("loaderId") == loader):
                    self._events.remove(event)
                    return event
            self._events = [e for e in self._events if e.get("sessionId") == session][-200:]
            event = self._receive(what, deadline)
            if "method" in event:
                self._events.append(event)

    def _receive(self, what: str, deadline: float | None = None) -> dict[str, Any]:
        import websocket

        end = min(self.deadline, deadline or self.deadline)
        left = _left(end)
        if left <= 0:
            raise BrowserError(f"timed out waiting for {what}")
        self.socket.settimeout(left)
        try:
            return json.loads(self.socket.recv())
        except websocket.WebSocketTimeoutException:
            raise BrowserError(f"timed out waiting for {what}") from None
        except (websocket.WebSocketException, OSError) as exc:
            raise BrowserError(f"lost the connection to Chromium while waiting for {what}: {exc}") from None

    # -- pages --------------------------------------------------------------------------------------------
    def capture(self, url: str, *, width: int, height: int, ignore: tuple[str, ...] = (), wait_for: str = "",
                full_page: bool = True, deadline: float | None = None, evaluate: str = "") -> Capture:
        """Open `url` in a new target at width x height, let it settle, and take its screenshot and DOM.
        Every wait inside ends at `deadline` (the check's), at the latest at the browser's own."""
        browser_deadline = self.deadline
        end = self.deadline = min(self.deadline, deadline or self.deadline)
        try:
            return self._capture(url, width, height, ignore, wait_for, full_page, end, evaluate)
        finally:
            self.deadline = browser_deadline

    def _capture(self, url: str, width: int, height: int, ignore: tuple[str, ...], wait_for: str,
                 full_page: bool, end: float, evaluate: str) -> Capture:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        try:
            session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            self.send("Page.enable", session=session)
            self.send("Page.setLifecycleEventsEnabled", {"enabled": True}, session=session)
            self.send("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=session)
            self.send("Emulation.setEmulatedMedia",
                      {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]}, session=session)
            navigated = self.send("Page.navigate", {"url": url}, session=session)
            if navigated.get("errorText"):
                raise BrowserError(f"Chromium could not open {url}: {navigated['errorText']}")
            loader = navigated.get("loaderId", "")
            self.wait_event(session, {"load"}, f"{url} to load", end, loader)
            # Chromium renders an error page as happily as the real one: the caller must know it was a 404
            status = int(self.evaluate(session, "(performance.getEntriesByType('navigation')[0] || {})"
                                                ".responseStatus || 0") or 0)
            if wait_for:
                self._wait_selector(session, wait_for, url, end)
            else:
                self.wait_event(session, {"networkIdle"}, f"{url} to go network-idle", end, loader)
            self._settle(session, ignore)
            dom = self.evaluate(session, f"({SERIALIZE_JS})({json.dumps(list(ignore))})")
            value = self.evaluate(session, evaluate, await_promise=True) if evaluate else None
            shot_height = height
            if full_page:
                content = int(self.evaluate(session, "Math.max(document.documentElement.scrollHeight, "
                                                     "document.body ? document.body.scrollHeight : 0)") or height)
                shot_height = max(height, min(content, MAX_HEIGHT))
                if shot_height != height:
                    self.send("Emulation.setDeviceMetricsOverride",
                              {"width": width, "height": shot_height, "deviceScaleFactor": 1, "mobile": False},
                              session=session)
                    self.evaluate(session, _FRAMES_JS, await_promise=True)
            data = self.send("Page.captureScreenshot", {"format": "png", "fromSurface": True}, session=session)
            return Capture(base64.b64decode(data["data"]), dom, width, shot_height, value, status)
        finally:
            self.deadline = max(self.deadline, time.monotonic() + 2)  # room to close the tab after a timeout
            try:
                self.send("Target.closeTarget", {"targetId": target})
            except BrowserError:
                pass

    def evaluate(self, session: str, expression: str, await_promise: bool = False) -> Any:
        answer = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": await_promise}, session=session)
        if answer.get("exceptionDetails"):
            text = answer["exceptionDetails"].get("exception", {}).get("description") or \
                answer["exceptionDetails"].get("text")
            raise BrowserError(f"script failed in the page: {text}")
        return answer.get("result", {}).get("value")

    def _wait_selector(self, session: str, selector: str, url: str, deadline: float) -> None:
        delay = 0.05
        probe = f"!!document.querySelector({json.dumps(selector)})"
        while not self.evaluate(session, probe):
            if time.monotonic() + delay > deadline:
                raise BrowserError(f"{selector!r} never appeared on {url} (wait_for)")
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)

    def _settle(self, session: str, ignore: tuple[str, ...]) -> None:
        """Freeze animations, hide ignored regions (visibility keeps the layout), wait for fonts and two
        frames so the screenshot shows the final state."""
        css = FREEZE_CSS + "".join(f" {sel} {{ visibility: hidden !important; }}" for sel in ignore)
        script = ("(() => { const s = document.createElement('style'); s.setAttribute('data-jdci', '');"
                  f" s.textContent = {json.dumps(css)}; (document.head || document.documentElement).appendChild(s);"
                  " for (const a of document.getAnimations ? document.getAnimations() : []) "
                  "{ try { a.finish(); } catch (e) { a.cancel(); } } })()")
        self.evaluate(session, script)
        self.evaluate(session, "document.fonts ? document.fonts.ready.then(() => true) : true", await_promise=True)
        self.evaluate(session, _FRAMES_JS, await_promise=True)


_FRAMES_JS = "new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))"


def _event_name(event: dict[str, Any]) -> str:
    if event.get("method") == "Page.lifecycleEvent":
        return str(event.get("params", {}).get("name", ""))
    return str(event.get("method", ""))


def _left(deadline: float) -> float:
    return deadline - time.monotonic()


def _devtools_url(profile: Path, process: subprocess.Popen[bytes], deadline: float) -> str:
    """Chromium writes the port it took (and the browser's path) to DevToolsActivePort in the profile."""
    marker = profile / "DevToolsActivePort"
    delay = 0.02
    while True:
        if marker.is_file():
            lines = marker.read_text(encoding="utf-8", errors="replace").split()
            if len(lines) >= 2 and lines[0].isdigit():
                return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
        if process.poll() is not None:
            tail = (profile / "chromium.log").read_text(encoding="utf-8", errors="replace")[-600:]
            raise BrowserError(f"Chromium exited with {process.returncode} before it listened: {tail.strip()}")
        if time.monotonic() + delay > deadline:
            raise BrowserError("Chromium did not open its DevTools port in time")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def _kill(process: subprocess.Popen[bytes] | None) -> None:
    """Chromium forks renderers and zygotes: kill its whole process group, then reap it."""
    if process is None:
        return
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
