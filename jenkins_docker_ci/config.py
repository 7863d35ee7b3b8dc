"""jdci.toml -> one typed, frozen Config. Errors name the file, the key and the fix.

Where the config comes from (DESIGN.md): --config PATH, else $JDCI_CONFIG, else ./jdci.toml, else
[tool.jdci] in ./pyproject.toml, else defaults. Secrets never come from files: see `Secrets`.
"""
from __future__ import annotations

import collections.abc
import dataclasses
import difflib
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import ConfigError


@dataclass(frozen=True)
class ScmConfig:
    provider: str = "github"  # "github" | "git"
    api_url: str = "https://api.github.com"
    repository: str = ""  # owner/name
    remote: str = "origin"  # provider "git": the remote to merge and push through (a remote name or a URL)
    # provider "git" (scm/git.py) only:
    url: str = ""  # the remote's URL; empty = the URL of `remote` in the checkout at the config's folder
    target_branch: str = "main"  # where changes merge when CHANGE_TARGET / --target do not say
    committer_name: str = "jdci"  # identity of the merge commits and status notes jdci writes
    committer_email: str = "jdci@localhost"
    timeout: float = 30.0  # seconds, total, for retries of one GitHub call (429/5xx/unreachable)


@dataclass(frozen=True)
class JiraConfig:
    url: str = ""
    projects: tuple[str, ...] = ()  # allowed project keys; empty = any
    require_ticket: str = "fail"  # "fail" | "warn" | "off"
    transitions: Mapping[str, str] = field(default_factory=dict)  # lifecycle event -> transition name
    # project keys that are almost always something else (UTF-8, SHA-256, ISO-8601, PR-42, RFC-7231, CVE-2024-1,
    # AES-256, MD-5, PEP-8, IPV-6, COVID-19...); a project listed in `projects` is never denied
    deny_keys: tuple[str, ...] = (
        "UTF", "SHA", "MD", "ISO", "HTTP", "HTTPS", "PR", "MR", "RFC", "CVE", "CWE", "TLS", "SSL", "GH", "AES",
        "RSA", "CRC", "PEP", "ECMA", "ES", "IPV", "UTC", "GMT", "COVID", "BASE", "WIN", "X86", "ARM", "GPT",
    )
    lowercase_branch_keys: bool = True
    max_keys: int = 10
    allowed_statuses: tuple[str, ...] = ()  # empty = any
    allowed_issue_types: tuple[str, ...] = ()  # empty = any
    on_missing_transition: str = "warn"  # "fail" | "warn"
    fix_version: str = ""  # set on the tickets when the PR merges; empty = leave alone
    deployment: str = "auto"  # "auto" | "server" | "cloud"
    timeout: float = 30.0  # seconds, total, for retries of one call


@dataclass(frozen=True)
class ImageConfig:
    registry: str = "127.0.0.1:5000"
    repository: str = ""
    dockerfile: str = "Dockerfile"
    context: str = "."
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str = ""  # the build stage to stop at; "" = the last one
    push_timeout: float = 120.0  # seconds: transient registry failures are retried with backoff until then
    latest_on_default_branch: bool = False  # also tag "latest" when building default_branch itself (not a PR)
    default_branch: str = "main"
    cache_from: bool = True  # pull this repository/branch's previous image from the registry as a build cache
    prune_keep: int = 5  # `jdci image prune`: keep the newest N per repository and branch ...
    prune_older_than: str = "7d"  # ... and anything newer than this age ("90m", "12h", "7d"; "0": age keeps none)


@dataclass(frozen=True)
class ServiceSpec:
    """A service the app needs in its environment (database, cache, worker), reachable by `name` on the
    environment's network. `image` is run as is ("@app": the PR's own image, for a worker or a cron container);
    `dockerfile` (relative to the config's folder, with `context`) is built locally, tagged by the hash of its
    sources so an unchanged one is not rebuilt."""

    name: str
    image: str = ""
    dockerfile: str = ""
    context: str = ""  # default: the Dockerfile's folder
    env: Mapping[str, str] = field(default_factory=dict)  # "${NAME}" = from jdci's environment (secrets)
    command: str = ""
    port: int = 0  # a port it listens on, published on 127.0.0.1 (0 = none)
    # "" = the image's HEALTHCHECK if it has one, else running; "/path" = HTTP GET on `port`;
    # anything else = a command run inside the container (exit 0 = healthy), e.g. "redis-cli ping"
    health: str = ""
    depends_on: tuple[str, ...] = ()  # services started and healthy before this one
    volumes: tuple[str, ...] = ()  # "NAME:/path": a named volume of the environment (created and labelled)
    init: str = ""  # a one-off command run in this image once the service is healthy (must exit 0)


@dataclass(frozen=True)
class PreprodConfig:
    port: int = 8000  # the port the app listens on inside its container
    health_path: str = "/healthz"  # "" = use the image's HEALTHCHECK
    health_timeout: float = 60.0
    env: Mapping[str, str] = field(default_factory=dict)  # "${NAME}" = from jdci's environment (secrets)
    ttl_hours: float = 72.0  # `jdci env gc` removes environments older than this; 0 = no TTL
    services: tuple[ServiceSpec, ...] = ()
    command: str = ""  # the app's command ("" = the image's CMD)
    init: str = ""  # a one-off command in the app image (a migration), after the services, before the app
    # the preview URL people open: {port} {host} {pr} {name} {sha}; the ports are published on 127.0.0.1 only,
    # so anything but the default needs a proxy in front
    url_template: str = "http://127.0.0.1:{port}"
    host: str = "127.0.0.1"  # {host} in url_template
    port_range: str = ""  # "20000-20999": publish ports from this range ("" = a free port the engine picks)


@dataclass(frozen=True)
class HttpCheck:
    """`[[checks.http]]`: one request to a service of the environment, and what the answer must be."""

    name: str
    path: str = "/"
    status: int = 200
    contains: str = ""  # text the body must contain
    timeout: float = 10.0
    required: bool = True  # false: reported, never blocks the gate
    method: str = "GET"
    service: str = "app"  # which service of the environment to ask (its base URL on 127.0.0.1)
    regex: str = ""  # a regular expression the body must match (re.search)
    json: Mapping[str, str] = field(default_factory=dict)  # dotted path ("items.0.name") -> expected value
    body: str = ""  # request body (e.g. JSON for a POST)
    headers: Mapping[str, str] = field(default_factory=dict)  # "${NAME}" = from jdci's environment (secrets)


@dataclass(frozen=True)
class CommandCheck:
    """`[[checks.command]]`: a command in a throwaway container on the environment's network."""

    name: str
    command: str  # run by /bin/sh -c inside the container
    image: str = ""  # default: the PR's image
    env: Mapping[str, str] = field(default_factory=dict)  # "${NAME}" = from jdci's environment (secrets)
    timeout: float = 300.0  # then the container is killed and the check errors
    required: bool = True
    memory: str = "512m"  # docker's memory limit ("" = none)
    cpus: float = 1.0  # 0 = no limit
    workdir: str = ""


@dataclass(frozen=True)
class VisualCheck:
    """`[[checks.visual]]`: screenshots + DOM of pages in headless Chromium, compared with the baseline."""

    name: str
    pages: tuple[str, ...] = ("/",)
    viewports: tuple[str, ...] = ("1280x800",)  # WIDTHxHEIGHT
    threshold: float = 0.1  # per pixel: a channel differing by more than this fraction of 255 is a change
    max_diff_ratio: float = 0.001  # the share of changed pixels a page may have and still pass
    ignore: tuple[str, ...] = ()  # CSS selectors hidden before the screenshot and left out of the DOM
    wait_for: str = ""  # a CSS selector to wait for; "" = wait until the network is idle
    full_page: bool = True
    fail_on_dom: bool = False  # true: a DOM change fails the check even when the pixels stay within bounds
    timeout: float = 120.0
    required: bool = True
    service: str = "app"


@dataclass(frozen=True)
class ChecksConfig:
    http: tuple[HttpCheck, ...] = ()
    command: tuple[CommandCheck, ...] = ()
    visual: tuple[VisualCheck, ...] = ()
    # The live baseline for visual checks: this image (placeholders {registry} {repository} {target}) runs
    # alongside the PR's environment when it exists; "" = stored baselines only.
    baseline_image: str = "{registry}/{repository}:{target}"
    # Where `jdci check approve` stores baselines: "registry" = an image REGISTRY/REPOSITORY-baselines:TARGET
    # (no shared disk needed), or a folder path every agent can read.
    baseline_store: str = "registry"
    chromium: str = "/usr/bin/chromium"
    report_url: str = ""  # link for commit statuses; "" = BUILD_URL + "artifact/<report dir>/checks.html"
    slack: bool = True  # one Slack message per run (when SLACK_WEBHOOK_URL is set)


# GitHub's author_association values, for [gate] approvals_from; the first three have write access.
AUTHOR_ASSOCIATIONS = ("OWNER", "MEMBER", "COLLABORATOR", "CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER",
                       "MANNEQUIN", "NONE")


@dataclass(frozen=True)
class GateConfig:
    required_checks: tuple[str, ...] = ("jdci/*",)
    approvals: int = 1
    approvals_on_head_only: bool = False
    # reviewers whose approvals and change requests count, by GitHub's author_association; the default is
    # GitHub's own rule (write access); empty = anyone's
    approvals_from: tuple[str, ...] = ("OWNER", "MEMBER", "COLLABORATOR")
    thumbs_up: int = 0
    blocking_labels: tuple[str, ...] = ("do-not-merge",)
    blocking_title_patterns: tuple[str, ...] = (r"^\s*(WIP|\[WIP\]|Draft:)",)
    allow_forks: bool = False
    require_ticket: bool = True
    ticket_statuses: tuple[str, ...] = ()  # empty = any status
    require_jenkins: bool = False  # needs [jenkins] url and job
    jenkins_results: tuple[str, ...] = ("SUCCESS",)  # results of the PR job's last build that count as green
    require_up_to_date: bool = True
    never_reported_after: float = 1800.0  # seconds since the first status on the head before a missing check blocks


@dataclass(frozen=True)
class MergeConfig:
    method: str = "merge"  # "merge" | "squash" | "rebase"
    delete_branch: bool = True
    commit_title: str = "Merge pull request #{number} from {branch}"
    commit_message: str = "{title}"  # placeholders: {number} {branch} {title} {sha}
    wait_timeout: float = 600.0  # `jdci merge --wait`: give up (exit 75) after this many seconds
    poll_max: float = 30.0  # `jdci merge --wait`: longest pause between two evaluations (backoff up to it)
    mergeable_wait: float = 10.0  # GitHub: keep asking this long while `mergeable` is null, then answer "wait"


@dataclass(frozen=True)
class JenkinsConfig:
    url: str = ""
    job: str = ""  # multibranch job path, e.g. "shop" (PR jobs are job/shop/job/PR-N)
    timeout: float = 30.0  # seconds, total, for retries of one call
    wait_timeout: float = 3600.0  # `jdci jenkins trigger --wait`: give up (exit 75) after this many seconds
    poll_max: float = 10.0  # longest pause between two looks at a queued or running build (backoff up to it)
    console_lines: int = 30  # how much of a failed build's console `jdci jenkins trigger --wait` shows


@dataclass(frozen=True)
class ReportConfig:
    directory: str = "jdci-reports"


@dataclass(frozen=True)
class Config:
    scm: ScmConfig = field(default_factory=ScmConfig)
    jira: JiraConfig = field(default_factory=JiraConfig)
    image: ImageConfig = field(default_factory=ImageConfig)
    preprod: PreprodConfig = field(default_factory=PreprodConfig)
    checks: ChecksConfig = field(default_factory=ChecksConfig)
    gate: GateConfig = field(default_factory=GateConfig)
    merge: MergeConfig = field(default_factory=MergeConfig)
    jenkins: JenkinsConfig = field(default_factory=JenkinsConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    source: str = "defaults"  # where it was read from, for messages
    root: str = "."  # the folder relative paths (dockerfile, context) are resolved against

    def path(self, relative: str) -> Path:
        return (Path(self.root) / relative).resolve()


_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("scm", "provider"): ("github", "git"),
    ("jira", "require_ticket"): ("fail", "warn", "off"),
    ("jira", "on_missing_transition"): ("fail", "warn"),
    ("jira", "deployment"): ("auto", "server", "cloud"),
    ("merge", "method"): ("merge", "squash", "rebase"),
}


def load(path: str | os.PathLike[str] | None = None, *, cwd: str | os.PathLike[str] = ".") -> Config:
    """Find and read the config following DESIGN.md's order of precedence."""
    import tomllib

    base = Path(cwd)
    candidates: list[tuple[Path, bool]] = []  # (file, is pyproject)
    if path is not None:
        candidates = [(Path(path), False)]
        required = True
    elif os.environ.get("JDCI_CONFIG"):
        candidates = [(Path(os.environ["JDCI_CONFIG"]), False)]
        required = True
    else:
        candidates = [(base / "jdci.toml", False), (base / "pyproject.toml", True)]
        required = False
    for file, is_pyproject in candidates:
        if not file.is_file():
            # ./jdci.toml as a folder or a dangling link is a mistake, never "no config": defaults would merge
            # with none of the team's rules
            if required or file.is_dir() or file.is_symlink():
                what = ("is a folder, not a file" if file.is_dir() else
                        "is a link to nothing" if file.is_symlink() else "not found")
                raise ConfigError(f"config file {file} {what}; pass an existing jdci.toml to --config or JDCI_CONFIG")
            continue
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{file}: not valid TOML ({exc}); fix the syntax") from None
        except OSError as exc:  # unreadable (permissions, a broken mount): the user's to fix, not a bug
            raise ConfigError(f"config file {file} cannot be read ({exc.strerror or exc}); make it readable by "
                              f"the user jdci runs as, or pass another with --config") from None
        if is_pyproject:
            data = data.get("tool", {}).get("jdci")
            if data is None:
                continue
            where = f"{file} [tool.jdci]"
        else:
            where = str(file)
        return from_dict(data, source=where, root=str(file.resolve().parent))
    return Config(root=str(base.resolve()))


def from_dict(data: Mapping[str, Any], *, source: str = "<dict>", root: str = ".") -> Config:
    values = _build(Config, data, source, "", skip={"source", "root"})
    values = dataclasses.replace(values, source=source, root=root)
    gate = data.get("gate") if isinstance(data.get("gate"), Mapping) else {}
    if "require_ticket" not in gate and values.jira.require_ticket != "fail":
        # [jira] require_ticket = "warn"/"off" means a PR without a ticket may merge, unless [gate] says otherwise.
        values = dataclasses.replace(values, gate=dataclasses.replace(values.gate, require_ticket=False))
    _validate(values)
    return values


_SECRET_KEYS = {"token": "GITHUB_TOKEN", "password": "REGISTRY_PASSWORD", "user": "JIRA_USER / REGISTRY_USER",
                "webhook_url": "SLACK_WEBHOOK_URL", "slack_webhook_url": "SLACK_WEBHOOK_URL"}


def _validate(config: Config) -> None:
    """What a type cannot say: URLs, ports, names. Checked at load time, before anything is written."""
    def url(name: str, value: str, required: bool = False) -> None:
        if (value or required) and not value.startswith(("http://", "https://")):
            raise ConfigError(f"{config.source}: {name} = {value!r} is not an http(s) URL")

    for name, value in (("scm.timeout", config.scm.timeout), ("jira.timeout", config.jira.timeout),
                        ("jenkins.timeout", config.jenkins.timeout)):
        if not 0 < value <= 3600:
            raise ConfigError(f"{config.source}: {name} = {value:g} must be more than 0 and at most 3600 seconds")
    events = ("opened", "checks_failed", "merged", "closed")
    for event, name in config.jira.transitions.items():
        if event not in events:
            close = difflib.get_close_matches(event, events, n=1)
            raise ConfigError(f"{config.source}: [jira.transitions] {event!r} is not a lifecycle event"
                              + (f"; did you mean {close[0]!r}?" if close else f"; use one of {', '.join(events)}"))
        if not name.strip() or name.strip().isdigit():
            raise ConfigError(f"{config.source}: [jira.transitions] {event} = {name!r} is not a transition name "
                              f"(e.g. \"In Review\")")
    url("scm.api_url", config.scm.api_url, required=config.scm.provider == "github")
    url("jira.url", config.jira.url)
    url("jenkins.url", config.jenkins.url)
    if config.scm.repository and (config.scm.repository.count("/") != 1 or " " in config.scm.repository
                                  or config.scm.repository.strip("/") != config.scm.repository):
        raise ConfigError(f"{config.source}: scm.repository = {config.scm.repository!r} is not owner/name")
    if not 1 <= config.preprod.port <= 65535:
        raise ConfigError(f"{config.source}: preprod.port = {config.preprod.port} is not a port (1-65535)")
    if config.preprod.health_path and not config.preprod.health_path.startswith("/"):
        raise ConfigError(f"{config.source}: preprod.health_path = {config.preprod.health_path!r} must start "
                          f"with '/' (or be \"\" to use the image's HEALTHCHECK)")
    from .stack import problems as stack_problems

    for problem in stack_problems(config.preprod):
        raise ConfigError(f"{config.source}: {problem}")
    _validate_checks(config)
    _validate_durations(config)
    unknown = [a for a in config.gate.approvals_from if a.upper() not in AUTHOR_ASSOCIATIONS]
    if unknown:
        raise ConfigError(f"{config.source}: gate.approvals_from: {', '.join(repr(a) for a in unknown)} is not a "
                          f"GitHub author_association; use {', '.join(AUTHOR_ASSOCIATIONS)}")
    _validate_image(config)
    if config.image.repository:
        from .images import repository_problem

        problem = repository_problem(config.image.repository)
        if problem:
            raise ConfigError(f"{config.source}: image.repository = {config.image.repository!r}: {problem}")


_LONGEST = 7 * 86400.0  # seconds: no wait of jdci's is longer; 1e300 would overflow every clock it meets


def _validate_durations(config: Config) -> None:
    """Every timeout, wait and poll interval (seconds) fits in a week."""
    sections: list[tuple[str, Any]] = [(f.name, getattr(config, f.name)) for f in dataclasses.fields(config)
                                       if dataclasses.is_dataclass(getattr(config, f.name))]
    sections += [(f"checks.{kind} {c.name}", c) for kind in ("http", "command", "visual")
                 for c in getattr(config.checks, kind)]
    for where, section in sections:
        for f in dataclasses.fields(section):
            value = getattr(section, f.name)
            if isinstance(value, float) and ("timeout" in f.name or f.name.endswith(("_wait", "poll_max"))) \
                    and value > _LONGEST:
                raise ConfigError(f"{config.source}: {where}: {f.name} = {value:g} seconds is longer than a week "
                                  f"({_LONGEST:g}); use a shorter one")


_HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _validate_checks(config: Config) -> None:
    """Names become commit statuses jdci/<name>: one namespace over every kind of check."""
    import re

    checks = config.checks
    every = [("http", c.name) for c in checks.http] + [("command", c.name) for c in checks.command] + \
        [("visual", c.name) for c in checks.visual]
    for kind, name in every:
        if not name or not all(c.isalnum() or c in "-_." for c in name):
            raise ConfigError(f"{config.source}: checks.{kind} name {name!r} must be letters, digits, '-', '_' or "
                              f"'.' (it becomes the commit status jdci/<name>)")
    names = [name for _, name in every]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{config.source}: check names must be unique: {', '.join(duplicates)} (one namespace "
                          f"over checks.http, checks.command and checks.visual)")
    for check in checks.http:
        if not 100 <= check.status <= 599:
            raise ConfigError(f"{config.source}: checks.http {check.name}: status = {check.status} is not an HTTP "
                              f"status (100-599)")
        if check.method.upper() not in _HTTP_METHODS:
            raise ConfigError(f"{config.source}: checks.http {check.name}: method {check.method!r} is not one of "
                              f"{', '.join(_HTTP_METHODS)}")
        if check.regex:
            try:
                re.compile(check.regex)
            except re.error as exc:
                raise ConfigError(f"{config.source}: checks.http {check.name}: regex {check.regex!r} is not a "
                                  f"regular expression ({exc})") from None
    for command in checks.command:
        if not command.command.strip():
            raise ConfigError(f"{config.source}: checks.command {command.name}: command is empty")
        if command.memory and not re.fullmatch(r"[0-9]+[bkmg]?", command.memory.lower()):
            raise ConfigError(f"{config.source}: checks.command {command.name}: memory {command.memory!r} is not "
                              f"a size such as \"512m\" or \"2g\"")
    for visual in checks.visual:
        where = f"{config.source}: checks.visual {visual.name}"
        if not visual.pages:
            raise ConfigError(f"{where}: pages is empty; list the paths to screenshot, e.g. [\"/\"]")
        for page in visual.pages:
            if not page.startswith("/"):
                raise ConfigError(f"{where}: page {page!r} must be a path starting with '/'")
        for viewport in visual.viewports:
            if not re.fullmatch(r"[1-9][0-9]{1,4}x[1-9][0-9]{1,4}", viewport):
                raise ConfigError(f"{where}: viewport {viewport!r} is not WIDTHxHEIGHT, e.g. \"1280x800\"")
            if max(int(side) for side in viewport.split("x")) > 8192:  # 20000x20000 = 1.6 GB per screenshot
                raise ConfigError(f"{where}: viewport {viewport!r} is larger than 8192 pixels on a side; use a "
                                  f"screen size, e.g. \"1920x1080\"")
        for key in ("threshold", "max_diff_ratio"):
            if not 0 <= getattr(visual, key) <= 1:
                raise ConfigError(f"{where}: {key} = {getattr(visual, key)} must be between 0 and 1")
    try:
        checks.baseline_image.format(registry="r", repository="o/n", target="t")
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"{config.source}: checks.baseline_image {checks.baseline_image!r} has an unknown "
                          f"placeholder ({exc}); use {{registry}}, {{repository}} and {{target}}") from None
    if checks.baseline_store != "registry" and not checks.baseline_store.strip():
        raise ConfigError(f"{config.source}: checks.baseline_store is empty; use \"registry\" or a folder path")


def _validate_image(config: Config) -> None:
    from .images import REGISTRY_HOST, parse_age

    image = config.image
    if image.registry and not REGISTRY_HOST.match(image.registry):
        raise ConfigError(f"{config.source}: image.registry = {image.registry!r} is not HOST or HOST:PORT "
                          f"(no scheme, no path), e.g. \"127.0.0.1:5000\"")
    if image.target and not all(c.isalnum() or c in "-_." for c in image.target):
        raise ConfigError(f"{config.source}: image.target = {image.target!r} is not a stage name (the NAME of a "
                          f"`FROM ... AS NAME` line)")
    if not 1 <= image.push_timeout <= 3600:
        raise ConfigError(f"{config.source}: image.push_timeout = {image.push_timeout:g} must be between 1 and "
                          f"3600 seconds")
    if image.prune_keep < 1:
        raise ConfigError(f"{config.source}: image.prune_keep = 0 would remove the image just built; use 1 or more")
    try:
        parse_age(image.prune_older_than)
    except ValueError as exc:
        raise ConfigError(f"{config.source}: image.prune_older_than: {exc}") from None
    if image.latest_on_default_branch and not image.default_branch.strip():
        raise ConfigError(f"{config.source}: image.default_branch is empty but latest_on_default_branch = true; "
                          f"name the branch that gets the \"latest\" tag")


def _build(cls: type, data: Any, source: str, where: str, skip: set[str] = frozenset()) -> Any:  # type: ignore[assignment]
    label = f"[{where}]" if where else "the top level"
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: {label} must be a table, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in skip}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known keys: {', '.join(sorted(fields))}"
            if key in _SECRET_KEYS:
                hint = f"; secrets are never read from files: set {_SECRET_KEYS[key]} in the environment"
            raise ConfigError(f"{source}: unknown key '{key}' in {label}{hint}")
        name = f"{where}.{key}" if where else key
        kwargs[key] = _convert(hints[key], value, source, name)
        choices = _CHOICES.get((where, key))
        if choices and kwargs[key] not in choices:
            raise ConfigError(
                f"{source}: {name} = {value!r} is not one of {', '.join(repr(c) for c in choices)}"
            )
    try:
        return cls(**kwargs)
    except TypeError:  # a required field (e.g. a check's name) is missing
        missing = [f.name for f in fields.values()
                   if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                   and f.name not in kwargs]
        raise ConfigError(f"{source}: {label} lacks {', '.join(repr(m) for m in missing)}; add it") from None


def _convert(hint: Any, value: Any, source: str, name: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)

    def wrong(expected: str) -> ConfigError:
        return ConfigError(f"{source}: {name} must be {expected}, got {value!r}")

    if dataclasses.is_dataclass(hint):
        return _build(hint, value, source, name)
    if hint is bool:
        if not isinstance(value, bool):
            raise wrong("true or false")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong("an integer")
        if value < 0:
            raise wrong("zero or more")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise wrong("a number")
        if value != value or value in (float("inf"), float("-inf")):  # TOML has nan and inf; no timeout is
            raise wrong("a finite number")  # either, and every deadline computed from them would break
        if value < 0:
            raise wrong("zero or more")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise wrong("a string")
        return value
    if origin is tuple:
        if isinstance(value, str) or not isinstance(value, list):
            raise wrong("a list")
        return tuple(_convert(args[0], item, source, f"{name}[{i}]") for i, item in enumerate(value))
    if origin in (collections.abc.Mapping, dict):
        if not isinstance(value, Mapping):
            raise wrong("a table")
        out: dict[str, str] = {}
        for k, v in value.items():
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                raise ConfigError(f"{source}: {name}.{k} must be a string, got {v!r}")
            out[str(k)] = str(v)
        return types.MappingProxyType(out)
    raise AssertionError(f"unsupported config type {hint!r} for {name}")  # a bug in this module


@dataclass(frozen=True)
class Secrets:
    """Credentials, from the environment only (never from files; never printed)."""

    github_token: str = ""
    jira_user: str = ""
    jira_token: str = ""
    registry_user: str = ""
    registry_password: str = ""
    jenkins_user: str = ""
    jenkins_token: str = ""
    slack_webhook_url: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Secrets":
        env = os.environ if env is None else env
        return cls(
            github_token=env.get("GITHUB_TOKEN", ""),
            jira_user=env.get("JIRA_USER", ""),
            jira_token=env.get("JIRA_TOKEN", ""),
            registry_user=env.get("REGISTRY_USER", ""),
            registry_password=env.get("REGISTRY_PASSWORD", ""),
            jenkins_user=env.get("JENKINS_USER", ""),
            jenkins_token=env.get("JENKINS_TOKEN", ""),
            slack_webhook_url=env.get("SLACK_WEBHOOK_URL", ""),
        )

    def values(self) -> list[str]:
        """Every non-empty secret, for redacting output."""
        return [v for v in dataclasses.astuple(self) if v]

    def __repr__(self) -> str:  # never leak a secret through a traceback or a log line
        return "Secrets(<redacted>)"
