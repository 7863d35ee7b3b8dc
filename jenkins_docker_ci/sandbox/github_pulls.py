"""GitHub sandbox routes for pull requests: open, list, read, edit, their commits, merge (merge, squash, rebase),
update-branch, and deleting a branch ref (which closes the pull requests it heads)."""
from __future__ import annotations

from typing import Any

from . import github_json as js
from .github_core import PULL, REPO, GitHubCore
from .github_records import PullRecord, Repo, now_iso
from .gitstore import GITHUB, Person
from .server import HttpError, Request, Response


class PullRequestRoutes(GitHubCore):
    def _routes_pull_requests(self) -> None:
        r = self.route
        r("GET", REPO + r"/pulls", self.list_pulls)
        r("POST", REPO + r"/pulls", self.create_pull)
        r("GET", REPO + PULL, self.get_pull)
        r("PATCH", REPO + PULL, self.update_pull)
        r("GET", REPO + PULL + r"/commits", self.list_pull_commits)
        r("GET", REPO + PULL + r"/merge", self.check_merged)
        r("PUT", REPO + PULL + r"/merge", self.merge_pull)
        r("PUT", REPO + PULL + r"/update-branch", self.update_branch)
        r("DELETE", REPO + r"/git/refs/(?P<ref>.+)", self.delete_ref)

    def trial_merge(self, repo: Repo, base: str, head: str) -> dict[str, Any]:
        """What merging head into base would give; cached, since it only depends on the two commits."""
        key = (str(repo.path), base, head)
        cached = self.merge_cache.get(key)
        if cached is not None:
            return cached
        tree = self.store.merge_tree(repo.path, base, head)
        commits, additions, deletions, files = self.store.diff_stats(repo.path, base, head)
        result = {
            "tree": tree,
            "up_to_date": self.store.is_ancestor(repo.path, base, head),
            "commits": commits, "additions": additions, "deletions": deletions, "changed_files": files,
            "test_merge": self.store.commit_tree(repo.path, tree, [base, head], "Merge (test)", GITHUB, GITHUB)
            if tree else None,
        }
        if len(self.merge_cache) > 2000:
            self.merge_cache.clear()
        self.merge_cache[key] = result
        return result

    def pr_json(self, repo: Repo, pr: PullRecord, viewer: str | None, *, full: bool = True) -> dict[str, Any]:
        head, base = self.head_sha(pr), self.base_sha(repo, pr)
        computed: dict[str, Any] | None = None
        if full:
            computed = dict(self.trial_merge(repo, base, head))
            if pr.state != "open" or pr.null_reads > 0:
                pr.null_reads = max(0, pr.null_reads - 1) if pr.state == "open" else pr.null_reads
                computed.update(mergeable=None, rebaseable=None, mergeable_state="unknown", test_merge=None)
            else:
                clean = computed["tree"] is not None
                state = "dirty" if not clean else "draft" if pr.draft else \
                    "clean" if computed["up_to_date"] else "behind"
                computed.update(mergeable=clean, rebaseable=clean, mergeable_state=state)
        return js.pull_request(self.urls, repo, pr, viewer, head_sha=head, base_sha=base, full=full,
                               author_association=self.association(repo, pr.author), computed=computed)

    def create_pull(self, request: Request) -> Response:
        repo = self.repo(request)
        data = self.body(request)
        missing = [name for name in ("title", "head", "base") if not data.get(name)]
        if missing:
            raise self.invalid("Validation Failed", [js.field_error("PullRequest", "missing_field", name)
                                                     for name in missing])
        head_owner, _, head_ref = str(data["head"]).rpartition(":")
        head_owner = head_owner or repo.owner
        base_ref = str(data["base"])
        head_repo = repo
        if head_owner.lower() != repo.owner.lower():
            candidates = [r for r in self.repos.values() if r.owner.lower() == head_owner.lower()
                          and r.parent is not None and r.source is repo.source]
            if not candidates:
                raise self.failed("PullRequest", "invalid", "head")
            head_repo = candidates[0]
            head_owner = head_repo.owner
        head = self.store.branch(head_repo.path, head_ref)
        if head is None:
            raise self.failed("PullRequest", "invalid", "head")
        base = self.store.branch(repo.path, base_ref)
        if base is None:
            raise self.failed("PullRequest", "invalid", "base")
        for other in repo.pulls.values():
            if other.state == "open" and other.head_repo is head_repo and other.head_ref == head_ref \
                    and other.base_ref == base_ref:
                raise self.failed("PullRequest", "custom",
                                  message=f"A pull request already exists for {head_owner}:{head_ref}.")
        if head_repo is not repo:
            self.store.share_objects(repo.path, head_repo.path)
        if self.store.is_ancestor(repo.path, head, base):
            raise self.failed("PullRequest", "custom", message=f"No commits between {base_ref} and {head_ref}")
        stamp = now_iso()
        pr = PullRecord(number=repo.next_number, id=self.new_id(), title=str(data["title"]),
                        body=data.get("body"), author=request.user or "", head_owner=head_owner,
                        head_repo=head_repo, head_ref=head_ref, base_ref=base_ref, draft=bool(data.get("draft")),
                        created_at=stamp, updated_at=stamp, head_sha=head, base_sha=base)
        repo.next_number += 1
        repo.pulls[pr.number] = pr
        return self.created(self.pr_json(repo, pr, request.user))

    def list_pulls(self, request: Request) -> Response:
        repo = self.repo(request)
        state = request.arg("state", "open")
        head = request.arg("head")
        base = request.arg("base")
        found = []
        for pr in repo.pulls.values():
            if state != "all" and pr.state != state:
                continue
            if base and pr.base_ref != base:
                continue
            if head:
                owner, _, ref = head.rpartition(":")
                if ref != pr.head_ref or (owner and owner.lower() != pr.head_owner.lower()):
                    continue
            found.append(pr)
        key = "updated_at" if request.arg("sort") == "updated" else "created_at"
        found.sort(key=lambda p: (getattr(p, key), p.number), reverse=request.arg("direction", "desc") != "asc")
        chunk, headers = self.paginate(request, found)
        return Response(200, [self.pr_json(repo, pr, request.user, full=False) for pr in chunk], headers)

    def get_pull(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        return Response(200, self.pr_json(repo, pr, request.user))

    def update_pull(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        data = self.body(request)
        if "title" in data:
            pr.title = str(data["title"])
        if "body" in data:
            pr.body = data["body"]
        if "base" in data:
            if self.store.branch(repo.path, str(data["base"])) is None:
                raise self.failed("PullRequest", "invalid", "base")
            pr.base_ref = str(data["base"])
        state = data.get("state")
        if state == "closed" and pr.state == "open":
            self.head_sha(pr)
            self.base_sha(repo, pr)
            pr.state, pr.closed_at = "closed", now_iso()
        elif state == "open" and pr.state == "closed":
            if pr.merged:
                raise self.failed("PullRequest", "custom", "state",
                                  "state cannot be changed. The pull request cannot be reopened")
            pr.state, pr.closed_at = "open", None
        elif state not in (None, "open", "closed"):
            raise self.failed("PullRequest", "invalid", "state")
        self.touch(pr)
        return Response(200, self.pr_json(repo, pr, request.user))

    def list_pull_commits(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        head, base = self.head_sha(pr), self.base_sha(repo, pr)
        api = self.urls.repo_api(repo.full_name)
        raw = self.store.git(repo.path, "log", "--reverse", "--format=%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn"
                             "%x00%ce%x00%cI%x00%B%x1e", f"{base}..{head}")
        commits = []
        for record in filter(None, (r.strip("\n") for r in raw.split("\x1e"))):
            sha, tree, parents, an, ae, ad, cn, ce, cd, message = record.split("\x00", 9)
            commits.append({
                "url": f"{api}/commits/{sha}", "sha": sha, "node_id": js.node_id("Commit", int(sha[:7], 16)),
                "html_url": f"{self.urls.repo_html(repo.full_name)}/commit/{sha}",
                "comments_url": f"{api}/commits/{sha}/comments",
                "commit": {"url": f"{api}/git/commits/{sha}", "author": {"name": an, "email": ae, "date": ad},
                           "committer": {"name": cn, "email": ce, "date": cd}, "message": message.rstrip("\n"),
                           "tree": {"url": f"{api}/git/trees/{tree}", "sha": tree}, "comment_count": 0},
                "author": None, "committer": None,
                "parents": [{"url": f"{api}/commits/{p}", "sha": p} for p in parents.split()],
            })
        chunk, headers = self.paginate(request, commits)
        return Response(200, chunk, headers)

    def check_merged(self, request: Request) -> Response:
        _, pr = self.pull(request)
        if pr.merged:
            return Response(204)
        raise self.not_found()

    def merge_pull(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        data = self.body(request)
        method = data.get("merge_method", "merge")
        if method not in ("merge", "squash", "rebase"):
            raise self.failed("PullRequest", "invalid", "merge_method")
        if pr.state != "open":
            raise HttpError(405, {"message": "Pull Request is not mergeable"})
        head, base = self.head_sha(pr), self.base_sha(repo, pr)
        if data.get("sha") and data["sha"] != head:
            raise HttpError(409, {"message": "Head branch was modified. Review and try the merge again."})
        if pr.draft:
            raise HttpError(405, {"message": "Pull Request is still a draft"})
        trial = self.trial_merge(repo, base, head)
        if trial["tree"] is None:
            raise HttpError(405, {"message": "Pull Request is not mergeable"})
        if pr.base_ref in repo.up_to_date_branches and not trial["up_to_date"]:
            raise HttpError(405, {"message": "Head branch is not up to date with the base branch"})
        merger = Person.of(request.user or "")
        if method == "merge":
            title = data.get("commit_title") or f"Merge pull request #{pr.number} from {pr.head_owner}/{pr.head_ref}"
            message = data.get("commit_message", pr.title)
            sha = self.store.commit_tree(repo.path, trial["tree"], [base, head],
                                         f"{title}\n\n{message}".rstrip() + "\n", merger, GITHUB)
        elif method == "squash":
            title = data.get("commit_title") or f"{pr.title} (#{pr.number})"
            message = data.get("commit_message") or "\n".join(
                f"* {line}" for line in self.store.git(repo.path, "log", "--format=%s", f"{base}..{head}")
                .splitlines())
            sha = self.store.commit_tree(repo.path, trial["tree"], [base],
                                         f"{title}\n\n{message}".rstrip() + "\n", Person.of(pr.author), GITHUB)
        else:
            rebased = self.store.rebase(repo.path, base, base, head, GITHUB)
            if rebased is None:
                raise HttpError(405, {"message": "This branch can't be rebased"})
            sha = rebased
        if not self.store.update_ref(repo.path, f"refs/heads/{pr.base_ref}", sha, base):
            raise HttpError(405, {"message": "Base branch was modified. Review and try the merge again."})
        stamp = now_iso()
        pr.state, pr.merged, pr.merged_at, pr.closed_at = "closed", True, stamp, stamp
        pr.merge_commit_sha, pr.merged_by, pr.updated_at = sha, request.user, stamp
        repo.pushed_at = stamp
        return Response(200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"})

    def update_branch(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        data = self.body(request)
        if pr.state != "open" or pr.head_repo is None:
            raise self.invalid("Pull request is not open")
        head, base = self.head_sha(pr), self.base_sha(repo, pr)
        expected = data.get("expected_head_sha")
        if expected and expected != head:
            raise self.invalid("expected head sha didn\u2019t match current head ref.")
        html = f"{self.urls.repo_html(repo.full_name)}/pull/{pr.number}"
        answer = Response(202, {"message": "Updating pull request branch.", "url": html})
        target = pr.head_repo.path
        if self.store.is_ancestor(target, base, head):
            return answer
        tree = self.store.merge_tree(target, head, base)
        if tree is None:
            raise self.invalid("merge conflict between base and head")
        merged = self.store.commit_tree(target, tree, [head, base],
                                        f"Merge branch '{pr.base_ref}' into {pr.head_ref}\n",
                                        Person.of(request.user or ""), GITHUB)
        if not self.store.update_ref(target, f"refs/heads/{pr.head_ref}", merged, head):
            raise self.invalid("expected head sha didn\u2019t match current head ref.")
        self.touch(pr)
        return answer

    def delete_ref(self, request: Request) -> Response:
        repo = self.repo(request)
        ref = request.params["ref"]
        if ref.startswith("heads/") and ref[len("heads/"):] == repo.default_branch:
            raise self.invalid("Cannot delete the default branch")
        orphans = self._pulls_from(repo, ref[len("heads/"):]) if ref.startswith("heads/") else []
        for pr in orphans:
            self.head_sha(pr)  # remember the last head before the branch goes
        if not self.store.resolve(repo.path, f"refs/{ref}") or not self.store.delete_ref(repo.path, f"refs/{ref}"):
            raise self.invalid("Reference does not exist")
        for pr in orphans:  # GitHub closes the PRs whose head branch is deleted
            pr.state, pr.closed_at = "closed", now_iso()
        return Response(204)

    def _pulls_from(self, repo: Repo, branch: str) -> list[PullRecord]:
        network = [r for r in self.repos.values() if r.source is repo.source]
        return [pr for r in network for pr in r.pulls.values()
                if pr.state == "open" and pr.head_repo is repo and pr.head_ref == branch]
