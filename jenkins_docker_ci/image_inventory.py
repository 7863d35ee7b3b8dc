"""`jdci image ls` and `jdci image prune`: jdci's local images (label io.jdci.managed=true), and removing old ones.

The policy is a pure function (prune_plan); the adapter lists and removes through docker-py. Never touched: an
image without the label, an image a container uses (running or stopped), tags outside the repository asked for.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from . import log
from .images import MANAGED

if TYPE_CHECKING:
    import docker

    from .config import Secrets


@dataclass(frozen=True)
class LocalImage:
    """One image under one repository name (an image tagged in two repositories is two of these)."""

    id: str
    name: str  # REGISTRY/REPOSITORY as in the refs, e.g. 127.0.0.1:5000/team/app
    tags: tuple[str, ...]
    branch: str  # io.jdci.branch, else pr-N, else ""
    pr: str
    created: float  # epoch seconds
    size: int
    in_use: bool = False
    digests: tuple[str, ...] = ()  # registry manifest digests this engine knows for it (RepoDigests)

    @property
    def refs(self) -> tuple[str, ...]:
        """What removing it takes: its tags; for an image whose tags moved on to a newer build, its digest refs
        (`docker images` shows it as <none>, yet it holds its disk space)."""
        if self.tags:
            return tuple(f"{self.name}:{tag}" for tag in self.tags)
        return tuple(f"{self.name}@{digest}" for digest in self.digests)

    @property
    def repository(self) -> str:
        """The repository path without the registry host."""
        first, slash, rest = self.name.partition("/")
        return rest if slash and ("." in first or ":" in first or first == "localhost") else self.name

    @property
    def registry(self) -> str:
        return self.name[: -len(self.repository) - 1] if self.name != self.repository else ""

    def to_json(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        return {"id": self.id, "name": self.name, "repository": self.repository, "tags": list(self.tags),
                "digests": list(self.digests), "branch": self.branch, "pr": self.pr, "created": self.created,
                "age_seconds": round(max(0.0, now - self.created)), "size": self.size, "in_use": self.in_use}


def in_scope(name: str, repository: str | None) -> bool:
    """Whether an image name belongs to `repository` (with or without its registry host) (pure)."""
    if not repository:
        return True
    probe = LocalImage("", name, (), "", "", 0, 0)
    return repository in (name, probe.repository)


@dataclass(frozen=True)
class Decision:
    image: LocalImage
    keep: bool
    reason: str


def prune_plan(images: Iterable[LocalImage], *, keep: int, older_than: float, now: float) -> list[Decision]:
    """Per repository and branch: keep the newest `keep`, anything newer than `older_than` seconds and anything a
    container uses; the rest goes (pure). Decisions come newest first within each group."""
    groups: dict[tuple[str, str], list[LocalImage]] = {}
    for image in images:
        groups.setdefault((image.name, image.branch), []).append(image)
    decisions: list[Decision] = []
    for key in sorted(groups):
        ranked = sorted(groups[key], key=lambda i: (i.created, i.id), reverse=True)
        for index, image in enumerate(ranked):
            if index < keep:
                decisions.append(Decision(image, True, f"one of the newest {keep} of its branch"))
            elif now - image.created < older_than:
                decisions.append(Decision(image, True, f"newer than {older_than:g} s"))
            elif image.in_use:
                decisions.append(Decision(image, True, "used by a container"))
            else:
                decisions.append(Decision(image, False, "old"))
    return decisions


def ls(client: "docker.DockerClient", repository: str | None = None) -> list[LocalImage]:
    """jdci's local images (managed label), one entry per image and repository name, newest first."""
    used = {c.get("ImageID") for c in client.api.containers(all=True)}
    found: list[LocalImage] = []
    for attrs in client.api.images(filters={"label": f"{MANAGED}=true"}):
        labels = attrs.get("Labels") or {}
        if labels.get(MANAGED) != "true":  # the filter already says so; this keeps the promise local
            continue
        by_name: dict[str, list[str]] = {}
        for ref in attrs.get("RepoTags") or []:
            if ref == "<none>:<none>":
                continue
            name, _, tag = ref.rpartition(":")
            if in_scope(name, repository):
                by_name.setdefault(name, []).append(tag)
        digests: dict[str, list[str]] = {}
        for item in attrs.get("RepoDigests") or []:
            name, _, digest = item.partition("@")
            digests.setdefault(name, []).append(digest)
            if in_scope(name, repository):
                by_name.setdefault(name, [])
        pr = labels.get("io.jdci.pr", "")
        branch = labels.get("io.jdci.branch") or (f"pr-{pr}" if pr else "")
        created = _precise_created(client, attrs["Id"], float(attrs.get("Created") or 0)) if by_name else 0.0
        for name, tags in by_name.items():
            found.append(LocalImage(attrs["Id"], name, tuple(sorted(tags)), branch, pr, created,
                                    int(attrs.get("Size") or 0), attrs["Id"] in used,
                                    tuple(digests.get(name, ()))))
    return sorted(found, key=lambda i: (i.name, -i.created, i.id))


def _precise_created(client: "docker.DockerClient", image_id: str, fallback: float) -> float:
    """The creation time to the nanosecond (the listing rounds to seconds, and "newest" must not tie)."""
    from datetime import datetime

    from docker.errors import NotFound

    try:
        text = client.api.inspect_image(image_id).get("Created") or ""
    except NotFound:
        return fallback
    found = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?", text)
    if not found:
        return fallback
    zone = found.group(3) or "Z"
    when = datetime.fromisoformat(found.group(1) + ("+00:00" if zone == "Z" else zone))
    return when.timestamp() + float("0." + (found.group(2) or "0"))


@dataclass
class PruneResult:
    removed: list[str] = field(default_factory=list)  # local refs (would be) removed
    kept: list[tuple[str, str]] = field(default_factory=list)  # (ref, reason)
    registry_deleted: list[str] = field(default_factory=list)  # NAME@DIGEST (would be) deleted in the registry
    registry_kept: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # refs the engine refused to remove, with why
    dry_run: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "removed": self.removed, "kept": [{"ref": r, "reason": why}
                                                                           for r, why in self.kept],
                "registry_deleted": self.registry_deleted, "failed": self.failed}


def prune(client: "docker.DockerClient", *, repository: str, keep: int, older_than: float,
          dry_run: bool = False, registry: bool = False, secrets: "Secrets | None" = None,
          now: float | None = None) -> PruneResult:
    """Remove the old images of `repository` locally (by tag, so other repositories' tags of the same image stay)
    and, with `registry`, delete from the registry the manifests whose every tag belongs to a removed image."""
    from docker.errors import APIError

    if not repository:
        raise ValueError("prune needs a repository")  # the CLI says it to people; this guards the library
    now = time.time() if now is None else now
    result = PruneResult(dry_run=dry_run)
    decisions = prune_plan(ls(client, repository), keep=keep, older_than=older_than, now=now)
    going = [d.image for d in decisions if not d.keep]
    for decision in decisions:
        if decision.keep:
            result.kept += [(ref, decision.reason) for ref in decision.image.refs]
    if registry:
        _plan_registry(going, [d.image for d in decisions if d.keep], secrets, result)
    for image in going:
        for ref in image.refs:
            if dry_run:
                result.removed.append(ref)
                continue
            try:
                client.api.remove_image(ref)
                result.removed.append(ref)
            except APIError as exc:  # e.g. a container started on it since the listing: keep it
                result.failed.append(f"{ref}: {exc.explanation or exc}")
    if registry and not dry_run:
        _delete_in_registry(result, secrets)
    for ref in result.removed:
        log.say("prune", f"{'would remove' if dry_run else 'removed'} {ref}")
    for item in result.registry_deleted:
        log.say("prune", f"{'would delete' if dry_run else 'deleted'} {item} in the registry")
    return result


def _plan_registry(going: list[LocalImage], kept: list[LocalImage], secrets: "Secrets | None",
                   result: PruneResult) -> None:
    """Which registry manifests may go. Distribution deletes a manifest by digest, and with it every tag
    pointing at it: a digest goes only when it is the digest of an image being removed here and each of its tags
    is a tag of such an image (tags the registry has that this machine does not know keep their digest)."""
    from .registry import Registry

    names = sorted({image.name for image in going if image.registry})
    for name in names:
        host = next(i.registry for i in going if i.name == name)
        repo = next(i.repository for i in going if i.name == name)
        gone_tags = {t for i in going if i.name == name for t in i.tags}
        kept_tags = {t for i in kept if i.name == name for t in i.tags}
        gone_digests = {d for i in going if i.name == name for d in i.digests}
        client = Registry(host, secrets)
        by_digest: dict[str, list[str]] = {}
        for tag in client.tags(repo):
            digest = client.digest(repo, tag)
            if digest:
                by_digest.setdefault(digest, []).append(tag)
        for digest, tags in sorted(by_digest.items()):
            if digest in gone_digests and all(t in gone_tags and t not in kept_tags for t in tags):
                result.registry_deleted.append(f"{name}@{digest}")
            else:
                result.registry_kept.append(f"{name}@{digest}")


def _delete_in_registry(result: PruneResult, secrets: "Secrets | None") -> None:
    from .registry import Registry, parse_ref

    for item in result.registry_deleted:
        ref = parse_ref(item)
        Registry(ref.registry, secrets).delete_manifest(ref.repository, ref.digest)
