"""Where seekdb cannot run, the seekdb tier is skipped with a reason that says why; these check
the reasons (with stand-ins for the wheel and the machine) and that a server that never comes
up is stopped."""

from __future__ import annotations

import os
import socket
import stat
from collections import namedtuple
from pathlib import Path

import psutil
import pytest

from tests.helpers import seekdb as seekdb_server
from tests.helpers.seekdb import SeekdbInstall, SeekdbUnavailable, running_seekdb

Address = namedtuple("Address", "family address")
Stats = namedtuple("Stats", "flags")


def fake_install(tmp_path: Path, script: str) -> SeekdbInstall:
    binary = tmp_path / "bin" / "seekdb"
    binary.parent.mkdir()
    binary.write_text(f"#!/bin/sh\n{script}\n")
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return SeekdbInstall(binary, (binary.parent,))


@pytest.fixture
def machine_can_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """Enough memory and a usable interface, whatever this machine has."""
    monkeypatch.setattr(seekdb_server, "check_memory", lambda: None)
    monkeypatch.setattr(seekdb_server, "check_network", lambda: None)


def test_a_missing_wheel_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seekdb_server.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SeekdbUnavailable, match=r"pylibseekdb is not installed: pip install"):
        seekdb_server.find_install()


def test_a_network_with_only_loopback_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(psutil, "net_if_addrs", lambda: {"lo": [Address(socket.AF_INET, "127.0.0.1")],
                                                         "v0": [Address(socket.AF_PACKET, "02:00:00:00:00:01")]})
    monkeypatch.setattr(psutil, "net_if_stats", lambda: {"lo": Stats("up,loopback,running"), "v0": Stats("up")})
    with pytest.raises(SeekdbUnavailable, match=r"network interface besides loopback with an IPv4 address"):
        seekdb_server.check_network()


def test_too_little_memory_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(psutil, "virtual_memory", lambda: namedtuple("Memory", "available")(512 << 20))
    with pytest.raises(SeekdbUnavailable, match=r"needs 2048 MiB of available memory, this machine has 512 MiB"):
        seekdb_server.check_memory()


def test_a_server_that_exits_at_once_is_reported_with_what_it_said(tmp_path: Path, machine_can_run: None) -> None:
    install = fake_install(tmp_path, "echo 'seekdb: error while loading shared libraries: libaio.so.1: cannot "
                                     "open shared object file' >&2; exit 127")
    with pytest.raises(SeekdbUnavailable) as caught:
        with running_seekdb(tmp_path / "base", install=install):
            pytest.fail("seekdb cannot have started")
    assert "exit code 127" in str(caught.value) and "libaio.so.1" in str(caught.value)


def test_a_server_that_never_serves_is_stopped_after_the_deadline(tmp_path: Path, machine_can_run: None) -> None:
    install = fake_install(tmp_path, f"echo $$ > {tmp_path / 'pid'}; exec sleep 60")
    with pytest.raises(SeekdbUnavailable, match=r"did not accept a login within 1 s"):
        with running_seekdb(tmp_path / "base", install=install, start_timeout=1.0):
            pytest.fail("seekdb cannot have started")
    pid = int((tmp_path / "pid").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
