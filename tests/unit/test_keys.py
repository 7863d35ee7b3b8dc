"""The ticket-key rules as one table: (title, branch, commit messages, options) -> keys found."""
from __future__ import annotations

from typing import Any

import pytest

from jenkins_docker_ci.config import JiraConfig
from jenkins_docker_ci.keys import FoundKey, Source, extract, find_in_text, sources_for

DENY = JiraConfig().deny_keys


def run(title: str = "", branch: str = "", commits: tuple[str, ...] = (), **options: Any) -> list[FoundKey]:
    options.setdefault("deny", DENY)
    shas = [(str(i) * 40, message) for i, message in enumerate(commits, start=1)]
    return extract(sources_for(title, branch, shas), **options)


CASES = [
    # (id, title, branch, commits, options, expected keys)
    ("plain title", "ABC-123 Fix login", "", (), {}, ["ABC-123"]),
    ("brackets", "[ABC-123] Fix login", "", (), {}, ["ABC-123"]),
    ("after colon", "fix:ABC-1", "", (), {}, ["ABC-1"]),
    ("parentheses and comma", "Fix (ABC-1, DEF-22)", "", (), {}, ["ABC-1", "DEF-22"]),
    ("end of text", "Fixes ABC-9", "", (), {}, ["ABC-9"]),
    ("followed by dot", "Fixes ABC-9.", "", (), {}, ["ABC-9"]),
    ("followed by a hyphen word", "ABC-12-login", "", (), {}, ["ABC-12"]),
    ("inside a word on the left", "XABC-12 is not it", "", (), {}, ["XABC-12"]),
    ("letter glued on the left", "fooABC-12", "", (), {}, []),
    ("digit glued on the left", "9ABC-12", "", (), {}, []),
    ("letter glued on the right", "ABC-12b", "", (), {}, []),
    ("unicode letter glued left", "ÄBC-12 and éABC-3", "", (), {}, []),
    ("unicode letter glued right", "ABC-12é", "", (), {}, []),
    ("unicode around is fine", "Grüße: ABC-12 – fertig", "", (), {}, ["ABC-12"]),
    ("underscore is a boundary", "foo_ABC-12", "", (), {}, ["ABC-12"]),
    ("underscore inside the project", "MY_PROJ-7", "", (), {}, ["MY_PROJ-7"]),
    ("digits inside the project", "PY3-10 port", "", (), {}, ["PY3-10"]),
    ("one-letter project is no key", "A-1 B-22", "", (), {}, []),
    ("project starting with a digit", "3D-12", "", (), {}, []),
    ("leading zero", "ABC-0123", "", (), {}, []),
    ("zero", "ABC-0", "", (), {}, []),
    ("number with zeros inside", "ABC-1000", "", (), {}, ["ABC-1000"]),
    ("no number", "ABC- 12 and ABC-", "", (), {}, []),
    ("lower case in title is prose", "fix abc-12 soon", "", (), {}, []),
    ("mixed case in title", "Abc-12", "", (), {}, []),
    ("UTF-8", "Read files as UTF-8", "", (), {}, []),
    ("SHA-256", "Use SHA-256 digests", "", (), {}, []),
    ("ISO-8601", "Dates in ISO-8601", "", (), {}, []),
    ("PR-42 (Jenkins' BRANCH_NAME)", "PR-42", "", (), {}, []),
    ("RFC and CVE", "RFC-7231 and CVE-2024-1234", "", (), {}, []),
    ("HTTP-2", "HTTP-2 support ABC-5", "", (), {}, ["ABC-5"]),
    ("denylist is configurable", "UTF-8", "", (), {"deny": ()}, ["UTF-8"]),
    ("allowed projects override the denylist", "PR-42", "", (), {"projects": ("PR",)}, ["PR-42"]),
    ("allowed projects only", "ABC-1 DEF-2 GHI-3", "", (), {"projects": ("DEF", "GHI")}, ["DEF-2", "GHI-3"]),
    ("allowed projects are case-insensitive", "ABC-1", "", (), {"projects": ("abc",)}, ["ABC-1"]),
    ("several keys in order", "DEF-2 then ABC-1", "", (), {}, ["DEF-2", "ABC-1"]),
    ("duplicates once", "ABC-1 ABC-1 and ABC-1", "", (), {}, ["ABC-1"]),
    ("same project, other number", "ABC-1 ABC-10", "", (), {}, ["ABC-1", "ABC-10"]),
    ("keys chained with hyphens", "ABC-1-DEF-2", "", (), {}, ["ABC-1", "DEF-2"]),
    ("title before branch before commits", "ABC-3", "feature/DEF-2", ("GHI-1 initial",), {},
     ["ABC-3", "DEF-2", "GHI-1"]),
    ("dedupe across sources", "ABC-1", "feature/ABC-1-x", ("ABC-1 again", "DEF-9"), {}, ["ABC-1", "DEF-9"]),
    ("branch upper case", "", "feature/ABC-123-login", (), {}, ["ABC-123"]),
    ("branch lower case upper-cased", "", "feature/abc-123-login", (), {}, ["ABC-123"]),
    ("branch lower case with digits", "", "fix/py3-10", (), {}, ["PY3-10"]),
    ("branch lower case turned off", "", "feature/abc-123", (), {"lowercase_branch_keys": False}, []),
    ("branch lower case still denied", "", "fix/utf-8-names", (), {}, []),
    ("branch sha-256 denied", "", "feature/sha-256", (), {}, []),
    ("branch PR-42 denied", "", "PR-42", (), {}, []),
    ("branch leading zero", "", "feature/abc-007", (), {}, []),
    ("branch: upper wins over a lower-case reading", "", "fix_ABC-12", (), {}, ["ABC-12"]),
    ("lower case only in branches, not commits", "", "", ("fix abc-12",), {}, []),
    ("keys only in commits (first build)", "Login page", "feature/login", ("Add form", "ABC-77: validate"), {},
     ["ABC-77"]),
    ("commit body lines", "", "", ("Subject\n\nRefs: ABC-5, DEF-6",), {}, ["ABC-5", "DEF-6"]),
    ("no key at all", "Improve docs", "docs/readme", ("typo",), {}, []),
    ("empty everything", "", "", (), {}, []),
    ("max keys", "A1-1 AB-2 AC-3 AD-4", "", (), {"max_keys": 2}, ["A1-1", "AB-2"]),
    ("max keys counts distinct keys", "AB-1 AB-1 AC-2 AD-3", "", (), {"max_keys": 2}, ["AB-1", "AC-2"]),
    ("max keys zero", "AB-1", "", (), {"max_keys": 0}, []),
    ("url with a key", "see https://jira.example.com/browse/ABC-12", "", (), {}, ["ABC-12"]),
    ("version-like branch is a candidate", "", "release-1.2", (), {}, ["RELEASE-1"]),
]


@pytest.mark.parametrize("title,branch,commits,options,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_key_rules(title: str, branch: str, commits: tuple[str, ...], options: dict[str, Any],
                   expected: list[str]) -> None:
    assert [found.key for found in run(title, branch, commits, **options)] == expected


def test_each_key_remembers_where_it_came_from() -> None:
    found = run("ABC-1 login", "feature/def-2-x", ("GHI-3 fix",))
    assert [(f.key, f.source.kind, f.where, f.lowercase) for f in found] == [
        ("ABC-1", "title", "title", False),
        ("DEF-2", "branch", "branch 'feature/def-2-x'", True),
        ("GHI-3", "commit", "commit " + "1" * 12, False),
    ]


def test_a_lower_case_candidate_confirmed_in_upper_case_is_no_longer_a_candidate() -> None:
    found = run("", "feature/abc-1", ("ABC-1 done",))
    assert [(f.key, f.source.kind, f.lowercase) for f in found] == [("ABC-1", "branch", False)]


def test_upper_case_branch_key_is_not_a_candidate() -> None:
    (found,) = run("", "feature/ABC-1")
    assert not found.lowercase
    assert found.project == "ABC"


def test_find_in_text_keeps_duplicates_and_case_flags() -> None:
    assert find_in_text("ABC-1 abc-1 ABC-1", lowercase=True) == [("ABC-1", False), ("ABC-1", True), ("ABC-1", False)]


def test_source_descriptions() -> None:
    assert Source("branch", "x/ABC-1", "x/ABC-1").describe() == "branch 'x/ABC-1'"
    assert Source("commit", "msg", "a" * 40).describe() == "commit " + "a" * 12


def test_a_key_is_named_as_its_source_writes_it() -> None:
    found = run(title="Shop-2 is not a title key", branch="feature/shop-18-change-Shop-2")
    assert [(k.key, k.written, k.lowercase) for k in found] == [("SHOP-18", "shop-18", True),
                                                                ("SHOP-2", "Shop-2", True)]
    assert run(title="ABC-1 x")[0].written == "ABC-1"


def test_no_key_messages_name_what_was_searched() -> None:
    from jenkins_docker_ci.context import Change
    from jenkins_docker_ci.tickets import no_key_found, no_ticket_from_candidates

    assert no_key_found(Change(title="Docs")) == ("no JIRA ticket key found in the title 'Docs'; put a key such as "
                                                  "ABC-123 in the PR title")
    assert no_key_found(Change()).startswith("no JIRA ticket key found in this change;")
    assert no_key_found(Change(repository="a/b", pr_number=3, title="T", source_branch="b", target_branch="main")
                        ).startswith("no JIRA ticket key found in the title 'T', branch 'b' or commit messages of "
                                     "a/b PR #3;")
    # commit messages are claimed only when they were read; no repository in the label: no double space
    assert no_key_found(Change(pr_number=1, title="T", target_branch="main"), commits_searched=False) == (
        "no JIRA ticket key found in the title 'T' of PR #1; put a key such as ABC-123 in the PR title")
    assert "'T' or commit messages of" in no_key_found(Change(pr_number=1, title="T"), commits_searched=True)
    dropped = run(branch="fix/shop-18")
    assert no_ticket_from_candidates(dropped, "http://j").startswith(
        "no JIRA ticket found: the branch 'fix/shop-18' names shop-18, but SHOP-18 does not exist at http://j;")
