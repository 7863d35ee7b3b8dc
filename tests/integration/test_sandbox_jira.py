"""The JIRA sandbox against the real `jira` client and plain requests, and its shapes against the recorded
examples in shared/fixtures/jira (v3 examples: in v2 comment bodies and descriptions are strings)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

pytestmark = pytest.mark.integration
FIXTURES = Path("/work/shared/fixtures/jira")
AUTH = {"Authorization": "Bearer alice"}


def fixture(name: str) -> Any:
    path = FIXTURES / name
    if not path.exists():
        pytest.skip(f"fixture {path} not available")
    return json.loads(path.read_text())


def project_key(unique: str) -> str:
    return "S" + "".join(chr(ord("A") + int(c, 16) % 26) for c in unique)


@pytest.fixture
def jira_url(sandbox: dict) -> str:
    return sandbox["jira"].url


@pytest.fixture
def project(jira_url: str, unique: str) -> str:
    key = project_key(unique)
    r = requests.post(f"{jira_url}/_sandbox/projects", json={"key": key, "versions": ["1.0"], "readers": ["reader"]})
    assert r.status_code == 201, r.text
    return key


def seed(jira_url: str, key: str, **fields: Any) -> str:
    r = requests.post(f"{jira_url}/_sandbox/issues", json={"key": key, "summary": f"ticket {key}", **fields})
    assert r.status_code == 201, r.text
    return key


@pytest.fixture
def client(jira_url: str) -> Any:
    import jira

    return jira.JIRA(jira_url, token_auth="alice", max_retries=0)


@pytest.fixture
def cloud(jira_url: str) -> Iterator[None]:
    requests.post(f"{jira_url}/_sandbox/mode", json={"cloud": True}).raise_for_status()
    try:
        yield
    finally:
        requests.post(f"{jira_url}/_sandbox/mode", json={"cloud": False}).raise_for_status()


def test_server_info_is_server_v2_with_version_numbers(client: Any) -> None:
    info = client.server_info()
    assert info["deploymentType"] == "Server"
    assert set(fixture("serverInfo.get.200.json")) <= set(info)
    assert client._version >= (8, 0, 0)  # the constructor's read of versionNumbers worked


def test_issue_shape_matches_the_fixture_with_string_bodies(jira_url: str, project: str) -> None:
    key = seed(jira_url, f"{project}-1", description="Main order flow broken")
    r = requests.get(f"{jira_url}/rest/api/2/issue/{key}", headers=AUTH)
    assert r.status_code == 200
    issue = r.json()
    expected = fixture("issue.get.200.json")
    assert set(expected) <= set(issue)
    assert set(expected["fields"]) <= set(issue["fields"])
    assert set(expected["fields"]["project"]) - {"insight", "projectCategory"} <= set(issue["fields"]["project"])
    assert issue["fields"]["description"] == "Main order flow broken"  # v2: a string, not an ADF document
    status = issue["fields"]["status"]
    assert status["name"] == "To Do" and status["statusCategory"]["key"] == "new"
    assert issue["fields"]["issuetype"]["name"] == "Story"
    assert issue["fields"]["project"]["key"] == project
    assert issue["fields"]["fixVersions"] == []


def test_comments_add_list_paged_and_update(jira_url: str, project: str, client: Any) -> None:
    key = seed(jira_url, f"{project}-2")
    added = requests.post(f"{jira_url}/rest/api/2/issue/{key}/comment", headers=AUTH, json={"body": "one"})
    assert added.status_code == 201
    assert set(fixture("issue.comment.add.201.json")) - {"visibility"} <= set(added.json())
    assert added.json()["body"] == "one" and added.json()["author"]["name"] == "alice"
    for n in range(2, 6):
        client.add_comment(key, f"comment {n}")
    page = requests.get(f"{jira_url}/rest/api/2/issue/{key}/comment", headers=AUTH,
                        params={"startAt": 1, "maxResults": 2}).json()
    assert set(fixture("issue.comment.list.200.json")) <= set(page)
    assert (page["startAt"], page["maxResults"], page["total"]) == (1, 2, 5)
    assert [c["body"] for c in page["comments"]] == ["comment 2", "comment 3"]
    comment = client.comments(key)[0]
    comment.update(body="one, edited")
    updated = requests.get(f"{jira_url}/rest/api/2/issue/{key}/comment/{comment.id}", headers=AUTH).json()
    assert set(fixture("issue.comment.update.200.json")) - {"visibility"} <= set(updated)
    assert updated["body"] == "one, edited"
    empty = requests.post(f"{jira_url}/rest/api/2/issue/{key}/comment", headers=AUTH, json={"body": ""})
    assert empty.status_code == 400 and empty.json()["errors"]


def test_transitions_follow_the_seeded_workflow(jira_url: str, project: str, client: Any) -> None:
    key = seed(jira_url, f"{project}-3")
    listed = requests.get(f"{jira_url}/rest/api/2/issue/{key}/transitions", headers=AUTH).json()
    example = fixture("issue.transitions.get.200.json")["transitions"][0]
    assert set(example) <= set(listed["transitions"][0])
    assert {t["name"]: t["to"]["name"] for t in listed["transitions"]} == {
        "Start Progress": "In Progress", "In Review": "In Review"}
    refused = requests.post(f"{jira_url}/rest/api/2/issue/{key}/transitions", headers=AUTH,
                            json={"transition": {"id": "31"}})
    assert refused.status_code == 400
    assert set(refused.json()) == {"errorMessages", "errors"} and "31" in refused.json()["errorMessages"][0]
    client.transition_issue(key, "21")
    assert client.issue(key).fields.status.name == "In Review"


def test_custom_workflow_and_global_transitions(jira_url: str, unique: str) -> None:
    key = project_key(unique) + "W"
    r = requests.post(f"{jira_url}/_sandbox/projects", json={"key": key, "workflow": {
        "statuses": ["Open", "Closed"], "transitions": [{"id": "2", "name": "Close", "to": "Closed"}]}})
    assert r.status_code == 201
    ticket = seed(jira_url, f"{key}-5")
    assert requests.post(f"{jira_url}/rest/api/2/issue/{ticket}/transitions", headers=AUTH,
                         json={"transition": {"id": "2"}}).status_code == 204
    again = requests.post(f"{jira_url}/_sandbox/projects", json={"key": key, "name": "renamed"})
    assert again.status_code == 200  # re-seeding updates; the ticket and its counter stay
    assert requests.get(f"{jira_url}/rest/api/2/issue/{ticket}", headers=AUTH).status_code == 200
    created = requests.post(f"{jira_url}/_sandbox/issues", json={"project": key, "summary": "next"}).json()
    assert created["key"] == f"{key}-6"


def test_remote_links_are_idempotent_by_global_id(jira_url: str, project: str, client: Any) -> None:
    key = seed(jira_url, f"{project}-4")
    body = {"globalId": "jdci:pr:1", "object": {"url": "http://pr/1", "title": "PR 1"}}
    first = requests.post(f"{jira_url}/rest/api/2/issue/{key}/remotelink", headers=AUTH, json=body)
    assert first.status_code == 201
    assert set(first.json()) == set(fixture("issue.remotelink.post.201.json"))
    body["object"]["title"] = "PR 1 renamed"
    second = requests.post(f"{jira_url}/rest/api/2/issue/{key}/remotelink", headers=AUTH, json=body)
    assert second.status_code == 200 and second.json()["id"] == first.json()["id"]
    links = requests.get(f"{jira_url}/rest/api/2/issue/{key}/remotelink", headers=AUTH).json()
    assert len(links) == 1 and links[0]["object"]["title"] == "PR 1 renamed"
    assert set(fixture("issue.remotelink.get.200.json")[0]) <= set(links[0]) | {"application", "relationship"}
    bad = requests.post(f"{jira_url}/rest/api/2/issue/{key}/remotelink", headers=AUTH, json={"object": {}})
    assert bad.status_code == 400 and bad.json() == fixture("issue.remotelink.post.400.json")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the client's application-link probe must not warn
        client.add_remote_link(key, {"url": "http://pr/2", "title": "PR 2"}, globalId="jdci:pr:2")
    assert len(client.remote_links(key)) == 2


def test_fix_versions(jira_url: str, project: str, client: Any) -> None:
    key = seed(jira_url, f"{project}-5")
    client.issue(key).add_field_value("fixVersions", {"name": "1.0"})
    assert [v.name for v in client.issue(key).fields.fixVersions] == ["1.0"]
    bad = requests.put(f"{jira_url}/rest/api/2/issue/{key}", headers=AUTH,
                       json={"fields": {"fixVersions": [{"name": "9.9"}]}})
    assert bad.status_code == 400 and "fixVersions" in bad.json()["errors"]


def test_errors_have_jira_bodies(jira_url: str, project: str) -> None:
    key = seed(jira_url, f"{project}-6")
    missing = requests.get(f"{jira_url}/rest/api/2/issue/{project}-999", headers=AUTH)
    assert missing.status_code == 404
    assert missing.json() == {"errorMessages": ["Issue Does Not Exist"], "errors": {}}
    assert set(missing.json()) == set(fixture("error.404.json"))
    for headers in ({}, {"Authorization": "Bearer bad-token"}, {"Authorization": "Basic YWxpY2U6YmFkLXB3"}):
        refused = requests.get(f"{jira_url}/rest/api/2/issue/{key}", headers=headers)
        assert refused.status_code == 401
        assert refused.json() == fixture("error.401.json")
    assert requests.get(f"{jira_url}/rest/api/2/myself", auth=("bob", "secret")).json()["name"] == "bob"
    reader = {"Authorization": "Bearer reader"}
    assert requests.get(f"{jira_url}/rest/api/2/issue/{key}", headers=reader).status_code == 200
    forbidden = requests.post(f"{jira_url}/rest/api/2/issue/{key}/comment", headers=reader, json={"body": "x"})
    assert forbidden.status_code == 403 and forbidden.json()["errorMessages"]


def test_fault_injection_gives_429_with_retry_after(jira_url: str, project: str) -> None:
    key = seed(jira_url, f"{project}-7")
    requests.post(f"{jira_url}/_sandbox/faults", json={"path": f"/issue/{key}$", "status": 429,
                                                        "headers": {"Retry-After": "3"}, "count": 1})
    first = requests.get(f"{jira_url}/rest/api/2/issue/{key}", headers=AUTH)
    assert first.status_code == 429 and first.headers["Retry-After"] == "3"
    assert set(first.json()) == {"errorMessages", "errors"}
    assert requests.get(f"{jira_url}/rest/api/2/issue/{key}", headers=AUTH).status_code == 200


def test_server_search(jira_url: str, project: str, client: Any) -> None:
    a, b = seed(jira_url, f"{project}-8"), seed(jira_url, f"{project}-9", status="In Review")
    r = requests.get(f"{jira_url}/rest/api/2/search", headers=AUTH, params={"jql": f"project = {project}"})
    assert set(fixture("search.get.200.json")) - {"warningMessages"} <= set(r.json())
    assert [i.key for i in client.search_issues(f"key in ({a}, {b}) ORDER BY key")] == [a, b]
    assert [i.key for i in client.search_issues(f'project = {project} AND status = "In Review"')] == [b]
    strict = requests.get(f"{jira_url}/rest/api/2/search", headers=AUTH, params={"jql": f"key in ({a}, {project}-77)"})
    assert strict.status_code == 400 and f"{project}-77" in strict.json()["errorMessages"][0]
    lenient = requests.get(f"{jira_url}/rest/api/2/search", headers=AUTH,
                           params={"jql": f"key in ({a}, {project}-77)", "validateQuery": "false"}).json()
    assert [i["key"] for i in lenient["issues"]] == [a] and lenient["warningMessages"]
    bad = requests.get(f"{jira_url}/rest/api/2/search", headers=AUTH, params={"jql": "nonsense"})
    assert bad.status_code == 400 and bad.json()["errorMessages"]
    assert requests.get(f"{jira_url}/rest/api/2/search/jql", headers=AUTH,
                        params={"jql": "project = X"}).status_code == 404  # Server has no search/jql


def test_cloud_mode_search_jql_with_page_tokens(jira_url: str, project: str, cloud: None) -> None:
    import jira

    keys = [seed(jira_url, f"{project}-{n}") for n in (11, 12, 13)]
    info = requests.get(f"{jira_url}/rest/api/2/serverInfo").json()
    assert info["deploymentType"] == "Cloud"
    gone = requests.get(f"{jira_url}/rest/api/2/search", headers=AUTH, params={"jql": f"project = {project}"})
    assert gone.status_code == 410 and gone.json()["errorMessages"]
    seen: list[str] = []
    token = None
    for _ in range(5):
        params = {"jql": f"key in ({', '.join(keys)})", "maxResults": 2, "fields": "status"}
        if token:
            params["nextPageToken"] = token
        page = requests.get(f"{jira_url}/rest/api/2/search/jql", headers=AUTH, params=params).json()
        assert set(fixture("search.jql.get.200.json")) <= set(page) | {"isLast"}
        seen += [i["key"] for i in page["issues"]]
        if page["isLast"]:
            break
        token = page["nextPageToken"]
    assert seen == keys
    client = jira.JIRA(jira_url, token_auth="alice", max_retries=0)
    assert client._is_cloud
    assert [i.key for i in client.search_issues(f"project = {project}", maxResults=False)] == keys
    missing = requests.get(f"{jira_url}/rest/api/2/issue/{project}-999", headers=AUTH)
    assert missing.json()["errorMessages"] == fixture("error.404.json")["errorMessages"]
