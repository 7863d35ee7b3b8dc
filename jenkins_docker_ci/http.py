"""One place for talking HTTP to external services: retries with backoff, Retry-After, a total deadline.

Retried: connection errors, timeouts, 429, 502, 503, 504 (and 403 with a GitHub secondary-rate-limit
Retry-After), and 500 for reads (GET, HEAD) only. Never retried: anything else - a 4xx is an answer, not a
failure. The adapters (scm/github.py, tickets.py, jenkins.py) turn the final status codes into meaning.
"""
from __future__ import annotations

import email.utils
import random
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, TypeVar

from .errors import ServiceError

if TYPE_CHECKING:
    import requests

T = TypeVar("T")
RETRY_STATUSES = frozenset({429, 502, 503, 504})


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds, whether given as a number or as an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def rate_limit_reset_seconds(reset: str | None, now: float | None = None) -> float | None:
    """Seconds until an X-RateLimit-Reset epoch (GitHub's primary rate limit); None when absent or unreadable."""
    try:
        return max(0.0, float(reset or "") - (time.time() if now is None else now))
    except ValueError:
        return None


def backoff_delays(first: float = 0.2, factor: float = 2.0, cap: float = 5.0) -> Iterator[float]:
    """0.2, 0.4, 0.8, ... capped, with +-20% jitter so parallel jobs do not retry in lockstep."""
    delay = first
    while True:
        yield delay * random.uniform(0.8, 1.2)
        delay = min(delay * factor, cap)


def with_retries(call: Callable[[], T], *, service: str, what: str, deadline: float = 30.0,
                 retry_on: Callable[[BaseException], float | None]) -> T:
    """Run `call` until it succeeds, `retry_on` returns None for its exception, or `deadline` seconds pass.

    `retry_on(exc)` returns None (do not retry: re-raise) or a minimum delay in seconds (0 for plain backoff).
    """
    end = time.monotonic() + deadline
    delays = backoff_delays()
    attempts = 0
    while True:
        attempts += 1
        try:
            return call()
        except Exception as exc:  # noqa: BLE001 - retry_on decides which ones are transient
            wait = retry_on(exc)
            if wait is None:
                raise
            delay = max(wait, next(delays))
            if time.monotonic() + delay > end:
                raise ServiceError(
                    service, f"{service} {what} still failing after {attempts} attempts over {deadline:.0f} s: "
                             f"{describe(exc)}"
                ) from None
            time.sleep(delay)


def describe(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None) or getattr(exc, "status_code", None)
    if status:
        return f"HTTP {status}"
    return type(exc).__name__ + (f" ({exc})" if str(exc) and len(str(exc)) < 200 else "")


class TransientStatus(Exception):
    """A response whose status means "try again" (raised inside the retry loop only)."""

    def __init__(self, response: "requests.Response") -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.status_code = response.status_code


def _transient(exc: BaseException) -> float | None:
    import requests

    if isinstance(exc, TransientStatus):
        headers = exc.response.headers
        wait = retry_after_seconds(headers.get("Retry-After"))
        if wait is None and headers.get("X-RateLimit-Remaining") == "0":
            wait = rate_limit_reset_seconds(headers.get("X-RateLimit-Reset"))
        return wait or 0.0
    if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        return 0.0
    return None


class HttpClient:
    """A requests.Session bound to one service's base URL, with retries and a per-call deadline."""

    def __init__(self, service: str, base_url: str, *, headers: Mapping[str, str] | None = None,
                 auth: Any = None, timeout: float = 10.0, deadline: float = 30.0) -> None:
        import requests

        self.service = service
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers.update(headers or {})
        self.session.auth = auth
        self.timeout = timeout
        self.deadline = deadline

    def url(self, path: str) -> str:
        if not path:
            return self.base_url
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    def request(self, method: str, path: str, **kwargs: Any) -> "requests.Response":
        """Send with retries; returns the final response whatever its status (adapters give it meaning)."""
        url = self.url(path)
        kwargs.setdefault("timeout", self.timeout)

        # A 500 is often a hiccup too, but only a read is safe to repeat: a write may have happened.
        retry = RETRY_STATUSES | {500} if method in ("GET", "HEAD") else RETRY_STATUSES

        def once() -> "requests.Response":
            response = self.session.request(method, url, **kwargs)
            if response.status_code in retry or _secondary_rate_limit(response):
                raise TransientStatus(response)
            return response

        try:
            return with_retries(once, service=self.service, what=f"{method} {_strip_query(url)}",
                                deadline=self.deadline, retry_on=_transient)
        except ServiceError as exc:
            raise ServiceError(self.service, f"{exc}; is {self.service} up at {self.base_url}?") from None

    def get(self, path: str, **kwargs: Any) -> "requests.Response":
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> "requests.Response":
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> "requests.Response":
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> "requests.Response":
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> "requests.Response":
        return self.request("DELETE", path, **kwargs)


def _secondary_rate_limit(response: "requests.Response") -> bool:
    # GitHub answers its secondary rate limit with 403 + Retry-After, or 403 with x-ratelimit-remaining: 0.
    if response.status_code != 403:
        return False
    return "Retry-After" in response.headers or response.headers.get("X-RateLimit-Remaining") == "0"


def _strip_query(url: str) -> str:
    return url.split("?", 1)[0]


# -- reading answers (the adapters decode in one place each, with these) ------------------------------------------
def content_type(response: "requests.Response") -> str:
    return (response.headers.get("Content-Type") or "no Content-Type").split(";")[0].strip() or "no Content-Type"


def json_body(response: "requests.Response") -> Any:
    """The body as JSON; ValueError when it is not JSON, whatever it parses as, if the Content-Type says it is
    something else (a proxy's page that happens to parse must not be read as the service's answer)."""
    declared = response.headers.get("Content-Type", "")
    if declared and "json" not in declared.lower():
        raise ValueError(f"Content-Type {declared}")
    return response.json()


def snippet(response: "requests.Response", limit: int = 80) -> str:
    """The start of a body, on one line, for messages about answers jdci could not read."""
    text = " ".join(response.text.split())
    return text[:limit] + ("..." if len(text) > limit else "") if text else "an empty body"
