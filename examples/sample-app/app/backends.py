"""Talking to the shop's Redis and PostgreSQL with the standard library only: Redis' text protocol, and
PostgreSQL's wire protocol (startup, SCRAM-SHA-256 / MD5 / cleartext password, simple query). Just enough for
a health check and a migration; a real app would use redis-py and psycopg."""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import socket
import struct


class BackendError(Exception):
    pass


# -- Redis --------------------------------------------------------------------------------------------------
def redis_command(host: str, port: int, *args: str, timeout: float = 2.0) -> bytes:
    """One command and its reply (RESP): a status line as is ("+PONG"), a bulk string's value (b"" for nil),
    an integer as ":N". Raises BackendError on an error reply."""
    request = f"*{len(args)}\r\n".encode() + b"".join(
        f"${len(a.encode())}\r\n".encode() + a.encode() + b"\r\n" for a in args)
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(request)
        answer = conn.makefile("rb")
        reply = answer.readline()
        if reply.startswith(b"$"):
            size = int(reply[1:])
            return answer.read(size + 2)[:size] if size >= 0 else b""
    if not reply or reply.startswith(b"-"):
        raise BackendError(f"redis {host}:{port} answered {reply.decode(errors='replace').strip() or 'nothing'}")
    return reply.rstrip(b"\r\n")


# -- PostgreSQL ---------------------------------------------------------------------------------------------
class Postgres:
    def __init__(self, host: str, port: int, user: str, password: str, database: str, timeout: float = 3.0):
        self.conn = socket.create_connection((host, port), timeout=timeout)
        self.file = self.conn.makefile("rb")
        self.user, self.password = user, password
        params = f"user\0{user}\0database\0{database}\0\0".encode()
        self.conn.sendall(struct.pack("!ii", 8 + len(params), 196608) + params)
        self._authenticate()

    def close(self) -> None:
        try:
            self.conn.sendall(b"X" + struct.pack("!i", 4))
        finally:
            self.conn.close()

    def __enter__(self) -> "Postgres":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self) -> tuple[bytes, bytes]:
        header = self.file.read(5)
        if len(header) < 5:
            raise BackendError("postgres closed the connection")
        kind, length = header[:1], struct.unpack("!i", header[1:])[0]
        body = self.file.read(length - 4)
        if kind == b"E":
            fields = dict((f[:1], f[1:].decode(errors="replace")) for f in body.split(b"\0") if f)
            raise BackendError(f"postgres: {fields.get(b'M', 'error')} ({fields.get(b'C', '?')})")
        return kind, body

    def _send(self, kind: bytes, body: bytes) -> None:
        self.conn.sendall(kind + struct.pack("!i", 4 + len(body)) + body)

    def _authenticate(self) -> None:
        scram: dict[str, bytes | str] = {}
        while True:
            kind, body = self._read()
            if kind == b"Z":
                return
            if kind != b"R":
                continue  # ParameterStatus, BackendKeyData, notices
            code = struct.unpack("!i", body[:4])[0]
            if code == 3:
                self._send(b"p", self.password.encode() + b"\0")
            elif code == 5:
                inner = hashlib.md5((self.password + self.user).encode()).hexdigest()
                self._send(b"p", b"md5" + hashlib.md5(inner.encode() + body[4:8]).hexdigest().encode() + b"\0")
            elif code == 10:
                nonce = base64.b64encode(secrets.token_bytes(18)).decode()
                scram["first_bare"] = f"n=,r={nonce}"
                scram["nonce"] = nonce
                first = f"n,,{scram['first_bare']}".encode()
                self._send(b"p", b"SCRAM-SHA-256\0" + struct.pack("!i", len(first)) + first)
            elif code == 11:
                self._send(b"p", self._scram_final(scram, body[4:].decode()))
            elif code == 12:
                if body[4:].decode() != "v=" + base64.b64encode(scram["server_signature"]).decode():  # type: ignore[arg-type]
                    raise BackendError("postgres: the server's SCRAM signature does not match")
            elif code != 0:
                raise BackendError(f"postgres: unsupported authentication method {code}")

    def _scram_final(self, scram: dict[str, bytes | str], server_first: str) -> bytes:
        fields = dict(part.split("=", 1) for part in server_first.split(","))
        if not fields["r"].startswith(str(scram["nonce"])):
            raise BackendError("postgres: SCRAM nonce mismatch")
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        without_proof = f"c=biws,r={fields['r']}"
        message = f"{scram['first_bare']},{server_first},{without_proof}".encode()
        signature = hmac.digest(hashlib.sha256(client_key).digest(), message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        scram["server_signature"] = hmac.digest(hmac.digest(salted, b"Server Key", "sha256"), message, "sha256")
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def query(self, sql: str) -> list[tuple[str | None, ...]]:
        """Simple query protocol: every row of the last statement, as text."""
        self._send(b"Q", sql.encode() + b"\0")
        rows: list[tuple[str | None, ...]] = []
        error: BackendError | None = None
        while True:
            try:
                kind, body = self._read()
            except BackendError as exc:  # the server still ends with ReadyForQuery
                error = exc
                continue
            if kind == b"T":
                rows = []
            elif kind == b"D":
                count, offset, row = struct.unpack("!h", body[:2])[0], 2, []
                for _ in range(count):
                    size = struct.unpack("!i", body[offset:offset + 4])[0]
                    offset += 4
                    row.append(None if size < 0 else body[offset:offset + size].decode())
                    offset += max(size, 0)
                rows.append(tuple(row))
            elif kind == b"Z":
                if error:
                    raise error
                return rows


def postgres_from_env() -> Postgres:
    return Postgres(os.environ["PGHOST"], int(os.environ.get("PGPORT", "5432")), os.environ.get("PGUSER", "shop"),
                    os.environ.get("PGPASSWORD", ""), os.environ.get("PGDATABASE", "shop"))
