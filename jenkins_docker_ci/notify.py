"""Slack notifications through an incoming webhook (SLACK_WEBHOOK_URL). A notification that cannot be sent is
a warning, never a failure: the merge or the check result it reports has already happened."""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import log
from .errors import ServiceError

if TYPE_CHECKING:
    from .checks import CheckResult
    from .config import Secrets


def slack(secrets: "Secrets", text: str) -> bool:
    """Send `text`; True when Slack took it. Without SLACK_WEBHOOK_URL nothing is sent."""
    if not secrets.slack_webhook_url:
        return False
    from .http import HttpClient

    client = HttpClient("Slack", secrets.slack_webhook_url, deadline=15)
    try:
        response = client.post("", json={"text": text})
    except ServiceError as exc:
        log.warn("notify", f"Slack not reachable: {exc}")
        return False
    if response.status_code != 200:
        # Slack answers a bare word: invalid_token, no_service, channel_is_archived, invalid_payload ...
        log.warn("notify", f"Slack refused the message (HTTP {response.status_code}: {response.text[:80]}); "
                           f"check SLACK_WEBHOOK_URL")
        return False
    return True


def pr_merged(repository: str, number: int, url: str, head_sha: str, target: str, merge_sha: str,
              tickets: list[str]) -> str:
    ticket_text = f" ({', '.join(tickets)})" if tickets else ""
    return (f":white_check_mark: {repository} PR #{number}{ticket_text}: {head_sha[:12]} merged into {target} "
            f"as {merge_sha[:12]}: {url}")


def pr_failed(repository: str, number: int | None, url: str, what: str) -> str:
    return f":x: {repository} PR #{number}: {what} {url}".rstrip()


def checks_summary(*, repository: str, number: int | None, pr_url: str, sha: str, results: "list[CheckResult]",
                   report_url: str, preview_url: str) -> str:
    """One message per check run: the verdict, the counts, what blocks, and where to look (pure)."""
    blocking = [r for r in results if r.blocks]
    counts: dict[str, int] = {}
    for result in results:
        counts[result.status] = counts.get(result.status, 0) + 1
    icon = ":x:" if blocking else ":white_check_mark:"
    verdict = f"{len(blocking)} required check(s) failed" if blocking else "checks passed"
    lines = [f"{icon} {repository} PR #{number} at {sha[:12]}: {verdict} "
             f"({', '.join(f'{n} {s}' for s, n in counts.items()) or 'no checks'})"]
    for result in blocking[:5]:
        lines.append(f"• {result.name}: {result.status} - {result.detail[:200]}")
    optional = [r for r in results if not r.required and r.status in ("failed", "error")]
    for result in optional[:3]:
        lines.append(f"• {result.name} (optional): {result.status} - {result.detail[:200]}")
    links = [f"<{url}|{label}>" for url, label in ((report_url, "report"), (preview_url, "preview"),
                                                    (pr_url, "pull request")) if url]
    if links:
        lines.append(" · ".join(links))
    return "\n".join(lines)
