"""GitHub sandbox routes GitHub files under issues but that act on a pull request: its conversation comments,
its reactions and its labels."""
from __future__ import annotations

from typing import Any

from . import github_json as js
from .github_core import ISSUE, REPO, GitHubCore
from .github_records import CommentRecord, Label, ReactionRecord, Repo, now_iso
from .server import Request, Response

REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


class IssueRoutes(GitHubCore):
    def _routes_issues(self) -> None:
        r = self.route
        r("GET", REPO + r"/issues/comments/(?P<id>\d+)", self.get_comment)
        r("PATCH", REPO + r"/issues/comments/(?P<id>\d+)", self.update_comment)
        r("GET", REPO + ISSUE + r"/comments", self.list_comments)
        r("POST", REPO + ISSUE + r"/comments", self.create_comment)
        r("GET", REPO + ISSUE + r"/reactions", self.list_reactions)
        r("POST", REPO + ISSUE + r"/reactions", self.create_reaction)
        r("GET", REPO + ISSUE + r"/labels", self.list_labels)
        r("POST", REPO + ISSUE + r"/labels", self.add_labels)
        r("DELETE", REPO + ISSUE + r"/labels/(?P<name>.+)", self.remove_label)

    def comment_json(self, repo: Repo, comment: CommentRecord, *, single: bool = True) -> dict[str, Any]:
        api = self.urls.repo_api(repo.full_name)
        body: dict[str, Any] = {
            "id": comment.id,
            "node_id": js.node_id("IssueComment", comment.id),
            "url": f"{api}/issues/comments/{comment.id}",
            "html_url": f"{self.urls.repo_html(repo.full_name)}/pull/{comment.number}#issuecomment-{comment.id}",
            "body": comment.body,
            "user": js.user(self.urls, comment.user),
            "created_at": comment.created_at,
            "updated_at": comment.updated_at,
            "issue_url": f"{api}/issues/{comment.number}",
            "author_association": self.association(repo, comment.user),
        }
        if single:
            body["pin"] = None
        body["minimized"] = None
        return body

    def list_comments(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        chunk, headers = self.paginate(request, [self.comments[i][1] for i in pr.comment_ids])
        return Response(200, [self.comment_json(repo, c, single=False) for c in chunk], headers)

    def _comment_body(self, request: Request) -> str:
        body = self.body(request).get("body")
        if not body:
            raise self.failed("IssueComment", "missing_field", "body")
        return str(body)

    def create_comment(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        stamp = now_iso()
        comment = CommentRecord(id=self.new_id(), number=pr.number, user=request.user or "",
                                body=self._comment_body(request), created_at=stamp, updated_at=stamp)
        self.comments[comment.id] = (repo, comment)
        pr.comment_ids.append(comment.id)
        self.touch(pr)
        return self.created(self.comment_json(repo, comment))

    def _comment(self, request: Request) -> tuple[Repo, CommentRecord]:
        repo = self.repo(request)
        found = self.comments.get(int(request.params["id"]))
        if found is None or found[0] is not repo:
            raise self.not_found()
        return found

    def get_comment(self, request: Request) -> Response:
        repo, comment = self._comment(request)
        return Response(200, self.comment_json(repo, comment))

    def update_comment(self, request: Request) -> Response:
        repo, comment = self._comment(request)
        comment.body = self._comment_body(request)
        comment.updated_at = now_iso()
        return Response(200, self.comment_json(repo, comment))

    def reaction_json(self, reaction: ReactionRecord) -> dict[str, Any]:
        return {"id": reaction.id, "node_id": js.node_id("Reaction", reaction.id),
                "user": js.user(self.urls, reaction.user), "content": reaction.content,
                "created_at": reaction.created_at}

    def list_reactions(self, request: Request) -> Response:
        _, pr = self.pull(request)
        content = request.arg("content")
        found = [r for r in pr.reactions if content is None or r.content == content]
        chunk, headers = self.paginate(request, found)
        return Response(200, [self.reaction_json(r) for r in chunk], headers)

    def create_reaction(self, request: Request) -> Response:
        _, pr = self.pull(request)
        content = self.body(request).get("content")
        if content not in REACTIONS:
            raise self.failed("Reaction", "custom", "content", "content is not included in the list")
        for reaction in pr.reactions:
            if reaction.user == request.user and reaction.content == content:
                return Response(200, self.reaction_json(reaction))
        reaction = ReactionRecord(id=self.new_id(), user=request.user or "", content=content, created_at=now_iso())
        pr.reactions.append(reaction)
        return Response(201, self.reaction_json(reaction))

    def list_labels(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        chunk, headers = self.paginate(request, js.labels(self.urls, repo, pr))
        return Response(200, chunk, headers)

    def add_labels(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        data = request.json()
        names = data.get("labels", []) if isinstance(data, dict) else data
        if not isinstance(names, list) or not names:
            raise self.invalid("Invalid request.\n\nNo subschema in \"anyOf\" matched.")
        for item in names:
            name = str(item.get("name") if isinstance(item, dict) else item)
            if name not in repo.labels:
                repo.labels[name] = Label(id=self.new_id(), name=name)
            if name not in pr.labels:
                pr.labels.append(name)
        self.touch(pr)
        return Response(200, js.labels(self.urls, repo, pr))

    def remove_label(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        name = request.params["name"]
        if name not in pr.labels:
            raise self.error(404, "Label does not exist")
        pr.labels.remove(name)
        self.touch(pr)
        return Response(200, js.labels(self.urls, repo, pr))
