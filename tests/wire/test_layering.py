"""The client side stays light: importing the Python client (or a client command of the CLI)
loads neither the HTTP server stack nor SQLAlchemy nor the task engine."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("sqlalchemy", "fastapi", "starlette", "uvicorn", "pyobshell.engine", "pyobshell.api", "pyobshell.agent")


def loaded_after(statement: str) -> list[str]:
    probe = (f"import sys; {statement}; "
             f"print('\\n'.join(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'fastapi', 'starlette', "
             f"'uvicorn') or m.startswith(('pyobshell.engine', 'pyobshell.api', 'pyobshell.agent'))))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    return [line for line in result.stdout.splitlines() if line]


@pytest.mark.parametrize("statement", [
    "import pyobshell.client",
    "from pyobshell.cli import cluster_cmd, package_cmd, task_cmd",
])
def test_the_client_side_loads_no_server_code(statement: str) -> None:
    assert loaded_after(statement) == [], HEAVY
