"""`jdci --help` and `jdci --version` import none of the heavy libraries (a Jenkins console calls jdci often;
each of docker, jira, jenkins, git and requests costs 140-190 ms). Checked in a fresh interpreter."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("docker", "jira", "jenkins", "git", "requests", "urllib3", "click", "rich")

PROBE = """
import io, json, sys
from contextlib import redirect_stdout, redirect_stderr
from jenkins_docker_ci import cli
out, err = io.StringIO(), io.StringIO()
try:
    with redirect_stdout(out), redirect_stderr(err):
        cli.main(sys.argv[1:])
except SystemExit:
    pass
heavy = %r
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(heavy))
print(json.dumps({"loaded": loaded, "out": out.getvalue() + err.getvalue()}))
""" % (HEAVY,)


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["jenkins", "--help"], ["jenkins", "trigger", "--help"],
                                  ["pr", "--help"]])
def test_no_heavy_import(argv):
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["loaded"] == [], f"jdci {' '.join(argv)} imported {result['loaded']}"
    assert result["out"]  # it did print its help or version
