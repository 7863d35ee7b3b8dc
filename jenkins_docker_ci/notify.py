"""Slack notifications through an incoming webhook (SLACK_WEBHOOK_URL). A notification that cannot be sent is
a warning, never a failure: the merge or the check result it reports has already happened."""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import log
from .errors import ServiceError

if TYPE_CHECKING:
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
