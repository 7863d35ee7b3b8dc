"""Check results rendered for people and tools: JUnit XML (Jenkins' junit step) and a Markdown PR comment."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterable

from ..scm.comments import PR_REPORT_MARKER as PR_COMMENT_MARKER
from . import CheckResult

_ICONS = {"passed": "✅", "failed": "❌", "error": "⚠️", "skipped": "⏭️", "pending": "⏳"}


def junit_xml(results: Iterable[CheckResult], suite: str = "jdci") -> str:
    results = list(results)
    root = ET.Element("testsuite", name=suite, tests=str(len(results)),
                      failures=str(sum(r.status == "failed" for r in results)),
                      errors=str(sum(r.status == "error" for r in results)),
                      skipped=str(sum(r.status in ("skipped", "pending") for r in results)),
                      time=f"{sum(r.duration for r in results):.3f}")
    for result in results:
        # optional checks are told apart by their class name: Jenkins shows them in their own group
        classname = f"{suite}.{result.kind}" + ("" if result.required else ".optional")
        case = ET.SubElement(root, "testcase", classname=classname, name=result.name,
                             time=f"{result.duration:.3f}")
        if result.status == "failed":
            ET.SubElement(case, "failure", message=_xml_safe(result.detail)).text = _xml_safe(result.detail)
        elif result.status == "error":
            ET.SubElement(case, "error", message=_xml_safe(result.detail)).text = _xml_safe(result.detail)
        elif result.status in ("skipped", "pending"):
            ET.SubElement(case, "skipped", message=_xml_safe(result.detail or result.status))
        if result.url or result.output or result.shots:
            shots = "".join(f"\n{s.page} @ {s.viewport}: {s.status} {s.detail}" for s in result.shots)
            ET.SubElement(case, "system-out").text = _xml_safe(
                "\n".join(x for x in (result.url, result.output) if x) + shots)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _xml_safe(text: str) -> str:
    """XML 1.0 cannot carry most control characters (a command's colour codes): drop them."""
    return "".join(c for c in text if c in "\t\n\r" or ord(c) >= 0x20)


def write_junit(results: Iterable[CheckResult], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "jdci-checks.xml"
    path.write_text(junit_xml(results), encoding="utf-8")
    return path


def pr_comment(*, sha: str, results: Iterable[CheckResult], preview_url: str, image: str, digest: str,
               build_url: str, tickets: Iterable[str], report_url: str = "") -> str:
    """The one PR comment jdci keeps up to date (found again by PR_COMMENT_MARKER)."""
    lines = [PR_COMMENT_MARKER, f"### jdci report for `{sha[:12]}`", ""]
    if preview_url:
        lines.append(f"- Preview: {preview_url}")
    if image:
        lines.append(f"- Image: `{image}` (`{digest}`)" if digest else f"- Image: `{image}`")
    if build_url:
        lines.append(f"- Build: {build_url}")
    if report_url:
        lines.append(f"- Report: {report_url}")
    ticket_list = ", ".join(tickets)
    if ticket_list:
        lines.append(f"- Tickets: {ticket_list}")
    lines += ["", "| check | status | detail |", "|---|---|---|"]
    for result in results:
        detail = " ".join(result.detail.split()).replace("|", "\\|")
        optional = "" if result.required else " (optional)"
        lines.append(f"| `{result.name}`{optional} | {_ICONS.get(result.status, '')} {result.status} | {detail} |")
    return "\n".join(lines) + "\n"


def writable_folder(directory: Path, fix: str) -> None:
    """The reports (JUnit, HTML, saved logs) must have somewhere to go: known before the first check or write,
    not after. UsageError naming the folder and `fix` otherwise."""
    import tempfile

    from ..errors import UsageError

    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"report folder {directory} cannot be made ({exc.strerror or exc}); {fix}") from None
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".jdci-write-test-"):
            pass
    except OSError as exc:
        raise UsageError(f"report folder {directory} cannot be written ({exc.strerror or exc}); {fix}") from None
