"""The sample shop: two pages and a health endpoint, on the Python standard library only.

In its preprod environment it runs beside Redis and PostgreSQL ([[preprod.services]] in jdci.toml), reached by
their service names; /healthz answers 200 only when both answer (and the migration ran). Without PGHOST and
REDIS_HOST (the app alone) it checks nothing but itself."""
from __future__ import annotations

import json
import os
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from backends import BackendError, postgres_from_env, redis_command

VERSION = os.environ.get("APP_VERSION", "dev")

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>{title} - Sample Shop</title>
<style>
body {{ font-family: sans-serif; margin: 2rem auto; max-width: 40rem; color: #222; }}
nav a {{ margin-right: 1rem; }}
.price {{ font-weight: bold; color: #0a6; }}
</style></head>
<body>
<nav><a href="/">Home</a><a href="/checkout">Checkout</a></nav>
<h1>{title}</h1>
{content}
<footer><small>version {version}</small></footer>
</body>
</html>
"""

PAGES = {
    "/": ("Sample Shop", "<p>Welcome! Today's offer: <span class=\"price\">3 apples for 2</span>.</p>"),
    "/checkout": ("Checkout", "<p>Your basket is empty.</p><button id=\"pay\">Pay now</button>"),
}


def backends() -> dict[str, str]:
    """Each configured backend: "ok" or what is wrong with it."""
    found: dict[str, str] = {}
    if os.environ.get("REDIS_HOST"):
        try:
            reply = redis_command(os.environ["REDIS_HOST"], int(os.environ.get("REDIS_PORT", "6379")), "PING")
            found["redis"] = "ok" if reply == b"+PONG" else f"answered {reply!r}"
            if os.environ.get("WORKER_CHECK"):  # the worker's heartbeat, through Redis
                beat = redis_command(os.environ["REDIS_HOST"], int(os.environ.get("REDIS_PORT", "6379")), "GET",
                                     "shop:worker:last")
                found["worker"] = "ok" if beat and time.time() - float(beat) < 30 else "no recent heartbeat"
        except (OSError, BackendError, ValueError) as exc:
            found["redis"] = f"{type(exc).__name__}: {exc}"
    if os.environ.get("PGHOST"):
        try:
            with postgres_from_env() as db:
                applied = db.query("SELECT count(*) FROM schema_migrations")[0][0]
            found["postgres"] = "ok"
            found["migrations"] = str(applied)
        except (OSError, BackendError) as exc:
            found["postgres"] = f"{type(exc).__name__}: {exc}"
    return found


class Handler(BaseHTTPRequestHandler):
    server_version = "sample-shop"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        if self.path == "/healthz":
            found = backends()
            ok = all(v == "ok" for k, v in found.items() if k != "migrations")
            body = {"status": "ok" if ok else "failing", "version": VERSION, **found}
            self._send(200 if ok else 503, json.dumps(body), "application/json")
        elif self.path in PAGES:
            title, content = PAGES[self.path]
            self._send(200, PAGE.format(title=title, content=content, version=VERSION), "text/html; charset=utf-8")
        else:
            self._send(404, "not found\n", "text/plain")

    def _send(self, status: int, body: str, content_type: str) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        print(f"{self.address_string()} {format % args}", flush=True)


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)  # inside its container; published on 127.0.0.1 only
    print(f"sample shop listening on :{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
