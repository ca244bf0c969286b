"""Commands an upgrade task runs (the upgrade scripts, ``observer -V``, ``python -c``): no
shell, output collected in a temporary file (a daemon that keeps the descriptors cannot block
us) and handed on line by line as it is written, killed with its process group on timeout or
when the task is interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    output: str  # stdout and stderr, interleaved as written

    def last_lines(self, count: int = 20) -> str:
        return "\n".join(self.output.rstrip().splitlines()[-count:])


class CommandTimeout(Exception):
    def __init__(self, seconds: float, output: str):
        super().__init__(f"did not finish within {seconds:g} s")
        self.seconds = seconds
        self.output = output


@dataclass
class _LineFeed:
    """Hands complete lines of the growing output file to ``on_line``, keeping a partial last line."""

    on_line: Callable[[str], None] | None
    offset: int = 0
    pending: bytes = b""

    def feed(self, output: IO[bytes], final: bool = False) -> None:
        if self.on_line is None:
            return
        chunk = os.pread(output.fileno(), 1 << 16, self.offset)
        while chunk:
            self.offset += len(chunk)
            self.pending += chunk
            chunk = os.pread(output.fileno(), 1 << 16, self.offset)
        *lines, self.pending = self.pending.split(b"\n")
        if final and self.pending:
            lines, self.pending = [*lines, self.pending], b""
        for line in lines:
            self.on_line(line.decode("utf-8", errors="replace").rstrip("\r"))


def run(argv: Sequence[str], *, sleep: Callable[[float], None], cwd: Path | None = None,
        timeout_s: float | None = None, extra_env: Mapping[str, str] | None = None,
        stdin_text: str | None = None, on_line: Callable[[str], None] | None = None,
        on_start: Callable[[subprocess.Popen[bytes]], None] | None = None) -> CommandResult:
    """Run ``argv`` to its end. ``stdin_text`` is written to its standard input, which is then
    closed (a secret handed over this way never shows in any process's arguments); ``sleep``
    is the caller's interruptible sleep: when it raises, the process group is killed."""
    environ = dict(os.environ, **(extra_env or {}))
    with tempfile.TemporaryFile(mode="w+b") as output:
        process = subprocess.Popen(list(argv), cwd=cwd, env=environ,
                                   stdin=subprocess.DEVNULL if stdin_text is None else subprocess.PIPE,
                                   stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        lines = _LineFeed(on_line)
        try:
            if on_start is not None:
                on_start(process)
            if stdin_text is not None:
                _hand_over(process, stdin_text)
            deadline = None if timeout_s is None else time.monotonic() + timeout_s
            delay = 0.01
            while process.poll() is None:
                lines.feed(output)
                if deadline is not None and time.monotonic() >= deadline:
                    kill_group(process)
                    lines.feed(output, final=True)
                    raise CommandTimeout(timeout_s or 0, _read(output))
                sleep(delay)
                delay = min(delay * 2, 0.2)
        except BaseException:
            kill_group(process)
            raise
        lines.feed(output, final=True)
        return CommandResult(process.returncode, _read(output))


def _hand_over(process: subprocess.Popen[bytes], text: str) -> None:
    assert process.stdin is not None
    try:
        process.stdin.write(text.encode())
        process.stdin.close()
    except BrokenPipeError:  # the command exited without reading: its exit code says why
        pass


def _read(output: IO[bytes]) -> str:
    output.flush()
    output.seek(0)
    return output.read().decode("utf-8", errors="replace")


def kill_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.wait(timeout=10)
