"""What every benchmark here shares: running a command, timing medians, the tiny busybox app."""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TINY_DOCKERFILE = ('FROM jdci-base/busybox:latest\nCOPY www /www\nEXPOSE 8000\n'
                   'CMD ["httpd", "-f", "-p", "8000", "-h", "/www"]\n')


def sh(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout.strip()


def median_seconds(work: Callable[[], None], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def tiny_app(prefix: str = "jdci-bench-") -> tuple[Path, str]:
    """A 2 MB busybox-httpd app (a page and /healthz) committed in a fresh git repository: (folder, SHA)."""
    app = Path(tempfile.mkdtemp(prefix=prefix))
    (app / "www").mkdir()
    (app / "www" / "index.html").write_text("bench")
    (app / "www" / "healthz").write_text("ok")
    (app / "Dockerfile").write_text(TINY_DOCKERFILE)
    for cmd in (["init", "-q"], ["add", "-A"], ["-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "b"]):
        subprocess.run(["git", *cmd], cwd=app, check=True)
    return app, sh("git", "-C", str(app), "rev-parse", "HEAD")
