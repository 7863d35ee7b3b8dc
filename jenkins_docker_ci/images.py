"""Docker images: what to build (pure: tags, labels), and building and pushing through docker-py.

The registry's HTTP API (digests, promote, deletes) is in registry.py; local inventory and prune in
image_inventory.py; the Dockerfile's base image in dockerfile.py.
"""
from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from . import log
from .errors import BuildError, ConfigError, Interrupted, JdciError, ServiceError
from .registry import MANIFEST_TYPES, registry_url

if TYPE_CHECKING:
    import docker

    from .config import Config, Secrets
    from .context import Change

__all__ = ["MANIFEST_TYPES", "registry_url"]
MANAGED = "io.jdci.managed"
SILENT_AFTER = 10.0  # seconds without builder output before a "still building" line


@dataclass(frozen=True)
class ImagePlan:
    registry: str
    repository: str
    tags: tuple[str, ...]  # the first is the primary (the commit SHA)
    labels: Mapping[str, str]
    build_args: Mapping[str, str]
    context: Path
    dockerfile: Path
    target: str = ""  # build stage; "" = the last
    cache_tags: tuple[str, ...] = ()  # tags of this repository whose image, when in the registry, seeds the cache

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
    base: str = "unknown"  # the final stage's FROM, build args resolved

    def to_json(self) -> dict[str, Any]:
        return {"ref": self.ref, "digest": self.digest, "tags": list(self.tags), "base": self.base}


_TAG_BAD = re.compile(r"[^a-z0-9_.-]+")
# The distribution spec's grammar for a repository path: lower-case components separated by "/".
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY_NAME = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*\Z")
REGISTRY_HOST = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]{1,5})?\Z")
TAG_MAX = 128


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
    """A docker tag from a branch name (pure, deterministic): lower case, [a-z0-9_.-], not starting with '.' or
    '-', at most 128 characters; '' when nothing usable is left. A name that had to be cut gets a short hash of
    the whole name, so two long branches with the same first 119 characters still get two tags."""
    tag = _TAG_BAD.sub("-", text.lower()).lstrip(".-").rstrip(".-")
    if len(tag) <= TAG_MAX:
        return tag
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"{tag[:TAG_MAX - 9].rstrip('.-')}-{digest}"


def image_tags(head_sha: str, pr_number: int | None, branch: str, *, latest: bool = False) -> tuple[str, ...]:
    """The commit SHA first (the primary tag), then the short SHA, `pr-N`, the sanitized branch, `latest`."""
    candidates = [head_sha[:7], f"pr-{pr_number}" if pr_number is not None else "",
                  sanitize_tag(branch), "latest" if latest else ""]
    tags = [head_sha]  # always first, even unknown (""): the pipeline's preflight plans before it knows the SHA
    for tag in candidates:
        if tag and tag not in tags:
            tags.append(tag)
    return tuple(tags)


def image_labels(*, revision: str, created: str, source: str, title: str, repository: str,
                 pr_number: int | None, tickets: Iterable[str], url: str = "", branch: str = "") -> dict[str, str]:
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
    if url:
        labels["org.opencontainers.image.url"] = url
    if branch:
        labels["io.jdci.branch"] = branch
    if pr_number is not None:
        labels["io.jdci.pr"] = str(pr_number)
    ticket_list = ",".join(tickets)
    if ticket_list:
        labels["io.jdci.tickets"] = ticket_list
    return labels


_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)\Z")
_AGE_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str) -> float:
    """"90m", "12h", "7d", "2w", "30s", "0" -> seconds (pure); ValueError naming the format otherwise."""
    found = _AGE.match(text.strip().lower())
    if not found:
        raise ValueError(f"{text!r} is not an age; use a number with s, m, h, d or w, e.g. \"7d\" or \"12h\"")
    return float(found.group(1)) * _AGE_UNITS[found.group(2)]


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
    latest = (config.image.latest_on_default_branch and change.pr_number is None
              and change.source_branch == config.image.default_branch)
    tags = image_tags(change.head_sha, change.pr_number, change.source_branch, latest=latest)
    # The previous image of this branch (then of this PR): what a rebuild most likely shares layers with.
    cache = tuple(t for t in (sanitize_tag(change.source_branch),
                              f"pr-{change.pr_number}" if change.pr_number is not None else "") if t)
    return ImagePlan(
        registry=config.image.registry,
        repository=repository,
        tags=tags,
        labels=image_labels(
            revision=change.head_sha, created=commit_time, source=source,
            title=repository.rsplit("/", 1)[-1], repository=change.repository or repository,
            pr_number=change.pr_number, tickets=tickets,
            url=source if source.startswith(("http://", "https://")) else "", branch=change.source_branch,
        ),
        build_args=dict(config.image.build_args),
        context=context,
        dockerfile=dockerfile,
        target=config.image.target,
        cache_tags=cache if config.image.cache_from else (),
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
    if image.target:
        from .dockerfile import stage_names

        try:
            names = stage_names(image.dockerfile.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError):
            return  # the engine will say what is wrong with it
        if image.target.lower() not in [n.lower() for n in names]:
            named = ", ".join(n for n in names if n) or "none"
            raise ConfigError(f"{image.dockerfile} has no stage named {image.target!r} (stages: {named}); fix "
                              f"[image] target in jdci.toml")


def need_registry(registry: str, what: str) -> None:
    if not registry:
        raise ConfigError(f"cannot {what}: [image] registry is empty (local images only); set it to the "
                          f"registry's HOST:PORT, e.g. \"127.0.0.1:5000\"")


def check_registry(registry: str, secrets: "Secrets", deadline: float = 10.0) -> None:
    """The registry answers its API root, and takes the credentials when it checks them there (Basic auth)."""
    from .http import HttpClient

    need_registry(registry, "push")

    auth = (secrets.registry_user, secrets.registry_password) if secrets.registry_user else None
    try:
        response = HttpClient("registry", registry_url(registry), auth=auth, deadline=deadline).get("/v2/")
    except ServiceError as exc:
        cause = str(exc).split(": ", 1)[-1].split("; is registry up", 1)[0]
        raise ServiceError("registry", f"registry {registry} not reachable at {registry_url(registry)}/v2/ "
                                       f"({cause}, retried for {deadline:g} s); start it (`make services`) or "
                                       f"fix [image] registry") from None
    if response.status_code >= 500:
        raise ServiceError("registry", f"registry {registry} answered HTTP {response.status_code}")
    # A Basic challenge answers the credentials themselves (a Bearer one only says "get a token first"): wrong
    # or missing ones are known here, before anything is built or written.
    challenge = response.headers.get("WWW-Authenticate", "")
    if response.status_code == 401 and challenge.lower().startswith("basic"):
        who = ("refused the REGISTRY_USER credentials" if secrets.registry_user
               else "needs credentials and REGISTRY_USER is not set")
        raise ConfigError(f"registry {registry} {who}; set REGISTRY_USER and REGISTRY_PASSWORD to an account "
                          f"that may push to it")


def base_image(image: ImagePlan) -> str:
    """The final stage's base image with build args resolved; "unknown" when the Dockerfile does not say."""
    from .dockerfile import UNKNOWN, final_base

    try:
        text = image.dockerfile.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return UNKNOWN
    return final_base(text, image.build_args, image.target)


# -- build -------------------------------------------------------------------------------------------------
# Build output lines that say nothing to a person reading the console (the classic builder's bookkeeping).
_BUILD_NOISE = re.compile(r"^( ---> |Removing intermediate container |Step \d+/\d+ : LABEL .*io\.jdci\.managed)")
_STEP = re.compile(r"^Step (\d+/\d+) : ")


def build(client: "docker.DockerClient", image: ImagePlan, *, secrets: "Secrets | None" = None,
          no_cache: bool = False, silent_after: float = SILENT_AFTER, registry_deadline: float = 10.0) -> str:
    """Build the image, streaming the build log to stderr; returns the image ID."""
    from docker.errors import APIError

    check_sources(image)
    cache_from = [] if no_cache else _cache_image(client, image, secrets, registry_deadline)
    log.say("build", f"building {image.ref()} from {image.dockerfile}"
                     + (f" (target {image.target})" if image.target else "")
                     + (f", cache from {cache_from[0]}" if cache_from else ""))
    image_id = ""
    context = _context_tar(image)
    try:
        # a RUN that prints nothing for minutes must not look like a hung build in the Jenkins console
        with log.progress("build", f"building {image.ref()}", interval=silent_after) as progress:
            step_no = "-"  # before the first step: the context is still being sent
            for chunk in client.api.build(fileobj=context, custom_context=True, dockerfile=_DOCKERFILE,
                                          tag=image.ref(), buildargs=dict(image.build_args),
                                          target=image.target or None, cache_from=cache_from or None,
                                          nocache=no_cache, rm=True, forcerm=True, decode=True):
                if "error" in chunk or "errorDetail" in chunk:
                    detail = chunk.get("errorDetail", {}).get("message") or chunk.get("error", "")
                    # The build log above already streamed to the console: one line is enough here.
                    raise BuildError(f"docker build of {image.ref()} failed: {detail.strip()}")
                text = chunk.get("stream", "")
                step = _STEP.match(text)
                if step:
                    step_no = step.group(1)
                    progress.update(f"building: step {step_no}")
                if text.startswith(" ---> Using cache"):  # worth seeing: why a step took no time
                    log.say("build", f"{step_no} | using cache")
                elif text.strip() and not _BUILD_NOISE.match(text):
                    for line in text.rstrip("\n").splitlines():
                        log.say("build", line if step else f"{step_no} | {line}")
                aux = chunk.get("aux") or {}
                if aux.get("ID"):
                    image_id = aux["ID"]
    except APIError as exc:
        raise BuildError(f"docker build of {image.ref()} failed: {exc.explanation or exc}") from None
    finally:
        context.close()
    if not image_id:  # older engines only say "Successfully built <id>"
        image_id = client.api.inspect_image(image.ref())["Id"]
    for tag in image.tags[1:]:
        client.api.tag(image_id, image.name, tag)
    return image_id


_DOCKERFILE = ".jdci.Dockerfile"  # inside the context tar only; a fixed name keeps the build cache valid


def _context_tar(image: ImagePlan) -> Any:
    """The build context as the engine gets it: the files .dockerignore leaves, plus the Dockerfile with jdci's
    labels in one LABEL instruction (see dockerfile.with_labels), plus a .dockerignore naming both it and
    itself, so the engine takes them out of the context before any COPY sees them (as the docker CLI does for a
    Dockerfile from outside the context). Everything in it is deterministic: same sources, same cache keys."""
    from docker.utils.build import create_archive, exclude_paths

    from .dockerfile import with_labels

    try:
        text = image.dockerfile.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {image.dockerfile} ({exc}); fix [image] dockerfile") from None
    ignore_file = image.context / ".dockerignore"
    patterns: list[str] = []
    if ignore_file.is_file():
        patterns = [line.strip() for line in ignore_file.read_text(encoding="utf-8").splitlines()
                    if line.strip() and not line.strip().startswith("#")]
    ignored = [*patterns, _DOCKERFILE, ".dockerignore"]
    files = sorted(exclude_paths(str(image.context), ignored))
    return create_archive(str(image.context), files=files, extra_files=[
        (".dockerignore", "\n".join(ignored) + "\n"),
        (_DOCKERFILE, with_labels(text, image.labels, image.target)),
    ])


def _cache_image(client: "docker.DockerClient", image: ImagePlan, secrets: "Secrets | None",
                 deadline: float) -> list[str]:
    """The previous image of this branch/PR as a cache source: pulled from the registry unless the engine has
    that very digest already; [] when there is none. A cache is an optimisation: problems are warnings."""
    from docker.errors import APIError, ImageNotFound

    from .registry import Registry

    if not image.cache_tags or not image.registry:
        return []
    try:
        registry = Registry(image.registry, secrets, deadline=deadline)
        for tag in image.cache_tags:
            digest = registry.digest(image.repository, tag)
            if not digest:
                continue
            ref = image.ref(tag)
            try:
                if f"{image.name}@{digest}" in (client.api.inspect_image(ref).get("RepoDigests") or []):
                    return [ref]
            except ImageNotFound:
                pass
            log.say("build", f"pulling {ref} ({digest[:19]}) as build cache")
            for chunk in client.api.pull(image.name, tag=tag, stream=True, decode=True,
                                         auth_config=_auth_config(secrets)):
                if "error" in chunk or "errorDetail" in chunk:
                    raise ServiceError("registry", chunk.get("error") or str(chunk.get("errorDetail")))
            return [ref]
    except Interrupted:  # an abort stops the build; it is no missing cache
        raise
    except (JdciError, APIError) as exc:
        log.warn("build", f"no build cache from the registry: {exc}")
    return []


# -- push --------------------------------------------------------------------------------------------------
def registry_digest(registry: str, repository: str, tag: str, secrets: "Secrets | None" = None,
                    deadline: float = 15.0) -> str | None:
    """The manifest digest the registry holds for repository:tag, or None when it has no such tag."""
    from .registry import Registry

    return Registry(registry, secrets, deadline=deadline).digest(repository, tag)


def _auth_config(secrets: "Secrets | None") -> dict[str, str] | None:
    """Credentials for one engine call (X-Registry-Auth): nothing is written to a Docker config file, so no
    credentials are left on a shared agent, and nothing needs cleaning up if the run is killed."""
    if secrets is None or not secrets.registry_user:
        return None
    return {"username": secrets.registry_user, "password": secrets.registry_password}


# What the engine says inside a push stream, sorted into "the same push may work in a moment" and "it will not".
_CREDENTIALS = re.compile(r"unauthorized|authentication required|no basic auth credentials|denied|forbidden",
                          re.IGNORECASE)
_PERMANENT = re.compile(r"manifest invalid|name invalid|name unknown|tag invalid|unsupported|blob unknown to "
                        r"registry|invalid reference|does not exist", re.IGNORECASE)
_TRANSIENT = re.compile(r"\b5\d\d\b|service unavailable|bad gateway|gateway time-?out|internal server error|"
                        r"connection refused|connection reset|broken pipe|\bEOF\b|i/o timeout|timeout|"
                        r"too many requests|\b429\b|temporar|server misbehaving|connection closed|"
                        r"no such host", re.IGNORECASE)


def push_error_kind(message: str) -> str:
    """"credentials", "permanent" or "transient" for an error the engine reported while pushing (pure)."""
    if _CREDENTIALS.search(message):
        return "credentials"
    if _PERMANENT.search(message):
        return "permanent"
    if _TRANSIENT.search(message):
        return "transient"
    return "permanent"  # unknown: failing at once beats retrying something that cannot work


class PushFailed(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.kind = push_error_kind(message)


def push(client: "docker.DockerClient", image: ImagePlan, secrets: "Secrets",
         *, timeout: float = 120.0) -> PushedImage:
    """Push every tag, skipping tags the registry already holds at this image's digest (idempotent).
    Transient failures are retried with backoff until `timeout` seconds have passed since the push began."""
    from .registry import Registry

    need_registry(image.registry, f"push {image.ref()}")
    log.redact_values(secrets.values())
    started = time.monotonic()
    registry = Registry(image.registry, secrets, deadline=timeout)
    local_digest = _local_repo_digest(client, image)
    pushed: list[str] = []
    digest = ""
    with log.progress("push", f"pushing {image.name}") as progress:
        for tag in image.tags:
            remote = registry.digest(image.repository, tag)
            if local_digest and remote == local_digest:
                digest = remote
                continue
            progress.update(f"pushing {image.ref(tag)}")
            left = max(1.0, timeout - (time.monotonic() - started))
            digest = _push_with_retries(client, image, tag, secrets, left, timeout)
            pushed.append(tag)
    if pushed:
        log.say("push", f"pushed {image.name} tags {', '.join(pushed)} -> {digest}")
    else:
        log.say("push", f"{image.ref()} already in the registry at {digest}; nothing to push")
    return PushedImage(ref=image.ref(), digest=digest, tags=image.tags, pushed_tags=tuple(pushed),
                       base=base_image(image))


def _push_with_retries(client: "docker.DockerClient", image: ImagePlan, tag: str, secrets: "Secrets",
                       left: float, timeout: float) -> str:
    from .http import with_retries

    def transient(exc: BaseException) -> float | None:
        if isinstance(exc, PushFailed) and exc.kind == "transient":
            log.say("push", f"{image.ref(tag)}: {exc}; retrying")
            return 0.5
        return None

    end = time.monotonic() + left
    try:
        return with_retries(lambda: _push_tag(client, image, tag, secrets, end), service="registry",
                            what=f"push of {image.ref(tag)}", deadline=left, retry_on=transient)
    except PushFailed as exc:
        if exc.kind == "credentials":
            who = ("the REGISTRY_USER credentials" if secrets.registry_user
                   else "no credentials (REGISTRY_USER is not set)")
            raise ConfigError(f"registry {image.registry} refused the push of {image.ref(tag)} with {who} "
                              f"({exc}); set REGISTRY_USER and REGISTRY_PASSWORD to an account that may push "
                              f"to {image.repository}") from None
        raise ServiceError("registry", f"push of {image.ref(tag)} failed: {exc}") from None
    except (ServiceError, PushTimedOut) as exc:
        raise ServiceError("registry", f"push of {image.ref(tag)} gave up after [image] push_timeout = "
                                       f"{timeout:g} s: {exc}; is the registry up at "
                                       f"{registry_url(image.registry)}?") from None


def _local_repo_digest(client: "docker.DockerClient", image: ImagePlan) -> str | None:
    attrs = client.api.inspect_image(image.ref())
    for repo_digest in attrs.get("RepoDigests") or []:
        name, _, digest = repo_digest.partition("@")
        if name == image.name:
            return digest
    return None


class PushTimedOut(Exception):
    """The engine was still pushing (it retries failed uploads by itself) when jdci's deadline came."""


def _push_tag(client: "docker.DockerClient", image: ImagePlan, tag: str, secrets: "Secrets",
              end: float = float("inf")) -> str:
    from docker.errors import APIError

    digest = ""
    stream = client.api.push(image.name, tag=tag, stream=True, decode=True, auth_config=_auth_config(secrets))
    try:
        # docker-py reports push failures inside the stream (errorDetail) instead of raising: check every chunk.
        for chunk in stream:
            # the engine's own upload retries ("Retrying in 5 seconds") would outlast push_timeout: the engine
            # reports progress every second meanwhile, so the deadline is looked at on every line
            if time.monotonic() > end:
                raise PushTimedOut("the engine was still retrying the upload")
            if "error" in chunk or "errorDetail" in chunk:
                detail = chunk.get("errorDetail", {}).get("message") or chunk.get("error", "")
                raise PushFailed(log.redact(detail.strip()))
            aux = chunk.get("aux") or {}
            if aux.get("Digest"):
                digest = aux["Digest"]
    except APIError as exc:
        raise PushFailed(log.redact(str(exc.explanation or exc))) from None
    except OSError as exc:  # the engine's connection itself (requests wraps most of these in APIError)
        raise PushFailed(f"connection to the Docker engine: {exc}") from None
    finally:
        stream.close()
    if not digest:
        raise PushFailed("the engine reported no digest: the registry may not have stored it")
    return digest


def build_and_push(config: "Config", secrets: "Secrets", change: "Change", *, commit_time: str,
                   tickets: Iterable[str], client: "docker.DockerClient | None" = None,
                   no_cache: bool = False) -> PushedImage:
    image = plan(config, change, commit_time=commit_time, tickets=tickets)
    client = client or engine()
    build(client, image, secrets=secrets, no_cache=no_cache,
          registry_deadline=min(10.0, config.image.push_timeout))
    return push(client, image, secrets, timeout=config.image.push_timeout)
