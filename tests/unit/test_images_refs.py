import pytest

from jenkins_docker_ci import dockerfile, registry
from jenkins_docker_ci.errors import UsageError


@pytest.mark.parametrize("text, parsed", [
    ("127.0.0.1:5000/team/app:pr-7", ("127.0.0.1:5000", "team/app", "pr-7", "")),
    ("localhost/app", ("localhost", "app", "", "")),
    ("team/app:1.4", ("dflt:1", "team/app", "1.4", "")),
    ("r.example.com/a/b/c@sha256:" + "a" * 64, ("r.example.com", "a/b/c", "", "sha256:" + "a" * 64)),
    ("127.0.0.1:5000/app:v1@sha256:" + "b" * 64, ("127.0.0.1:5000", "app", "v1", "sha256:" + "b" * 64)),
])
def test_parse_ref(text, parsed):
    ref = registry.parse_ref(text, "dflt:1")
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == parsed


@pytest.mark.parametrize("text", ["127.0.0.1:5000/app:bad tag", "app@md5:x", ":tag"])
def test_parse_ref_rejects_what_is_not_a_reference(text):
    with pytest.raises(UsageError, match="not an image reference"):
        registry.parse_ref(text)


@pytest.mark.parametrize("text, message", [
    ("http://127.0.0.1:5000/team/app:main", "is not a registry HOST"),
    ("127.0.0.1:5000/Team/App:main", "lower-case"),
    ("127.0.0.1:5000//app:main", "cannot name an image"),
])
def test_parse_ref_names_what_is_wrong_before_any_registry_is_asked(text, message):
    with pytest.raises(UsageError, match=message):
        registry.parse_ref(text)


def test_destination_is_a_tag_of_the_same_repository_or_a_full_ref_in_the_same_registry():
    source = registry.parse_ref("127.0.0.1:5000/team/app:pr-7")
    assert str(registry.destination(source, "release-1.4")) == "127.0.0.1:5000/team/app:release-1.4"
    assert str(registry.destination(source, "127.0.0.1:5000/team/app-prod:production")) == \
        "127.0.0.1:5000/team/app-prod:production"
    assert str(registry.destination(source, "team/app-prod:production")) == "127.0.0.1:5000/team/app-prod:production"
    with pytest.raises(UsageError, match="within one registry"):
        registry.destination(source, "other.example.com/team/app:x")
    with pytest.raises(UsageError, match="needs a destination tag"):
        registry.destination(source, "127.0.0.1:5000/team/app-prod")
    with pytest.raises(UsageError, match="not a tag"):
        registry.destination(source, "-bad")


MULTI = """# syntax comment
ARG BASE=jdci-base/busybox:latest
ARG TOOLS
FROM ${BASE} AS build
ARG BASE
RUN echo building \\
    on two lines
FROM build AS test
FROM --platform=linux/amd64 $BASE AS final
COPY --from=build /x /x
"""


@pytest.mark.parametrize("text, args, target, base", [
    (MULTI, {}, "", "jdci-base/busybox:latest"),
    (MULTI, {"BASE": "jdci-base/debian:bookworm"}, "", "jdci-base/debian:bookworm"),
    (MULTI, {}, "test", "jdci-base/busybox:latest"),  # a stage FROM a stage: followed back
    (MULTI, {}, "nope", "unknown"),
    ("FROM ${TOOLS}\n", {}, "", "unknown"),  # an ARG never declared
    ("ARG V\nFROM python:${V}\n", {}, "", "unknown"),  # declared without a value
    ("ARG V\nFROM python:${V:-3.11}-slim\n", {}, "", "python:3.11-slim"),
    ("ARG V=1\nFROM python:${V:+set}\n", {}, "", "python:set"),
    ("FROM scratch\nCOPY x /\n", {}, "", "scratch"),
    ("# just a comment\n", {}, "", "unknown"),
    ("FROM ${A%b}\n", {"A": "x"}, "", "unknown"),
    ("from busybox as one\nfrom one\n", {}, "", "busybox"),
])
def test_final_base(text, args, target, base):
    assert dockerfile.final_base(text, args, target) == base


def test_instructions_join_continuations_and_drop_comments():
    assert dockerfile.instructions("# c\nRUN a \\\n  # inner\n  b\n\nCMD x\n") == [("RUN", "a b"), ("CMD", "x")]


def test_labels_go_in_one_instruction_at_the_end_of_the_built_stage():
    labels = {"b": 'say "hi" for $5', "a.x": "1"}
    out = dockerfile.with_labels(MULTI, labels)
    assert out.endswith('LABEL "a.x"="1" "b"="say \\"hi\\" for \\$5"\n')
    targeted = dockerfile.with_labels(MULTI, labels, "build").splitlines()
    at = targeted.index('LABEL "a.x"="1" "b"="say \\"hi\\" for \\$5"')
    assert targeted[at + 1] == "FROM build AS test"  # still inside the build stage
    windows = dockerfile.with_labels("# escape=`\nFROM scratch\n", {"k": "a`b"})
    assert windows.endswith('LABEL "k"="a``b"\n')
    assert dockerfile.with_labels(MULTI, {}) == MULTI
