"""The shop's background worker: the app's own image with another command ([[preprod.services]] image = "@app").
It records a heartbeat in Redis; the app's /healthz reports how recent it is. `--check`: exit 0 when a
heartbeat from the last 30 s is there (its health check)."""
from __future__ import annotations

import os
import sys
import time

from backends import BackendError, redis_command

KEY = "shop:worker:last"


def redis(*args: str) -> bytes:
    return redis_command(os.environ.get("REDIS_HOST", "redis"), int(os.environ.get("REDIS_PORT", "6379")), *args)


def last_beat() -> float | None:
    value = redis("GET", KEY)
    return float(value) if value else None


def main() -> int:
    if sys.argv[1:] == ["--check"]:
        try:
            beat = last_beat()
        except (OSError, BackendError):
            return 1
        return 0 if beat is not None and time.time() - beat < 30 else 1
    print("worker started", flush=True)
    while True:
        try:
            redis("SET", KEY, str(time.time()))
            redis("INCR", "shop:worker:beats")
        except (OSError, BackendError) as exc:
            print(f"redis unavailable: {exc}", flush=True)
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
