import pytest
import requests

from jenkins_docker_ci import notify
from jenkins_docker_ci.config import Secrets

pytestmark = pytest.mark.integration


def messages(sandbox):
    return requests.get(f"{sandbox['slack'].url}/_sandbox/messages", timeout=5).json()


def test_webhook_answers_like_slack(sandbox):
    url = sandbox["slack"].service.public_url()
    assert requests.post(url, json={"text": "hi"}, timeout=5).text == "ok"
    assert (requests.post(url, json={}, timeout=5).status_code, requests.post(url, json={}).text) == (400, "no_text")
    assert requests.post(url, data=b"{", timeout=5).text == "invalid_payload"
    bad = url.rsplit("/", 1)[0] + "/bad-secret"
    assert (requests.post(bad, json={"text": "x"}, timeout=5).status_code) == 403


def test_notify_sends_and_a_refusal_is_only_a_warning(sandbox, capsys):
    url = sandbox["slack"].service.public_url()
    assert notify.slack(Secrets(slack_webhook_url=url), "deployed unique-text-1") is True
    assert "deployed unique-text-1" in [m["text"] for m in messages(sandbox)]
    bad = url.rsplit("/", 1)[0] + "/bad-secret"
    from jenkins_docker_ci import log

    log.redact_values([bad])
    assert notify.slack(Secrets(slack_webhook_url=bad), "x") is False
    err = capsys.readouterr().err
    assert "invalid_token" in err and "bad-secret" not in err
    assert notify.slack(Secrets(), "nothing configured") is False
