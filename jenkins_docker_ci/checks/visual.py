"""Visual checks: screenshots and DOM of configured pages at configured viewports in headless Chromium, for
the PR's environment and for the baseline, compared pixel by pixel (pixels.py) and element by element (dom.py).

The baseline is, in order: the target branch's image run alongside (live), the stored baselines `jdci check
approve` saved (stored), or none: then the check is "skipped" with the reason "no baseline yet", and the PR's
screenshots are in the report, ready to be approved.
"""
from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from . import CheckResult, Shot
from .baselines import shot_key
from ..errors import Interrupted, JdciError

if TYPE_CHECKING:
    from ..config import VisualCheck
    from .browser import Browser


@dataclass(frozen=True)
class Baseline:
    kind: str  # "live" | "stored" | "none"
    where: str = ""  # the image or the store, for messages
    url: str = ""  # live: the baseline app's base URL
    files: Mapping[str, bytes] = field(default_factory=dict)  # stored: shot_key + ".png" / ".dom.json"


def viewport_size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


def judge(shots: list[Shot], baseline: Baseline) -> tuple[str, str]:
    """The check's (status, detail) from its shots (pure)."""
    errors = [s for s in shots if s.status == "error"]
    failed = [s for s in shots if s.status == "failed"]
    if errors:
        return "error", "; ".join(f"{s.page} @ {s.viewport}: {s.detail}" for s in errors)
    if failed:
        return "failed", "; ".join(f"{s.page} @ {s.viewport}: {s.detail}" for s in failed)
    if shots and all(s.status == "skipped" for s in shots):
        return "skipped", "no baseline yet; approve the PR's screenshots with `jdci check approve`"
    compared = [s for s in shots if s.status == "passed"]
    return "passed", f"{len(compared)} screenshot(s) match the baseline ({baseline.kind}: {baseline.where})"


def run(check: "VisualCheck", *, pr_url: str, baseline: Baseline, report_dir: Path, chromium: str,
        browser: "Browser | None" = None) -> CheckResult:
    from .browser import Browser

    started = time.monotonic()
    deadline = started + check.timeout
    shots: list[Shot] = []
    try:
        if browser is None:
            with Browser.start(chromium, deadline=deadline) as own:
                shots = _shots(check, own, pr_url, baseline, report_dir, deadline)
        else:
            shots = _shots(check, browser, pr_url, baseline, report_dir, deadline)
    except Interrupted:  # a Jenkins abort stops the run; it is no check's error
        raise
    except JdciError as exc:
        return CheckResult(check.name, "error", str(exc), time.monotonic() - started, pr_url, kind="visual",
                           required=check.required, shots=tuple(shots))
    status, detail = judge(shots, baseline)
    return CheckResult(check.name, status, detail, time.monotonic() - started, pr_url, kind="visual",
                       required=check.required, shots=tuple(shots))


def _shots(check: "VisualCheck", browser: "Browser", pr_url: str, baseline: Baseline, report_dir: Path,
           deadline: float) -> list[Shot]:
    shots = []
    for page in check.pages:
        for viewport in check.viewports:
            shots.append(_one(check, browser, pr_url, baseline, report_dir, page, viewport, deadline))
    return shots


def _one(check: "VisualCheck", browser: "Browser", pr_url: str, baseline: Baseline, report_dir: Path,
         page: str, viewport: str, deadline: float) -> Shot:
    from PIL import Image

    from . import dom, pixels

    key = shot_key(check.name, page, viewport)
    folder = report_dir / "visual"
    (folder / key).parent.mkdir(parents=True, exist_ok=True)
    width, height = viewport_size(viewport)

    def capture(base: str) -> Any:
        return browser.capture(base.rstrip("/") + page, width=width, height=height, ignore=check.ignore,
                               wait_for=check.wait_for, full_page=check.full_page, deadline=deadline)

    try:
        mine = capture(pr_url)
    except Interrupted:  # a Jenkins abort stops the run; it is no check's error
        raise
    except JdciError as exc:
        return Shot(page, viewport, "error", f"PR page: {exc}")
    if mine.status >= 400:  # an error page is no screenshot to compare, nor a baseline to approve
        return Shot(page, viewport, "error", f"PR page: {pr_url.rstrip('/')}{page} answered HTTP {mine.status}; "
                                             f"fix the page or [[checks.visual]] pages")
    pr_png = f"visual/{key}.pr.png"
    (report_dir / pr_png).write_bytes(mine.png)
    (report_dir / f"visual/{key}.pr.dom.json").write_text(json.dumps(mine.dom), encoding="utf-8")
    if baseline.kind == "live":
        try:
            theirs = capture(baseline.url)
        except Interrupted:  # a Jenkins abort stops the run; it is no check's error
            raise
        except JdciError as exc:
            return Shot(page, viewport, "error", f"baseline page: {exc}", pr=pr_png)
        if theirs.status >= 400:  # the target branch lacks the page: a new page has nothing to compare with
            return Shot(page, viewport, "skipped", f"no baseline: the baseline answers HTTP {theirs.status}",
                        pr=pr_png)
        base_png_bytes, base_dom = theirs.png, theirs.dom
    elif baseline.kind == "stored" and f"{key}.png" in baseline.files:
        base_png_bytes = baseline.files[f"{key}.png"]
        raw = baseline.files.get(f"{key}.dom.json")
        base_dom = json.loads(raw) if raw else None
    else:
        return Shot(page, viewport, "skipped", "no baseline yet", pr=pr_png)
    base_png = f"visual/{key}.baseline.png"
    (report_dir / base_png).write_bytes(base_png_bytes)
    compared = pixels.compare(Image.open(io.BytesIO(base_png_bytes)), Image.open(io.BytesIO(mine.png)),
                              check.threshold)
    diff_png = f"visual/{key}.diff.png"
    compared.image.save(report_dir / diff_png, format="PNG", optimize=False)
    changes = tuple(dom.diff(dom.normalise(base_dom), dom.normalise(mine.dom))) if base_dom is not None else ()
    status, detail = compared.verdict(check.max_diff_ratio)
    if status == "passed" and changes and check.fail_on_dom:
        status, detail = "failed", f"the DOM changed ({len(changes)} changes; fail_on_dom = true)"
    if status == "failed" and changes:
        detail += "; " + "; ".join(changes[:3]) + (f" (+{len(changes) - 3} more)" if len(changes) > 3 else "")
    return Shot(page, viewport, status, detail, baseline=base_png, pr=pr_png, diff=diff_png,
                diff_ratio=compared.ratio, dom_changes=changes)
