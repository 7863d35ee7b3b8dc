"""Throwaway containers and in-memory image builds: every docker call of checks and `jdci task run` is here.

A throwaway container carries io.jdci.managed=true plus io.jdci.env (when it belongs to an environment, so
`jdci env down`/`gc` find strays) and io.jdci.role, and is removed in `finally`, also on a timeout or Ctrl-C.
"""
from __future__ import annotations

import io
import tarfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from .. import log
from ..errors import BuildError, JdciError, UsageError
from ..images import MANAGED

if TYPE_CHECKING:
    import docker

ENV_LABEL = "io.jdci.env"  # same label as environments.py, so env down/gc remove a check's strays
OUTPUT_LIMIT = 64 * 1024  # bytes of output kept for a report: the end, where errors are
TAIL_LINES = 5000  # lines asked of the engine when the output was not followed live
BUFFER_LIMIT = 4 * OUTPUT_LIMIT  # bytes a live follower holds (the report's tail, with room for multi-byte text)


@dataclass(frozen=True)
class RunOutput:
    exit_code: int | None  # None: killed at the timeout
    output: str
    timed_out: bool
    container: str  # its name (already removed)


def labels(role: str, *, env: str = "", extra: Mapping[str, str] | None = None) -> dict[str, str]:
    out = {MANAGED: "true", "io.jdci.role": role, **(extra or {})}
    if env:
        out[ENV_LABEL] = env
    return out


IDENTITY = ("io.jdci.repository", "io.jdci.pr", "io.jdci.sha")


def with_env_identity(client: "docker.DockerClient", network: str, container_labels: Mapping[str, str]
                      ) -> dict[str, str]:
    """The labels plus the environment's repository/PR/SHA, taken from its network. Without them a container
    would show the labels its IMAGE carries (another repository's, for a baseline image), and a clean-up or leak
    check by repository would count it for the wrong one."""
    out = dict(container_labels)
    if not network:
        return out
    from docker.errors import NotFound

    try:
        found = client.api.inspect_network(network).get("Labels") or {}
    except NotFound:
        return out
    for key in IDENTITY:
        if key in found and key not in out:
            out[key] = found[key]
    return out


def memory_bytes(text: str) -> int | None:
    """docker's "512m" -> bytes (pure); "" -> None (no limit)."""
    if not text:
        return None
    units = {"b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
    text = text.strip().lower()
    unit = units.get(text[-1])
    return int(text[:-1]) * unit if unit else int(text)


def run_once(client: "docker.DockerClient", *, image: str, command: list[str] | None, name: str,
             container_labels: Mapping[str, str], timeout: float, env: Mapping[str, str] | None = None,
             network: str = "", memory: str = "", cpus: float = 0.0, workdir: str = "",
             stream: Any = None, what: str = "") -> RunOutput:
    """Run `command` in a new container until it exits or `timeout` seconds pass (then it is killed); returns
    its exit code and output. The container is removed whatever happens. `stream(bytes)` sees output live.
    `what` names the image in messages when `image` is a temporary one (a task's base image + code)."""
    import requests
    from docker.errors import APIError, ImageNotFound

    api = client.api
    host_config = api.create_host_config(
        network_mode=network or None, mem_limit=memory_bytes(memory),
        nano_cpus=int(cpus * 1e9) if cpus else None, restart_policy={"Name": "no"})
    try:
        created = api.create_container(image, command=command, name=name, environment=dict(env or {}),
                                       labels=with_env_identity(client, network, container_labels),
                                       host_config=host_config,
                                       working_dir=workdir or None, detach=True)
    except ImageNotFound:
        raise JdciError(f"image {image} not found on the Docker engine; build or pull it first") from None
    except APIError as exc:
        raise JdciError(f"could not create container {name} from {image}: {exc.explanation or exc}") from None
    cid = created["Id"]
    timed_out = False
    exit_code: int | None = None
    try:
        try:
            api.start(cid)
        except APIError as exc:
            raise _start_error(exc, what or image, command) from None
        deadline = time.monotonic() + timeout
        reader = _Follower(client, cid, stream) if stream is not None else None
        try:
            left = max(0.1, deadline - time.monotonic())
            exit_code = int(api.wait(cid, timeout=left)["StatusCode"])
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            timed_out = True
            try:
                api.kill(cid)
            except APIError:
                pass
        # the last lines only: the report keeps OUTPUT_LIMIT bytes, and "all" of a chatty task's log is read
        # into memory several times over by docker-py (50 MB of output took 500 MB)
        output = api.logs(cid, stdout=True, stderr=True, tail=TAIL_LINES)
        if reader is not None and reader.finish():
            # a following stream can end with the container before its last, unfinished line (`echo -n`) is
            # relayed, on a busy engine: the console gets what it missed, the report the engine's own tail
            missed = missing_end(bytes(reader.buffer), output)
            if missed:
                stream(missed)
        return RunOutput(exit_code, _tail(output), timed_out, name)
    finally:
        remove_container(client, cid)


def _start_error(exc: Any, image: str, command: list[str] | None) -> JdciError:
    """The engine refused to start a container: a command missing from the image is the user's to fix."""
    detail = str(exc.explanation or exc)
    what = " ".join(command or []) or "the image's default command"
    if "executable file not found" in detail or "no such file or directory" in detail:
        return UsageError(f"cannot run `{what}` in {image}: the executable is not in the image ({detail}); "
                          f"install it in the image or give its full path")
    return JdciError(f"could not start `{what}` in {image}: {detail}")


def missing_end(followed: bytes, tail: bytes, anchor: int = 4096) -> bytes:
    """What `tail` (the log's end, from the engine) has after the end of `followed` (what was relayed live);
    b"" when nothing is missing or the two cannot be lined up (pure)."""
    if tail.startswith(followed):  # the whole output fits in the tail: exact
        return tail[len(followed):]
    end = followed[-anchor:]
    at = tail.rfind(end)
    return tail[at + len(end):] if at >= 0 else b""


class _Follower:
    """Follows a container's output on a thread (the main thread waits with a timeout, so a silent command
    cannot block the run), handing each chunk to `stream` as it comes."""

    def __init__(self, client: "docker.DockerClient", cid: str, stream: Any) -> None:
        import threading

        self.buffer = bytearray()
        self.received = 0  # bytes seen in all (the buffer keeps the tail)
        self._stream = stream
        self._thread = threading.Thread(target=self._follow, args=(client, cid), daemon=True)
        self._thread.start()

    def _follow(self, client: "docker.DockerClient", cid: str) -> None:
        try:
            for chunk in client.api.logs(cid, stdout=True, stderr=True, stream=True, follow=True):
                self.buffer.extend(chunk)
                self.received += len(chunk)
                if len(self.buffer) > 2 * BUFFER_LIMIT:  # only the tail is reported: a chatty task must not
                    del self.buffer[:-BUFFER_LIMIT]  # fill the agent's memory
                self._stream(chunk)
        except Exception:  # noqa: BLE001 - the output is fetched again after the wait when this fails
            pass

    def finish(self) -> bool:
        """True when the follower saw the end of the output (it ends when the container stops). A long output
        is still being relayed after the container exits: wait while it moves, so the console gets its end."""
        seen = -1
        while self._thread.is_alive() and self.received != seen:
            seen = self.received
            self._thread.join(timeout=10)
        return not self._thread.is_alive()


def remove_container(client: "docker.DockerClient", cid: str) -> None:
    from docker.errors import APIError, NotFound

    try:
        client.api.remove_container(cid, force=True, v=True)
    except NotFound:
        pass
    except APIError as exc:  # it must not hide the check's own result; `jdci env gc` removes it by label
        log.warn("check", f"could not remove container {cid[:12]}: {exc.explanation or exc}")


def _tail(output: bytes) -> str:
    text = output.decode("utf-8", errors="replace")
    if len(text) > OUTPUT_LIMIT:
        return "[... output cut ...]\n" + text[-OUTPUT_LIMIT:]
    return text


def unique_name(prefix: str) -> str:
    # docker names must start with [a-zA-Z0-9]: outside an environment (`jdci check run` without --network)
    # the prefix is "-baseline" or "-check-NAME"
    prefix = prefix if prefix[:1].isalnum() else f"jdci{prefix}"
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@contextmanager
def alongside(client: "docker.DockerClient", *, image: str, name: str, container_labels: Mapping[str, str],
              network: str, port: int, health_path: str, deadline: float,
              env: Mapping[str, str] | None = None) -> Iterator[str]:
    """Run `image` (e.g. the target branch's build) as a throwaway app on the environment's network, its port
    published on 127.0.0.1; yields its base URL once it answers, removes it on the way out."""
    from docker.errors import ImageNotFound

    api = client.api
    host_config = api.create_host_config(port_bindings={port: ("127.0.0.1",)}, network_mode=network or None,
                                         restart_policy={"Name": "no"})
    try:
        created = api.create_container(image, name=name, labels=with_env_identity(client, network, container_labels),
                                       ports=[port],
                                       environment={**dict(env or {}), "PORT": str(port)},
                                       host_config=host_config, detach=True)
    except ImageNotFound:
        raise JdciError(f"baseline image {image} not found on the Docker engine") from None
    cid = created["Id"]
    try:
        yield _started_url(client, cid, image=image, name=name, port=port, health_path=health_path,
                           deadline=deadline)
    finally:
        remove_container(client, cid)


def _started_url(client: "docker.DockerClient", cid: str, *, image: str, name: str, port: int, health_path: str,
                 deadline: float) -> str:
    import requests
    from docker.errors import APIError

    api = client.api
    try:
        api.start(cid)
        binding = (api.inspect_container(cid)["NetworkSettings"]["Ports"].get(f"{port}/tcp") or [{}])[0]
    except APIError as exc:
        raise JdciError(f"could not run baseline {image}: {exc.explanation or exc}") from None
    if not binding.get("HostPort"):
        raise JdciError(f"baseline container {name} publishes no port {port}; set [preprod] port")
    url = f"http://127.0.0.1:{binding['HostPort']}"
    delay = 0.05
    while True:
        state = api.inspect_container(cid)["State"]
        if state.get("Status") in ("exited", "dead"):
            raise JdciError(f"baseline container {name} ({image}) exited with {state.get('ExitCode')}")
        try:
            if requests.get(url + (health_path or "/"), timeout=2).status_code < 500:
                return url
        except requests.RequestException:
            pass
        if time.monotonic() + delay > deadline:
            raise JdciError(f"baseline container {name} ({image}) did not answer at {url} in time")
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)


def build_from_memory(client: "docker.DockerClient", *, tag: str, dockerfile: str, files: Mapping[str, bytes],
                      image_labels: Mapping[str, str], what: str, stream: Any = None) -> str:
    """Build `tag` from an in-memory context (a Dockerfile plus `files`); returns the image ID."""

    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as archive:
        add_bytes(archive, "Dockerfile", dockerfile.encode())
        for path, data in files.items():
            add_bytes(archive, path, data)
    context.seek(0)
    return build_context(client, context, tag=tag, image_labels=image_labels, what=what, stream=stream)


def build_context(client: "docker.DockerClient", context: Any, *, tag: str, image_labels: Mapping[str, str],
                  what: str, stream: Any = None) -> str:
    """Build from a tar stream holding a Dockerfile; the build log goes to `stream` (text) when given."""
    from docker.errors import APIError

    image_id = ""
    try:
        for chunk in client.api.build(fileobj=context, custom_context=True, tag=tag, labels=dict(image_labels),
                                      rm=True, forcerm=True, decode=True):
            if "error" in chunk or "errorDetail" in chunk:
                detail = chunk.get("errorDetail", {}).get("message") or chunk.get("error", "")
                raise BuildError(f"building {what} failed: {detail.strip()}")
            if stream is not None and chunk.get("stream", "").strip():
                stream(chunk["stream"])
            if (chunk.get("aux") or {}).get("ID"):
                image_id = chunk["aux"]["ID"]
    except APIError as exc:
        raise BuildError(f"building {what} failed: {exc.explanation or exc}") from None
    return image_id or client.api.inspect_image(tag)["Id"]


def add_bytes(archive: tarfile.TarFile, path: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(path)
    info.size = len(data)
    info.mode = mode
    archive.addfile(info, io.BytesIO(data))


def ensure_image(client: "docker.DockerClient", ref: str, auth: Mapping[str, str] | None = None) -> None:
    """Make sure `ref` is on the engine before a build starts FROM it: the classic builder would otherwise
    try to pull it, from Docker Hub for a name without a registry. Refs in a named registry are pulled."""
    from docker.errors import APIError, ImageNotFound

    try:
        client.api.inspect_image(ref)
        return
    except ImageNotFound:
        pass
    except APIError as exc:  # "invalid reference format": the user's typo, not a bug in jdci
        if exc.status_code == 400:
            raise UsageError(f"{ref!r} is not an image reference ({exc.explanation or exc}); use "
                             f"[REGISTRY/]NAME[:TAG] in lower case, e.g. 127.0.0.1:5000/team/app:main") from None
        raise
    if "@" in ref:  # REPO@sha256:... (the engine takes a digest where a tag goes)
        name, _, tag = ref.partition("@")
    else:
        name, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
    first = name.split("/", 1)[0]
    if "/" not in name or not ("." in first or ":" in first or first == "localhost"):
        raise UsageError(f"image {ref} is not on the Docker engine and names no registry to pull it from; build "
                         f"it, or give its registry (e.g. 127.0.0.1:5000/{ref})")
    try:
        client.api.pull(name, tag=tag, auth_config=dict(auth) if auth else None)
    except APIError as exc:
        raise UsageError(f"image {ref} not found on the engine nor in its registry: {exc.explanation or exc}") \
            from None


def remove_image(client: "docker.DockerClient", ref: str) -> None:
    from docker.errors import APIError, NotFound

    try:
        client.api.remove_image(ref, force=True)
    except NotFound:
        pass
    except APIError as exc:
        log.warn("task", f"could not remove image {ref}: {exc.explanation or exc}")
