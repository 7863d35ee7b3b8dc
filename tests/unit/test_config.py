import pytest

from jenkins_docker_ci import config
from jenkins_docker_ci.errors import ConfigError


def test_defaults_when_no_file(tmp_path):
    loaded = config.load(cwd=tmp_path)
    assert loaded.gate.required_checks == ("jdci/*",)
    assert loaded.merge.method == "merge"
    assert loaded.source == "defaults"


def test_reads_jdci_toml_and_nested_tables(tmp_path):
    (tmp_path / "jdci.toml").write_text(
        '[scm]\nrepository = "acme/shop"\n[jira.transitions]\nopened = "In Review"\n'
        '[[checks.http]]\nname = "home"\ncontains = "Hi"\n[gate]\napprovals = 2\n')
    loaded = config.load(cwd=tmp_path)
    assert loaded.scm.repository == "acme/shop"
    assert dict(loaded.jira.transitions) == {"opened": "In Review"}
    assert loaded.checks.http[0].name == "home" and loaded.checks.http[0].status == 200
    assert loaded.gate.approvals == 2
    assert loaded.root == str(tmp_path.resolve())


def test_pyproject_tool_section(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.jdci.image]\nrepository = "acme/x"\n')
    assert config.load(cwd=tmp_path).image.repository == "acme/x"


def test_explicit_path_wins_and_must_exist(tmp_path, monkeypatch):
    (tmp_path / "jdci.toml").write_text('[scm]\nrepository = "a/b"\n')
    other = tmp_path / "other.toml"
    other.write_text('[scm]\nrepository = "c/d"\n')
    monkeypatch.setenv("JDCI_CONFIG", str(tmp_path / "missing.toml"))
    assert config.load(other, cwd=tmp_path).scm.repository == "c/d"
    with pytest.raises(ConfigError, match="missing.toml not found"):
        config.load(cwd=tmp_path)


@pytest.mark.parametrize("text, message", [
    ("[gate]\naprovals = 1\n", "unknown key 'aprovals' in \\[gate\\]; did you mean 'approvals'"),
    ("[gate]\napprovals = 'one'\n", "gate.approvals must be an integer"),
    ("[gate]\napprovals = -1\n", "gate.approvals must be zero or more"),
    ("[gate]\nrequired_checks = 'jdci/*'\n", "gate.required_checks must be a list"),
    ("[merge]\nmethod = 'fast-forward'\n", "merge.method = 'fast-forward' is not one of"),
    ("[jira]\nrequire_ticket = 'yes'\n", "jira.require_ticket = 'yes' is not one of"),
    ("[gate]\napprovals_on_head_only = 'no'\n", "must be true or false"),
    ("[[checks.http]]\npath = '/'\n", "name"),
    ("[scm\n", "not valid TOML"),
    ("gate = 3\n", "\\[gate\\] must be a table"),
])
def test_bad_config_names_the_key(tmp_path, text, message):
    (tmp_path / "jdci.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        config.load(cwd=tmp_path)


def test_secrets_from_env_never_in_repr():
    secrets = config.Secrets.from_env({"GITHUB_TOKEN": "ghp_supersecret", "JIRA_TOKEN": "jt"})
    assert secrets.github_token == "ghp_supersecret"
    assert "supersecret" not in repr(secrets)
    assert set(secrets.values()) == {"ghp_supersecret", "jt"}


@pytest.mark.parametrize("text, message", [
    ('[scm]\napi_url = "not a url"\n', "scm.api_url = 'not a url' is not an http"),
    ('[scm]\nrepository = "justname"\n', "scm.repository = 'justname' is not owner/name"),
    ('[image]\nrepository = "JDCI/Bad Name"\n', "image.repository = 'JDCI/Bad Name'"),
    ('[preprod]\nport = 99999\n', "preprod.port = 99999 is not a port"),
    ('[preprod]\nhealth_path = "healthz"\n', "must start with '/'"),
    ('[[checks.http]]\nname = "a b"\n', "checks.http name 'a b'"),
    ('[[checks.http]]\nname = "a"\n[[checks.http]]\nname = "a"\n', "must be unique: a"),
    ('[scm]\ntoken = "x"\n', "set GITHUB_TOKEN in the environment"),
    ('[jira]\nurl = "jira.example.com"\n', "jira.url"),
    ('[jira.transitions]\nmergd = "Done"\n', "'mergd' is not a lifecycle event; did you mean 'merged'"),
    ('[jira.transitions]\ntimeout = 5\n', "'timeout' is not a lifecycle event"),
    ('[jira.transitions]\nmerged = 5\n', "merged = '5' is not a transition name"),
    # TOML's nan and inf are floats: no timeout or limit is either
    ('[[checks.visual]]\nname = "v"\ntimeout = nan\n', "checks.visual\\[0\\].timeout must be a finite number"),
    ('[[checks.http]]\nname = "h"\ntimeout = inf\n', "checks.http\\[0\\].timeout must be a finite number"),
    ('[preprod]\nhealth_timeout = -inf\n', "preprod.health_timeout must be a finite number"),
    ('[[checks.http]]\nname = "h"\nstatus = 99999\n', "status = 99999 is not an HTTP status"),
    ('[[checks.command]]\nname = "c"\ncommand = "true"\ntimeout = 1e300\n',
     "checks.command c: timeout = 1e\\+300 seconds is longer than a week"),
    ('[[checks.visual]]\nname = "v"\nviewports = ["20000x20000"]\n', "larger than 8192 pixels on a side"),
    ('[jenkins]\nwait_timeout = 1e12\n', "jenkins: wait_timeout = 1e\\+12 seconds is longer than a week"),
    ('[preprod]\nhealth_timeout = 9e9\n', "preprod: health_timeout"),
])
def test_values_are_validated_at_load(tmp_path, text, message):
    (tmp_path / "jdci.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        config.load(cwd=tmp_path)


def test_config_folder_is_named_as_such(tmp_path):
    with pytest.raises(ConfigError, match="is a folder, not a file"):
        config.load(tmp_path, cwd=tmp_path)


@pytest.mark.parametrize("jira, gate, required", [
    ('require_ticket = "fail"', "", True),
    ('require_ticket = "warn"', "", False),
    ('require_ticket = "off"', "", False),
    ('require_ticket = "warn"', "require_ticket = true", True),
    ('require_ticket = "fail"', "require_ticket = false", False),
])
def test_gate_ticket_rule_follows_jira_unless_set(tmp_path, jira, gate, required):
    (tmp_path / "jdci.toml").write_text(f"[jira]\n{jira}\n[gate]\n{gate}\n")
    assert config.load(cwd=tmp_path).gate.require_ticket is required


@pytest.mark.parametrize("text, message", [
    ('[gate]\napprovals_from = ["COLLABORATORS"]\n', "gate.approvals_from: 'COLLABORATORS' is not a GitHub "
                                                    "author_association; use OWNER, MEMBER"),
    ('[gate]\napprovals_from = "OWNER"\n', "gate.approvals_from must be a list"),
])
def test_approvals_from_names_are_checked_at_load(tmp_path, text, message):
    (tmp_path / "jdci.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        config.load(cwd=tmp_path)


def test_approvals_from_defaults_to_write_access_and_is_configurable(tmp_path):
    assert config.GateConfig().approvals_from == ("OWNER", "MEMBER", "COLLABORATOR")
    (tmp_path / "jdci.toml").write_text('[gate]\napprovals_from = ["owner", "MEMBER"]\n')
    assert config.load(cwd=tmp_path).gate.approvals_from == ("owner", "MEMBER")  # case does not matter
    (tmp_path / "jdci.toml").write_text('[gate]\napprovals_from = []\n')
    assert config.load(cwd=tmp_path).gate.approvals_from == ()


@pytest.mark.parametrize("section", ["scm", "jira", "jenkins"])
def test_service_timeouts_are_bounded(tmp_path, section):
    path = tmp_path / "jdci.toml"
    path.write_text(f"[{section}]\ntimeout = 0\n")
    with pytest.raises(ConfigError, match=rf"{section}.timeout = 0 must be more than 0 and at most 3600 seconds"):
        config.load(path)


def test_an_unreadable_config_file_is_a_config_error():
    # /proc/self/mem is a regular file that no one can read from its start (EIO), root included
    with pytest.raises(ConfigError, match="config file /proc/self/mem cannot be read"):
        config.load("/proc/self/mem")


@pytest.mark.parametrize("make, what", [(lambda p: p.mkdir(), "is a folder, not a file"),
                                        (lambda p: p.symlink_to(p.parent / "gone.toml"), "is a link to nothing")])
def test_a_jdci_toml_that_is_not_a_file_is_an_error_not_the_defaults(tmp_path, monkeypatch, make, what):
    monkeypatch.delenv("JDCI_CONFIG", raising=False)
    make(tmp_path / "jdci.toml")
    with pytest.raises(ConfigError, match=f"config file {tmp_path / 'jdci.toml'} {what}"):
        config.load(cwd=tmp_path)
