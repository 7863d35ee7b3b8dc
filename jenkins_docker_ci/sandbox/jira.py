"""JIRA stand-in: Server/Data Center REST v2 by default, Cloud on request; the `jira` client runs unchanged.

REST API (under /rest/api/2; bodies and descriptions are plain wiki-markup strings, as in v2):
  GET  serverInfo                         anonymous allowed; `versionNumbers`, `deploymentType` Server|Cloud
  GET  myself
  GET  issue/{idOrKey}                    summary, status{name, statusCategory}, issuetype, project, fixVersions,
                                          description, comment{comments,...}, ...; 404 "Issue Does Not Exist"
  PUT  issue/{idOrKey}                    fields.summary / fields.fixVersions (set) or update.fixVersions
                                          ([{"add"|"remove": {"name"}}, {"set": [...]}]) -> 204; unknown
                                          version or field -> 400 with `errors`
  GET  issue/{k}/comment                  paged: startAt, maxResults (default 50, at most 100), total, orderBy
  POST issue/{k}/comment                  {"body": str} -> 201;   GET/PUT issue/{k}/comment/{id} -> 200
  GET  issue/{k}/transitions              the transitions available from the current status
  POST issue/{k}/transitions              {"transition": {"id"}} -> 204; not available -> 400 (JIRA's body)
  GET  issue/{k}/remotelink               POST: {"globalId", "object": {"url", "title"}, ...}: a new globalId
                                          -> 201 {"id", "self"}; an existing one is updated -> 200
  GET|POST search                         jql, startAt, maxResults, fields, validateQuery; 410 in Cloud mode
                                          (Atlassian removed it there); warningMessages for missing keys
                                          when validateQuery=false, else 400
  GET|POST search/jql                     Cloud mode only: jql, nextPageToken, maxResults; `isLast`
  GET  /rest/applinks/latest/listApplicationlinks   [] (the `jira` client asks before adding a remote link)
JQL understood: clauses joined by AND - `key`/`issuekey`/`project`/`status`/`issuetype`/`type` with
`=`, `!=`, `in (...)`, `not in (...)` - and an ignored ORDER BY.

Identity (server.identify): `Authorization: Bearer T` = user T, Basic = the user named; missing credentials,
or a token/password beginning with `bad`, get 401 with JIRA's body. Users in a project's `readers` may read
its tickets but get 403 on every write. Errors are `{"errorMessages": [...], "errors": {...}}`.

Control API (besides the base reset / faults / requests, see server.py):
  POST /_sandbox/projects   {"key", "name"?, "issue_types"?: [..], "versions"?: [..], "readers"?: [..],
                            "workflow"?: {"statuses": [NAME | {"name", "category": "new"|"indeterminate"|"done"}],
                            "transitions": [{"id", "name", "to", "from"?: [..]}]}} -> 201 (200 when it existed:
                            an update; its tickets are kept). A transition without "from" is global (available
                            from every status). Without a workflow: To Do -> In Progress -> In Review -> Done
                            (DEFAULT_WORKFLOW). "statuses"/"transitions" may also sit at the top level.
  POST /_sandbox/issues     {"key"? | "project", "summary", "status"?, "type"|"issuetype"?, "description"?} -> 201
  POST /_sandbox/mode       {"cloud": true|false}
  GET  /_sandbox/issues/{key}   the ticket's full state (comments, remote links) for assertions
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from .server import HttpError, Request, Response, Service

API = "/rest/api/2"
_CATEGORIES = {
    "new": (2, "blue-gray", "To Do"),
    "indeterminate": (4, "yellow", "In Progress"),
    "done": (3, "green", "Done"),
}
DEFAULT_STATUSES = [
    {"name": "To Do", "category": "new"},
    {"name": "In Progress", "category": "indeterminate"},
    {"name": "In Review", "category": "indeterminate"},
    {"name": "Done", "category": "done"},
]
DEFAULT_WORKFLOW = [
    {"id": "11", "name": "Start Progress", "to": "In Progress", "from": ["To Do"]},
    {"id": "21", "name": "In Review", "to": "In Review", "from": ["To Do", "In Progress"]},
    {"id": "31", "name": "Done", "to": "Done", "from": ["In Review"]},
    {"id": "41", "name": "Back to In Progress", "to": "In Progress", "from": ["In Review"]},
    {"id": "51", "name": "Reopen", "to": "To Do", "from": ["Done"]},
]
DEFAULT_TYPES = ["Story", "Bug", "Task"]
_KEY = re.compile(r"\A([A-Z][A-Z0-9_]+)-([1-9][0-9]*)\Z")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())


class JiraService(Service):
    name = "jira"

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory
        self.reset()
        r = self.route
        key = r"(?P<key>[^/]+)"
        r("GET", rf"{API}/serverInfo", self.server_info)
        r("GET", rf"{API}/myself", self.myself)
        r("GET", rf"{API}/issue/{key}", self.get_issue)
        r("PUT", rf"{API}/issue/{key}", self.edit_issue)
        r("GET", rf"{API}/issue/{key}/comment", self.list_comments)
        r("POST", rf"{API}/issue/{key}/comment", self.add_comment)
        r("GET", rf"{API}/issue/{key}/comment/(?P<id>[^/]+)", self.get_comment)
        r("PUT", rf"{API}/issue/{key}/comment/(?P<id>[^/]+)", self.update_comment)
        r("GET", rf"{API}/issue/{key}/transitions", self.list_transitions)
        r("POST", rf"{API}/issue/{key}/transitions", self.do_transition)
        r("GET", rf"{API}/issue/{key}/remotelink", self.list_remote_links)
        r("POST", rf"{API}/issue/{key}/remotelink", self.add_remote_link)
        r("GET", rf"{API}/issue/{key}/remotelink/(?P<id>[^/]+)", self.get_remote_link)
        r("GET", rf"{API}/field", self.list_fields)
        r("GET", rf"{API}/search", self.search)
        r("POST", rf"{API}/search", self.search)
        r("GET", rf"{API}/search/jql", self.search_jql)
        r("POST", rf"{API}/search/jql", self.search_jql)
        r("GET", r"/rest/applinks/(?:latest|1\.0)/listApplicationlinks", lambda request: Response(200, []))
        r("POST", r"/_sandbox/projects", self.control_project)
        r("POST", r"/_sandbox/issues", self.control_issue)
        r("GET", rf"/_sandbox/issues/{key}", self.control_get_issue)
        r("POST", r"/_sandbox/mode", self.control_mode)

    # -- plumbing ------------------------------------------------------------------------------------------
    def reset(self) -> None:
        self.cloud = False
        self.projects: dict[str, dict[str, Any]] = {}
        self.issues: dict[str, dict[str, Any]] = {}  # by key
        self._next_id = 10000

    def _id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def error_body(self, status: int, message: str) -> Any:
        return {"errorMessages": [message] if message else [], "errors": {}}

    def field_error(self, status: int, field: str, message: str) -> HttpError:
        return HttpError(status, {"errorMessages": [], "errors": {field: message}})

    def requires_auth(self, request: Request) -> bool:
        # serverInfo answers anonymous callers on both Server and Cloud
        return not request.path.startswith("/_sandbox/") and request.path.rstrip("/") != f"{API}/serverInfo"

    def unauthorized(self, request: Request) -> HttpError:
        headers = {"WWW-Authenticate": 'Basic realm="protected-area"'}
        if request.auth_problem == "bad":
            headers["X-Seraph-LoginReason"] = "AUTHENTICATED_FAILED"
        return HttpError(401, {"errorMessages": ["User is not logged in."], "errors": {}}, headers)

    def default_headers(self, request: Request) -> dict[str, str]:
        headers = {"X-AREQUESTID": str(int(time.time() * 1000) % 100000)}
        if request.user:
            headers["X-AUSERNAME"] = request.user
        return headers

    @property
    def url(self) -> str:
        return self.base_url + API

    def _issue(self, request: Request) -> dict[str, Any]:
        wanted = request.params["key"]
        found = self.issues.get(wanted.upper()) or next(
            (i for i in self.issues.values() if i["id"] == wanted), None)
        if found is None:
            message = ("Issue does not exist or you do not have permission to see it." if self.cloud
                       else "Issue Does Not Exist")
            raise self.error(404, message)
        return found

    def _writable(self, request: Request, issue: dict[str, Any], what: str) -> None:
        if request.user in self.projects[issue["project"]].get("readers", []):
            raise self.error(403, f"You do not have the permission to {what} this issue.")

    # -- shapes --------------------------------------------------------------------------------------------
    def user(self, name: str | None) -> dict[str, Any]:
        name = name or "anonymous"
        avatars = {size: f"{self.base_url}/secure/useravatar?size={size}" for size in ("16x16", "24x24", "32x32",
                                                                                        "48x48")}
        if self.cloud:
            account = f"557058:{abs(hash(name)) % 10**8:08d}"
            return {"self": f"{self.url}/user?accountId={account}", "accountId": account, "accountType": "atlassian",
                    "avatarUrls": avatars, "displayName": name, "active": True, "timeZone": "UTC"}
        return {"self": f"{self.url}/user?username={name}", "name": name, "key": name,
                "emailAddress": f"{name}@example.com", "avatarUrls": avatars, "displayName": name, "active": True,
                "timeZone": "UTC"}

    def status(self, project: dict[str, Any], name: str) -> dict[str, Any]:
        status = project["statuses"][name]
        cid, colour, cname = _CATEGORIES[status["category"]]
        return {"self": f"{self.url}/status/{status['id']}", "description": "", "iconUrl":
                f"{self.base_url}/images/icons/statuses/generic.png", "name": name, "id": status["id"],
                "statusCategory": {"self": f"{self.url}/statuscategory/{cid}", "id": cid,
                                   "key": status["category"], "colorName": colour, "name": cname}}

    def project_ref(self, project: dict[str, Any]) -> dict[str, Any]:
        return {"self": f"{self.url}/project/{project['id']}", "id": project["id"], "key": project["key"],
                "name": project["name"], "projectTypeKey": "software", "simplified": False, "style": "classic",
                "avatarUrls": {s: f"{self.base_url}/secure/projectavatar?size={s}" for s in ("16x16", "48x48")}}

    def version(self, project: dict[str, Any], name: str) -> dict[str, Any]:
        vid = project["versions"][name]
        return {"self": f"{self.url}/version/{vid}", "id": vid, "name": name, "archived": False, "released": False,
                "projectId": int(project["id"])}

    def comment_json(self, issue: dict[str, Any], comment: dict[str, Any]) -> dict[str, Any]:
        body = {"self": f"{self.url}/issue/{issue['id']}/comment/{comment['id']}", "id": comment["id"],
                "author": self.user(comment["author"]), "body": comment["body"],
                "updateAuthor": self.user(comment["update_author"]), "created": comment["created"],
                "updated": comment["updated"]}
        if comment.get("visibility"):
            body["visibility"] = comment["visibility"]
        return body

    def issue_json(self, issue: dict[str, Any], fields: list[str] | None = None) -> dict[str, Any]:
        project = self.projects[issue["project"]]
        comments = [self.comment_json(issue, c) for c in issue["comments"]]
        all_fields: dict[str, Any] = {
            "summary": issue["summary"],
            "description": issue["description"],
            "status": self.status(project, issue["status"]),
            "issuetype": {"self": f"{self.url}/issuetype/{project['types'][issue['type']]}",
                          "id": project["types"][issue["type"]], "description": "", "name": issue["type"],
                          "subtask": False, "iconUrl": f"{self.base_url}/images/icons/issuetypes/generic.png"},
            "project": self.project_ref(project),
            "fixVersions": [self.version(project, v) for v in issue["fix_versions"]],
            "labels": [],
            "priority": {"self": f"{self.url}/priority/3", "id": "3", "name": "Medium"},
            "resolution": ({"self": f"{self.url}/resolution/1", "id": "1", "name": "Done"}
                           if project["statuses"][issue["status"]]["category"] == "done" else None),
            "assignee": None,
            "reporter": self.user(issue["reporter"]),
            "creator": self.user(issue["reporter"]),
            "created": issue["created"],
            "updated": issue["updated"],
            "comment": {"comments": comments, "maxResults": len(comments), "total": len(comments), "startAt": 0},
            "attachment": [],
            "sub-tasks": [],
            "subtasks": [],
            "issuelinks": [],
            "worklog": {"startAt": 0, "maxResults": 20, "total": 0, "worklogs": []},
            "watcher": {"self": f"{self.url}/issue/{issue['key']}/watchers", "isWatching": False, "watchCount": 0},
            "timetracking": {},
        }
        if fields and "*all" not in fields and "*navigable" not in fields:
            all_fields = {k: v for k, v in all_fields.items() if k in fields}
        return {"expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
                "id": issue["id"], "self": f"{self.url}/issue/{issue['id']}", "key": issue["key"],
                "fields": all_fields}

    def _touch(self, issue: dict[str, Any]) -> None:
        issue["updated"] = _now()

    # -- REST: server, issue ---------------------------------------------------------------------------------
    def server_info(self, request: Request) -> Response:
        version, numbers = (("1001.0.0-SNAPSHOT", [1001, 0, 0]) if self.cloud else ("9.12.2", [9, 12, 2]))
        return Response(200, {
            "baseUrl": self.base_url, "displayUrl": self.base_url, "displayUrlConfluence": self.base_url + "/wiki",
            "displayUrlServicedeskHelpCenter": self.base_url + "/servicedesk", "version": version,
            "versionNumbers": numbers, "deploymentType": "Cloud" if self.cloud else "Server",
            "buildNumber": 100234 if self.cloud else 9120002, "buildDate": "2024-01-15T00:00:00.000+0000",
            "serverTime": _now(), "scmInfo": "0" * 40, "serverTitle": "jdci sandbox JIRA",
            "serverTimeZone": "UTC", "defaultLocale": {"locale": "en_US"},
        })

    def list_fields(self, request: Request) -> Response:
        # the `jira` client reads this before a Server search, to translate JQL field names
        names = ["summary", "description", "status", "issuetype", "project", "fixVersions", "labels", "priority",
                 "resolution", "assignee", "reporter", "created", "updated", "comment"]
        return Response(200, [{"id": n, "key": n, "name": n[:1].upper() + n[1:], "custom": False, "orderable": True,
                               "navigable": True, "searchable": True, "clauseNames": [n]} for n in names])

    def myself(self, request: Request) -> Response:
        return Response(200, self.user(request.user))

    def get_issue(self, request: Request) -> Response:
        fields = request.arg("fields")
        return Response(200, self.issue_json(self._issue(request), fields.split(",") if fields else None))

    def edit_issue(self, request: Request) -> Response:
        issue = self._issue(request)
        self._writable(request, issue, "edit")
        project = self.projects[issue["project"]]
        data = request.json()
        versions = list(issue["fix_versions"])

        def name_of(ref: Any) -> str:
            if isinstance(ref, dict):
                if "name" in ref and ref["name"] in project["versions"]:
                    return str(ref["name"])
                for name, vid in project["versions"].items():
                    if "id" in ref and str(ref["id"]) == vid:
                        return name
                what = f"Version name '{ref.get('name')}'" if "name" in ref else f"Version id '{ref.get('id')}'"
            else:
                what = f"Version '{ref}'"
            raise self.field_error(400, "fixVersions", f"{what} is not valid")

        for field, value in (data.get("fields") or {}).items():
            if field == "fixVersions":
                versions = [name_of(v) for v in value or []]
            elif field == "summary":
                if not isinstance(value, str) or not value.strip():
                    raise self.field_error(400, "summary", "You must specify a summary of the issue.")
                issue["summary"] = value
            elif field == "description":
                issue["description"] = value
            else:
                raise self.field_error(400, field, f"Field '{field}' cannot be set. It is not on the appropriate "
                                                   f"screen, or unknown.")
        for field, operations in (data.get("update") or {}).items():
            if field != "fixVersions":
                raise self.field_error(400, field, f"Field '{field}' cannot be set. It is not on the appropriate "
                                                   f"screen, or unknown.")
            for operation in operations:
                for verb, value in operation.items():
                    if verb == "add" and name_of(value) not in versions:
                        versions.append(name_of(value))
                    elif verb == "remove":
                        versions = [v for v in versions if v != name_of(value)]
                    elif verb == "set":
                        versions = [name_of(v) for v in value]
        if versions != issue["fix_versions"]:
            issue["fix_versions"] = versions
        self._touch(issue)
        return Response(204)

    # -- comments ------------------------------------------------------------------------------------------
    def list_comments(self, request: Request) -> Response:
        issue = self._issue(request)
        comments = list(issue["comments"])
        if request.arg("orderBy", "") in ("-created",):
            comments.reverse()
        start = max(0, request.int_arg("startAt", 0))
        size = min(max(1, request.int_arg("maxResults", 50)), 100)
        page = comments[start:start + size]
        return Response(200, {"startAt": start, "maxResults": size, "total": len(comments),
                              "comments": [self.comment_json(issue, c) for c in page]})

    def _body(self, request: Request) -> dict[str, Any]:
        data = request.json()
        body = data.get("body")
        if not isinstance(body, str) or not body.strip():
            raise self.field_error(400, "comment", "Comment body can not be empty!")
        return data

    def add_comment(self, request: Request) -> Response:
        issue = self._issue(request)
        self._writable(request, issue, "comment on")
        data = self._body(request)
        now = _now()
        comment = {"id": self._id(), "body": data["body"], "author": request.user, "update_author": request.user,
                   "created": now, "updated": now, "visibility": data.get("visibility")}
        issue["comments"].append(comment)
        self._touch(issue)
        return Response(201, self.comment_json(issue, comment))

    def _comment(self, request: Request, issue: dict[str, Any]) -> dict[str, Any]:
        for comment in issue["comments"]:
            if comment["id"] == request.params["id"]:
                return comment
        raise self.error(404, f"Can not find a comment for the id: {request.params['id']}.")

    def get_comment(self, request: Request) -> Response:
        issue = self._issue(request)
        return Response(200, self.comment_json(issue, self._comment(request, issue)))

    def update_comment(self, request: Request) -> Response:
        issue = self._issue(request)
        comment = self._comment(request, issue)
        self._writable(request, issue, "edit comments on")
        data = self._body(request)
        comment.update(body=data["body"], update_author=request.user, updated=_now())
        if "visibility" in data:
            comment["visibility"] = data["visibility"]
        self._touch(issue)
        return Response(200, self.comment_json(issue, comment))

    # -- transitions -----------------------------------------------------------------------------------------
    def _available(self, issue: dict[str, Any]) -> list[dict[str, Any]]:
        workflow = self.projects[issue["project"]]["transitions"]
        return [t for t in workflow if not t.get("from") or issue["status"] in t["from"]]

    def list_transitions(self, request: Request) -> Response:
        issue = self._issue(request)
        project = self.projects[issue["project"]]
        wanted = request.arg("transitionId")
        return Response(200, {"expand": "transitions", "transitions": [
            {"id": t["id"], "name": t["name"], "to": self.status(project, t["to"]), "hasScreen": False,
             "isGlobal": not t.get("from"), "isInitial": False, "isAvailable": True, "isConditional": False,
             "fields": {}}
            for t in self._available(issue) if wanted is None or t["id"] == wanted]})

    def do_transition(self, request: Request) -> Response:
        issue = self._issue(request)
        self._writable(request, issue, "transition")
        wanted = (request.json().get("transition") or {})
        tid = str(wanted.get("id", "")) if isinstance(wanted, dict) else ""
        if not tid:
            raise self.error(400, "Missing 'transition' identifier")
        for transition in self._available(issue):
            if transition["id"] == tid:
                issue["status"] = transition["to"]
                self._touch(issue)
                return Response(204)
        raise self.error(400, f"Transition id '{tid}' is not valid for this issue.")

    # -- remote links ----------------------------------------------------------------------------------------
    def _link_json(self, issue: dict[str, Any], link: dict[str, Any]) -> dict[str, Any]:
        body = {"id": link["id"], "self": f"{self.url}/issue/{issue['key']}/remotelink/{link['id']}"}
        for name in ("globalId", "application", "relationship", "object"):
            if link.get(name) is not None:
                body[name] = link[name]
        return body

    def list_remote_links(self, request: Request) -> Response:
        issue = self._issue(request)
        global_id = request.arg("globalId")
        links = [self._link_json(issue, link) for link in issue["remote_links"]
                 if global_id is None or link.get("globalId") == global_id]
        return Response(200, links)

    def get_remote_link(self, request: Request) -> Response:
        issue = self._issue(request)
        for link in issue["remote_links"]:
            if str(link["id"]) == request.params["id"]:
                return Response(200, self._link_json(issue, link))
        raise self.error(404, f"No remote link with id '{request.params['id']}' on this issue.")

    def add_remote_link(self, request: Request) -> Response:
        issue = self._issue(request)
        self._writable(request, issue, "link")
        data = request.json()
        obj = data.get("object")
        if not isinstance(obj, dict) or not obj.get("title"):
            raise self.field_error(400, "title", "'title' is required.")
        if not obj.get("url"):
            raise self.field_error(400, "url", "'url' is required.")
        fields = {name: data.get(name) for name in ("globalId", "application", "relationship")}
        fields["object"] = obj
        if fields["globalId"]:
            for link in issue["remote_links"]:
                if link.get("globalId") == fields["globalId"]:
                    link.update(fields)
                    self._touch(issue)
                    return Response(200, {"id": link["id"], "self": self._link_json(issue, link)["self"]})
        link = {"id": int(self._id()), **fields}
        issue["remote_links"].append(link)
        self._touch(issue)
        return Response(201, {"id": link["id"], "self": self._link_json(issue, link)["self"]})

    # -- search --------------------------------------------------------------------------------------------
    def _params(self, request: Request) -> dict[str, Any]:
        if request.method == "POST":
            return dict(request.json())
        params: dict[str, Any] = {name: request.arg(name) for name in request.query}
        if "fields" in params and params["fields"] is not None:
            params["fields"] = [f for value in request.query["fields"] for f in value.split(",") if f]
        return params

    def search(self, request: Request) -> Response:
        if self.cloud:
            raise self.error(410, "The requested API has been removed. Please migrate to the /rest/api/3/search/jql "
                                  "API. A full migration guideline is available at "
                                  "https://developer.atlassian.com/changelog/#CHANGE-2046")
        params = self._params(request)
        validate = str(params.get("validateQuery", "true")).lower() not in ("false", "none", "warn")
        found, missing = self._run_jql(str(params.get("jql") or ""))
        if missing and validate:
            raise self.error(400, f"An issue with key '{missing[0]}' does not exist for field 'key'.")
        start = max(0, int(params.get("startAt") or 0))
        size = min(max(0, int(params.get("maxResults") or 50)), 100)
        fields = params.get("fields") or ["*navigable"]
        body: dict[str, Any] = {"expand": "schema,names", "startAt": start, "maxResults": size, "total": len(found),
                                "issues": [self.issue_json(i, fields) for i in found[start:start + size]]}
        if missing:
            body["warningMessages"] = [f"An issue with key '{k}' does not exist for field 'key'." for k in missing]
        return Response(200, body)

    def search_jql(self, request: Request) -> Response:
        if not self.cloud:
            raise self.error(404, "null for uri: " + self.base_url + request.path)
        params = self._params(request)
        found, _ = self._run_jql(str(params.get("jql") or ""))
        token = str(params.get("nextPageToken") or "")
        start = int(token[4:]) if token.startswith("page") and token[4:].isdigit() else 0
        if token and not token.startswith("page"):
            raise self.error(400, "The provided next page token is invalid or expired.")
        size = min(max(1, int(params.get("maxResults") or 50)), 100)
        fields = params.get("fields") or ["id"]  # Cloud's new search returns ids only unless asked for fields
        page = found[start:start + size]
        body: dict[str, Any] = {"issues": [self.issue_json(i, fields) for i in page],
                                "isLast": start + size >= len(found)}
        if not body["isLast"]:
            body["nextPageToken"] = f"page{start + size}"
        return Response(200, body)

    def _run_jql(self, jql: str) -> tuple[list[dict[str, Any]], list[str]]:
        """(matching issues in key order, keys named in `key in/=` that do not exist)."""
        query = re.split(r"\s+ORDER\s+BY\s+", jql.strip(), maxsplit=1, flags=re.IGNORECASE)[0].strip()
        issues = list(self.issues.values())
        missing: list[str] = []
        if query:
            for clause in re.split(r"\s+AND\s+", query, flags=re.IGNORECASE):
                issues = self._filter(clause.strip(), issues, missing)
        issues.sort(key=lambda i: (i["project"], int(i["key"].rsplit("-", 1)[1])))
        return issues, missing

    def _filter(self, clause: str, issues: list[dict[str, Any]], missing: list[str]) -> list[dict[str, Any]]:
        match = re.fullmatch(r'(\w+)\s*(=|!=|(?:not\s+)?in)\s*(.+)', clause, flags=re.IGNORECASE)
        if not match:
            raise self.error(400, f"Error in the JQL Query: cannot parse '{clause}'.")
        field, op, raw = match.group(1).lower(), re.sub(r"\s+", " ", match.group(2).lower()), match.group(3).strip()
        if op.endswith("in"):
            if not (raw.startswith("(") and raw.endswith(")")):
                raise self.error(400, f"Error in the JQL Query: expected a list in '{clause}'.")
            values = [v.strip().strip('"\'') for v in raw[1:-1].split(",") if v.strip()]
        else:
            values = [raw.strip('"\'')]
        getters = {"key": lambda i: i["key"], "issuekey": lambda i: i["key"], "project": lambda i: i["project"],
                   "status": lambda i: i["status"], "issuetype": lambda i: i["type"], "type": lambda i: i["type"],
                   "id": lambda i: i["id"]}
        if field not in getters:
            raise self.error(400, f"Field '{field}' does not exist or you do not have permission to view it.")
        if field in ("key", "issuekey"):
            values = [v.upper() for v in values]
            missing.extend(v for v in values if v not in self.issues and v not in missing)
        wanted = {v.lower() for v in values}
        keep = op in ("=", "in")
        return [i for i in issues if (getters[field](i).lower() in wanted) == keep]

    # -- control API -------------------------------------------------------------------------------------------
    def control_mode(self, request: Request) -> Response:
        self.cloud = bool(request.json().get("cloud"))
        return Response(200, {"cloud": self.cloud})

    def control_project(self, request: Request) -> Response:
        """Create a project, or update its name/workflow/types/versions/readers; its tickets are kept."""
        data = request.json()
        key = str(data.get("key", ""))
        if not re.fullmatch(r"[A-Z][A-Z0-9_]+", key):
            raise HttpError(400, {"message": f"bad project key {key!r}: a capital letter, then capitals/digits/_"})
        workflow = data.get("workflow") or {}
        statuses = [s if isinstance(s, dict) else {"name": s} for s in
                    (workflow.get("statuses") or data.get("statuses") or DEFAULT_STATUSES)]
        for i, status in enumerate(statuses):
            status.setdefault("category", "new" if i == 0 else "done" if status["name"].lower() in
                              ("done", "closed", "resolved") else "indeterminate")
        transitions = workflow.get("transitions") or data.get("transitions") or DEFAULT_WORKFLOW
        names = {s["name"] for s in statuses}
        for t in transitions:
            if t["to"] not in names or any(f not in names for f in t.get("from", [])):
                raise HttpError(400, {"message": f"transition {t} names a status not in {sorted(names)}"})
        old = self.projects.get(key, {})
        ids = {**old.get("statuses", {}), **old.get("types", {}), **old.get("versions", {})}

        def ident(name: str) -> str:
            return ids[name]["id"] if isinstance(ids.get(name), dict) else ids.get(name) or self._id()

        project = {
            "key": key, "id": old.get("id") or self._id(), "name": data.get("name") or old.get("name") or key,
            "statuses": {s["name"]: {"id": ident(s["name"]), "category": s["category"]} for s in statuses},
            "transitions": [{"id": str(t["id"]), "name": t["name"], "to": t["to"], "from": list(t.get("from", []))}
                            for t in transitions],
            "types": {n: ident(n) for n in data.get("issue_types") or old.get("types") or DEFAULT_TYPES},
            "versions": {str(n): ident(str(n)) for n in data.get("versions") or old.get("versions") or []},
            "readers": list(data.get("readers") or []),
            "counter": old.get("counter", 0),
        }
        for issue in self.issues.values():  # a ticket whose status left the workflow goes back to the start
            if issue["project"] == key and issue["status"] not in project["statuses"]:
                issue["status"] = statuses[0]["name"]
            if issue["project"] == key and issue["type"] not in project["types"]:
                project["types"][issue["type"]] = self._id()
        self.projects[key] = project
        return Response(201 if not old else 200, {"key": key, "statuses": [s["name"] for s in statuses],
                                                  "transitions": project["transitions"]})

    def control_issue(self, request: Request) -> Response:
        data = request.json()
        key = str(data.get("key") or "").upper()
        project_key = key.rsplit("-", 1)[0] if key else str(data.get("project", ""))
        project = self.projects.get(project_key)
        if project is None:
            raise HttpError(400, {"message": f"no project {project_key!r}; POST /_sandbox/projects first"})
        if key:
            if not _KEY.match(key):
                raise HttpError(400, {"message": f"bad ticket key {key!r}"})
            project["counter"] = max(project["counter"], int(key.rsplit("-", 1)[1]))
        else:
            project["counter"] += 1
            key = f"{project_key}-{project['counter']}"
        status = data.get("status") or next(iter(project["statuses"]))
        kind = data.get("type") or data.get("issuetype") or next(iter(project["types"]))
        if status not in project["statuses"]:
            raise HttpError(400, {"message": f"status {status!r} not in project {project_key}'s workflow"})
        if kind not in project["types"]:
            raise HttpError(400, {"message": f"issue type {kind!r} not in project {project_key}"})
        now = _now()
        self.issues[key] = {"key": key, "id": self._id(), "project": project_key, "summary": data.get("summary") or key,
                            "description": data.get("description"), "status": status, "type": kind,
                            "fix_versions": [], "comments": [], "remote_links": [], "reporter": "sandbox",
                            "created": now, "updated": now}
        return Response(201, self.issue_json(self.issues[key]))

    def control_get_issue(self, request: Request) -> Response:
        issue = self.issues.get(request.params["key"].upper())
        if issue is None:
            raise HttpError(404, {"message": "no such issue"})
        return Response(200, issue)
