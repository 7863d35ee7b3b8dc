"""The HTTP plumbing every sandbox service shares: routing, identity, fault injection, a request log.

Each stand-in (GitHub, JIRA, Jenkins, Slack) is a `Service`: a table of routes plus its own state and its own
error bodies. Every service also answers a control API under `/_sandbox/` (never used by jdci itself):

  POST   /_sandbox/reset               forget all state
  POST   /_sandbox/faults              {"method": "GET"|"*", "path": REGEX, "status": 503, "headers": {...},
                                        "body": ANY, "count": N}: the next N matching requests get this answer
                                       (a string body is sent verbatim - an HTML page, garbage - other bodies
                                       as JSON)
  DELETE /_sandbox/faults              drop pending faults
  GET    /_sandbox/requests            every request served so far (method, path, query, user, status)
  DELETE /_sandbox/requests            clear that log
Services add their own control routes (seed data, move a PR head, ...).
"""
from __future__ import annotations

import base64
import binascii
import json
import re
import threading
import time
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit


class HttpError(Exception):
    """Raised by a route to answer with an error status and a service-shaped body."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.body = body
        self.headers = headers or {}


@dataclass
class Response:
    status: int = 200
    body: Any = None  # dict/list -> JSON; bytes -> sent as is; None -> empty
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    method: str
    path: str  # decoded path, without the query string
    raw_path: str  # as sent, percent-encoding kept (for routes whose segments may contain '/')
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    params: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    auth_problem: str | None = None  # "missing" | "bad" | None

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def int_arg(self, name: str, default: int) -> int:
        value = self.arg(name)
        try:
            return int(value) if value is not None else default
        except ValueError:
            return default

    def json(self) -> Any:
        if not self.body:
            return {}
        return json.loads(self.body)


Handler = Callable[[Request], Response]


def identify(headers: Message) -> tuple[str | None, str | None]:
    """(user, problem) from the Authorization header, as DESIGN.md's sandbox contract says.

    `Bearer T` / `token T` act as the user whose login is T; HTTP Basic acts as the user named in it; a token or
    password beginning with "bad" is refused, and so is a request without credentials.
    """
    value = headers.get("Authorization", "")
    scheme, _, credential = value.strip().partition(" ")
    scheme = scheme.lower()
    credential = credential.strip()
    if not value:
        return None, "missing"
    if scheme in ("bearer", "token") and credential:
        return (None, "bad") if credential.startswith("bad") else (credential, None)
    if scheme == "basic" and credential:
        try:
            user, _, password = base64.b64decode(credential).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, "bad"
        if not user or password.startswith("bad"):
            return None, "bad"
        return user, None
    return None, "bad"


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: Any
    count: int


class Service:
    """One stand-in service. Subclasses register routes in `__init__` with `self.route(...)`."""

    name = "service"

    def __init__(self) -> None:
        self.lock = threading.RLock()  # one lock per service: simple, and plenty for tests and demos
        self.base_url = ""  # set by the server once bound
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._faults: list[Fault] = []
        self._log: list[dict[str, Any]] = []
        self.route("POST", r"/_sandbox/reset", self._control_reset)
        self.route("POST", r"/_sandbox/faults", self._control_add_fault)
        self.route("DELETE", r"/_sandbox/faults", self._control_clear_faults)
        self.route("GET", r"/_sandbox/requests", self._control_requests)
        self.route("DELETE", r"/_sandbox/requests", self._control_clear_requests)

    # -- to override -------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget all state (subclasses extend)."""

    def error_body(self, status: int, message: str) -> Any:
        """The body this service sends with an error status."""
        return {"message": message}

    def requires_auth(self, request: Request) -> bool:
        return not request.path.startswith("/_sandbox/")

    def default_headers(self, request: Request) -> dict[str, str]:
        return {}

    # -- routing -----------------------------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, re.compile(pattern + r"/?\Z"), handler))

    def error(self, status: int, message: str, headers: dict[str, str] | None = None) -> HttpError:
        return HttpError(status, self.error_body(status, message), headers)

    def dispatch(self, request: Request) -> Response:
        control = request.path.startswith("/_sandbox/")
        try:
            if not control:
                fault = self._take_fault(request)
                if fault is not None:
                    # a string is sent as it is: how tests play an SSO page or a proxy answering in the service's place
                    body = fault.body.encode("utf-8") if isinstance(fault.body, str) else fault.body
                    response = Response(fault.status, body, dict(fault.headers))
                    if response.body is None and fault.status >= 400:
                        response.body = self.error_body(fault.status, "fault injected by the sandbox")
                    return self._finish(request, response)
            handler, params, allowed = self._match(request)
            if handler is None:
                if allowed:
                    raise self.error(405, f"Method {request.method} not allowed", {"Allow": ", ".join(allowed)})
                raise self.error(404, "Not Found")
            request.params = params
            request.user, request.auth_problem = identify(request.headers)
            if self.requires_auth(request) and request.auth_problem:
                raise self.unauthorized(request)
            with self.lock:
                response = handler(request)
        except HttpError as exc:
            response = Response(exc.status, exc.body, dict(exc.headers))
        except (json.JSONDecodeError, UnicodeDecodeError):
            response = Response(400, self.error_body(400, "Problems parsing JSON"))
        return self._finish(request, response) if not control else response

    def unauthorized(self, request: Request) -> HttpError:
        message = "Requires authentication" if request.auth_problem == "missing" else "Bad credentials"
        return self.error(401, message)

    def _match(self, request: Request) -> tuple[Handler | None, dict[str, str], list[str]]:
        allowed: list[str] = []
        for method, pattern, handler in self._routes:
            found = pattern.match(request.path)
            if not found:
                continue
            if method == request.method or (method == "GET" and request.method == "HEAD"):
                return handler, {k: v for k, v in found.groupdict().items() if v is not None}, []
            allowed.append(method)
        return None, {}, allowed

    def _take_fault(self, request: Request) -> Fault | None:
        with self.lock:
            for fault in self._faults:
                if fault.method in ("*", request.method) and fault.path.search(request.path):
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _finish(self, request: Request, response: Response) -> Response:
        with self.lock:
            self._log.append(
                {
                    "method": request.method,
                    "path": request.path,
                    "query": {k: v[-1] for k, v in request.query.items()},
                    "user": request.user,
                    "status": response.status,
                    "time": time.time(),
                }
            )
        for key, value in self.default_headers(request).items():
            response.headers.setdefault(key, value)
        return response

    # -- control API ---------------------------------------------------------------------------------------
    def _control_reset(self, request: Request) -> Response:
        with self.lock:
            self._faults.clear()
            self._log.clear()
            self.reset()
        return Response(204)

    def _control_add_fault(self, request: Request) -> Response:
        spec = request.json()
        try:
            fault = Fault(
                method=str(spec.get("method", "*")).upper(),
                path=re.compile(spec.get("path", ".*")),
                status=int(spec["status"]),
                headers={str(k): str(v) for k, v in spec.get("headers", {}).items()},
                body=spec.get("body"),
                count=int(spec.get("count", 1)),
            )
        except (KeyError, ValueError, TypeError, re.error) as exc:
            raise HttpError(400, {"message": f"bad fault spec: {exc}"}) from None
        with self.lock:
            self._faults.append(fault)
        return Response(201, {"pending": fault.count})

    def _control_clear_faults(self, request: Request) -> Response:
        with self.lock:
            self._faults.clear()
        return Response(204)

    def _control_requests(self, request: Request) -> Response:
        with self.lock:
            return Response(200, list(self._log))

    def _control_clear_requests(self, request: Request) -> Response:
        with self.lock:
            self._log.clear()
        return Response(204)


class _HandlerClass(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else keep-alive adds ~40 ms per request (Nagle + delayed ACK)
    service: Service  # set on a subclass per server
    server_version = "jdci-sandbox"

    def log_message(self, format: str, *args: Any) -> None:  # the request log is in the control API
        pass

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":  # git push sends large packs chunked
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=unquote(parts.path),
            raw_path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers=self.headers,
            body=self._read_body(),
        )
        try:
            response = self.service.dispatch(request)
        except Exception as exc:  # a bug in the sandbox: answer 500 rather than drop the connection
            import traceback

            traceback.print_exc()
            response = Response(500, self.service.error_body(500, f"sandbox error: {exc}"))
        self._send(response)

    def _send(self, response: Response) -> None:
        body = response.body
        headers = dict(response.headers)
        if body is None:
            payload = b""
        elif isinstance(body, (bytes, bytearray)):
            payload = bytes(body)
        else:
            payload = json.dumps(body).encode("utf-8")
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
        self.send_response(response.status)
        for key, value in headers.items():
            self.send_header(key, value)
        if response.status not in (204, 304):
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD" and response.status not in (204, 304):
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, service: Service, port: int = 0, host: str = "127.0.0.1") -> None:
        handler = type(f"{type(service).__name__}Handler", (_HandlerClass,), {"service": service})
        super().__init__((host, port), handler)
        self.service = service
        service.base_url = f"http://{host}:{self.server_address[1]}"

    @property
    def url(self) -> str:
        return self.service.base_url

    def start(self) -> "SandboxServer":
        threading.Thread(target=self.serve_forever, name=f"sandbox-{self.service.name}", daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
