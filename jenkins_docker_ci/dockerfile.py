"""What a Dockerfile builds from (pure): the final stage's base image with ARG values resolved.

Only what `FROM` can see is resolved: ARGs declared before the first FROM, overridden by build args. A base that
needs anything else (an ARG without a value, an unknown expansion) is "unknown" rather than a guess or a crash.
"""
from __future__ import annotations

import re
from typing import Mapping

UNKNOWN = "unknown"
_VAR = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-+])?(?P<word>[^}]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))")


class _Unresolvable(Exception):
    pass


def _escape_char(lines: list[str]) -> str:
    for line in lines:  # parser directives come first; only `escape` changes how lines are read
        found = re.match(r"\s*#\s*escape\s*=\s*(\S)", line)
        if found:
            return found.group(1)
        if not re.match(r"\s*#\s*\w+\s*=", line):
            break
    return "\\"


def _logical(text: str) -> list[tuple[int, str, str]]:
    """(first line index, INSTRUCTION, arguments) per logical line: continuations joined, comments dropped."""
    lines = text.splitlines()
    escape = _escape_char(lines)
    out: list[tuple[int, str, str]] = []
    current, start = "", 0
    for index, line in enumerate(lines):
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):  # comments inside a continued instruction are skipped
            continue
        if not current:
            start = index
        if stripped.endswith(escape):
            current += stripped[:-1].rstrip() + " "
            continue
        current += stripped
        word, _, rest = current.strip().partition(" ")
        out.append((start, word.upper(), rest.strip()))
        current = ""
    if current.strip():
        word, _, rest = current.strip().partition(" ")
        out.append((start, word.upper(), rest.strip()))
    return out


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line: continuations joined, comments and blank lines dropped."""
    return [(word, rest) for _, word, rest in _logical(text)]


def with_labels(text: str, labels: Mapping[str, str], target: str = "") -> str:
    """The Dockerfile with one LABEL instruction at the end of the stage being built (the last, or `target`).

    The engine's own `labels` build option adds one LABEL step per label, and the classic builder runs a
    container and commits an image for each: one instruction carrying them all gives the same labels for a
    fraction of the cost, and one history entry instead of many."""
    if not labels:
        return text
    lines = text.splitlines()
    escape = _escape_char(lines)

    def quoted(value: str) -> str:
        value = value.replace("\n", " ").replace(escape, escape * 2)
        return '"' + value.replace('"', escape + '"').replace("$", escape + "$") + '"'

    label = "LABEL " + " ".join(f"{quoted(key)}={quoted(value)}" for key, value in sorted(labels.items()))
    insert_at = len(lines)
    if target:
        starts = [(index, rest) for index, word, rest in _logical(text) if word == "FROM"]
        names = [_stage_name(rest) for _, rest in starts]
        chosen = [i for i, name in enumerate(names) if name.lower() == target.lower()]
        if chosen and chosen[-1] + 1 < len(starts):
            insert_at = starts[chosen[-1] + 1][0]
    return "\n".join(lines[:insert_at] + [label] + lines[insert_at:]) + "\n"


def _stage_name(arguments: str) -> str:
    parts = [p for p in arguments.split() if not p.startswith("--")]
    return parts[2] if len(parts) >= 3 and parts[1].lower() == "as" else ""


def _expand(text: str, values: Mapping[str, str | None]) -> str:
    def one(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        value = values.get(name)
        op, word = match.group("op"), match.group("word") or ""
        if op in (":-", "-"):
            if value is None or (op == ":-" and value == ""):
                return _expand(word, values)
            return value
        if op in (":+", "+"):
            return _expand(word, values) if value not in (None, "") or (op == "+" and value is not None) else ""
        if match.group("braced") and word:  # an expansion form FROM does not support (e.g. ${A%b})
            raise _Unresolvable(name)
        if value is None:
            raise _Unresolvable(name)
        return value

    return _VAR.sub(one, text)


def _arg_pairs(arguments: str) -> list[tuple[str, str | None]]:
    pairs: list[tuple[str, str | None]] = []
    for item in arguments.split():
        name, eq, default = item.partition("=")
        pairs.append((name, default.strip("\"'") if eq else None))
    return pairs


def final_base(text: str, build_args: Mapping[str, str] | None = None, target: str = "") -> str:
    """The image the built stage starts from ("scratch" included), or "unknown"."""
    build_args = build_args or {}
    global_args: dict[str, str | None] = {}
    stages: list[tuple[str, str]] = []  # (name lower-cased or "", image expression)
    for word, arguments in instructions(text):
        if word == "ARG" and not stages:
            for name, default in _arg_pairs(arguments):
                global_args[name] = build_args.get(name, default)
        elif word == "FROM":
            parts = [p for p in arguments.split() if not p.startswith("--")]
            if not parts:
                return UNKNOWN
            name = parts[2].lower() if len(parts) >= 3 and parts[1].lower() == "as" else ""
            stages.append((name, parts[0]))
    if not stages:
        return UNKNOWN
    index = len(stages) - 1
    if target:
        names = [name for name, _ in stages]
        if target.lower() not in names:
            return UNKNOWN
        index = names.index(target.lower())
    for _ in range(len(stages)):  # a stage built FROM an earlier stage: follow it back, boundedly
        try:
            image = _expand(stages[index][1], global_args)
        except _Unresolvable:
            return UNKNOWN
        if not image:
            return UNKNOWN
        earlier = [i for i, (name, _) in enumerate(stages[:index]) if name and name == image.lower()]
        if not earlier:
            return image
        index = earlier[-1]
    return UNKNOWN


def stage_names(text: str) -> list[str]:
    """The `AS NAME` of every FROM, in order ("" for an unnamed stage)."""
    return [_stage_name(rest) for word, rest in instructions(text) if word == "FROM"]
