"""`jdci check approve`: the PR's screenshots from the last check run become the target branch's baseline."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from ..errors import UsageError

if TYPE_CHECKING:
    from ..config import Config, Secrets


@dataclass
class Approved:
    where: str
    target: str
    files: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"baseline": self.where, "target": self.target, "files": self.files}

    def summary(self) -> str:
        shots = [f for f in self.files if f.endswith(".png")]
        return f"approved {len(shots)} screenshot(s) as the baseline of {self.target} at {self.where}"


def collect(report_dir: Path, checks: Iterable[str]) -> dict[str, bytes]:
    """Baseline files from a report folder (pure file reading): visual/<check>/<page>@<WxH>.pr.png and
    .pr.dom.json -> <check>/<page>@<WxH>.png and .dom.json."""
    wanted = set(checks)
    files: dict[str, bytes] = {}
    root = report_dir / "visual"
    for path in sorted(root.glob("*/*.pr.png")) + sorted(root.glob("*/*.pr.dom.json")):
        check = path.parent.name
        if wanted and check not in wanted:
            continue
        key = f"{check}/{path.name.replace('.pr.', '.', 1)}"
        files[key] = path.read_bytes()
    return files


def approve(config: "Config", report_dir: Path, *, checks: Iterable[str] = (), target: str | None = None,
            secrets: "Secrets | None" = None) -> Approved:
    from .baselines import open_store

    manifest_path = report_dir / "visual" / "manifest.json"
    if not manifest_path.is_file():
        raise UsageError(f"no visual check run found in {report_dir} (no visual/manifest.json); run the checks "
                         f"first (`jdci pr` or `jdci check run`), or pass --report-dir")
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    checks = list(checks)
    unknown = [c for c in checks if c not in manifest.get("checks", [])]
    if unknown:
        raise UsageError(f"no visual check {', '.join(unknown)} in the last run (it ran: "
                         f"{', '.join(manifest.get('checks', [])) or 'none'})")
    files = collect(report_dir, checks)
    if not files:
        raise UsageError(f"no PR screenshots in {report_dir / 'visual'}; did the visual checks fail before taking "
                         f"them?")
    branch = target or os.environ.get("CHANGE_TARGET") or manifest.get("target") or "main"
    repository = manifest.get("repository") or config.image.repository or config.scm.repository.lower()
    registry = manifest.get("registry") or config.image.registry
    store = open_store(config.checks.baseline_store, registry=registry, repository=repository, target=branch,
                       secrets=secrets)
    replaced = set(checks) or {key.split("/", 1)[0] for key in files}
    store.save(files, replaced)
    return Approved(store.where, branch, sorted(files))
