"""Process facts the upgrade relies on: whether an observer runs, and when it started."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from pyobshell.ob.process import observer_pid, process_start_time


def test_the_start_time_of_a_new_process_is_that_of_its_launch_to_a_clock_tick() -> None:
    before = time.time()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    after = time.time()
    try:
        started = process_start_time(child.pid)
        assert started is not None
        # psutil's create_time may be up to a second early (boot time in whole seconds)
        assert before - 0.05 <= started <= after + 0.05
    finally:
        child.kill()
        child.wait()
    assert process_start_time(child.pid) is None


def test_an_observer_with_a_stale_pid_file_is_not_running(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "observer.pid").write_text(f"{child.pid}\n")
    assert observer_pid(tmp_path) is None
    assert observer_pid(tmp_path / "elsewhere") is None
