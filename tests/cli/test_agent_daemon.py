"""The daemon entry point: same options as ``agent start --foreground``, one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pyobshell.cli import agent_daemon


def test_a_start_error_is_one_line_and_exit_code_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("OB_ROOT_PASSWORD", raising=False)
    argv = ["--home", str(tmp_path / "home"), "--ip", "127.0.0.1", "--port", "2886", "--ob-home", str(tmp_path)]
    assert agent_daemon.main(argv) == 1
    assert capsys.readouterr().err.startswith("error: OB_ROOT_PASSWORD is not set")


def test_a_bad_port_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        agent_daemon.parse_config(["--home", str(tmp_path), "--ip", "127.0.0.1", "--port", "70000", "--ob-home", str(tmp_path)])
    assert exited.value.code == 2


def test_the_daemon_does_not_load_the_cli_libraries() -> None:
    import subprocess

    probe = "import sys, pyobshell.cli.agent_daemon; print('typer' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "False"
