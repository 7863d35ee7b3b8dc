"""Scripting the GitHub sandbox as people and bots would: plain REST calls and real `git push`."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import requests

GIT_ENV = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
           "GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "dev@example.com", "GIT_COMMITTER_NAME": "Dev",
           "GIT_COMMITTER_EMAIL": "dev@example.com"}


def git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=GIT_ENV)
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"token {user}"}


class Scenario:
    """One repository on the sandbox, with a working copy for pushing."""

    def __init__(self, server: Any, tmp: Path, name: str, owner: str = "alice", org: bool = False,
                 collaborators: tuple[str, ...] = ("bob", "carol")) -> None:
        """A repository created by `owner` (its OWNER) with `collaborators` added, as GitHub counts approvals and
        change requests only from people with write access."""
        self.base = server.url
        self.api = server.service.public_url()
        self.service = server.service
        self.owner = owner
        self.name = name
        self.full_name = f"{owner}/{name}"
        path = f"/orgs/{owner}/repos" if org else "/user/repos"
        response = self.call("POST", path, user=owner, json={"name": name, "auto_init": True})
        assert response.status_code == 201, response.text
        self.repo = response.json()
        for user in collaborators:
            if user != owner:
                self.collaborator(user)
        self.work = tmp / f"wc-{owner}-{name}"
        git(tmp, "clone", "-q", self.clone_url(owner), str(self.work))

    def clone_url(self, user: str, password: str = "pw", repo: str | None = None) -> str:
        url = f"{self.base}/{repo or self.full_name}.git"
        return url.replace("http://", f"http://{user}:{password}@", 1)

    @property
    def bare(self) -> Path:
        return self.service.store.path(self.owner, self.name)

    def call(self, method: str, path: str, user: str | None = "alice", **kwargs: Any) -> requests.Response:
        headers = {**(auth(user) if user else {}), **kwargs.pop("headers", {})}
        url = path if path.startswith("http") else f"{self.api}{path}"
        return requests.request(method, url, headers=headers, timeout=30, **kwargs)

    def repo_call(self, method: str, path: str, user: str | None = "alice", **kwargs: Any) -> requests.Response:
        return self.call(method, f"/repos/{self.full_name}{path}", user=user, **kwargs)

    def control(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.base}/_sandbox/repos/{self.full_name}{path}", timeout=30, **kwargs)

    def push(self, branch: str, files: dict[str, str], *, start: str = "origin/main", message: str = "change",
             remote: str = "origin") -> str:
        """Commit `files` on `branch` (from `start`) in the working copy and push it for real."""
        git(self.work, "fetch", "-q", remote)
        git(self.work, "checkout", "-q", "-B", branch, start)
        for name, text in files.items():
            (self.work / name).parent.mkdir(parents=True, exist_ok=True)
            (self.work / name).write_text(text)
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)
        git(self.work, "push", "-q", remote, f"HEAD:refs/heads/{branch}")
        return git(self.work, "rev-parse", "HEAD").stdout.strip()

    def open_pr(self, head: str, *, base: str = "main", user: str = "alice", title: str = "SHOP-1 change",
                **extra: Any) -> dict[str, Any]:
        response = self.repo_call("POST", "/pulls", user=user, json={"title": title, "head": head, "base": base,
                                                                      **extra})
        assert response.status_code == 201, response.text
        return response.json()

    def pr_with_branch(self, branch: str, files: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
        self.push(branch, files or {f"{branch}.txt": f"{branch}\n"}, message=f"SHOP-1 {branch}")
        return self.open_pr(branch, **extra)

    def bare_git(self, *args: str) -> str:
        return git(self.bare, *args).stdout.strip()

    # -- gate and merge scenarios ---------------------------------------------------------------------------
    def status(self, sha: str, context: str, state: str = "success", *, created_at: str | None = None) -> None:
        """A commit status as a CI bot posts it; `created_at` back-dates it through the control API."""
        body = {"state": state, "context": context, "description": f"{context} {state}"}
        if created_at:
            response = self.control("POST", f"/statuses/{sha}", json={**body, "created_at": created_at,
                                                                       "creator": "jenkins"})
        else:
            response = self.repo_call("POST", f"/statuses/{sha}", user="jenkins", json=body)
        assert response.status_code == 201, response.text

    def review(self, number: int, event: str = "APPROVE", user: str = "bob") -> dict[str, Any]:
        response = self.repo_call("POST", f"/pulls/{number}/reviews", user=user,
                                  json={"event": event, "body": event.lower()})
        assert response.status_code == 200, response.text
        return response.json()

    def collaborator(self, user: str, permission: str = "push") -> None:
        """Give `user` access to the repository, as its owner does (GitHub: 201 invited, 204 already in)."""
        response = self.repo_call("PUT", f"/collaborators/{user}", user=self.owner, json={"permission": permission})
        assert response.status_code in (201, 204), response.text

    def dismiss(self, number: int, review_id: int, user: str = "alice", message: str = "outdated"
                ) -> dict[str, Any]:
        response = self.repo_call("PUT", f"/pulls/{number}/reviews/{review_id}/dismissals", user=user,
                                  json={"message": message})
        assert response.status_code == 200, response.text
        return response.json()

    def pull(self, number: int) -> dict[str, Any]:
        return self.repo_call("GET", f"/pulls/{number}").json()

    def branch_head(self, branch: str = "main") -> str:
        return self.bare_git("rev-parse", f"refs/heads/{branch}")

    def requests_mark(self) -> int:
        return len(requests.get(f"{self.base}/_sandbox/requests", timeout=30).json())

    def writes_since(self, mark: int) -> list[dict[str, Any]]:
        """Requests after `mark` that change this repository: API writes and git pushes."""
        log = requests.get(f"{self.base}/_sandbox/requests", timeout=30).json()[mark:]
        mine = [r for r in log if f"/repos/{self.full_name}/" in r["path"] or f"/{self.full_name}.git/" in r["path"]]
        return [r for r in mine if (r["method"] != "GET" and r["path"].startswith("/api/"))
                or r["path"].endswith("git-receive-pack")]
