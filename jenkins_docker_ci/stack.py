"""The preprod stack, as data: names, labels, start order, secrets, preview URLs, what to do with a running
environment. Pure functions only (no docker, no git): environments.py does the I/O.
"""
from __future__ import annotations

import hashlib
import re
import shlex
import string
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

from .errors import ConfigError

if TYPE_CHECKING:
    from .config import PreprodConfig, ServiceSpec

MANAGED = "io.jdci.managed"
ENV_LABEL = "io.jdci.env"
RUN_LABEL = "io.jdci.run"  # which `up` created it: a run removes only what it created
EXPIRES_LABEL = "io.jdci.expires"  # epoch seconds after which `env gc` removes it
URL_LABEL = "io.jdci.url"  # the preview URL, on the app container, for `env ls`
APP = "app"
APP_IMAGE = "@app"  # a service's image = the PR's app image (a worker, a cron container)

_SERVICE_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?\Z")  # a DNS label: reachable by this name
_VOLUME = re.compile(r"([A-Za-z0-9][A-Za-z0-9_.-]{0,62}):(/[^:]*)(:ro)?\Z")
_SECRET_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_URL_FIELDS = ("port", "host", "pr", "name", "sha")


def env_name(repository: str, pr_number: int | None, head_sha: str = "") -> str:
    """`jdci-acme-shop-1a2b3c-pr-7`: valid as a container and network name, stable across reruns of one PR.
    The short hash of the exact repository name keeps `acme/x-y` and `acme-x/y` (or two long names that share
    their first 30 characters) apart."""
    slug = re.sub(r"[^a-z0-9]+", "-", repository.lower()).strip("-")[:30].strip("-") or "repo"
    digest = hashlib.sha1(repository.encode("utf-8")).hexdigest()[:6]
    suffix = f"pr-{pr_number}" if pr_number is not None else f"sha-{head_sha[:12]}"
    return f"jdci-{slug}-{digest}-{suffix}"


def container_name(env: str, service: str) -> str:
    return f"{env}-{service}"


def volume_name(env: str, volume: str) -> str:
    return f"{env}-{volume}"


def env_labels(name: str, repository: str, pr_number: int | None, head_sha: str, role: str,
               run_id: str = "", *, created: int = 0, ttl_hours: float = 0.0) -> dict[str, str]:
    """Every container, network and volume of an environment carries these: `down`, `ls` and `gc` find them by
    label alone. Never a secret: labels are readable by anyone with `docker inspect`."""
    labels = {
        MANAGED: "true",
        ENV_LABEL: name,
        RUN_LABEL: run_id,
        "io.jdci.repository": repository,
        "io.jdci.sha": head_sha,
        "io.jdci.role": role,
        "io.jdci.created": str(created),
    }
    if ttl_hours:
        labels[EXPIRES_LABEL] = str(int(created + ttl_hours * 3600))
    if pr_number is not None:
        labels["io.jdci.pr"] = str(pr_number)
    return labels


def expired(labels: Mapping[str, str], now: float, ttl_hours: float) -> bool:
    """Past its io.jdci.expires (set at creation from that run's TTL); environments from before that label
    existed count from io.jdci.created with `ttl_hours`."""
    if labels.get(EXPIRES_LABEL, "").isdigit():
        return now > int(labels[EXPIRES_LABEL])
    if not ttl_hours:  # 0 = no TTL, as at creation (no io.jdci.expires): not "expired at once"
        return False
    created = labels.get("io.jdci.created", "0")
    return now - (int(created) if created.isdigit() else 0) > ttl_hours * 3600


# -- the spec ------------------------------------------------------------------------------------------------
def problems(preprod: "PreprodConfig") -> list[str]:
    """What is wrong with the [preprod] stack spec, as sentences naming the key and the fix (empty = fine)."""
    found: list[str] = []
    names = [s.name for s in preprod.services]
    for service in preprod.services:
        where = f"[[preprod.services]] {service.name!r}"
        if not _SERVICE_NAME.match(service.name):
            found.append(f"{where}: name must be lower-case letters, digits and '-' (at most 32), as other "
                         f"containers reach it by that name")
        elif service.name == APP:
            found.append(f"{where}: the name 'app' is the app itself; name the service after what it is")
        if bool(service.image) == bool(service.dockerfile):
            found.append(f"{where}: set exactly one of image = \"NAME:TAG\" or dockerfile = \"PATH\"")
        if service.context and not service.dockerfile:
            found.append(f"{where}: context is for dockerfile; remove it or set dockerfile")
        if service.port > 65535:
            found.append(f"{where}: port = {service.port} is not a port (1-65535)")
        if service.health.startswith("/") and not service.port:
            found.append(f"{where}: health = {service.health!r} is an HTTP path; set port too")
        for dependency in service.depends_on:
            if dependency not in names:
                found.append(f"{where}: depends_on {dependency!r} is not a service here "
                             f"({', '.join(names) or 'none'})")
        for volume in service.volumes:
            if not _VOLUME.match(volume):
                found.append(f"{where}: volume {volume!r} must be NAME:/absolute/path[:ro] (a named volume of "
                             f"the environment; host folders are not mounted)")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        found.append(f"[[preprod.services]]: names must be unique: {', '.join(duplicates)}")
    # commands are split like a shell line: an unbalanced quote would only fail once containers run
    commands = [("[preprod] command", preprod.command), ("[preprod] init", preprod.init)]
    for service in preprod.services:
        where = f"[[preprod.services]] {service.name!r}"
        commands += [(f"{where}: command", service.command), (f"{where}: init", service.init)]
        if service.health and not service.health.startswith("/"):
            commands.append((f"{where}: health", service.health))
    for where, command in commands:
        try:
            shlex.split(command)
        except ValueError as exc:
            found.append(f"{where} = {command!r} cannot be split into words ({exc}); balance its quotes")
    if not found:
        try:
            start_levels(preprod.services)
        except ConfigError as exc:
            found.append(str(exc))
    try:
        port_range(preprod.port_range)
    except ConfigError as exc:
        found.append(str(exc))
    found.extend(_template_problems(preprod.url_template))
    return found


def _template_problems(template: str) -> list[str]:
    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(template) if f is not None}
    except ValueError as exc:
        return [f"preprod.url_template = {template!r}: {exc}"]
    unknown = sorted(fields - set(_URL_FIELDS))
    if unknown:
        return [f"preprod.url_template = {template!r}: unknown placeholder(s) {', '.join(unknown)}; use "
                f"{', '.join('{' + f + '}' for f in _URL_FIELDS)}"]
    if not template.startswith(("http://", "https://")):
        return [f"preprod.url_template = {template!r} must start with http:// or https://"]
    return []


def start_levels(services: Sequence["ServiceSpec"]) -> list[list["ServiceSpec"]]:
    """Services in waves: each wave's dependencies are all in earlier waves (declaration order within a wave).
    A wave starts once the previous one is healthy; the app comes after the last."""
    by_name = {s.name: s for s in services}
    level: dict[str, int] = {}

    def depth(name: str, path: tuple[str, ...]) -> int:
        if name in path:
            cycle = " -> ".join((*path[path.index(name):], name))
            raise ConfigError(f"[[preprod.services]]: depends_on forms a cycle ({cycle}); break it")
        if name not in level:
            deps = [d for d in by_name[name].depends_on if d in by_name]
            level[name] = 1 + max((depth(d, (*path, name)) for d in deps), default=-1)
        return level[name]

    for service in services:
        depth(service.name, ())
    waves: list[list["ServiceSpec"]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for service in services:
        waves[level[service.name]].append(service)
    return waves


def port_range(text: str) -> tuple[int, int] | None:
    """"20000-20999" -> (20000, 20999); "" -> None (the engine picks a free port)."""
    if not text:
        return None
    match = re.fullmatch(r"\s*(\d{1,5})\s*-\s*(\d{1,5})\s*", text)
    if not match or not 1024 <= int(match[1]) <= int(match[2]) <= 65535:
        raise ConfigError(f"preprod.port_range = {text!r} must be LOW-HIGH within 1024-65535, e.g. "
                          f"\"20000-20999\"")
    return int(match[1]), int(match[2])


def resolve_env(env: Mapping[str, str], environ: Mapping[str, str], where: str) -> tuple[dict[str, str], list[str]]:
    """Fill "${NAME}" from jdci's own environment. Returns (the values, the secrets used, for redaction).
    A variable that is not set is a ConfigError naming the key: the environment would start without it."""
    secrets: list[str] = []
    out: dict[str, str] = {}
    for key, value in env.items():
        def fill(match: "re.Match[str]", key: str = key, value: str = value) -> str:
            name = match[1]
            if name not in environ:
                raise ConfigError(f"{where} env {key} = {value!r} needs ${name}, which is not set; export {name} "
                                  f"(Jenkins: withCredentials) before `jdci`")
            secrets.append(environ[name])
            return environ[name]

        out[key] = _SECRET_REF.sub(fill, value)
    return out, secrets


def referenced_secrets(preprod: "PreprodConfig", environ: Mapping[str, str]) -> list[str]:
    """The values of every "${NAME}" the stack's env refers to that is set (pure): what `env logs` masks,
    in a process that did not start the environment."""
    envs = [preprod.env, *(service.env for service in preprod.services)]
    return [environ[name] for env in envs for value in env.values() for name in _SECRET_REF.findall(value)
            if environ.get(name)]


def preview_url(template: str, *, port: int, host: str, pr: int | None, name: str, sha: str) -> str:
    return template.format(port=port, host=host, pr=pr if pr is not None else "", name=name, sha=sha[:12])


# -- what `up` does with what runs already ------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    action: str  # "create" | "reuse" | "replace" | "refuse"
    reason: str


def plan_up(*, running_sha: str | None, running_image: str, healthy: bool, new_sha: str, new_image: str,
            is_ancestor: Callable[[str, str], bool | None]) -> Plan:
    """Decide from what runs (None: nothing) and what is asked. `is_ancestor(a, b)` answers "is commit a an
    ancestor of b" (None: cannot tell, e.g. the checkout lacks one of them).

    Refuse only what is provably older (the new SHA is an ancestor of the running one: a slow build of an earlier
    push finishing last); anything else unknown replaces, since a build that ran means its head was the PR's."""
    if running_sha is None:
        return Plan("create", "nothing runs")
    if running_sha == new_sha:
        if running_image == new_image and healthy:
            return Plan("reuse", f"already up and healthy at {new_sha[:12]}")
        why = "not healthy" if running_image == new_image else f"runs {running_image or 'another image'}"
        return Plan("replace", f"at the same commit but {why}")
    if running_sha and is_ancestor(new_sha, running_sha):
        return Plan("refuse", f"{new_sha[:12]} is older than the running {running_sha[:12]} (an ancestor of it)")
    return Plan("replace", f"new commit {new_sha[:12]} (was {running_sha[:12] or 'unknown'})")


def sources_digest(dockerfile: bytes, files: Iterable[tuple[str, bytes]], build_args: Mapping[str, str] = {}
                   ) -> str:
    """A tag for a locally built service image: the same Dockerfile and context give the same tag, so an
    unchanged service is not rebuilt (its image is found by tag)."""
    digest = hashlib.sha256()
    digest.update(b"dockerfile\0" + dockerfile + b"\0")
    for path, data in sorted(files):
        digest.update(path.encode("utf-8") + b"\0" + hashlib.sha256(data).digest())
    for key in sorted(build_args):
        digest.update(f"arg\0{key}\0{build_args[key]}\0".encode("utf-8"))
    return digest.hexdigest()[:20]


def service_image_name(service: str) -> str:
    """Named by service, tagged by the hash of its sources (sources_digest): the same Dockerfile serves every
    PR and every repository without a rebuild."""
    return f"jdci-svc/{service}"
