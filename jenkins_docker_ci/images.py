"""Docker images: what to build (pure: tags, labels), and building, pushing, promoting through docker-py.

Every docker API call jdci makes for images is in this module.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from . import log
from .errors import BuildError, ConfigError, ServiceError

if TYPE_CHECKING:
    import docker

    from .config import Config, Secrets
    from .context import Change

MANAGED = "io.jdci.managed"
MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])


@dataclass(frozen=True)
class ImagePlan:
    registry: str
    repository: str
    tags: tuple[str, ...]  # the first is the primary (the commit SHA)
    labels: Mapping[str, str]
    build_args: Mapping[str, str]
    context: Path
    dockerfile: Path

    @property
    def name(self) -> str:
        return f"{self.registry}/{self.repository}" if self.registry else self.repository

    def ref(self, tag: str | None = None) -> str:
        return f"{self.name}:{tag or self.tags[0]}"


@dataclass(frozen=True)
class PushedImage:
    ref: str  # REGISTRY/REPO:SHA
    digest: str  # the registry's manifest digest
    tags: tuple[str, ...]
    pushed_tags: tuple[str, ...] = ()  # the tags this run actually pushed (empty on an idempotent rerun)

    def to_json(self) -> dict[str, Any]:
        return {"ref": self.ref, "digest": self.digest, "tags": list(self.tags)}


_TAG_BAD = re.compile(r"[^A-Za-z0-9_.-]+")
# The distribution spec's grammar for a repository path: lower-case components separated by "/".
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY_NAME = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*\Z")
REGISTRY_HOST = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]{1,5})?\Z")


def repository_problem(repository: str) -> str | None:
    """Why `repository` cannot name an image in a registry, or None when it can (pure)."""
    if not repository:
        return "it is empty"
    if not REPOSITORY_NAME.match(repository):
        return ("a repository is lower-case letters, digits and separators (. _ -) in components joined by '/', "
                "e.g. \"acme/shop\"")
    if len(repository) > 255:
        return "it is longer than 255 characters"
    return None


def sanitize_tag(text: str) -> str:
    """A docker tag from a branch name: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; '' when nothing usable is left."""
    tag = _TAG_BAD.sub("-", text).lstrip(".-")
    return tag[:128].rstrip(".-")


def image_tags(head_sha: str, pr_number: int | None, branch: str) -> tuple[str, ...]:
    tags = [head_sha]
    if pr_number is not None:
        tags.append(f"pr-{pr_number}")
    branch_tag = sanitize_tag(branch)
    if branch_tag and branch_tag not in tags:
        tags.append(branch_tag)
    return tuple(tags)


def image_labels(*, revision: str, created: str, source: str, title: str, repository: str,
                 pr_number: int | None, tickets: Iterable[str]) -> dict[str, str]:
    """OCI labels plus jdci's own. Nothing build-specific (no build URL, no build time): the same sources give
    the same image. `created` is the commit time, for the same reason."""
    labels = {
        "org.opencontainers.image.revision": revision,
        "org.opencontainers.image.created": created,
        "org.opencontainers.image.source": source,
        "org.opencontainers.image.title": title,
        "org.opencontainers.image.version": revision[:12],
        MANAGED: "true",
        "io.jdci.repository": repository,
    }
    if pr_number is not None:
        labels["io.jdci.pr"] = str(pr_number)
    ticket_list = ",".join(tickets)
    if ticket_list:
        labels["io.jdci.tickets"] = ticket_list
    return labels


def plan(config: "Config", change: "Change", *, commit_time: str, tickets: Iterable[str]) -> ImagePlan:
    """What to build for this change (pure, apart from resolving paths)."""
    repository = config.image.repository or change.repository.lower()
    problem = repository_problem(repository)
    if problem:
        raise ConfigError(f"{config.source}: [image] repository {repository!r} cannot name an image: {problem}")
    if config.image.registry and not REGISTRY_HOST.match(config.image.registry):
        raise ConfigError(f"{config.source}: [image] registry {config.image.registry!r} is not HOST or HOST:PORT")
    workspace = Path(change.workspace)
    context = (workspace / config.image.context).resolve()
    dockerfile = (workspace / config.image.dockerfile).resolve()
    source = change.pr_url.rsplit("/pull/", 1)[0] if "/pull/" in change.pr_url else change.repository
    return ImagePlan(
        registry=config.image.registry,
        repository=repository,
        tags=image_tags(change.head_sha, change.pr_number, change.source_branch),
        labels=image_labels(
            revision=change.head_sha, created=commit_time, source=source,
            title=repository.rsplit("/", 1)[-1], repository=change.repository or repository,
            pr_number=change.pr_number, tickets=tickets,
        ),
        build_args=dict(config.image.build_args),
        context=context,
        dockerfile=dockerfile,
    )


# -- engine ------------------------------------------------------------------------------------------------
def engine() -> "docker.DockerClient":
    """A docker-py client to a live engine, or ServiceError (exit 4) saying how to start one."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException as exc:
        raise ServiceError("docker", f"Docker engine not reachable ({_short(exc)}); start dockerd "
                                     f"(`make services`) or set DOCKER_HOST") from None
    return client


def _short(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


def check_sources(image: ImagePlan) -> None:
    """The Dockerfile and the build context exist (checked before anything is written anywhere)."""
    if not image.dockerfile.is_file():
        raise ConfigError(f"no Dockerfile at {image.dockerfile}; add one or set [image] dockerfile in jdci.toml")
    if not image.context.is_dir():
        raise ConfigError(f"build context {image.context} is not a folder; fix [image] context in jdci.toml")


def check_registry(registry: str, secrets: "Secrets") -> None:
    """The registry answers its API root (401 counts as an answer: `docker login` happens at push time)."""
    from .http import HttpClient

    auth = (secrets.registry_user, secrets.registry_password) if secrets.registry_user else None
    try:
        response = HttpClient("registry", registry_url(registry), auth=auth, deadline=10).get("/v2/")
    except ServiceError:
        raise ServiceError("registry", f"registry {registry} not reachable at {registry_url(registry)}/v2/ "
                                       f"(retried for 10 s); start it (`make services`) or fix [image] registry"
                           ) from None
    if response.status_code >= 500:
        raise ServiceError("registry", f"registry {registry} answered HTTP {response.status_code}")


# Build output lines that say nothing to a person reading the console (the classic builder's bookkeeping).
_BUILD_NOISE = re.compile(r"^( ---> |Removing intermediate container |Step \d+/\d+ : LABEL )")


def build(client: "docker.DockerClient", image: ImagePlan) -> str:
    """Build the image, streaming the build log to stderr; returns the image ID."""
    from docker.errors import APIError

    check_sources(image)
    try:
        dockerfile = str(image.dockerfile.relative_to(image.context))
    except ValueError:
        dockerfile = str(image.dockerfile)
    log.say("build", f"building {image.ref()} from {image.dockerfile}")
    image_id = ""
    try:
        for chunk in client.api.build(path=str(image.context), dockerfile=dockerfile, tag=image.ref(),
                                      labels=dict(image.labels), buildargs=dict(image.build_args),
                                      rm=True, forcerm=True, decode=True):
            if "error" in chunk or "errorDetail" in chunk:
                detail = chunk.get("errorDetail", {}).get("message") or chunk.get("error", "")
                # The build log above already streamed to the console: one line is enough here.
                raise BuildError(f"docker build of {image.ref()} failed: {detail.strip()}")
            text = chunk.get("stream", "")
            if text.strip() and not _BUILD_NOISE.match(text):
                log.say("build", text.rstrip("\n"))
            aux = chunk.get("aux") or {}
            if aux.get("ID"):
                image_id = aux["ID"]
    except APIError as exc:
        raise BuildError(f"docker build of {image.ref()} failed: {exc.explanation or exc}") from None
    if not image_id:  # older engines only say "Successfully built <id>"
        image_id = client.api.inspect_image(image.ref())["Id"]
    for tag in image.tags[1:]:
        client.api.tag(image_id, image.name, tag)
    return image_id


def registry_digest(registry: str, repository: str, tag: str, secrets: "Secrets | None" = None) -> str | None:
    """The manifest digest the registry holds for repository:tag, or None when it has no such tag."""
    from .http import HttpClient

    auth = (secrets.registry_user, secrets.registry_password) if secrets and secrets.registry_user else None
    client = HttpClient("registry", registry_url(registry), auth=auth, deadline=15)
    response = client.request("HEAD", f"/v2/{repository}/manifests/{tag}", headers={"Accept": MANIFEST_TYPES})
    if response.status_code == 404:
        return None
    if response.status_code == 401:
        raise ConfigError(f"registry {registry} refused the credentials; set REGISTRY_USER and REGISTRY_PASSWORD")
    if response.status_code != 200:
        raise ServiceError("registry", f"registry {registry} answered HTTP {response.status_code} for "
                                       f"{repository}:{tag}")
    return response.headers.get("Docker-Content-Digest")


def registry_url(registry: str) -> str:
    host = registry.split(":", 1)[0]
    loopback = host in ("localhost", "::1") or host.startswith("127.")
    return f"{'http' if loopback else 'https'}://{registry}"


def push(client: "docker.DockerClient", image: ImagePlan, secrets: "Secrets") -> PushedImage:
    """Push every tag, skipping tags the registry already holds at this image's digest (idempotent)."""
    local_digest = _local_repo_digest(client, image)
    pushed: list[str] = []
    digest = ""
    for tag in image.tags:
        remote = _registry_digest_or_down(image, tag, secrets)
        if local_digest and remote == local_digest:
            digest = remote
            continue
        digest = _push_tag(client, image, tag, secrets)
        pushed.append(tag)
    if pushed:
        log.say("push", f"pushed {image.name} tags {', '.join(pushed)} -> {digest}")
    else:
        log.say("push", f"{image.ref()} already in the registry at {digest}; nothing to push")
    return PushedImage(ref=image.ref(), digest=digest, tags=image.tags, pushed_tags=tuple(pushed))


def _registry_digest_or_down(image: ImagePlan, tag: str, secrets: "Secrets") -> str | None:
    try:
        return registry_digest(image.registry, image.repository, tag, secrets)
    except ServiceError:
        raise ServiceError("registry", f"registry {image.registry} not reachable at "
                                       f"{registry_url(image.registry)} (retried for 15 s); start it "
                                       f"(`make services`) or fix [image] registry") from None


def _local_repo_digest(client: "docker.DockerClient", image: ImagePlan) -> str | None:
    attrs = client.api.inspect_image(image.ref())
    for repo_digest in attrs.get("RepoDigests") or []:
        name, _, digest = repo_digest.partition("@")
        if name == image.name:
            return digest
    return None


def _push_tag(client: "docker.DockerClient", image: ImagePlan, tag: str, secrets: "Secrets") -> str:
    from docker.errors import APIError

    auth = ({"username": secrets.registry_user, "password": secrets.registry_password}
            if secrets.registry_user else None)
    digest = ""
    try:
        # docker-py reports push failures inside the stream (errorDetail) instead of raising: check every chunk.
        for chunk in client.api.push(image.name, tag=tag, stream=True, decode=True, auth_config=auth):
            if "error" in chunk or "errorDetail" in chunk:
                detail = chunk.get("errorDetail", {}).get("message") or chunk.get("error", "")
                raise ServiceError("registry", f"push of {image.ref(tag)} failed: {detail.strip()}")
            aux = chunk.get("aux") or {}
            if aux.get("Digest"):
                digest = aux["Digest"]
    except APIError as exc:
        raise ServiceError("registry", f"push of {image.ref(tag)} failed: {exc.explanation or exc}") from None
    if not digest:
        raise ServiceError("registry", f"push of {image.ref(tag)} reported no digest; the registry may not "
                                       f"have stored it")
    return digest


def build_and_push(config: "Config", secrets: "Secrets", change: "Change", *, commit_time: str,
                   tickets: Iterable[str], client: "docker.DockerClient | None" = None) -> PushedImage:
    image = plan(config, change, commit_time=commit_time, tickets=tickets)
    client = client or engine()
    build(client, image)
    return push(client, image, secrets)
