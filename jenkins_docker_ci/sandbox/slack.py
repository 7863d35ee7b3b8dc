"""Slack stand-in: incoming webhooks, answered as Slack answers them.

  POST /services/{team}/{bot}/{secret}   JSON {"text": ..., "blocks"?: [...]} -> 200 "ok" (text/html);
                                          no text and no blocks -> 400 "no_text"; not JSON -> 400
                                          "invalid_payload"; a secret beginning with "bad" -> 403
                                          "invalid_token"
Webhooks carry their secret in the URL, not in an Authorization header: no other identity is checked.

Control API (besides reset / faults / requests in server.py):
  GET /_sandbox/messages                 every message received, oldest first: {"webhook", "text", "blocks"}
Rate limiting as Slack does it (HTTP 429, body "rate_limited", a Retry-After header in seconds) through the
fault API: POST /_sandbox/faults {"method": "POST", "path": "/services/", "status": 429,
"headers": {"Retry-After": "1"}, "count": 1}. A rejected message is not recorded, as at Slack.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .server import Request, Response, Service

_TEXT = {"Content-Type": "text/html"}


class SlackService(Service):
    name = "slack"

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []
        self.route("POST", r"/services/(?P<team>[^/]+)/(?P<bot>[^/]+)/(?P<secret>[^/]+)", self.webhook)
        self.route("GET", r"/_sandbox/messages", self.control_messages)

    def public_url(self) -> str:
        """The webhook URL to put in SLACK_WEBHOOK_URL."""
        return f"{self.base_url}/services/T00000000/B00000000/sandbox0webhook0secret"

    def reset(self) -> None:
        self.messages.clear()

    def requires_auth(self, request: Request) -> bool:
        return False

    def error_body(self, status: int, message: str) -> Any:
        # Slack's webhooks answer errors with a bare word: rate_limited, invalid_token, no_service ...
        return b"rate_limited" if status == 429 else message.encode()

    def webhook(self, request: Request) -> Response:
        if request.params["secret"].startswith("bad"):
            return Response(403, b"invalid_token", dict(_TEXT))
        try:
            payload = json.loads(request.body or b"null")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return Response(400, b"invalid_payload", dict(_TEXT))
        if not isinstance(payload, dict):
            return Response(400, b"invalid_payload", dict(_TEXT))
        if not payload.get("text") and not payload.get("blocks"):
            return Response(400, b"no_text", dict(_TEXT))
        webhook = "/".join(request.path.split("/")[2:4])
        self.messages.append({"webhook": webhook, "text": payload.get("text", ""), "blocks": payload.get("blocks")})
        return Response(200, b"ok", dict(_TEXT))

    def control_messages(self, request: Request) -> Response:
        return Response(200, list(self.messages))
