"""Test helpers for the image tests: a second real registry (optionally with htpasswd auth) on a free loopback
port, a fault-injecting HTTP proxy in front of a registry, the CLI in a subprocess, scoped clean-up."""
from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(probe, what: str, deadline: float = 20.0) -> None:
    """Poll `probe` with backoff until it returns true, or fail naming `what`."""
    end, delay = time.monotonic() + deadline, 0.05
    while time.monotonic() < end:
        try:
            if probe():
                return
        except requests.RequestException:
            pass
        time.sleep(delay)
        delay = min(delay * 1.6, 1.0)
    raise AssertionError(f"{what} not ready within {deadline:.0f} s")


class RegistryProcess:
    """`docker-registry serve` on 127.0.0.1:<free port>, deletes enabled, optionally behind htpasswd (bcrypt)."""

    def __init__(self, directory: Path, *, user: str = "", password: str = "") -> None:
        self.directory = directory
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        directory.mkdir(parents=True, exist_ok=True)
        auth = ""
        if user:
            import bcrypt

            hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
            (directory / "htpasswd").write_text(f"{user}:{hashed}\n")
            auth = f"auth:\n  htpasswd:\n    realm: jdci-tests\n    path: {directory / 'htpasswd'}\n"
        config = directory / "config.yml"
        config.write_text(f"version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: "
                          f"{directory / 'data'}\n  delete:\n    enabled: true\nhttp:\n  addr: {self.host}\n{auth}")
        self.log = open(directory / "registry.log", "wb")
        self.process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=self.log,
                                        stderr=subprocess.STDOUT)
        wait_until(lambda: requests.get(f"http://{self.host}/v2/", timeout=2).status_code in (200, 401),
                   f"registry on {self.host}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.log.close()


@dataclass
class Faults:
    fail_first: int = 0  # the first N requests fail
    always: bool = False  # every request fails
    # "503" answers Service Unavailable; "drop" closes the connection without an answer; "strip-auth" forwards
    # the request without its Authorization header (the registry then refuses it as unauthenticated)
    mode: str = "503"
    agent: str = ""  # only requests whose User-Agent contains this count and fail ("docker/": the engine's)
    path: str = ""  # ... and whose "METHOD PATH" matches this regular expression
    seen: int = 0
    log: list[tuple[str, str, int]] = field(default_factory=list)  # (method, path, status or 0 for dropped)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def failing(self, user_agent: str, request: str) -> bool:
        import re

        if self.agent and self.agent not in user_agent:
            return False
        if self.path and not re.search(self.path, request):
            return False
        with self.lock:
            self.seen += 1
            return self.always or self.seen <= self.fail_first


class FaultProxy:
    """An HTTP/1.1 proxy on 127.0.0.1:<free port> in front of `upstream` (HOST:PORT) that fails requests as its
    Faults say and logs every request. The Host header is passed through, so the registry's Location headers
    point back at the proxy and every later request of a push goes through it too."""

    def __init__(self, upstream: str, faults: Faults) -> None:
        self.faults = faults
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    data = b""
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0] or b"0", 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return data
                        data += self.rfile.read(size)
                        self.rfile.readline()
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _any(self) -> None:
                body = self._body()
                failing = proxy.faults.failing(self.headers.get("User-Agent", ""), f"{self.command} {self.path}")
                if failing and proxy.faults.mode == "strip-auth":
                    del self.headers["Authorization"]
                elif failing:
                    if proxy.faults.mode == "drop":
                        proxy.faults.log.append((self.command, self.path, 0))
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    proxy.faults.log.append((self.command, self.path, 503))
                    payload = b'{"errors":[{"code":"UNAVAILABLE","message":"injected by the test proxy"}]}'
                    self.send_response(503)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                    return
                conn = http.client.HTTPConnection(upstream, timeout=60)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("transfer-encoding", "content-length", "connection")}
                headers["Content-Length"] = str(len(body))
                conn.request(self.command, self.path, body=body, headers=headers)
                answer = conn.getresponse()
                data = answer.read()
                conn.close()
                proxy.faults.log.append((self.command, self.path, answer.status))
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                length = answer.getheader("Content-Length") if self.command == "HEAD" else str(len(data))
                self.send_header("Content-Length", length or "0")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)


def run_jdci(*args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300) -> CliResult:
    """`jdci ARGS` as Jenkins runs it: a subprocess with its own stdout and stderr."""
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("CHANGE_", "GIT_", "REGISTRY_", "JDCI_")) and k not in ("WORKSPACE", "BUILD_URL")}
    base["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-m", "jenkins_docker_ci", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**base, **(env or {})})
    return CliResult(done.returncode, done.stdout, done.stderr)


def remove_local(client: Any, name: str) -> None:
    """Remove every local image of image name `name` (REGISTRY/REPO), tagged or known by digest only (a pushed
    image whose tags moved on): only what the test created."""
    for attrs in client.api.images(all=True):
        refs = [r for r in (attrs.get("RepoTags") or []) if r.rpartition(":")[0] == name]
        refs += [r for r in (attrs.get("RepoDigests") or []) if r.partition("@")[0] == name]
        for ref in refs:
            try:
                client.api.remove_image(ref, force=True)
            except Exception as exc:  # noqa: BLE001 - already gone with an earlier ref of the same image
                if "No such image" not in str(exc):
                    raise
