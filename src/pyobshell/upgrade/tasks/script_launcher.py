"""Runs one of OceanBase's upgrade scripts, unmodified, with the root password it reads from
its standard input instead of its command line (where every local user could read it in
``ps`` or ``/proc/<pid>/cmdline``).

Usage: ``<python> script_launcher.py <script> <arg>...``; the first line of stdin is the
password, and an argument spelled ``-p@stdin`` becomes ``-p<password>`` in the script's
``sys.argv`` only. The file imports nothing from pyobshell and runs on Python 2.7 and 3: it is
executed by whichever interpreter runs the package's scripts.
"""

import os
import runpy
import sys

PLACEHOLDER = "-p@stdin"


def main():
    if len(sys.argv) < 2:
        sys.stderr.write("usage: script_launcher.py <script> <arg>... (password on stdin)\n")
        return 2
    script, args = sys.argv[1], sys.argv[2:]
    password = sys.stdin.readline().rstrip("\r\n") if PLACEHOLDER in args else ""
    sys.stdin.close()
    sys.stdin = open(os.devnull)
    sys.argv = [script] + [("-p" + password) if arg == PLACEHOLDER else arg for arg in args]
    sys.path[0] = os.path.dirname(os.path.abspath(script))  # as if the script were run directly
    runpy.run_path(script, run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
