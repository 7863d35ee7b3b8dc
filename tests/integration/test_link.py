"""`tickets.link` / `update` / `transition` / `statuses` against the JIRA sandbox over real HTTP, through the
real `jira` client. Writes are counted on the sandbox's own request log, not on what jdci says it did."""
from __future__ import annotations

import dataclasses
import json
import logging
import socket
from typing import Any, Iterator

import pytest
import requests

from jenkins_docker_ci import tickets
from jenkins_docker_ci.config import Config, JiraConfig, Secrets
from jenkins_docker_ci.context import Change
from jenkins_docker_ci.errors import ConfigError, ServiceError, TicketError

pytestmark = pytest.mark.integration
TOKEN = "jdci-bot-tok-5f1e9c"  # the sandbox acts as the user named by the token; it must never be printed
WRITES = ("POST", "PUT", "DELETE", "PATCH")


def project_key(unique: str) -> str:
    return "L" + "".join(chr(ord("A") + int(c, 16) % 26) for c in unique)


class Jira:
    """The sandbox as a test sees it: seed data, read state, count requests."""

    def __init__(self, url: str, project: str) -> None:
        self.url = url
        self.project = project
        self.ids: set[str] = set()  # comment and link URLs name the issue by id
        r = requests.post(f"{url}/_sandbox/projects", json={"key": project, "versions": ["2.0"]})
        assert r.status_code == 201, r.text

    def seed(self, number: int, status: str = "To Do", **fields: Any) -> str:
        key = f"{self.project}-{number}"
        r = requests.post(f"{self.url}/_sandbox/issues", json={"key": key, "status": status, **fields})
        assert r.status_code == 201, r.text
        self.ids.add(r.json()["id"])
        return key

    def state(self, key: str) -> dict[str, Any]:
        return requests.get(f"{self.url}/_sandbox/issues/{key}").json()

    def requests(self) -> list[dict[str, Any]]:
        """This project's API requests (the sandbox is shared by the whole session)."""
        return [r for r in requests.get(f"{self.url}/_sandbox/requests").json()
                if f"/{self.project}-" in r["path"] or self.project in r["query"].get("jql", "")
                or any(f"/issue/{i}/" in r["path"] for i in self.ids)]

    def writes(self) -> list[dict[str, Any]]:
        return [r for r in self.requests() if r["method"] in WRITES]

    def fault(self, **spec: Any) -> None:
        requests.post(f"{self.url}/_sandbox/faults", json=spec).raise_for_status()


@pytest.fixture
def jira(sandbox: dict, unique: str) -> Iterator[Jira]:
    server = Jira(sandbox["jira"].url, project_key(unique))
    yield server
    requests.delete(f"{server.url}/_sandbox/faults")


def make_config(url: str, **jira: Any) -> Config:
    jira.setdefault("transitions", {"opened": "In Review", "merged": "Done"})
    jira.setdefault("timeout", 5.0)
    return Config(jira=JiraConfig(url=url, **jira))


SECRETS = Secrets(jira_token=TOKEN)


def change(title: str, branch: str = "feature/x", pr: int = 7) -> Change:
    return Change(repository="acme/shop", pr_number=pr, title=title, source_branch=branch, target_branch="main",
                  pr_url=f"https://github.example.com/acme/shop/pull/{pr}", build_url="https://ci.example.com/job/1/")


def details(c: Change, **extra: Any) -> tickets.CommentDetails:
    return tickets.CommentDetails(pr_url=c.pr_url, pr_title=c.title, pr_number=c.pr_number,
                                  build_url=c.build_url, **extra)


class Logs:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, message: str) -> None:
        self.lines.append(message)


def run_link(jira: Jira, c: Change, logs: Logs | None = None, *, event: str | None = "opened",
             config: Config | None = None, **extra: Any) -> tickets.LinkResult:
    return tickets.link(config or make_config(jira.url), SECRETS, c, details(c, **extra), event=event,
                        log=logs or Logs(), repo_dir="")


def test_link_twice_one_comment_one_link_and_no_write_the_second_time(jira: Jira) -> None:
    key = jira.seed(1)
    c = change(f"{key}: show the basket total")
    first = run_link(jira, c)
    assert first.tickets == [key]
    assert first.writes == 3  # comment, remote link, transition
    assert len(jira.writes()) == 3
    state = jira.state(key)
    assert state["status"] == "In Review"
    assert len(state["comments"]) == 1 and len(state["remote_links"]) == 1
    body = state["comments"][0]["body"]
    assert "{anchor:jdci-pr-acme-shop-7}" in body and c.pr_url in body and c.build_url in body

    second = run_link(jira, c)
    assert second.tickets == [key] and second.writes == 0
    assert len(jira.writes()) == 3  # the sandbox saw no new write
    state = jira.state(key)
    assert len(state["comments"]) == 1 and len(state["remote_links"]) == 1


def test_comment_edited_in_place_when_content_changes(jira: Jira) -> None:
    key = jira.seed(2)
    c = change(f"[{key}] checkout")
    run_link(jira, c)
    other = change(f"[{key}] another PR", pr=8)
    run_link(jira, other)  # a second PR on the same ticket gets its own comment and link
    before = len(jira.writes())
    d = details(c, image_ref="127.0.0.1:5000/acme/shop:pr-7", image_digest="sha256:" + "a" * 64,
                preview_url="http://127.0.0.1:8100/", checks=(("smoke", "passed"), ("visual", "failed")))
    assert tickets.update(make_config(jira.url), SECRETS, c, [key], d, log=Logs()) == 1
    assert tickets.update(make_config(jira.url), SECRETS, c, [key], d, log=Logs()) == 0
    writes = jira.writes()[before:]
    assert [(w["method"], w["path"].rsplit("/", 2)[-2]) for w in writes] == [("PUT", "comment")]
    comments = jira.state(key)["comments"]
    assert len(comments) == 2
    mine = [x for x in comments if "jdci-pr-acme-shop-7}" in x["body"]]
    assert len(mine) == 1 and "sha256:" + "a" * 64 in mine[0]["body"] and "(x) failed" in mine[0]["body"]
    assert len(jira.state(key)["remote_links"]) == 2


def test_marker_of_pr_4_is_not_found_in_pr_42() -> None:
    assert tickets.has_marker("{anchor:jdci-pr-acme-shop-42}", tickets.marker("acme/shop", 42))
    assert not tickets.has_marker("{anchor:jdci-pr-acme-shop-42}", tickets.marker("acme/shop", 4))


def test_unknown_ticket_fails_with_where_it_came_from_and_writes_nothing(jira: Jira) -> None:
    real = jira.seed(3)
    c = change(f"{real} and {jira.project}-404", branch=f"feature/{jira.project}-405-x")
    with pytest.raises(TicketError) as caught:
        run_link(jira, c)
    message = caught.value.message
    assert caught.value.exit_code == 1
    assert f"JIRA ticket {jira.project}-404 not found at {jira.url} (from title)" in message
    assert f"{jira.project}-405 not found" in message and f"branch 'feature/{jira.project}-405-x'" in message
    assert "create it or fix the key" in message
    assert jira.writes() == []


def test_require_ticket_warn_links_the_good_ones(jira: Jira) -> None:
    real = jira.seed(4)
    result = run_link(jira, change(f"{real} {jira.project}-406"), config=make_config(jira.url, require_ticket="warn"))
    assert result.tickets == [real]
    assert any(f"{jira.project}-406 not found" in n for n in result.notes)


def test_no_key_fails_without_contacting_jira(jira: Jira) -> None:
    before = len(requests.get(f"{jira.url}/_sandbox/requests").json())
    with pytest.raises(TicketError, match="no JIRA ticket key found"):
        run_link(jira, change("Improve docs", branch="docs/readme"))
    assert run_link(jira, change("Improve docs"), config=make_config(jira.url, require_ticket="off")).tickets == []
    assert len(requests.get(f"{jira.url}/_sandbox/requests").json()) == before


def test_lower_case_branch_candidate_that_does_not_exist_is_dropped(jira: Jira) -> None:
    key = jira.seed(5)
    c = change(f"{key} port", branch="fix/py3-10")
    logs = Logs()
    result = run_link(jira, c, logs)
    assert result.tickets == [key]
    assert any("PY3-10" in n and "ignored" in n for n in result.notes)
    lower = jira.seed(6)
    assert run_link(jira, change("no key in title", branch=f"feature/{lower.lower()}-x", pr=9)).tickets == [lower]


def test_checks_on_project_status_and_type(jira: Jira) -> None:
    key = jira.seed(7, status="Done", type="Bug")
    c = change(key)
    with pytest.raises(TicketError, match=r"in status 'Done', not one of 'To Do', 'In Progress' \(from title\)"):
        run_link(jira, c, config=make_config(jira.url, allowed_statuses=("To Do", "In Progress")))
    with pytest.raises(TicketError, match="is a Bug, not one of Story"):
        run_link(jira, c, config=make_config(jira.url, allowed_issue_types=("Story",)))
    assert jira.writes() == []


def test_unavailable_transition_lists_the_available_ones(jira: Jira) -> None:
    key = jira.seed(8)  # To Do: "Done" is only reachable from In Review
    c = change(key)
    with pytest.raises(TicketError) as caught:
        run_link(jira, c, event="merged", config=make_config(jira.url, on_missing_transition="fail"))
    message = caught.value.message
    assert f"JIRA ticket {key} in status 'To Do' has no transition 'Done'" in message
    assert "'Start Progress' (-> In Progress)" in message and "'In Review' (-> In Review)" in message
    assert jira.writes() == []  # decided before any write
    result = run_link(jira, c, event="merged", config=make_config(jira.url, on_missing_transition="warn"))
    assert any("has no transition 'Done'" in n for n in result.notes)
    assert jira.state(key)["status"] == "To Do"


def test_transition_on_merge_with_fix_version_and_skip_when_already_there(jira: Jira) -> None:
    key = jira.seed(9, status="In Review")
    config = make_config(jira.url, fix_version="2.0")
    notes = tickets.transition(config, SECRETS, [key], "merged", log=Logs())
    state = jira.state(key)
    assert state["status"] == "Done" and state["fix_versions"] == ["2.0"]
    before = len(jira.writes())
    notes = tickets.transition(config, SECRETS, [key], "merged", log=Logs())
    assert any("already in 'Done'" in n for n in notes)
    assert len(jira.writes()) == before


def test_bad_credentials_are_a_config_error_naming_the_variable(jira: Jira, capsys: pytest.CaptureFixture[str],
                                                                caplog: pytest.LogCaptureFixture) -> None:
    key = jira.seed(10)
    logs = Logs()
    secret = "bad-secret-value-777"
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(ConfigError) as caught:
            tickets.link(make_config(jira.url), Secrets(jira_token=secret), change(key), details(change(key)),
                         log=logs, repo_dir="")
        with pytest.raises(ConfigError) as basic:
            tickets.link(make_config(jira.url), Secrets(jira_user="bot", jira_token=secret), change(key),
                         details(change(key)), log=logs, repo_dir="")
    assert caught.value.exit_code == 2
    assert "HTTP 401" in caught.value.message and "JIRA_TOKEN" in caught.value.message
    assert "JIRA_USER ('bot') + JIRA_TOKEN" in basic.value.message
    out = capsys.readouterr()
    for text in [caught.value.message, basic.value.message, *logs.lines, out.out, out.err, caplog.text]:
        assert secret not in text
    assert jira.writes() == []


def test_429_storm_is_retried_then_a_service_error_within_the_deadline(jira: Jira,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    key = jira.seed(11)
    jira.fault(path=f"/{jira.project}-", status=429, headers={"Retry-After": "1"}, count=1000)
    logs = Logs()
    with pytest.raises(ServiceError) as caught:
        run_link(jira, change(key), logs, config=make_config(jira.url, timeout=2.5))
    assert caught.value.exit_code == 4
    assert "still failing" in caught.value.message and "HTTP 429" in caught.value.message
    assert jira.url in caught.value.message
    statuses = [r["status"] for r in jira.requests()]
    assert len(statuses) >= 2 and set(statuses) == {429}  # retried, never got through, wrote nothing
    out = capsys.readouterr()
    assert TOKEN not in caught.value.message + out.out + out.err + "".join(logs.lines)


def test_transient_errors_with_http_date_retry_after_are_retried_to_success(jira: Jira) -> None:
    key = jira.seed(12)
    jira.fault(path=f"/issue/{key}$", status=503, headers={"Retry-After": "Thu, 01 Jan 1970 00:00:00 GMT"},
               count=1)
    jira.fault(path=f"/issue/{key}/comment", method="POST", status=502, count=1)
    result = run_link(jira, change(key))
    assert result.tickets == [key]
    assert len(jira.state(key)["comments"]) == 1  # the retried POST made exactly one comment
    assert [r["status"] for r in jira.requests()].count(502) == 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_jira_down_is_a_service_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    c = change("ABC-1 x")
    logs = Logs()
    with pytest.raises(ServiceError) as caught:
        tickets.link(make_config(url, timeout=1.0), SECRETS, c, details(c), log=logs, repo_dir="")
    assert caught.value.exit_code == 4
    assert "is JIRA up at " + url in caught.value.message
    assert TOKEN not in caught.value.message + "".join(logs.lines)


def test_statuses_server_and_cloud_search_paths(jira: Jira) -> None:
    a, b = jira.seed(13), jira.seed(14, status="In Review")
    missing = f"{jira.project}-999"
    expected = [(a, "To Do"), (missing, None), (b, "In Review")]
    assert tickets.statuses(make_config(jira.url), SECRETS, [a, missing, b]) == expected
    requests.post(f"{jira.url}/_sandbox/mode", json={"cloud": True}).raise_for_status()
    try:
        assert tickets.statuses(make_config(jira.url), SECRETS, [a, missing, b]) == expected
        forced = make_config(jira.url, deployment="cloud")
        assert tickets.statuses(forced, SECRETS, [a]) == [(a, "To Do")]
    finally:
        requests.post(f"{jira.url}/_sandbox/mode", json={"cloud": False}).raise_for_status()
    paths = [r["path"] for r in jira.requests() if "search" in r["path"]]
    assert paths == ["/rest/api/2/search", "/rest/api/2/search/jql", "/rest/api/2/search/jql"]
    assert all(r["status"] == 200 for r in jira.requests() if "search" in r["path"])


def test_config_without_token_names_the_variable(jira: Jira) -> None:
    key = jira.seed(15)
    with pytest.raises(ConfigError, match="JIRA_TOKEN is not set"):
        tickets.link(make_config(jira.url), Secrets(), change(key), details(change(key)), log=Logs(), repo_dir="")
    with pytest.raises(ConfigError, match=r"\[jira\] url is not set"):
        tickets.link(dataclasses.replace(make_config(""), jira=JiraConfig()), SECRETS, change(key),
                     details(change(key)), log=Logs(), repo_dir="")


def test_cli_link_json_and_exit_codes(jira: Jira, tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    from jenkins_docker_ci import cli

    key = jira.seed(16)
    (tmp_path / "jdci.toml").write_text(f'[jira]\nurl = "{jira.url}"\n[jira.transitions]\nopened = "In Review"\n')
    for name in ("CHANGE_ID", "CHANGE_TITLE", "CHANGE_BRANCH", "CHANGE_TARGET", "CHANGE_URL", "JDCI_CONFIG",
                 "JIRA_USER", "WORKSPACE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JIRA_TOKEN", TOKEN)
    monkeypatch.setenv("CHANGE_URL", "https://github.example.com/acme/shop/pull/3")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["link", "--json", "--title", f"{key} fix", "--pr", "3"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["tickets"] == [key]
    assert jira.state(key)["status"] == "In Review"
    assert cli.main(["link", "--json", "--title", f"{jira.project}-777 fix", "--pr", "3"]) == 1
    out = capsys.readouterr()
    payload = json.loads(out.out)
    assert payload["error"]["kind"] == "ticket" and f"{jira.project}-777 not found" in payload["error"]["message"]
    assert cli.main(["ticket", "transition", "closed", "--keys", key, "--json"]) == 0
    assert "no transition configured for 'closed'" in capsys.readouterr().out
    assert TOKEN not in out.out + out.err


def pipeline_sequence(jira: Jira, c: Change, full: tickets.CommentDetails) -> None:
    """What `jdci pr` does: link before the build (partial details, create-only comment), update after checks."""
    config = make_config(jira.url)
    result = tickets.link(config, SECRETS, c, details(c), event="opened", log=Logs(), repo_dir="", comment="create")
    tickets.update(config, SECRETS, c, result.tickets, full, log=Logs())


def test_pipeline_rerun_rewrites_nothing(jira: Jira) -> None:
    key = jira.seed(17)
    c = change(f"{key}: basket")
    full = details(c, image_ref="127.0.0.1:5000/acme/shop:pr-7", image_digest="sha256:" + "b" * 64,
                   preview_url="http://127.0.0.1:8100/", checks=(("smoke", "passed"),))
    pipeline_sequence(jira, c, full)
    first = [(w["method"], w["path"].rsplit("/", 2)[-2] if w["path"].endswith(tuple("0123456789")) else
              w["path"].rsplit("/", 1)[-1]) for w in jira.writes()]
    assert first == [("POST", "comment"), ("POST", "remotelink"), ("POST", "transitions"), ("PUT", "comment")]
    before = len(jira.writes())
    pipeline_sequence(jira, c, full)
    assert jira.writes()[before:] == []  # no PUT, so watchers get no notification
    comments = jira.state(key)["comments"]
    assert len(comments) == 1 and "sha256:" + "b" * 64 in comments[0]["body"]


def test_link_by_default_still_rewrites_the_comment(jira: Jira) -> None:
    key = jira.seed(18)
    c = change(f"{key}: basket")
    run_link(jira, c, checks=(("smoke", "passed"),))
    before = len(jira.writes())
    assert run_link(jira, c).writes == 1  # `jdci link` keeps the comment as it says now
    assert [w["method"] for w in jira.writes()[before:]] == ["PUT"]
    assert "smoke" not in jira.state(key)["comments"][0]["body"]
    with pytest.raises(ValueError, match="comment"):
        tickets.link(make_config(jira.url), SECRETS, c, details(c), log=Logs(), repo_dir="", comment="never")


def test_only_lower_case_candidates_that_do_not_exist_fail_with_one_consistent_message(jira: Jira) -> None:
    lower = f"{jira.project.lower()}-18"
    branch = f"feature/{lower}-change"
    logs = Logs()
    with pytest.raises(TicketError) as caught:
        run_link(jira, change("Change the basket", branch=branch), logs)
    message = caught.value.message
    assert message.startswith(f"no JIRA ticket found: the branch '{branch}' names {lower}, but {jira.project}-18 "
                              f"does not exist at {jira.url};"), message
    assert "no JIRA ticket key found" not in message
    assert not any("ignored" in line for line in logs.lines), logs.lines  # nothing says "fine" before failing
    assert jira.writes() == []
    two = f"feature/{lower}-{jira.project.lower()}-19"
    with pytest.raises(TicketError, match=f"names {lower}, {jira.project.lower()}-19, but {jira.project}-18, "
                                          f"{jira.project}-19 do not exist"):
        run_link(jira, change("Change the basket", branch=two))
    warned = run_link(jira, change("Change the basket", branch=branch),
                      config=make_config(jira.url, require_ticket="warn"))
    assert warned.tickets == [] and any(n.startswith("no JIRA ticket found: the branch") for n in warned.notes)


def test_link_itself_fails_when_nothing_valid_is_found(jira: Jira) -> None:
    """So the pipeline needs no check of its own after link(): require_ticket="fail" never returns no tickets."""
    for c in (change("Improve docs", branch="docs/readme"), change("x", branch=f"fix/{jira.project.lower()}-31")):
        with pytest.raises(TicketError, match="no JIRA ticket"):
            run_link(jira, c)
    # repo_dir="": no checkout, so no commit message was read - and the message does not claim any was
    with pytest.raises(TicketError, match="no JIRA ticket key found in the title 'Improve docs' or branch "
                                          "'docs/readme' of acme/shop PR #7; put a key"):
        run_link(jira, change("Improve docs", branch="docs/readme"))


def test_cli_ticket_transition_reads_the_pr_from_github(jira: Jira, sandbox: dict, unique: str, tmp_path: Any,
                                                         monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    from jenkins_docker_ci import cli

    from .github_scenario import Scenario

    in_title, in_branch = jira.seed(19), jira.seed(20)
    gh = Scenario(sandbox["github"], tmp_path, f"tickets-{unique}")
    branch = f"feature/{in_branch}-basket"
    gh.push(branch, {"basket.txt": "total\n"}, message="basket total")
    pr = gh.open_pr(branch, title=f"{in_title}: basket total")
    work = tmp_path / "job"
    work.mkdir()
    (work / "jdci.toml").write_text(
        f'[scm]\napi_url = "{gh.api}"\nrepository = "{gh.full_name}"\n'
        f'[jira]\nurl = "{jira.url}"\n[jira.transitions]\nopened = "In Review"\n')
    for name in ("CHANGE_ID", "CHANGE_TITLE", "CHANGE_BRANCH", "CHANGE_TARGET", "CHANGE_URL", "JDCI_CONFIG",
                 "JIRA_USER", "WORKSPACE", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JIRA_TOKEN", TOKEN)
    monkeypatch.chdir(work)

    assert cli.main(["ticket", "transition", "opened", "--pr", str(pr["number"]), "--json"]) == 2
    assert "GITHUB_TOKEN" in json.loads(capsys.readouterr().out)["error"]["message"]  # says how to read the PR

    monkeypatch.setenv("GITHUB_TOKEN", "alice")
    assert cli.main(["ticket", "transition", "opened", "--pr", str(pr["number"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tickets"] == [in_title, in_branch]
    assert jira.state(in_title)["status"] == jira.state(in_branch)["status"] == "In Review"

    other = jira.seed(21)
    gh.push("feature/other", {"other.txt": "x\n"}, message="other")
    second = gh.open_pr("feature/other", title=f"{other} other")
    monkeypatch.setenv("CHANGE_ID", str(second["number"]))  # as in a Jenkins PR build
    assert cli.main(["ticket", "transition", "opened", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tickets"] == [other]
    assert jira.state(other)["status"] == "In Review"
    monkeypatch.delenv("CHANGE_ID")
    assert cli.main(["link", "--pr", str(pr["number"]), "--json"]) == 0  # `jdci link` reads the PR the same way
    assert json.loads(capsys.readouterr().out)["tickets"] == [in_title, in_branch]
    assert pr["html_url"] in jira.state(in_branch)["comments"][0]["body"]


# -- answers that are not JIRA's, and URLs that are not JIRA's REST root ---------------------------------------------
SSO_PAGE = "<html><head><title>Sign in - Acme SSO</title></head><body>Please sign in</body></html>"


def served(jira: Jira, path: str) -> int:
    return sum(1 for r in requests.get(f"{jira.url}/_sandbox/requests").json() if r["path"] == path)


@pytest.mark.parametrize("body, content_type, answer", [
    (SSO_PAGE, "text/html; charset=utf-8", "a body that is not JSON (text/html: <html><head><title>Sign in"),
    ("{garbage", "application/json", "a body that is not JSON (application/json: {garbage)"),
    ('"sso"', "application/json", "JSON that is a str, not an object"),
])
def test_an_answer_that_is_not_jiras_is_a_service_error_naming_it(jira: Jira, body: str, content_type: str,
                                                                    answer: str) -> None:
    key = jira.seed(40)
    jira.fault(method="GET", path=f"/issue/{key}$", status=200, body=body, headers={"Content-Type": content_type})
    with pytest.raises(ServiceError) as caught:
        run_link(jira, change(f"{key} basket"))
    message = caught.value.message
    assert caught.value.exit_code == 4
    assert message.startswith(f"JIRA at {jira.url} answered HTTP 200 with {answer}"), message
    assert f"when asked to GET issue {key}: is [jira] url the JIRA base URL" in message
    assert jira.writes() == []


def test_a_wrong_jira_url_path_is_a_config_error_not_a_missing_ticket(jira: Jira) -> None:
    key = jira.seed(41)
    wrong = f"{jira.url}/jira"
    with pytest.raises(ConfigError) as caught:
        run_link(jira, change(f"{key} basket"), config=make_config(wrong))
    assert caught.value.message == (
        f"{wrong} does not look like a JIRA REST root: GET /rest/api/2/serverInfo answered HTTP 404 (while trying "
        f'to GET issue {key}); fix [jira] url (JIRA answers at {jira.url}: set [jira] url = "{jira.url}")')
    with pytest.raises(ConfigError, match=f"{wrong} does not look like a JIRA REST root"):
        tickets.statuses(make_config(wrong), SECRETS, [key])  # auto: serverInfo is read first, and says it
    with pytest.raises(ConfigError, match=f"{wrong} does not look like a JIRA REST root"):
        tickets.statuses(make_config(wrong, deployment="server"), SECRETS, [key])  # the search itself is 404


def test_missing_tickets_check_server_info_once_then_are_missing_tickets(jira: Jira) -> None:
    before = served(jira, "/rest/api/2/serverInfo")
    with pytest.raises(TicketError, match=f"JIRA ticket {jira.project}-42 not found at {jira.url}"):
        run_link(jira, change(f"{jira.project}-42 and {jira.project}-43"))
    assert served(jira, "/rest/api/2/serverInfo") - before == 1


def test_search_refusals_name_the_setting_or_the_call(jira: Jira) -> None:
    key = jira.seed(44)
    requests.post(f"{jira.url}/_sandbox/mode", json={"cloud": True}).raise_for_status()
    try:
        with pytest.raises(ConfigError, match=r'answered HTTP 410 Gone to the Server/Data Center search .*: it is JIRA '
                                              r'Cloud, yet \[jira\] deployment = "server"; set \[jira\] deployment = '
                                              r'"cloud"'):
            tickets.statuses(make_config(jira.url, deployment="server"), SECRETS, [key])
    finally:
        requests.post(f"{jira.url}/_sandbox/mode", json={"cloud": False}).raise_for_status()
    with pytest.raises(ConfigError, match=r"has no Cloud search .*serverInfo says deploymentType 'Server', yet "
                                          r'\[jira\] deployment = "cloud"; set \[jira\] deployment = "server"'):
        tickets.statuses(make_config(jira.url, deployment="cloud"), SECRETS, [key])
    jira.fault(method="GET", path="/rest/api/2/search$", status=400,
               body={"errorMessages": ["Error in the JQL Query: 'key in' is incomplete."], "errors": {}})
    with pytest.raises(ServiceError) as caught:
        tickets.statuses(make_config(jira.url), SECRETS, [key])
    assert caught.value.exit_code == 4
    assert caught.value.message == (f"JIRA at {jira.url} refused search 'key in ({key})' (HTTP 400: Error in the "
                                    f"JQL Query: 'key in' is incomplete.)")


def cli_env(monkeypatch: pytest.MonkeyPatch, work: Any) -> None:
    for name in ("CHANGE_ID", "CHANGE_TITLE", "CHANGE_BRANCH", "CHANGE_TARGET", "CHANGE_URL", "JDCI_CONFIG",
                 "JIRA_USER", "WORKSPACE", "GITHUB_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JIRA_TOKEN", TOKEN)
    monkeypatch.chdir(work)


def test_cli_link_reads_the_commit_messages_from_github_without_a_checkout(
        jira: Jira, sandbox: dict, unique: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    from jenkins_docker_ci import cli

    from .github_scenario import Scenario

    key = jira.seed(50)
    gh = Scenario(sandbox["github"], tmp_path, f"link-commits-{unique}")
    gh.push("feature/basket", {"basket.txt": "total\n"}, message=f"{key}: show the basket total")
    number = gh.open_pr("feature/basket", title="Basket total")["number"]  # no key in the title or the branch
    work = tmp_path / "job"  # no git checkout here
    work.mkdir()
    (work / "jdci.toml").write_text(f'[scm]\napi_url = "{gh.api}"\nrepository = "{gh.full_name}"\n'
                                    f'[jira]\nurl = "{jira.url}"\n[jira.transitions]\nopened = "In Review"\n')
    cli_env(monkeypatch, work)

    # without GITHUB_TOKEN jdci cannot read the PR: a configuration problem, and the message says how to fix it
    assert cli.main(["link", "--pr", str(number), "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["kind"] == "config"
    # (up to the owner: an earlier test's GITHUB_TOKEN "alice" is still registered for redaction in this process)
    assert error["message"].startswith(f"no JIRA ticket key found in this change of PR #{number}; pass --title/"
                                       f"--branch that name a key such as ABC-123; or export GITHUB_TOKEN so jdci "
                                       f"reads PR #{number} of "), error["message"]
    assert error["message"].endswith(f"/{gh.name} from GitHub")

    monkeypatch.setenv("GITHUB_TOKEN", "jdci-bot")
    assert cli.main(["link", "--pr", str(number), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["tickets"] == [key]
    assert any("commit messages read from the pull request" in note for note in payload["notes"])
    assert jira.state(key)["status"] == "In Review"


def test_cli_link_json_after_a_partial_failure_says_what_was_done(jira: Jira, tmp_path: Any,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from jenkins_docker_ci import cli

    first, second = jira.seed(51), jira.seed(52)
    (tmp_path / "jdci.toml").write_text(f'[jira]\nurl = "{jira.url}"\n')
    cli_env(monkeypatch, tmp_path)
    monkeypatch.setenv("CHANGE_URL", "https://github.example.com/acme/shop/pull/3")
    jira.fault(method="POST", path=f"/issue/{second}/comment$", status=500)  # a write is never retried
    assert cli.main(["link", "--json", "--title", f"{first} {second} basket", "--pr", "3"]) == 4
    payload = json.loads(capsys.readouterr().out)
    assert payload["error"]["kind"] == "service"
    assert payload["tickets"] == [first]  # linked: its comment and remote link are in place
    assert payload["writes"] == 2
    assert payload["actions"] == [f"{first}: comment added", f"{first}: remote link added"]
    assert len(jira.state(first)["comments"]) == 1 and jira.state(second)["comments"] == []


def test_cli_link_exit_codes_for_answers_that_are_not_jiras(jira: Jira, tmp_path: Any,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    from jenkins_docker_ci import cli

    key = jira.seed(53)
    cli_env(monkeypatch, tmp_path)
    (tmp_path / "jdci.toml").write_text(f'[jira]\nurl = "{jira.url}/jira"\n')
    assert cli.main(["link", "--json", "--title", f"{key} basket"]) == 2
    assert "fix [jira] url" in json.loads(capsys.readouterr().out)["error"]["message"]
    (tmp_path / "jdci.toml").write_text(f'[jira]\nurl = "{jira.url}"\n')
    jira.fault(method="GET", path=f"/issue/{key}$", status=200, body=SSO_PAGE, headers={"Content-Type": "text/html"})
    assert cli.main(["link", "--json", "--title", f"{key} basket"]) == 4
    assert "with a body that is not JSON (text/html" in json.loads(capsys.readouterr().out)["error"]["message"]
