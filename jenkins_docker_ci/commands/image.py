"""`jdci image`: build, push, promote, ls, prune.

  jdci image build [--push] [--no-cache] [--sha SHA] [change flags]
      build the checkout's image ([image] dockerfile, context, build_args, target) with jdci's labels and tags;
      --push also pushes every tag. --json: {"image": {"ref", "digest", "tags", "base", "pushed_tags"}}.
  jdci image push [--sha SHA] [change flags]
      push the image `jdci image build` made for this commit (every tag; tags already there are skipped).
  jdci image promote SRC DEST
      point DEST at SRC's manifest in the registry: no rebuild, no local image. SRC is REGISTRY/REPO:TAG or
      REGISTRY/REPO@DIGEST; DEST a tag of the same repository (release-1.4) or REGISTRY/OTHER-REPO:TAG.
  jdci image ls [--repository R | --all]
      jdci's local images (label io.jdci.managed=true): repository, tags, branch, PR, age, size.
  jdci image prune [--repository R] [--keep N] [--older-than AGE] [--dry-run] [--registry]
      remove old local images of one repository (default: [image] repository): keeps the newest N per branch,
      anything newer than AGE and anything a container uses; --registry also deletes their manifests in the
      registry when no kept tag points at them. --dry-run lists exactly what a real run removes.
Exit codes: 0 done; 2 bad usage, config or registry credentials; 4 the engine or registry failed or stayed down.
"""
from __future__ import annotations

import argparse
import time
from typing import Any

from ..errors import EXIT_OK, UsageError


def _inputs(args: argparse.Namespace) -> tuple[Any, Any, Any, str, list[str]]:
    """(config, secrets, change at the commit to build, its commit time, tickets) for this checkout."""
    import dataclasses

    from .. import cli, gitcmd

    config = cli.load_config(args)
    secrets = cli.secrets()
    change = cli.change_from(args)
    workspace = change.workspace or "."
    # not GIT_COMMIT: in Jenkins' "merge" checkout it is the synthetic merge, never the PR head the tags promise
    sha = (args.sha or "").strip().lower()
    if not sha:
        from .checkout import checkout_head, pr_head_lookup

        sha = checkout_head(workspace, pr_head_lookup(config, secrets, change.pr_number), "jdci image build")
    if not change.source_branch:
        branch = gitcmd.run(workspace, "rev-parse", "--abbrev-ref", "HEAD").strip()
        change = dataclasses.replace(change, source_branch="" if branch == "HEAD" else branch)
    commit_time = gitcmd.run(workspace, "show", "-s", "--format=%cI", sha,
                             hint=f"--sha {sha} must be a commit of the checkout in {workspace}").strip()
    change = dataclasses.replace(change, head_sha=sha, workspace=workspace,
                                 repository=change.repository or config.scm.repository)
    tickets = [t for t in (args.tickets or "").split(",") if t.strip()]
    return config, secrets, change, commit_time, tickets


def _plan(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """(config, secrets, ImagePlan) for the checkout this command runs in."""
    from .. import images

    config, secrets, change, commit_time, tickets = _inputs(args)
    return config, secrets, images.plan(config, change, commit_time=commit_time, tickets=tickets)


def cmd_build(args: argparse.Namespace) -> Any:
    from .. import images
    from ..cli import Outcome

    import dataclasses

    from ..pipeline import source_tree

    config, secrets, change, commit_time, tickets = _inputs(args)
    # the sources of exactly that commit (a temporary worktree when the checkout holds a merge of it)
    with source_tree(change.workspace, change.head_sha) as source:
        image = images.plan(config, dataclasses.replace(change, workspace=source), commit_time=commit_time,
                            tickets=tickets)
        args._partial = lambda: {"image": {"ref": image.ref(), "tags": list(image.tags)}}
        client = images.engine()
        if args.push:  # before the build: a registry that is down or refuses the credentials is known now
            images.check_registry(image.registry, secrets, deadline=min(10.0, config.image.push_timeout))
        image_id = images.build(client, image, secrets=secrets, no_cache=args.no_cache,
                                registry_deadline=min(10.0, config.image.push_timeout))
        result: dict[str, Any] = {"ref": image.ref(), "id": image_id, "tags": list(image.tags),
                                  "base": images.base_image(image)}
    if args.push:
        pushed = images.push(client, image, secrets, timeout=config.image.push_timeout)
        result = {**result, **pushed.to_json(), "pushed_tags": list(pushed.pushed_tags)}
    text = f"{image.ref()}" + (f"\ndigest: {result['digest']}" if "digest" in result else "")
    return Outcome(EXIT_OK, {"image": result}, text)


def cmd_push(args: argparse.Namespace) -> Any:
    from docker.errors import ImageNotFound

    from .. import images
    from ..cli import Outcome

    config, secrets, image = _plan(args)
    images.need_registry(image.registry, f"push {image.ref()}")  # the config's mistake before the build's
    client = images.engine()
    try:
        client.api.inspect_image(image.ref())
    except ImageNotFound:
        raise UsageError(f"no local image {image.ref()}; build it first: jdci image build") from None
    pushed = images.push(client, image, secrets, timeout=config.image.push_timeout)
    payload = {**pushed.to_json(), "pushed_tags": list(pushed.pushed_tags)}
    return Outcome(EXIT_OK, {"image": payload}, f"{pushed.ref}\ndigest: {pushed.digest}")


def cmd_promote(args: argparse.Namespace) -> Any:
    from .. import cli, log
    from ..cli import Outcome
    from ..registry import promote

    config = cli.load_config(args)
    promoted = promote(args.source, args.dest, default_registry=config.image.registry, secrets=cli.secrets(),
                       deadline=config.image.push_timeout)
    log.say("promote", f"{promoted.ref} -> {promoted.digest} (same as {promoted.source})")
    return Outcome(EXIT_OK, {"promoted": promoted.to_json()}, f"{promoted.ref}\ndigest: {promoted.digest}")


def _repository(args: argparse.Namespace, config: Any) -> str:
    if args.repository:  # a typo would match no image and report "nothing to prune": say it instead
        from ..registry import parse_ref

        ref = parse_ref(args.repository)
        if ref.tag or ref.digest:
            raise UsageError(f"--repository {args.repository!r} names an image, not a repository; drop the "
                             f"{':' + ref.tag if ref.tag else '@' + ref.digest}")
    return args.repository or config.image.repository


def cmd_ls(args: argparse.Namespace) -> Any:
    from .. import cli, images
    from ..cli import Outcome
    from ..image_inventory import ls

    config = cli.load_config(args)
    repository = None if args.all else _repository(args, config)
    found = ls(images.engine(), repository)
    now = time.time()
    rows = [f"{i.name}\t{','.join(i.tags) or '<none>'}\t{i.branch or '-'}\tPR {i.pr or '-'}\t{_age(now - i.created)}\t"
            f"{i.size / 1e6:.1f} MB" + ("\tin use" if i.in_use else "") for i in found]
    header = "IMAGE\tTAGS\tBRANCH\tPR\tAGE\tSIZE"
    text = "\n".join([header, *rows]) if rows else f"no jdci images{' of ' + repository if repository else ''}"
    return Outcome(EXIT_OK, {"images": [i.to_json(now) for i in found]}, text)


def _age(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit}"
    return f"{seconds:.0f}s"


def cmd_prune(args: argparse.Namespace) -> Any:
    from .. import cli, images
    from ..cli import Outcome
    from ..image_inventory import prune

    config = cli.load_config(args)
    repository = _repository(args, config)
    if not repository:
        raise UsageError(f"jdci image prune: which repository? pass --repository team/app or set [image] "
                         f"repository in {config.source}; prune never works on every repository at once")
    try:
        older_than = images.parse_age(args.older_than or config.image.prune_older_than)
    except ValueError as exc:
        raise UsageError(f"jdci image prune --older-than: {exc}") from None
    keep = config.image.prune_keep if args.keep is None else args.keep
    result = prune(images.engine(), repository=repository, keep=keep, older_than=older_than,
                   dry_run=args.dry_run, registry=args.registry, secrets=cli.secrets())
    verb = "would remove" if args.dry_run else "removed"
    lines = [f"{verb} {ref}" for ref in result.removed]
    lines += [f"{'would delete' if args.dry_run else 'deleted'} {d} (registry)" for d in result.registry_deleted]
    lines += [f"could not remove {f}" for f in result.failed]
    text = "\n".join(lines) or f"nothing to prune in {repository}"
    return Outcome(EXIT_OK, {"repository": repository, **result.to_json()}, text)
