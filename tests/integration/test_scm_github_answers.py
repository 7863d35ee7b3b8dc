"""What the GitHub adapter makes of answers that are not GitHub's: a proxy's HTML page, JSON of another shape, and
404s caused by a wrong [scm] api_url or [scm] repository rather than by a wrong PR number."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from jenkins_docker_ci.errors import EXIT_SERVICE, ConfigError, ServiceError, UsageError
from jenkins_docker_ci.scm.github import GitHub
from tests.integration.github_scenario import Scenario

pytestmark = pytest.mark.integration
SSO_PAGE = "<html><head><title>Sign in - Acme SSO</title></head><body>Please sign in</body></html>"


@pytest.fixture
def gh(sandbox: dict, tmp_path: Path, unique: str) -> Iterator[Scenario]:
    scenario = Scenario(sandbox["github"], tmp_path, f"answers-{unique}")
    yield scenario
    requests.delete(f"{scenario.base}/_sandbox/faults", timeout=10)


def fault(gh: Scenario, path: str, body: Any, content_type: str, method: str = "GET", status: int = 200) -> None:
    response = requests.post(f"{gh.base}/_sandbox/faults", timeout=10, json={
        "method": method, "path": path, "status": status, "body": body, "headers": {"Content-Type": content_type}})
    assert response.status_code == 201


def served(gh: Scenario, path: str) -> int:
    log = requests.get(f"{gh.base}/_sandbox/requests", timeout=10).json()
    return sum(1 for entry in log if entry["method"] == "GET" and entry["path"] == path)


def test_an_sso_page_answering_200_is_a_service_error_naming_the_answer(gh: Scenario) -> None:
    gh.pr_with_branch("feature")
    fault(gh, f"/repos/{gh.full_name}/pulls/1$", SSO_PAGE, "text/html; charset=utf-8")
    with pytest.raises(ServiceError) as caught:
        GitHub(gh.api, gh.full_name, "jdci-bot").pull_request(1)
    message = caught.value.message
    assert caught.value.exit_code == EXIT_SERVICE
    assert message.startswith(f"GitHub at {gh.api} answered HTTP 200 with a body that is not JSON (text/html: "
                              f"<html><head><title>Sign in"), message
    assert "when asked to read pull request #1: is [scm] api_url the API root" in message


@pytest.mark.parametrize("body, content_type", [
    ("{not json", "application/json"),
    ('"hello"', "application/json"),  # JSON, but not an object
    ({"message": "ok"}, "application/json"),  # an object without any of a PR's fields
])
def test_garbage_or_a_foreign_shape_is_a_service_error(gh: Scenario, body: Any, content_type: str) -> None:
    gh.pr_with_branch("feature")
    fault(gh, f"/repos/{gh.full_name}/pulls/1$", body, content_type)
    with pytest.raises(ServiceError, match=f"GitHub at {gh.api} answered HTTP 200 with .* when asked to read pull "
                                           "request #1"):
        GitHub(gh.api, gh.full_name, "jdci-bot").pull_request(1)


def test_lists_and_writes_decode_in_the_same_place(gh: Scenario) -> None:
    created = gh.pr_with_branch("feature")
    host = GitHub(gh.api, gh.full_name, "jdci-bot")
    fault(gh, f"/repos/{gh.full_name}/issues/1/comments$", SSO_PAGE, "text/html")
    with pytest.raises(ServiceError, match=r"not JSON \(text/html.* when asked to list comments on #1"):
        host.comments(1)
    fault(gh, f"/repos/{gh.full_name}/commits/[0-9a-f]+/status$", {"statuses": "none"}, "application/json")
    with pytest.raises(ServiceError, match="JSON that is not what GitHub sends when asked to read the statuses"):
        host.checks(created["head"]["sha"])
    fault(gh, f"/repos/{gh.full_name}/pulls/1/commits$", [{"sha": "1"}], "application/json")
    with pytest.raises(ServiceError, match="KeyError: 'commit'"):
        host.commit_messages(1)
    fault(gh, f"/repos/{gh.full_name}/issues/1/comments$", SSO_PAGE, "text/html", method="POST", status=201)
    with pytest.raises(ServiceError, match="not JSON .* when asked to comment on #1"):
        host.create_comment(1, "hello")


def test_api_url_without_api_v3_is_a_config_error_that_says_so(gh: Scenario) -> None:
    gh.pr_with_branch("feature")
    root = gh.api.removesuffix("/api/v3")
    with pytest.raises(ConfigError) as caught:
        GitHub(root, gh.full_name, "jdci-bot").pull_request(1)
    message = caught.value.message
    assert message.startswith(f"[scm] api_url {root} does not look like a GitHub API root: GET /user answered "
                              f"HTTP 404"), message
    assert f'while trying to read pull request #1; GitHub Enterprise serves its API under /api/v3: set [scm] ' \
           f'api_url = "{root}/api/v3"' in message
    assert "pull request #1 not found" not in message


def test_wrong_repository_is_a_config_error_naming_scm_repository(gh: Scenario) -> None:
    gh.pr_with_branch("feature")
    wrong = f"{gh.full_name}-typo"
    with pytest.raises(ConfigError, match=rf"^repository {wrong} not found at {gh.api} \(GET /repos/{wrong} answered "
                                          rf"HTTP 404; .* while trying to read pull request #1; check \[scm\] "
                                          rf"repository"):
        GitHub(gh.api, wrong, "jdci-bot").pull_request(1)


def test_the_repository_is_checked_once_then_404s_name_their_object(gh: Scenario) -> None:
    created = gh.pr_with_branch("feature")
    host = GitHub(gh.api, gh.full_name, "jdci-bot")
    with pytest.raises(UsageError, match=f"pull request #7 not found in {gh.full_name}"):
        host.pull_request(7)
    with pytest.raises(UsageError, match=f"pull request #8 not found in {gh.full_name}"):
        host.comments(8)
    assert served(gh, f"/api/v3/repos/{gh.full_name}") == 1  # the first 404 checked the repository, once

    # a 404 on check runs (e.g. a GitHub Enterprise without the Checks API) names the check runs, not the repo
    sha = created["head"]["sha"]
    fault(gh, f"/repos/{gh.full_name}/commits/{sha}/check-runs$", {"message": "Not Found"}, "application/json",
          status=404)
    with pytest.raises(ServiceError) as caught:
        host.checks(sha)
    assert f"answered HTTP 404 (Not Found) when asked to read the check runs of commit {sha[:12]}, though " \
           f"{gh.full_name} exists there" in caught.value.message


def test_the_cli_exits_4_for_a_foreign_answer_and_2_for_a_wrong_api_url(
        gh: Scenario, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from jenkins_docker_ci import cli

    gh.pr_with_branch("feature")
    work = tmp_path / "job"
    work.mkdir()
    for name in ("CHANGE_ID", "JDCI_CONFIG", "WORKSPACE", "JOB_NAME", "BUILD_NUMBER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", "jdci-bot")
    monkeypatch.chdir(work)

    (work / "jdci.toml").write_text(f'[scm]\napi_url = "{gh.api}"\nrepository = "{gh.full_name}"\n')
    fault(gh, f"/repos/{gh.full_name}/pulls/1$", SSO_PAGE, "text/html")
    assert cli.main(["gate", "--pr", "1", "--json"]) == 4
    assert "with a body that is not JSON (text/html" in json.loads(capsys.readouterr().out)["error"]["message"]

    root = gh.api.removesuffix("/api/v3")
    (work / "jdci.toml").write_text(f'[scm]\napi_url = "{root}"\nrepository = "{gh.full_name}"\n')
    assert cli.main(["gate", "--pr", "1", "--json"]) == 2
    assert f'set [scm] api_url = "{root}/api/v3"' in json.loads(capsys.readouterr().out)["error"]["message"]
