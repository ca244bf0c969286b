"""Exit codes and error lines of the client commands, without a cluster: 2 for a usage error,
1 with one line (or one JSON document) when the agent cannot be reached — never a traceback."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.helpers.sim import run_cli

pytestmark = pytest.mark.multiprocess

NOBODY = "127.0.0.1:1"  # nothing listens on port 1
ENV = {**os.environ, "OB_ROOT_PASSWORD": "pw", "COLUMNS": "200"}


@pytest.mark.parametrize("args, complaint", [
    (["cluster", "upgrade", "--agent", "nope", "-V", "4.2.1.1", "-d", "."], "expected IP:PORT"),
    (["cluster", "upgrade", "--agent", NOBODY, "-V", "4.2.1", "-d", "."], "malformed version"),
    (["cluster", "upgrade", "--agent", NOBODY, "-V", "4.2.1.1", "-d", ".", "-m", "sideways"], "sideways"),
    (["cluster", "upgrade", "--agent", NOBODY, "-d", "."], "--version"),
    (["cluster", "upgrade", "--agent", NOBODY, "-V", "4.2.1.1", "-d", ".", "--release", "x"], "malformed release"),
    (["task", "retry", "--agent", NOBODY], "ID"),
    (["package", "delete", "abc", "--agent", NOBODY], "valid integer"),
])
def test_usage_errors_exit_2(args: list[str], complaint: str) -> None:
    result = run_cli(*args, check=False, env=ENV)
    assert result.returncode == 2, result
    assert complaint in result.stderr and "Traceback" not in result.stderr


def test_the_mode_is_case_insensitive_and_an_unreachable_agent_is_one_line(tmp_path: Path) -> None:
    result = run_cli("cluster", "upgrade", "--agent", NOBODY, "-V", "4.2.1.1", "-d", str(tmp_path), "-m", "ROLLING",
                     "-y", check=False, env=ENV)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the agent"), result.stderr


@pytest.mark.parametrize("args", [["cluster", "status"], ["task", "show", "11"], ["package", "list"]])
def test_json_failures_are_one_json_document(args: list[str]) -> None:
    result = run_cli(*args, "--agent", NOBODY, "--json", check=False, env=ENV)
    assert result.returncode == 1
    assert "cannot reach the agent" in json.loads(result.stdout)["error"]["message"]
