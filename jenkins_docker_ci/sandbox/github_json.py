"""The GitHub sandbox's response bodies, shaped as GitHub's (see shared/fixtures/github/ and the shape tests).

Pure functions from the sandbox's state to JSON-ready dicts; `Urls` knows where everything lives on this host.
"""
from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .github_records import Label, PullRecord, Repo

DOCS = "https://docs.github.com/rest"

# The repository keys GitHub puts in a pull request's head.repo / base.repo (a subset of the full repository).
PR_REPO_KEYS = (
    "id", "node_id", "name", "full_name", "owner", "private", "html_url", "description", "fork", "url",
    "archive_url", "assignees_url", "blobs_url", "branches_url", "collaborators_url", "comments_url", "commits_url",
    "compare_url", "contents_url", "contributors_url", "deployments_url", "downloads_url", "events_url",
    "forks_url", "git_commits_url", "git_refs_url", "git_tags_url", "git_url", "issue_comment_url",
    "issue_events_url", "issues_url", "keys_url", "labels_url", "languages_url", "merges_url", "milestones_url",
    "notifications_url", "pulls_url", "releases_url", "ssh_url", "stargazers_url", "statuses_url",
    "subscribers_url", "subscription_url", "tags_url", "teams_url", "trees_url", "clone_url", "mirror_url",
    "hooks_url", "svn_url", "homepage", "language", "forks_count", "stargazers_count", "watchers_count", "size",
    "default_branch", "open_issues_count", "topics", "has_issues", "has_projects", "has_wiki", "has_pages",
    "has_downloads", "has_discussions", "archived", "disabled", "pushed_at", "created_at", "updated_at",
    "permissions", "allow_rebase_merge", "temp_clone_token", "allow_squash_merge", "allow_merge_commit",
    "allow_forking", "forks", "open_issues", "license", "watchers",
)
# The "minimal repository" (combined status, check runs): identity plus the URL templates.
MINIMAL_REPO_KEYS = PR_REPO_KEYS[: PR_REPO_KEYS.index("trees_url") + 1] + ("hooks_url",)
# The repository in a listed ("simple") pull request: GitHub's examples show the newer repository schema there.
LIST_REPO_KEYS = tuple(k for k in PR_REPO_KEYS if k not in ("has_discussions", "allow_forking")) + (
    "is_template", "visibility", "template_repository", "allow_auto_merge", "delete_branch_on_merge",
    "subscribers_count", "network_count")
# A fork's parent and source inside the full repository.
FAMILY_REPO_KEYS = tuple(k for k in LIST_REPO_KEYS if k != "template_repository")
# The full repository (GET /repos/{o}/{r}, create, fork) has no has_discussions in the example.
_NOT_IN_FULL = ("has_discussions",)


def node_id(kind: str, number: int) -> str:
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def user_id(login: str) -> int:
    # Stable across restarts, so the same login always has the same id.
    return zlib.crc32(login.lower().encode()) % 90_000_000 + 1


@dataclass(frozen=True)
class Urls:
    base: str  # http://127.0.0.1:PORT (html and git)

    @property
    def api(self) -> str:
        return f"{self.base}/api/v3"

    def repo_api(self, full_name: str) -> str:
        return f"{self.api}/repos/{full_name}"

    def repo_html(self, full_name: str) -> str:
        return f"{self.base}/{full_name}"


def user(urls: Urls, login: str, org: bool = False) -> dict[str, Any]:
    api = f"{urls.api}/users/{login}"
    return {
        "login": login,
        "id": user_id(login),
        "node_id": node_id("Organization" if org else "User", user_id(login)),
        "avatar_url": f"{urls.base}/avatars/{login}",
        "gravatar_id": "",
        "url": api,
        "html_url": f"{urls.base}/{login}",
        "followers_url": f"{api}/followers",
        "following_url": f"{api}/following{{/other_user}}",
        "gists_url": f"{api}/gists{{/gist_id}}",
        "starred_url": f"{api}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{api}/subscriptions",
        "organizations_url": f"{api}/orgs",
        "repos_url": f"{api}/repos",
        "events_url": f"{api}/events{{/privacy}}",
        "received_events_url": f"{api}/received_events",
        "type": "Organization" if org else "User",
        "site_admin": False,
    }


def repository(urls: Urls, repo: "Repo", viewer: str | None, *, keys: tuple[str, ...] | None = None,
               with_family: bool = True) -> dict[str, Any]:
    """The full repository; `keys` selects GitHub's smaller variants (PR_REPO_KEYS, MINIMAL_REPO_KEYS)."""
    full = repo.full_name
    api = urls.repo_api(full)
    html = urls.repo_html(full)
    admin = repo.permission(viewer) == "admin"
    open_issues = sum(1 for pr in repo.pulls.values() if pr.state == "open")
    body: dict[str, Any] = {
        "id": repo.id,
        "node_id": node_id("Repository", repo.id),
        "name": repo.name,
        "full_name": full,
        "owner": user(urls, repo.owner, org=repo.org),
        "private": repo.private,
        "html_url": html,
        "description": repo.description,
        "fork": repo.parent is not None,
        "url": api,
        "archive_url": f"{api}/{{archive_format}}{{/ref}}",
        "assignees_url": f"{api}/assignees{{/user}}",
        "blobs_url": f"{api}/git/blobs{{/sha}}",
        "branches_url": f"{api}/branches{{/branch}}",
        "collaborators_url": f"{api}/collaborators{{/collaborator}}",
        "comments_url": f"{api}/comments{{/number}}",
        "commits_url": f"{api}/commits{{/sha}}",
        "compare_url": f"{api}/compare/{{base}}...{{head}}",
        "contents_url": f"{api}/contents/{{+path}}",
        "contributors_url": f"{api}/contributors",
        "deployments_url": f"{api}/deployments",
        "downloads_url": f"{api}/downloads",
        "events_url": f"{api}/events",
        "forks_url": f"{api}/forks",
        "git_commits_url": f"{api}/git/commits{{/sha}}",
        "git_refs_url": f"{api}/git/refs{{/sha}}",
        "git_tags_url": f"{api}/git/tags{{/sha}}",
        "git_url": f"{html.replace('http://', 'git://', 1)}.git",
        "issue_comment_url": f"{api}/issues/comments{{/number}}",
        "issue_events_url": f"{api}/issues/events{{/number}}",
        "issues_url": f"{api}/issues{{/number}}",
        "keys_url": f"{api}/keys{{/key_id}}",
        "labels_url": f"{api}/labels{{/name}}",
        "languages_url": f"{api}/languages",
        "merges_url": f"{api}/merges",
        "milestones_url": f"{api}/milestones{{/number}}",
        "notifications_url": f"{api}/notifications{{?since,all,participating}}",
        "pulls_url": f"{api}/pulls{{/number}}",
        "releases_url": f"{api}/releases{{/id}}",
        "ssh_url": f"git@127.0.0.1:{full}.git",
        "stargazers_url": f"{api}/stargazers",
        "statuses_url": f"{api}/statuses/{{sha}}",
        "subscribers_url": f"{api}/subscribers",
        "subscription_url": f"{api}/subscription",
        "tags_url": f"{api}/tags",
        "teams_url": f"{api}/teams",
        "trees_url": f"{api}/git/trees{{/sha}}",
        "clone_url": f"{html}.git",
        "mirror_url": None,
        "hooks_url": f"{api}/hooks",
        "svn_url": html,
        "homepage": None,
        "language": None,
        "forks_count": len(repo.forks),
        "forks": len(repo.forks),
        "stargazers_count": 0,
        "watchers_count": 0,
        "watchers": 0,
        "size": 0,
        "default_branch": repo.default_branch,
        "open_issues_count": open_issues,
        "open_issues": open_issues,
        "is_template": False,
        "topics": [],
        "has_issues": True,
        "has_projects": True,
        "has_wiki": True,
        "has_pages": False,
        "has_downloads": True,
        "has_discussions": False,
        "archived": False,
        "disabled": False,
        "visibility": "private" if repo.private else "public",
        "pushed_at": repo.pushed_at,
        "created_at": repo.created_at,
        "updated_at": repo.updated_at,
        "permissions": {"admin": admin, "push": repo.can_push(viewer), "pull": True},
        "allow_rebase_merge": True,
        "template_repository": None,
        "temp_clone_token": "",
        "allow_squash_merge": True,
        "allow_auto_merge": False,
        "delete_branch_on_merge": False,
        "allow_merge_commit": True,
        "allow_forking": True,
        "web_commit_signoff_required": False,
        "subscribers_count": 0,
        "network_count": len(repo.forks),
        "license": None,
    }
    if repo.org:
        body["organization"] = user(urls, repo.owner, org=True)
    if with_family and repo.parent is not None:
        body["parent"] = repository(urls, repo.parent, viewer, keys=FAMILY_REPO_KEYS, with_family=False)
        body["source"] = repository(urls, repo.source, viewer, keys=FAMILY_REPO_KEYS, with_family=False)
    if keys is not None:
        return {key: body[key] for key in keys}
    for key in _NOT_IN_FULL:
        del body[key]
    return body


def label(urls: Urls, repo: "Repo", item: "Label") -> dict[str, Any]:
    return {
        "id": item.id,
        "node_id": node_id("Label", item.id),
        "url": f"{urls.repo_api(repo.full_name)}/labels/{item.name}",
        "name": item.name,
        "description": item.description,
        "color": item.color,
        "default": False,
    }


def labels(urls: Urls, repo: "Repo", pr: "PullRecord") -> list[dict[str, Any]]:
    return [label(urls, repo, repo.labels[name]) for name in pr.labels]


def pull_request(urls: Urls, repo: "Repo", pr: "PullRecord", viewer: str | None, *, head_sha: str,
                 base_sha: str, full: bool, author_association: str,
                 computed: dict[str, Any] | None = None) -> dict[str, Any]:
    """A pull request; `full` adds what only GET/POST/PATCH of one PR carry (mergeable, merged, counts)."""
    api = urls.repo_api(repo.full_name)
    html = f"{urls.repo_html(repo.full_name)}/pull/{pr.number}"
    self_url = f"{api}/pulls/{pr.number}"
    issue = f"{api}/issues/{pr.number}"
    head_repo = pr.head_repo

    def side(ref: str, sha: str, side_repo: "Repo | None") -> dict[str, Any]:
        owner = side_repo.owner if side_repo is not None else pr.head_owner
        return {
            "label": f"{owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": user(urls, owner, org=side_repo.org if side_repo is not None else False),
            "repo": repository(urls, side_repo, viewer, keys=PR_REPO_KEYS if full else LIST_REPO_KEYS)
            if side_repo is not None else None,
        }

    body: dict[str, Any] = {
        "url": self_url,
        "id": pr.id,
        "node_id": node_id("PullRequest", pr.id),
        "html_url": html,
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "issue_url": issue,
        "commits_url": f"{self_url}/commits",
        "review_comments_url": f"{self_url}/comments",
        "review_comment_url": f"{api}/pulls/comments{{/number}}",
        "comments_url": f"{issue}/comments",
        "statuses_url": f"{api}/statuses/{head_sha}",
        "number": pr.number,
        "state": pr.state,
        "locked": False,
        "title": pr.title,
        "user": user(urls, pr.author),
        "body": pr.body,
        "labels": labels(urls, repo, pr),
        "milestone": None,
        "active_lock_reason": None,
        "created_at": pr.created_at,
        "updated_at": pr.updated_at,
        "closed_at": pr.closed_at,
        "merged_at": pr.merged_at,
        "merge_commit_sha": pr.merge_commit_sha if pr.merged else (computed or {}).get("test_merge"),
        "assignee": None,
        "assignees": [],
        "requested_reviewers": [],
        "requested_teams": [],
        "head": side(pr.head_ref, head_sha, head_repo),
        "base": side(pr.base_ref, base_sha, repo),
        "_links": {
            "self": {"href": self_url},
            "html": {"href": html},
            "issue": {"href": issue},
            "comments": {"href": f"{issue}/comments"},
            "review_comments": {"href": f"{self_url}/comments"},
            "review_comment": {"href": f"{api}/pulls/comments{{/number}}"},
            "commits": {"href": f"{self_url}/commits"},
            "statuses": {"href": f"{api}/statuses/{head_sha}"},
        },
        "author_association": author_association,
        "auto_merge": None,
        "draft": pr.draft,
    }
    if full:
        computed = computed or {}
        body.update({
            "merged": pr.merged,
            "mergeable": computed.get("mergeable"),
            "rebaseable": computed.get("rebaseable"),
            "mergeable_state": computed.get("mergeable_state", "unknown"),
            "merged_by": user(urls, pr.merged_by) if pr.merged_by else None,
            "comments": len(pr.comment_ids),
            "review_comments": 0,
            "maintainer_can_modify": pr.head_repo is not None and pr.head_repo is not repo,
            "commits": computed.get("commits", 0),
            "additions": computed.get("additions", 0),
            "deletions": computed.get("deletions", 0),
            "changed_files": computed.get("changed_files", 0),
        })
    return body


def association(repo: "Repo", login: str, *, contributor: bool = False) -> str:
    """GitHub's `author_association` of `login` with `repo`, strongest first: OWNER (the owner, or who created
    it), MEMBER (of the owning organisation), COLLABORATOR (added to the repository, any permission), CONTRIBUTOR
    (`contributor`: has authored a commit on the default branch), else NONE."""
    if repo.owned_by(login):
        return "OWNER"
    if login.lower() in repo.org_members:
        return "MEMBER"
    if login.lower() in repo.collaborators:
        return "COLLABORATOR"
    return "CONTRIBUTOR" if contributor else "NONE"


def error(message: str, errors: list[Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message}
    if errors is not None:
        body["errors"] = errors
    body["documentation_url"] = DOCS
    return body


def field_error(resource: str, code: str, field: str | None = None, message: str | None = None) -> dict[str, Any]:
    """One item of a 422's `errors`: which resource and field, and GitHub's code (missing_field, invalid, custom)."""
    item: dict[str, Any] = {"resource": resource}
    if field is not None:
        item["field"] = field
    item["code"] = code
    if message is not None:
        item["message"] = message
    return item
