"""Stored baselines for visual checks: what `jdci check approve` saves and visual checks compare against when
the target branch's image cannot run alongside.

Files are keyed `<check>/<page slug>@<WxH>.png` and `.dom.json`, per repository and target branch, in a store:
  - RegistryStore: an image REGISTRY/REPOSITORY-baselines:TARGET built FROM scratch holding the files under
    /baselines; every agent that can pull the app can read it, no shared disk needed (the default);
  - DirectoryStore: a folder (`[checks] baseline_store = "/shared/jdci-baselines"`).
"""
from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Protocol

from .. import log
from ..errors import ServiceError

if TYPE_CHECKING:
    import docker

    from ..config import Secrets


def page_slug(page: str) -> str:
    """A file name for a page path (pure): "/" -> "index", "/shop/cart?x=1" -> "shop_cart_x_1"."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", page.strip("/")).strip("_.")
    return slug[:80] or "index"


def shot_key(check: str, page: str, viewport: str) -> str:
    return f"{check}/{page_slug(page)}@{viewport}"


class BaselineStore(Protocol):
    where: str

    def load(self) -> dict[str, bytes]: ...

    def save(self, files: Mapping[str, bytes], replace_checks: set[str]) -> None: ...


class DirectoryStore:
    def __init__(self, root: Path, repository: str, target: str) -> None:
        self.folder = root / page_slug(repository) / page_slug(target)
        self.where = str(self.folder)

    def load(self) -> dict[str, bytes]:
        if not self.folder.is_dir():
            return {}
        return {str(p.relative_to(self.folder)): p.read_bytes() for p in sorted(self.folder.rglob("*"))
                if p.is_file()}

    def save(self, files: Mapping[str, bytes], replace_checks: set[str]) -> None:
        import shutil

        for check in replace_checks:
            shutil.rmtree(self.folder / check, ignore_errors=True)
        for key, data in files.items():
            path = self.folder / key
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(path)  # readers never see half a file


class RegistryStore:
    def __init__(self, client: "docker.DockerClient", registry: str, repository: str, target: str,
                 secrets: "Secrets | None" = None) -> None:
        from ..images import sanitize_tag

        self.client = client
        self.registry = registry
        self.repository = f"{repository}-baselines"
        self.tag = sanitize_tag(target) or "main"
        self.secrets = secrets
        self.where = f"{registry}/{self.repository}:{self.tag}"

    def _auth(self) -> dict[str, str] | None:
        if self.secrets and self.secrets.registry_user:
            return {"username": self.secrets.registry_user, "password": self.secrets.registry_password}
        return None

    def load(self) -> dict[str, bytes]:
        from docker.errors import APIError

        from ..images import registry_digest

        if registry_digest(self.registry, self.repository, self.tag, self.secrets) is None:
            return {}
        api = self.client.api
        try:
            api.pull(f"{self.registry}/{self.repository}", tag=self.tag, auth_config=self._auth())
            cid = api.create_container(self.where, command=["/none"], labels={"io.jdci.managed": "true",
                                                                              "io.jdci.role": "baselines"})["Id"]
        except APIError as exc:
            raise ServiceError("registry", f"could not read baselines {self.where}: {exc.explanation or exc}") \
                from None
        try:
            stream, _ = api.get_archive(cid, "/baselines")
            data = io.BytesIO(b"".join(stream))
        finally:
            api.remove_container(cid, force=True)
        files: dict[str, bytes] = {}
        with tarfile.open(fileobj=data) as archive:
            for member in archive.getmembers():
                if member.isfile():
                    handle = archive.extractfile(member)
                    if handle is not None:
                        files[member.name.split("/", 1)[1]] = handle.read()
        return files

    def save(self, files: Mapping[str, bytes], replace_checks: set[str]) -> None:
        from docker.errors import APIError

        from ..images import MANAGED
        from .containers import build_from_memory

        kept = {k: v for k, v in self.load().items() if k.split("/", 1)[0] not in replace_checks}
        merged = {**kept, **files}
        build_from_memory(self.client, tag=self.where, dockerfile="FROM scratch\nCOPY baselines/ /baselines/\n",
                          files={f"baselines/{k}": v for k, v in merged.items()},
                          image_labels={MANAGED: "true", "io.jdci.role": "baselines"},
                          what=f"the baselines image {self.where}")
        try:
            for chunk in self.client.api.push(f"{self.registry}/{self.repository}", tag=self.tag, stream=True,
                                              decode=True, auth_config=self._auth()):
                if "error" in chunk or "errorDetail" in chunk:  # docker-py reports push errors in the stream
                    detail = chunk.get("errorDetail", {}).get("message") or chunk.get("error", "")
                    raise ServiceError("registry", f"push of baselines {self.where} failed: {detail.strip()}")
        except APIError as exc:
            raise ServiceError("registry", f"push of baselines {self.where} failed: {exc.explanation or exc}") \
                from None
        log.say("check", f"baselines saved to {self.where} ({len(merged)} files)")


def open_store(store: str, *, registry: str, repository: str, target: str, secrets: "Secrets | None" = None,
               client: "docker.DockerClient | None" = None) -> BaselineStore:
    """`[checks] baseline_store`: "registry" or a folder path."""
    if store == "registry":
        from ..errors import ConfigError
        from ..images import engine

        if not registry:
            raise ConfigError("[checks] baseline_store = \"registry\" needs [image] registry (it is empty); set "
                              "it, or set baseline_store to a folder every agent can read")

        return RegistryStore(client or engine(), registry, repository, target, secrets)
    return DirectoryStore(Path(store).expanduser(), repository, target)
