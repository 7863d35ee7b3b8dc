"""The console: the secret filter, line format, progress lines, the last line of an interrupted run."""
from __future__ import annotations

import io
import signal
import time

import pytest

from jenkins_docker_ci import log
from jenkins_docker_ci.cli import interrupted_summary


@pytest.fixture(autouse=True)
def clean_filter(monkeypatch):
    monkeypatch.setattr(log, "_secrets", [])
    monkeypatch.setattr(log, "_pattern", None)
    monkeypatch.setattr(log, "_timestamps", False)


def test_redact_masks_every_registered_value_and_its_url_form():
    log.redact_values(["s3cr3t/tok", "", "abc"])  # empty and too short: ignored
    assert log.redact("a s3cr3t/tok b s3cr3t%2Ftok abc") == "a *** b *** abc"


def test_a_secret_containing_another_is_masked_whole():
    log.redact_values(["token", "token-and-more"])
    assert log.redact("x token-and-more y") == "x *** y"


def test_redacting_stream_masks_a_secret_written_in_pieces():
    log.redact_values(["hunter2-password"])
    target = io.StringIO()
    stream = log.RedactingStream(target)
    stream.write("pass: hunter2-")
    assert target.getvalue() == ""  # held until the line ends
    stream.write("password\nnext")
    stream.flush()
    assert target.getvalue() == "pass: ***\nnext"


def test_install_reads_the_design_secret_variables_and_restores_the_streams(monkeypatch):
    import sys

    before = sys.stdout, sys.stderr
    restore = log.install({"GITHUB_TOKEN": "ghp_abcdef", "SLACK_WEBHOOK_URL": "https://hooks/x/y", "HOME": "/root"},
                          timestamps=False)
    try:
        assert isinstance(sys.stdout, log.RedactingStream) and isinstance(sys.stderr, log.RedactingStream)
        assert log.redact("ghp_abcdef https://hooks/x/y /root") == "*** *** /root"
    finally:
        restore()
    assert (sys.stdout, sys.stderr) == before


def test_format_line_prefix_timestamps_and_no_escape_sequences_off_a_terminal():
    assert log.format_line("build", "\x1b[31mred\x1b[0m done") == "[build] red done"
    assert log.format_line("build", "\x1b[31mred\x1b[0m", terminal=True) == "[build] \x1b[31mred\x1b[0m"
    stamped = log.format_line("build", "x", timestamps=True, now=0)
    assert stamped.endswith(" [build] x") and stamped[2] == ":" and stamped[5] == ":"


def test_timestamps_from_the_environment(monkeypatch):
    restore = log.install({"JDCI_TIMESTAMPS": "1"})
    restore()
    assert log._timestamps is True
    restore = log.install({"JDCI_TIMESTAMPS": "0"})
    restore()
    assert log._timestamps is False


def test_say_off_a_terminal_writes_plain_lines(capsys):
    log.say("preprod", "one\ntwo")
    assert capsys.readouterr().err == "[preprod] one\n[preprod] two\n"


def test_progress_speaks_after_silence_without_carriage_returns(capsys):
    def wait_for(text: str) -> str:  # bounded: the progress thread speaks after 0.02 s of silence
        seen, deadline = "", time.monotonic() + 10
        while text not in seen and time.monotonic() < deadline:
            seen += capsys.readouterr().err
        return seen

    with log.progress("build", "building image acme/shop", interval=0.02) as handle:
        first = wait_for("still building")
        handle.update("pushing acme/shop")
        later = wait_for("still pushing")
    assert "[build] still building image acme/shop (" in first
    assert "[build] still pushing acme/shop (" in later
    assert "\r" not in first + later and "\x1b" not in first + later


def test_progress_is_quiet_for_a_short_step(capsys):
    with log.progress("build", "building", interval=60):
        pass
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("payload, note, expected", [
    ({"environment": {"name": "jdci-acme-shop-1a2b3c-pr-7", "status": "failed"},
      "merge": {"merged": False, "merge_sha": None}}, "",
     "jdci: interrupted by SIGTERM; removed environment jdci-acme-shop-1a2b3c-pr-7; nothing merged"),
    ({"environment": {"name": "e", "status": "down"}, "merge": {"merged": False}}, "",
     "jdci: interrupted by SIGTERM; removed environment e; nothing merged"),
    ({"environment": {"url": None, "status": "down"}, "merge": {"merged": False}}, "",
     "jdci: interrupted by SIGTERM; no environment was started; nothing merged"),
    ({"environment": {"name": "e", "status": "up"}, "merge": {"merged": False}}, "",
     "jdci: interrupted by SIGTERM; kept environment e (it predates this run); nothing merged"),
    ({"decision": "wait", "merged": False}, "", "jdci: interrupted by SIGTERM; nothing merged"),
    ({"merged": True, "merge_sha": "abc"}, "", "jdci: interrupted by SIGTERM; merged before the interruption (abc)"),
    ({}, "the Jenkins build shop #5 goes on (u)",
     "jdci: interrupted by SIGTERM; the Jenkins build shop #5 goes on (u)"),
])
def test_interrupted_summary(payload, note, expected):
    assert interrupted_summary(signal.SIGTERM, payload, note) == expected


def test_interrupted_summary_names_sigint():
    assert interrupted_summary(signal.SIGINT, {}).startswith("jdci: interrupted by SIGINT")


def test_the_first_signal_interrupts_later_ones_are_only_noted(capsys):
    from jenkins_docker_ci.cli import _Signals
    from jenkins_docker_ci.errors import Interrupted

    signals = _Signals()
    with pytest.raises(Interrupted) as raised:
        signals._handle(signal.SIGTERM, None)
    assert raised.value.exit_code == 143
    signals._handle(signal.SIGINT, None)  # during the clean-up: must not raise
    signals._handle(signal.SIGTERM, None)
    assert signals.later == [signal.SIGINT, signal.SIGTERM]
    assert "SIGINT received while cleaning up after SIGTERM; finishing the clean-up first" in capsys.readouterr().err
    signals.done = True
    signals._handle(signal.SIGTERM, None)  # the process is only exiting: ignored
    assert signals.later == [signal.SIGINT, signal.SIGTERM]


def test_main_gives_the_callers_signal_handlers_back(capsys):
    from jenkins_docker_ci import cli

    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    assert cli.main(["env", "down"]) == 2  # a usage error: no engine needed
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
    with pytest.raises(SystemExit):
        cli.main(["--version"])  # argparse's version action exits through SystemExit
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before
