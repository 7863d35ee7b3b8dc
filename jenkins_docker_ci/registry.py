"""The registry's v2 API (distribution): digests, manifests, cross-repository blob mounts, tags, deletes.

`jdci image promote` lives here: a new tag for an existing manifest, registry-side, no rebuild, no local image.
Every call goes through http.HttpClient (retries, backoff, deadline). Status codes become meaning here:
401/403 = the credentials (exit 2), 404 = no such thing (None), 5xx after retries = the service (exit 4).
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import ConfigError, ServiceError, UsageError

if TYPE_CHECKING:
    import requests

    from .config import Secrets

MANIFEST_LIST_TYPES = ("application/vnd.oci.image.index.v1+json",
                       "application/vnd.docker.distribution.manifest.list.v2+json")
IMAGE_MANIFEST_TYPES = ("application/vnd.oci.image.manifest.v1+json",
                        "application/vnd.docker.distribution.manifest.v2+json")
MANIFEST_TYPES = ", ".join(MANIFEST_LIST_TYPES + IMAGE_MANIFEST_TYPES)
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\Z")
DIGEST = re.compile(r"[a-z0-9]+:[a-f0-9]{32,}\Z")


def registry_url(registry: str) -> str:
    host = registry.split(":", 1)[0]
    loopback = host in ("localhost", "::1") or host.startswith("127.")
    return f"{'http' if loopback else 'https'}://{registry}"


@dataclass(frozen=True)
class ImageRef:
    registry: str
    repository: str
    tag: str = ""
    digest: str = ""

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    @property
    def reference(self) -> str:
        """What the manifests endpoint takes: the digest when there is one, else the tag."""
        return self.digest or self.tag

    def __str__(self) -> str:
        return self.name + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")


def _is_host(component: str) -> bool:
    return "." in component or ":" in component or component == "localhost"


def parse_ref(text: str, default_registry: str = "") -> ImageRef:
    """REGISTRY/REPO[:TAG][@DIGEST] (pure); the registry part is the first component when it looks like a host."""
    rest, _, digest = text.strip().partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and _is_host(first):
        registry, path = first, remainder
    else:
        registry, path = default_registry, rest
    last = path.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        path, _, tag = path.rpartition(":")
    if not path or (tag and not TAG.match(tag)) or (digest and not DIGEST.match(digest)):
        raise UsageError(f"{text!r} is not an image reference; use REGISTRY/REPOSITORY:TAG or "
                         f"REGISTRY/REPOSITORY@sha256:..., e.g. 127.0.0.1:5000/team/app:pr-7")
    from .images import REGISTRY_HOST, repository_problem  # images imports this module

    # "http://host/..." or "Team/App" would otherwise be asked of the registry, and retried until the deadline
    if (registry and not REGISTRY_HOST.match(registry)) or "://" in text:
        raise UsageError(f"{text!r}: {registry!r} is not a registry HOST[:PORT]; image references have no "
                         f"scheme, e.g. 127.0.0.1:5000/team/app:pr-7")
    problem = repository_problem(path)
    if problem:
        raise UsageError(f"{text!r}: the repository {path!r} cannot name an image: {problem}")
    return ImageRef(registry, path, tag, digest)


@dataclass(frozen=True)
class Manifest:
    body: bytes  # exactly as the registry sent it: re-putting these bytes keeps the digest
    media_type: str
    digest: str

    def document(self) -> dict[str, Any]:
        return json.loads(self.body)

    def blobs(self) -> list[str]:
        """The config and layer digests of an image manifest (foreign layers, which live elsewhere, excluded)."""
        doc = self.document()
        found = [doc["config"]["digest"]] if doc.get("config", {}).get("digest") else []
        found += [layer["digest"] for layer in doc.get("layers", []) if not layer.get("urls")]
        return found

    def children(self) -> list[str]:
        """The per-platform manifest digests of a manifest list / OCI index."""
        return [m["digest"] for m in self.document().get("manifests", [])]


class Registry:
    """One registry (HOST:PORT), optionally with basic-auth credentials from REGISTRY_USER/REGISTRY_PASSWORD."""

    def __init__(self, host: str, secrets: "Secrets | None" = None, *, deadline: float = 15.0) -> None:
        from .http import HttpClient

        self.host = host
        self.user = secrets.registry_user if secrets else ""
        auth = (secrets.registry_user, secrets.registry_password) if secrets and secrets.registry_user else None
        self.http = HttpClient("registry", registry_url(host), auth=auth, deadline=deadline)

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> "requests.Response":
        try:
            response = self.http.request(method, path, **kwargs)
        except ServiceError as exc:
            cause = str(exc).split(": ", 1)[-1].split("; is registry up", 1)[0]
            raise ServiceError("registry", f"registry {self.host} not reachable at {registry_url(self.host)} "
                                           f"({method} {what}: {cause}, retried for {self.http.deadline:g} s); "
                                           f"start it (`make services`) or fix [image] registry") from None
        if response.status_code in (401, 403):
            who = "the REGISTRY_USER credentials" if self.user else "no credentials (REGISTRY_USER is not set)"
            raise ConfigError(f"registry {self.host} refused {method} {what} with {who} (HTTP "
                              f"{response.status_code}); set REGISTRY_USER and REGISTRY_PASSWORD to an account "
                              f"that may use this repository")
        if response.status_code >= 500:
            raise ServiceError("registry", f"registry {self.host} answered HTTP {response.status_code} to "
                                           f"{method} {what}")
        return response

    def _manifest_call(self, method: str, repository: str, reference: str, what: str) -> "requests.Response | None":
        """HEAD or GET of a manifest by tag or digest: the answer, or None when the registry has no such one."""
        response = self._call(method, f"/v2/{repository}/manifests/{reference}", f"{repository}:{reference}",
                              headers={"Accept": MANIFEST_TYPES})
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise ServiceError("registry", f"registry {self.host} answered HTTP {response.status_code} for "
                                           f"{what}{repository}:{reference}")
        return response

    def digest(self, repository: str, reference: str) -> str | None:
        """The manifest digest under a tag (or digest), or None when the registry has no such manifest."""
        response = self._manifest_call("HEAD", repository, reference, "")
        return None if response is None else response.headers.get("Docker-Content-Digest")

    def manifest(self, repository: str, reference: str) -> Manifest | None:
        response = self._manifest_call("GET", repository, reference, "manifest ")
        if response is None:
            return None
        media_type = (response.headers.get("Content-Type") or "").split(";")[0].strip()
        digest = response.headers.get("Docker-Content-Digest") or _sha256(response.content)
        return Manifest(response.content, media_type, digest)

    def has_blob(self, repository: str, digest: str) -> bool:
        response = self._call("HEAD", f"/v2/{repository}/blobs/{digest}", f"blob {digest[:19]} of {repository}")
        return response.status_code == 200

    def mount_blob(self, repository: str, digest: str, source: str) -> None:
        """Make `digest` of `source` part of `repository` without sending it (the registry links it); when the
        registry declines the mount, copy it through this process."""
        response = self._call("POST", f"/v2/{repository}/blobs/uploads/", f"mount of {digest[:19]} into {repository}",
                              params={"mount": digest, "from": source})
        if response.status_code == 201:
            return
        if response.status_code != 202:
            raise ServiceError("registry", f"registry {self.host} answered HTTP {response.status_code} to a "
                                           f"blob mount into {repository}")
        blob = self._call("GET", f"/v2/{source}/blobs/{digest}", f"blob {digest[:19]} of {source}")
        if blob.status_code != 200:
            raise ServiceError("registry", f"registry {self.host} cannot give blob {digest} of {source} "
                                           f"(HTTP {blob.status_code})")
        location = response.headers.get("Location", "")
        sep = "&" if "?" in location else "?"
        done = self._call("PUT", f"{self.http.url(location)}{sep}digest={digest}", f"blob upload into {repository}",
                          data=blob.content, headers={"Content-Type": "application/octet-stream"})
        if done.status_code != 201:
            raise ServiceError("registry", f"registry {self.host} answered HTTP {done.status_code} to the "
                                           f"upload of {digest} into {repository}")

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> str:
        response = self._call("PUT", f"/v2/{repository}/manifests/{reference}", f"{repository}:{reference}",
                              data=manifest.body, headers={"Content-Type": manifest.media_type})
        if response.status_code != 201:
            raise ServiceError("registry", f"registry {self.host} refused manifest {repository}:{reference} "
                                           f"(HTTP {response.status_code}: {response.text.strip()[:200]})")
        return response.headers.get("Docker-Content-Digest") or manifest.digest

    def tags(self, repository: str, limit: int = 10000) -> list[str]:
        """Every tag of `repository` ([] when the registry does not know it), following Link pagination."""
        found: list[str] = []
        path: str | None = f"/v2/{repository}/tags/list?n=1000"
        while path and len(found) < limit:
            response = self._call("GET", path, f"tags of {repository}")
            if response.status_code == 404:
                return []
            found += response.json().get("tags") or []
            link = response.links.get("next", {}).get("url")
            path = link if link and link != path else None
        return found

    def delete_manifest(self, repository: str, digest: str) -> bool:
        """Delete a manifest by digest (every tag pointing at it goes with it); False when it was not there."""
        response = self._call("DELETE", f"/v2/{repository}/manifests/{digest}", f"{repository}@{digest}")
        if response.status_code == 405:
            raise ConfigError(f"registry {self.host} does not allow deletes; enable storage.delete in its config")
        return response.status_code == 202


def _sha256(body: bytes) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(body).hexdigest()


@dataclass(frozen=True)
class Promoted:
    source: str
    ref: str
    digest: str
    mounted: int  # blobs linked into another repository (0 within one repository)

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "ref": self.ref, "digest": self.digest, "mounted_blobs": self.mounted}


def destination(source: ImageRef, dest: str) -> ImageRef:
    """A bare tag means "the same repository"; anything with '/' is a full reference (pure)."""
    if "/" not in dest and "@" not in dest:
        tag = dest[1:] if dest.startswith(":") else dest
        if not TAG.match(tag):
            raise UsageError(f"{dest!r} is not a tag: letters, digits, '_', '.', '-' (not first), at most 128")
        return ImageRef(source.registry, source.repository, tag)
    target = parse_ref(dest, source.registry)
    if not target.tag or target.digest:
        raise UsageError(f"{dest!r}: a promotion needs a destination tag, e.g. {target.name}:release-1.4")
    if target.registry != source.registry:
        raise UsageError(f"promote works within one registry ({source.registry}); {dest!r} is in "
                         f"{target.registry or 'no registry'}: pull and push to copy between registries")
    return target


def promote(source_text: str, dest_text: str, *, default_registry: str, secrets: "Secrets | None" = None,
            deadline: float = 60.0) -> Promoted:
    """Point a tag at the manifest of `source_text` (a tag or digest), registry-side, and check the digest."""
    source = parse_ref(source_text, default_registry)
    if not source.registry:
        raise UsageError(f"{source_text!r} names no registry and [image] registry is empty; use REGISTRY/REPO:TAG")
    if not source.reference:
        raise UsageError(f"{source_text!r} needs a tag or digest (e.g. {source.name}:pr-7); promote never guesses")
    target = destination(source, dest_text)
    registry = Registry(source.registry, secrets, deadline=deadline)
    manifest = registry.manifest(source.repository, source.reference)
    if manifest is None:
        raise UsageError(f"{source} is not in registry {source.registry}; push it first (see `jdci image ls`)")
    mounted = 0
    if target.repository != source.repository:
        mounted = _copy_into(registry, source.repository, target.repository, manifest)
    digest = registry.put_manifest(target.repository, target.tag, manifest)
    check = registry.digest(target.repository, target.tag)
    if digest != manifest.digest or check != manifest.digest:
        raise ServiceError("registry", f"promote of {source} to {target} stored digest {check or digest}, not "
                                       f"{manifest.digest}: the registry rewrote the manifest")
    return Promoted(str(source), str(target), manifest.digest, mounted)


def _copy_into(registry: Registry, source: str, target: str, manifest: Manifest, depth: int = 0) -> int:
    """Everything `manifest` references, made present in `target` (a list's children first, by digest)."""
    mounted = 0
    if manifest.media_type in MANIFEST_LIST_TYPES and depth == 0:
        for child_digest in manifest.children():
            child = registry.manifest(source, child_digest)
            if child is None:
                raise ServiceError("registry", f"{source}@{child_digest} is listed but missing from the registry")
            mounted += _copy_into(registry, source, target, child, depth + 1)
            registry.put_manifest(target, child.digest, child)
        return mounted
    for blob in manifest.blobs():
        if not registry.has_blob(target, blob):
            registry.mount_blob(target, blob, source)
            mounted += 1
    return mounted

