"""The git side of the GitHub sandbox: bare repositories on disk, real merges, and `git http-backend`.

Every call is one `git` subprocess run through `GitStore.git`, so a failure always names the command and its
stderr. Objects are written with plumbing (hash-object, commit-tree, merge-tree --write-tree, update-ref) so no
working tree is needed, except for the rebase merge method, which needs a temporary worktree (git 2.39 has
neither `git replay` nor `merge-tree --merge-base`).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


class GitError(Exception):
    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        super().__init__(f"git {' '.join(args)} exited {returncode}: {stderr.strip()[:500]}")
        self.returncode = returncode
        self.stderr = stderr


@dataclass(frozen=True)
class Person:
    name: str
    email: str

    @classmethod
    def of(cls, login: str, host: str = "users.noreply.github.com") -> "Person":
        return cls(login, f"{login}@{host}")


GITHUB = Person("GitHub", "noreply@github.com")


class GitStore:
    """Bare repositories under `root`, addressed as root/OWNER/NAME.git (the GIT_PROJECT_ROOT of http-backend)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        # Isolate from the machine's git config: the sandbox must behave the same everywhere.
        self.env = {
            **os.environ,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_TERMINAL_PROMPT": "0",
            "LC_ALL": "C",
        }
        for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"):
            self.env.pop(key, None)

    def path(self, owner: str, name: str) -> Path:
        return self.root / owner / f"{name}.git"

    def git(self, repo: Path, *args: str, input: bytes | None = None, env: dict[str, str] | None = None,
            check: bool = True) -> str:
        full = ["git", "--git-dir", str(repo), *args]
        done = subprocess.run(full, input=input, capture_output=True, env={**self.env, **(env or {})})
        if check and done.returncode != 0:
            raise GitError(list(args), done.returncode, done.stderr.decode("utf-8", "replace"))
        return done.stdout.decode("utf-8", "replace").strip()

    # -- repositories ------------------------------------------------------------------------------------
    def init(self, repo: Path, default_branch: str) -> None:
        repo.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", "--bare", "-b", default_branch, str(repo)], check=True,
                       capture_output=True, env=self.env)
        self._configure(repo)

    def fork(self, source: Path, target: Path) -> None:
        """A bare clone that borrows the source's objects (as GitHub's fork network shares storage)."""
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", "--bare", "--shared", str(source), str(target)], check=True,
                       capture_output=True, env=self.env)
        self._configure(target)

    def share_objects(self, repo: Path, other: Path) -> None:
        """Let `repo` read `other`'s objects (a fork PR's head commits live in the fork)."""
        alternates = repo / "objects" / "info" / "alternates"
        line = str((other / "objects").resolve())
        existing = alternates.read_text().split("\n") if alternates.exists() else []
        if line not in existing:
            alternates.parent.mkdir(parents=True, exist_ok=True)
            with alternates.open("a") as handle:
                handle.write(line + "\n")

    def _configure(self, repo: Path) -> None:
        self.git(repo, "config", "http.receivepack", "true")
        self.git(repo, "config", "receive.denyDeleteCurrent", "warn")

    def remove_all(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)

    # -- reading -----------------------------------------------------------------------------------------
    def resolve(self, repo: Path, ref: str) -> str | None:
        """The commit `ref` names (branch, tag, full or short sha), or None."""
        if not ref or ref.startswith("-"):
            return None
        out = self.git(repo, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False)
        return out or None

    def branch(self, repo: Path, name: str) -> str | None:
        """The commit a branch points at, read from the ref files: PR reads do this often, so no subprocess."""
        ref = f"refs/heads/{name}"
        if ".." in name or name.startswith("/"):
            return None
        try:
            value = (repo / ref).read_text().strip()
            if len(value) == 40:
                return value
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            pass
        try:
            packed = (repo / "packed-refs").read_text()
        except FileNotFoundError:
            return None
        for line in packed.splitlines():
            sha, _, found = line.partition(" ")
            if found == ref and len(sha) == 40:
                return sha
        return None

    def is_ancestor(self, repo: Path, ancestor: str, descendant: str) -> bool:
        done = subprocess.run(["git", "--git-dir", str(repo), "merge-base", "--is-ancestor", ancestor, descendant],
                              capture_output=True, env=self.env)
        return done.returncode == 0

    def diff_stats(self, repo: Path, base: str, head: str) -> tuple[int, int, int, int]:
        """(commits, additions, deletions, changed files) of head since its merge base with base."""
        commits = int(self.git(repo, "rev-list", "--count", f"{base}..{head}") or 0)
        additions = deletions = files = 0
        for line in self.git(repo, "diff", "--numstat", f"{base}...{head}").splitlines():
            added, deleted, _ = line.split("\t", 2)
            files += 1
            additions += int(added) if added.isdigit() else 0
            deletions += int(deleted) if deleted.isdigit() else 0
        return commits, additions, deletions, files

    # -- writing -----------------------------------------------------------------------------------------
    def _identity(self, author: Person, committer: Person) -> dict[str, str]:
        return {"GIT_AUTHOR_NAME": author.name, "GIT_AUTHOR_EMAIL": author.email,
                "GIT_COMMITTER_NAME": committer.name, "GIT_COMMITTER_EMAIL": committer.email}

    def commit_files(self, repo: Path, parent: str | None, files: dict[str, str], message: str,
                     author: Person) -> str:
        """A new commit on top of `parent` (None: a root commit) with `files` written; refs are not moved."""
        with tempfile.TemporaryDirectory(prefix="jdci-index-") as tmp:
            index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if parent:
                self.git(repo, "read-tree", parent, env=index)
            else:
                self.git(repo, "read-tree", "--empty", env=index)
            entries = []
            for name, content in files.items():
                blob = self.git(repo, "hash-object", "-w", "--stdin", input=content.encode("utf-8"))
                entries.append(f"100644 {blob}\t{name}")
            if entries:
                self.git(repo, "update-index", "--add", "--index-info", input=("\n".join(entries) + "\n").encode(),
                         env=index)
            tree = self.git(repo, "write-tree", env=index)
        return self.commit_tree(repo, tree, [parent] if parent else [], message, author, author)

    def commit_tree(self, repo: Path, tree: str, parents: list[str], message: str, author: Person,
                    committer: Person) -> str:
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.git(repo, *args, input=message.encode("utf-8"), env=self._identity(author, committer))

    def merge_tree(self, repo: Path, ours: str, theirs: str) -> str | None:
        """The tree of merging the two commits, or None when they conflict."""
        done = subprocess.run(["git", "--git-dir", str(repo), "merge-tree", "--write-tree", "--no-messages",
                               ours, theirs], capture_output=True, env=self.env)
        if done.returncode == 1:
            return None
        if done.returncode != 0:
            raise GitError(["merge-tree", ours, theirs], done.returncode, done.stderr.decode("utf-8", "replace"))
        return done.stdout.decode().split("\n", 1)[0].strip()

    def update_ref(self, repo: Path, ref: str, new: str, old: str | None) -> bool:
        """Move `ref` to `new` only if it still points at `old` (None: only if it does not exist yet)."""
        done = subprocess.run(["git", "--git-dir", str(repo), "update-ref", ref, new, old or "0" * 40],
                              capture_output=True, env=self.env)
        return done.returncode == 0

    def delete_ref(self, repo: Path, ref: str) -> bool:
        done = subprocess.run(["git", "--git-dir", str(repo), "update-ref", "-d", ref], capture_output=True,
                              env=self.env)
        return done.returncode == 0

    def rebase(self, repo: Path, onto: str, upstream: str, head: str, committer: Person) -> str | None:
        """Replay the commits of `head` not in `upstream` onto `onto`; None on conflict. Refs are not moved."""
        with tempfile.TemporaryDirectory(prefix="jdci-rebase-") as tmp:
            tree = Path(tmp) / "wt"
            self.git(repo, "worktree", "add", "-q", "--detach", str(tree), head)
            try:
                env = {**self.env, "GIT_COMMITTER_NAME": committer.name, "GIT_COMMITTER_EMAIL": committer.email}
                done = subprocess.run(["git", "-C", str(tree), "rebase", "-q", "--onto", onto, upstream],
                                      capture_output=True, env=env)
                if done.returncode != 0:
                    subprocess.run(["git", "-C", str(tree), "rebase", "--abort"], capture_output=True, env=env)
                    return None
                return subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True,
                                      env=env, check=True).stdout.decode().strip()
            finally:
                self.git(repo, "worktree", "remove", "--force", str(tree), check=False)
                self.git(repo, "worktree", "prune", check=False)

    # -- smart HTTP ----------------------------------------------------------------------------------------
    def http_backend(self, *, path_info: str, method: str, query: str, content_type: str, body: bytes,
                     remote_user: str | None, content_encoding: str = "", git_protocol: str = ""
                     ) -> tuple[int, dict[str, str], bytes]:
        """Run `git http-backend` as a CGI script; (status, headers, body)."""
        env = {
            **self.env,
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "PATH_INFO": path_info,
            "QUERY_STRING": query,
            "REQUEST_METHOD": method,
            "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1",
        }
        if remote_user:
            env["REMOTE_USER"] = remote_user
        if content_encoding:
            env["HTTP_CONTENT_ENCODING"] = content_encoding
        if git_protocol:
            env["GIT_PROTOCOL"] = git_protocol
        done = subprocess.run(["git", "http-backend"], input=body, capture_output=True, env=env)
        separator = b"\r\n\r\n" if b"\r\n\r\n" in done.stdout else b"\n\n"  # CGI allows either
        head, _, payload = done.stdout.partition(separator)
        status = 200
        headers: dict[str, str] = {}
        for line in head.decode("latin-1").splitlines():
            key, _, value = line.partition(":")
            if key.lower() == "status":
                status = int(value.strip().split(" ", 1)[0])
            elif key:
                headers[key.strip()] = value.strip()
        if done.returncode != 0 and not head:
            return 500, {"Content-Type": "text/plain"}, done.stderr
        return status, headers, payload
