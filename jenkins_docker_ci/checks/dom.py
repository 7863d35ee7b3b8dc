"""DOM comparison (pure): normalise a serialised DOM, diff two of them, and name what changed.

The browser side (visual.py) serialises the page as nested dicts
    {"tag": "h1", "id": "", "class": ["title"], "ignored": false, "children": [<node> | "text"]}
where "ignored" marks elements matching the check's `ignore` selectors. Normalising drops scripts, styles,
ignored subtrees, comments and whitespace-only text, and flattens the tree into one entry per element:
its path (`body>main>h1`), a label people recognise (`h1#title`, `button.buy`) and its own text.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

DROPPED = frozenset({"script", "style", "noscript", "template", "link", "meta", "head"})


@dataclass(frozen=True)
class Entry:
    path: str  # tag path from the root, e.g. html>body>main>h1
    label: str  # h1#title.big
    text: str  # the element's own text, whitespace collapsed

    @property
    def key(self) -> tuple[str, str]:
        return self.path, self.label


def label(node: dict[str, Any]) -> str:
    text = str(node.get("tag", "?")).lower()
    if node.get("id"):
        text += f"#{node['id']}"
    classes = [c for c in node.get("class") or () if c]
    if classes:
        text += "." + ".".join(classes[:2])
    return text


def normalise(tree: dict[str, Any] | None) -> list[Entry]:
    if not tree:
        return []
    return list(_walk(tree, ""))


def _walk(node: dict[str, Any], parent: str) -> Iterator[Entry]:
    tag = str(node.get("tag", "")).lower()
    if not tag or tag in DROPPED or node.get("ignored"):
        return
    path = f"{parent}>{tag}" if parent else tag
    own = " ".join(" ".join(str(child).split()) for child in node.get("children") or () if isinstance(child, str))
    yield Entry(path, label(node), " ".join(own.split()))
    for child in node.get("children") or ():
        if isinstance(child, dict):
            yield from _walk(child, path)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(entry: Entry) -> str:
    return f"{entry.label} {_short(entry.text)!r}" if entry.text else entry.label


def diff(baseline: Iterable[Entry], pr: Iterable[Entry], limit: int = 50) -> list[str]:
    """What changed from `baseline` to `pr`, in page order, e.g. "h1: 'Checkout' -> 'Pay now'",
    "added: button#buy 'Buy'", "removed: p.note". At most `limit` lines (then "... and N more")."""
    old, new = list(baseline), list(pr)
    changes: list[str] = []
    matcher = difflib.SequenceMatcher(a=[e.key for e in old], b=[e.key for e in new], autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            for before, after in zip(old[a1:a2], new[b1:b2], strict=True):
                if before.text != after.text:
                    changes.append(f"{after.label}: {_short(before.text)!r} -> {_short(after.text)!r}")
            continue
        paired = min(a2 - a1, b2 - b1) if op == "replace" else 0
        for before, after in zip(old[a1:a1 + paired], new[b1:b1 + paired], strict=True):
            if before.label.split("#")[0].split(".")[0] == after.label.split("#")[0].split(".")[0]:
                what = f"{before.label} -> {after.label}" if before.label != after.label else after.label
                text = f": {_short(before.text)!r} -> {_short(after.text)!r}" if before.text != after.text else ""
                changes.append(f"changed: {what}{text}")
            else:
                changes.append(f"removed: {_describe(before)}")
                changes.append(f"added: {_describe(after)}")
        changes.extend(f"removed: {_describe(e)}" for e in old[a1 + paired:a2])
        changes.extend(f"added: {_describe(e)}" for e in new[b1 + paired:b2])
    if len(changes) > limit:
        changes = changes[:limit] + [f"... and {len(changes) - limit} more"]
    return changes
