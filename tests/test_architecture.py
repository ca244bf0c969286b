"""Rules of the layout that a reader relies on: the client side stays light (importing the Python
client, or a client command of the CLI, loads neither the HTTP server stack nor SQLAlchemy nor
the task engine), and every statement sent to OceanBase's sys tenant lives in ``ob/``."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

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


SYS_TENANT = re.compile(r"(ALTER\s+SYSTEM|oceanbase\.|DBA_OB_|GV\$OB_|__all_[a-z])", re.IGNORECASE)
STATEMENT = re.compile(r"^\s*(SELECT|ALTER|INSERT|UPDATE|DELETE|SHOW)\b", re.IGNORECASE)
SOURCE = Path(__file__).resolve().parents[2] / "src" / "pyobshell"


def statements_outside_ob() -> list[str]:
    found = []
    for path in SOURCE.rglob("*.py"):
        relative = path.relative_to(SOURCE)
        if relative.parts[0] in ("ob", "sim"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
                if STATEMENT.match(text) and SYS_TENANT.search(text):
                    found.append(f"{relative}:{node.lineno}: {text[:60]}")
    return found


def test_every_sys_tenant_statement_lives_in_ob() -> None:
    """The agent's statements to OceanBase's sys tenant are named functions of ``ob/`` only."""
    assert statements_outside_ob() == []
