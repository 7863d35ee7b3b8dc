"""`jdci task run`: a base image plus a code package, merged into a temporary image, run once.

The code (a folder, or a tarball that docker's ADD unpacks: .tar, .tar.gz, .tgz, .tar.bz2, .tar.xz) is copied
to `workdir` on top of the base image; the command runs there in a throwaway container; the output and exit
code come back; the container and the temporary image are removed in `finally`, on a timeout or Ctrl-C too.
"""
from __future__ import annotations

import io
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from . import log
from .errors import UsageError

if TYPE_CHECKING:
    import docker

TASK_LABEL = "io.jdci.task"
TARBALL_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
SKIPPED = {".git", "__pycache__", ".venv", "node_modules"}


@dataclass(frozen=True)
class TaskResult:
    exit_code: int | None  # None: killed at the timeout
    output: str
    timed_out: bool
    image: str  # the temporary image (removed)

    def to_json(self) -> dict[str, Any]:
        return {"exit_code": self.exit_code, "output": self.output, "timed_out": self.timed_out}


def dockerfile(base: str, workdir: str, tarball: bool) -> str:
    """The temporary image's Dockerfile (pure): ADD unpacks a local tarball, COPY takes a folder as it is."""
    import json

    # the JSON form: a workdir with a space ("/my code") stays one path
    source = "ADD " + json.dumps(["code.tar", workdir.rstrip("/") + "/"]) if tarball else \
        "COPY " + json.dumps(["code/", workdir.rstrip("/") + "/"])
    return f"FROM {base}\n{source}\nWORKDIR {workdir}\n"


def is_tarball(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(TARBALL_SUFFIXES)


def build_context(base: str, code: Path, workdir: str) -> io.BytesIO:
    """An in-memory build context: the Dockerfile plus the code package."""
    from .checks.containers import add_bytes

    if not code.exists():
        raise UsageError(f"--code {code} does not exist; pass a folder or a tarball")
    if code.is_file() and not is_tarball(code):
        raise UsageError(f"--code {code} is a file but not a tarball ({', '.join(TARBALL_SUFFIXES)}); pass a "
                         f"folder or a tarball")
    tarball = code.is_file()
    if tarball and not tarfile.is_tarfile(code):  # docker's ADD would copy it as a file and run in an empty folder
        raise UsageError(f"--code {code} is named like a tarball but is not a tar archive (damaged or another "
                         f"format); pass a folder or a .tar/.tar.gz/.tar.bz2/.tar.xz")
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as archive:
        add_bytes(archive, "Dockerfile", dockerfile(base, workdir, tarball).encode())
        if tarball:
            archive.add(str(code), arcname="code.tar")
        else:
            archive.add(str(code), arcname="code",
                        filter=lambda info: None if Path(info.name).name in SKIPPED else info)
    context.seek(0)
    return context


def run_task(base_image: str, code: Path, command: list[str], *, workdir: str = "/code", timeout: float = 3600.0,
             env: Mapping[str, str] | None = None, memory: str = "", cpus: float = 0.0,
             stream: Callable[[bytes], None] | None = None,
             client: "docker.DockerClient | None" = None) -> TaskResult:
    from .checks import containers
    from .images import MANAGED, engine

    if not command:
        raise UsageError("no command to run; put it after `--`, e.g. jdci task run --image I --code . -- make test")
    if not workdir.startswith("/") or any(ord(c) < 32 for c in workdir):
        raise UsageError(f"--workdir {workdir!r} must be an absolute path inside the image (one line), e.g. /code")
    client = client or engine()
    task_id = uuid.uuid4().hex[:12]
    tag = f"jdci-task/{task_id}:latest"
    labels = {MANAGED: "true", TASK_LABEL: task_id, "io.jdci.role": "task"}
    context = build_context(base_image, code, workdir)
    containers.ensure_image(client, base_image)
    try:
        log.say("task", f"building {tag} from {base_image} + {code}")
        containers.build_context(client, context, tag=tag, image_labels=labels,
                                 what=f"the task image ({base_image} + {code})")
        log.say("task", f"running {' '.join(command)} in {workdir}")
        ran = containers.run_once(client, image=tag, command=command, name=f"jdci-task-{task_id}",
                                  container_labels=labels, timeout=timeout, env=env, memory=memory, cpus=cpus,
                                  stream=stream, what=f"{base_image} + {code}")
        return TaskResult(ran.exit_code, ran.output, ran.timed_out, tag)
    finally:
        containers.remove_image(client, tag)
