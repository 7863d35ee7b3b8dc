"""GitHub sandbox routes for pull request reviews (GitHub's rule included: no approving your own pull request) and
their dismissal (only an approval or a change request can be dismissed, by someone with write access)."""
from __future__ import annotations

from typing import Any

from . import github_json as js
from .github_core import PULL, REPO, GitHubCore
from .github_records import PullRecord, Repo, ReviewRecord, now_iso
from .server import Request, Response

REVIEW_EVENTS = {"APPROVE": "APPROVED", "REQUEST_CHANGES": "CHANGES_REQUESTED", "COMMENT": "COMMENTED"}


class ReviewRoutes(GitHubCore):
    def _routes_reviews(self) -> None:
        r = self.route
        r("GET", REPO + PULL + r"/reviews", self.list_reviews)
        r("POST", REPO + PULL + r"/reviews", self.create_review)
        r("PUT", REPO + PULL + r"/reviews/(?P<id>\d+)/dismissals", self.dismiss_review)

    def review_json(self, repo: Repo, pr: PullRecord, review: ReviewRecord) -> dict[str, Any]:
        html = f"{self.urls.repo_html(repo.full_name)}/pull/{pr.number}#pullrequestreview-{review.id}"
        pr_url = f"{self.urls.repo_api(repo.full_name)}/pulls/{pr.number}"
        return {
            "id": review.id,
            "node_id": js.node_id("PullRequestReview", review.id),
            "user": js.user(self.urls, review.user),
            "body": review.body,
            "state": review.state,
            "html_url": html,
            "pull_request_url": pr_url,
            "_links": {"html": {"href": html}, "pull_request": {"href": pr_url}},
            "submitted_at": review.submitted_at,
            "commit_id": review.commit_id,
            "author_association": self.association(repo, review.user),
        }

    def list_reviews(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        visible = [r for r in pr.reviews if r.state != "PENDING" or r.user == request.user]
        chunk, headers = self.paginate(request, visible)
        return Response(200, [self.review_json(repo, pr, r) for r in chunk], headers)

    def create_review(self, request: Request) -> Response:
        repo, pr = self.pull(request)
        data = self.body(request)
        event = data.get("event")
        if event is not None and event not in REVIEW_EVENTS:
            raise self.failed("PullRequestReview", "invalid", "event")
        if request.user == pr.author and event in ("APPROVE", "REQUEST_CHANGES"):
            what = "approve" if event == "APPROVE" else "request changes on"
            raise self.invalid("Unprocessable Entity", [f"Can not {what} your own pull request"])
        review = ReviewRecord(id=self.new_id(), user=request.user or "",
                              state=REVIEW_EVENTS[event] if event else "PENDING", body=str(data.get("body") or ""),
                              commit_id=str(data.get("commit_id") or self.head_sha(pr)),
                              submitted_at=now_iso() if event else None)
        pr.reviews.append(review)
        self.touch(pr)
        return Response(200, self.review_json(repo, pr, review))

    def dismiss_review(self, request: Request) -> Response:
        """PUT .../reviews/{id}/dismissals {"message"}: the review's state becomes DISMISSED (it stays in the list,
        as on GitHub, and no longer counts)."""
        repo, pr = self.pull(request)
        review = next((r for r in pr.reviews if r.id == int(request.params["id"])), None)
        if review is None:
            raise self.not_found()
        if not repo.can_push(request.user):
            raise self.error(403, "Must have push access to dismiss a pull request review.")
        data = self.body(request)
        if not data.get("message"):
            raise self.failed("PullRequestReview", "missing_field", "message")
        if data.get("event") not in (None, "DISMISS"):
            raise self.failed("PullRequestReview", "invalid", "event")
        if review.state not in ("APPROVED", "CHANGES_REQUESTED"):
            what = review.state.lower().replace("_", " ")
            raise self.invalid("Unprocessable Entity", [f"Can not dismiss a {what} pull request review"])
        review.state = "DISMISSED"
        self.touch(pr)
        return Response(200, self.review_json(repo, pr, review))
