"""A GitHub Enterprise-style stand-in: the REST API under /api/v3 and git over smart HTTP, on real bare repos.

jdci talks to it through scm/github.py exactly as to GitHub; scenarios script it with plain REST calls (open a
PR, review, react, label, post a status) and plain `git push` to the repository's `clone_url`
(`{base}/{owner}/{repo}.git`, HTTP Basic, any user, a password starting with "bad" is refused).

What is real: every repository is a bare git repository under the sandbox directory; PR heads are read from the
branch ref when asked; `mergeable` comes from a trial `git merge-tree`; a merge is a real merge commit
(squash / rebase too) moved onto the base branch with a compare-and-swap `update-ref`, so a concurrent move of
the base makes the merge fail instead of losing a commit. The rules GitHub has are answered as GitHub answers
them: self-approval 422, merge with a stale `sha` 409, unmergeable 405, deleting a missing branch 422.

Who may do what: the user who created a repository owns it (OWNER; for an organisation's repository too) and
is its admin; members of an organisation (added through the control API below) are MEMBER of its repositories
and may push; `PUT /repos/{o}/{r}/collaborators/{user}` ({"permission"?: pull|triage|push|maintain|admin,
default push}; owner and admin collaborators only, else 403) makes a user a COLLABORATOR at once - GitHub sends
an invitation the user must accept; the sandbox answers GitHub's 201 with an invitation body and accepts it on
the spot, and 204 when the user already had access (the permission is updated). `GET .../collaborators/{user}`
answers 204 (owner, member or collaborator) or 404, `DELETE` removes one. `author_association` on pull
requests, reviews and issue comments is computed from this, strongest first: OWNER, MEMBER, COLLABORATOR,
CONTRIBUTOR (authored a commit on the default branch: known by the author email LOGIN@users.noreply.github.com
or an author name equal to the login), else NONE; a repository's `permissions` for the viewer likewise. Access
is reported, not enforced, except where the API says so: adding collaborators (admin) and dismissing a review
(write access, else 403); anyone may review, comment, react, post statuses or merge, as jdci's tests need.

`PUT .../pulls/{n}/reviews/{id}/dismissals` {"message"} turns an APPROVED or CHANGES_REQUESTED review into
DISMISSED (200, the review); other states get 422. `GET .../branches/{branch}` is GitHub's "get a branch" (the
head commit; `protected` when the up-to-date rule below is on) or 404 "Branch not found".

`GET .../compare/BASE...HEAD` answers `status`, `ahead_by` and `behind_by` from the real history (jdci's "is the
branch up to date with its target"); its commits carry no files or stats.

`mergeable_state` is "dirty" (conflict), "behind" (the base has commits the head lacks), "draft", "clean", or
"unknown" (closed, or `mergeable` forced to null). Unlike github.com, "behind" is reported whether or not the
base branch requires branches to be up to date; only with that rule on does a behind PR fail to merge.

Control API (under /_sandbox/, besides reset/faults/requests from server.py; no credentials needed):

  POST /_sandbox/repos/{o}/{r}/pulls/{n}/push        {"message"?, "files"?: {path: text}, "author"?}
        a real new commit on the PR's head branch (in the fork for fork PRs) -> 201 {"sha", "ref"}
  POST /_sandbox/repos/{o}/{r}/commits               {"branch"?, "message"?, "files"?, "author"?, "from"?}
        a new commit on any branch (default: the default branch; a new branch starts at "from") -> 201 {"sha"}
  POST /_sandbox/repos/{o}/{r}/statuses/{sha}        a commit status body + "created_at"?, "creator"?
  POST /_sandbox/repos/{o}/{r}/check-runs            a check run body + "created_at"?, "creator"?
        (late or back-dated reports, e.g. a stale success that arrives after a newer failure)
  POST /_sandbox/repos/{o}/{r}/pulls/{n}/mergeable-null  {"reads": N}: the next N reads say mergeable null
  PUT  /_sandbox/repos/{o}/{r}/branches/{branch}/up-to-date  {"required": true|false}: the "require branches to
        be up to date before merging" rule; when on, merging a PR that is behind gets 405
  PUT  /_sandbox/orgs/{org}/members/{user}   make `user` a member of organisation `org` (MEMBER of all its
        repositories, may push) -> 200 {"org", "members"}; DELETE removes the membership -> 204
"""
from __future__ import annotations

from pathlib import Path

from .github_checks import CheckRoutes
from .github_control import ControlRoutes
from .github_issues import IssueRoutes
from .github_pulls import PullRequestRoutes
from .github_repos import RepositoryRoutes
from .github_reviews import ReviewRoutes


class GitHubService(RepositoryRoutes, PullRequestRoutes, ReviewRoutes, IssueRoutes, ControlRoutes, CheckRoutes):
    """The GitHub sandbox. Each endpoint lives in the module of its domain: github_repos (user, repositories, forks,
    compare, git over HTTP), github_pulls (pull requests, merge, update-branch, refs), github_reviews,
    github_checks (statuses, check runs), github_issues (comments, reactions, labels), github_control (the control
    API above); github_core holds the state and helpers they share. ControlRoutes extends CheckRoutes, hence the
    order of the bases."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        # The first matching pattern wins, but no two domains' patterns overlap: this order is only for reading.
        self._routes_repositories()
        self._routes_pull_requests()
        self._routes_reviews()
        self._routes_checks()
        self._routes_issues()
        self._routes_control()
