"""Every git command jdci runs in a checkout goes through `run`: no prompts, a timeout, and an error that names
the command, the folder, the exit code and git's own words (credentials in URLs redacted).

(scm/git.py drives its merges through GitPython's runner; this is for the few reads and scenario writes
elsewhere.)"""
from __future__ import annotations

import os
import re
import subprocess
from typing import Sequence

from .errors import UsageError

_CREDENTIALS = re.compile(r"(://)[^/@\s]+@")


class GitFailed(UsageError):
    kind = "git"


def run(cwd: str | os.PathLike[str], *args: str, config: Sequence[str] = (), timeout: float = 120,
        hint: str = "") -> str:
    """stdout of `git -c CONFIG... ARGS` in `cwd`; GitFailed (exit 2) when git is missing or says no."""
    options = [part for item in config for part in ("-c", item)]
    shown = "git " + " ".join(args)
    try:
        done = subprocess.run(["git", *options, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                              encoding="utf-8", errors="replace", env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
    except (FileNotFoundError, NotADirectoryError):
        if not os.path.isdir(cwd):  # the missing file is the folder, not git
            raise GitFailed(f"{cwd} is not a folder: `{shown}` needs the checkout; pass --workspace DIR (or fix "
                            f"WORKSPACE)") from None
        raise GitFailed("git is not installed; install it (apt-get install git)") from None
    except subprocess.TimeoutExpired:
        raise GitFailed(_CREDENTIALS.sub(r"\1***@", f"`{shown}` in {cwd} took over {timeout:.0f} s")) from None
    if done.returncode != 0:
        said = done.stderr.strip() or done.stdout.strip() or "no output"
        message = f"`{shown}` failed in {cwd} (exit {done.returncode}): {said[:300]}" + (f"; {hint}" if hint else "")
        raise GitFailed(_CREDENTIALS.sub(r"\1***@", message))
    return done.stdout
