"""The HTML report people open from a commit status or the build: one self-contained file (images inlined as
data: URIs, no scripts, no external requests) with baseline / PR / diff side by side, the DOM changes, and the
HTTP and command outputs. Everything taken from a page, a check or a command is escaped."""
from __future__ import annotations

import base64
import html
import time
from pathlib import Path
from typing import Iterable

from . import CheckResult, Shot

FILE_NAME = "checks.html"
_COLORS = {"passed": "#1a7f37", "failed": "#cf222e", "error": "#bc4c00", "skipped": "#6e7781",
           "pending": "#9a6700"}
_CSS = """
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px; color: #1f2328; }
h1 { font-size: 20px; } h2 { font-size: 17px; margin-top: 32px; border-bottom: 1px solid #d0d7de; }
table.summary { border-collapse: collapse; } .summary td, .summary th { border: 1px solid #d0d7de;
  padding: 4px 8px; text-align: left; vertical-align: top; }
.status { font-weight: 600; } .optional { color: #6e7781; font-size: 12px; }
.shots { display: flex; gap: 12px; align-items: flex-start; flex-wrap: nowrap; overflow-x: auto; }
figure { margin: 0; flex: 1 1 0; min-width: 200px; } figcaption { font-weight: 600; margin-bottom: 4px; }
figure img { width: 100%; border: 1px solid #d0d7de; display: block; }
.missing { border: 1px dashed #d0d7de; padding: 24px; color: #6e7781; text-align: center; }
pre { background: #f6f8fa; padding: 8px; overflow-x: auto; max-height: 480px; white-space: pre-wrap; }
ul.dom { font-family: ui-monospace, monospace; font-size: 13px; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _badge(status: str) -> str:
    return f'<span class="status" style="color:{_COLORS.get(status, "#1f2328")}">{_e(status)}</span>'


def _image(report_dir: Path, relative: str, label: str, alt: str) -> str:
    path = report_dir / relative if relative else None
    if path is None or not path.is_file():
        return f'<figure data-kind="{_e(label.lower())}"><figcaption>{_e(label)}</figcaption>' \
               f'<div class="missing">none</div></figure>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure data-kind="{_e(label.lower())}"><figcaption>{_e(label)}</figcaption>'
            f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}"></figure>')


def _shot(report_dir: Path, shot: Shot) -> str:
    parts = [f'<h3>{_e(shot.page)} @ {_e(shot.viewport)}: {_badge(shot.status)}</h3>',
             f"<p>{_e(shot.detail)}</p>", '<div class="shots">',
             _image(report_dir, shot.baseline, "Baseline", f"baseline of {shot.page}"),
             _image(report_dir, shot.pr, "PR", f"PR screenshot of {shot.page}"),
             _image(report_dir, shot.diff, "Diff", f"changed pixels of {shot.page}"), "</div>"]
    if shot.dom_changes:
        parts.append("<p>DOM changes:</p><ul class=\"dom\">"
                     + "".join(f"<li>{_e(change)}</li>" for change in shot.dom_changes) + "</ul>")
    elif shot.baseline:
        parts.append("<p>DOM: no change in text or structure.</p>")
    return "\n".join(parts)


def anchor(name: str) -> str:
    return "check-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in name)


def render(results: Iterable[CheckResult], report_dir: Path, *, title: str = "jdci checks",
           preview_url: str = "", build_url: str = "") -> str:
    results = list(results)
    rows = "".join(
        f'<tr><td><a href="#{anchor(r.name)}">{_e(r.name)}</a>'
        f'{"" if r.required else " <span class=optional>optional</span>"}</td><td>{_e(r.kind)}</td>'
        f"<td>{_badge(r.status)}</td><td>{_e(r.detail)}</td><td>{r.duration:.1f} s</td></tr>"
        for r in results)
    links = []
    if preview_url:
        links.append(f'Preview: <a href="{_e(preview_url)}">{_e(preview_url)}</a>')
    if build_url:
        links.append(f'Build: <a href="{_e(build_url)}">{_e(build_url)}</a>')
    sections = []
    for result in results:
        body = [f'<h2 id="{anchor(result.name)}">{_e(result.name)} ({_e(result.kind)}'
                f'{"" if result.required else ", optional"}): {_badge(result.status)}</h2>',
                f"<p>{_e(result.detail)}</p>"]
        if result.url:
            body.append(f"<p>Checked: <code>{_e(result.url)}</code></p>")
        body.extend(_shot(report_dir, shot) for shot in result.shots)
        if result.output:
            body.append(f"<pre>{_e(result.output)}</pre>")
        sections.append("\n".join(body))
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>{_e(title)}</title><style>{_CSS}</style></head>
<body><h1>{_e(title)}</h1>
<p>{' · '.join(links)}</p>
<p>Generated {_e(time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime()))}</p>
<table class="summary"><tr><th>check</th><th>kind</th><th>status</th><th>detail</th><th>time</th></tr>{rows}</table>
{''.join(sections)}
</body></html>
"""


def write(results: Iterable[CheckResult], report_dir: Path, **kwargs: str) -> Path:
    report_dir.mkdir(parents=True, exist_ok=True)
    path = report_dir / FILE_NAME
    path.write_text(render(results, report_dir, **kwargs), encoding="utf-8")
    return path


def report_url(*, report_dir: Path, workspace: Path, build_url: str, configured: str = "") -> str:
    """Where people open the report: [checks] report_url, else Jenkins' archived artifact (the pipeline
    archives the report folder relative to the workspace), else the file itself (pure)."""
    if configured:
        return configured
    path = (report_dir / FILE_NAME)
    if build_url:
        try:
            relative = path.resolve().relative_to(workspace.resolve()).as_posix()
        except ValueError:
            relative = f"{report_dir.name}/{FILE_NAME}"
        return f"{build_url.rstrip('/')}/artifact/{relative}"
    return path.resolve().as_uri()
