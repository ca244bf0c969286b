"""`make demo`: a simulated 3-zone OceanBase cluster at 4.2.1.0 is upgraded to 4.2.1.1 by
`pyobshell cluster upgrade`, zone by zone, while it stays in service.

1. `pyobshell sim up`: three observers (one per zone, realistic delays), one agent beside each;
2. `pyobshell sim package`: the 4.2.1.1 RPMs (oceanbase-ce, oceanbase-ce-libs);
3. `pyobshell cluster status`: every server's build before;
4. `pyobshell cluster upgrade -y` against one agent: finds and uploads the packages, shows
   the plan, runs the upgrade DAG and follows it live, section by section;
5. `pyobshell cluster status`: every server's build after;
6. `pyobshell sim down`, always — also after a failure, Ctrl-C or SIGTERM.

Every step is the real command line, so what scrolls by is what an operator would type.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

OLD = ("4.2.1.0", "100000012023101010.el7")
NEW = ("4.2.1.1", "101000062023110109.el7")
PASSWORD = "demo-Passw0rd"
NET = 100
AGENT = f"127.{NET}.1.1:2886"
STEP_TIMEOUT_S = 900


class Interrupted(Exception):
    pass


class Runner:
    """Runs pyobshell commands one at a time, remembering the one running (to stop it)."""

    def __init__(self) -> None:
        self.child: subprocess.Popen | None = None
        self.env = {**os.environ, "OB_ROOT_PASSWORD": PASSWORD}

    def __call__(self, *args: str) -> int:
        print(f"\n$ pyobshell {' '.join(args)}", flush=True)
        self.child = subprocess.Popen([sys.executable, "-m", "pyobshell.cli.main", *args], env=self.env)
        code = self.child.wait(timeout=STEP_TIMEOUT_S)
        self.child = None  # only once it ended: an interrupted step is stopped by stop_child
        return code

    def stop_child(self) -> None:
        """Interrupt the running step like Ctrl-C would (`sim up` then undoes what it started)."""
        child = self.child
        if child is None or child.poll() is not None:
            return
        child.send_signal(signal.SIGINT)
        try:
            child.wait(30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def must(code: int, what: str) -> None:
    if code != 0:
        raise RuntimeError(f"{what} failed (exit {code})")


def on_sigterm(_signum: int, _frame: object) -> None:
    raise Interrupted()


def main() -> int:
    signal.signal(signal.SIGTERM, on_sigterm)
    run = Runner()
    with tempfile.TemporaryDirectory(prefix="pyobshell-demo-") as tmp:
        cluster, packages = Path(tmp) / "cluster", Path(tmp) / "packages"
        try:
            must(run("sim", "up", "--dir", str(cluster), "--zones", "3", "--version", OLD[0], "--release", OLD[1],
                     "--root-password", PASSWORD, "--net", str(NET), "--profile", "realistic"), "sim up")
            must(run("sim", "package", "--version", NEW[0], "--release", NEW[1], "--out", str(packages)),
                 "sim package")
            must(run("cluster", "status", "--agent", AGENT), "cluster status (before)")
            upgraded = run("cluster", "upgrade", "--agent", AGENT, "-V", NEW[0], "-d", str(packages), "-y")
            must(run("cluster", "status", "--agent", AGENT), "cluster status (after)")
            must(upgraded, "cluster upgrade")
            print(f"\nThe cluster runs {NEW[0]}; it stayed in service all along (one zone stopped at a time).")
            return 0
        except (KeyboardInterrupt, Interrupted):
            print("\ninterrupted; stopping the cluster", file=sys.stderr)
            return 130
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            print(f"\ndemo failed: {error}", file=sys.stderr)
            return 1
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip the cleanup
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            run.stop_child()
            if cluster.exists():
                run("sim", "down", "--dir", str(cluster))


if __name__ == "__main__":
    sys.exit(main())
