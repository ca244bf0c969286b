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
    "from pyobshell.cli import audit_cmd, cluster_cmd, package_cmd, task_cmd",
])
def test_the_client_side_loads_no_server_code(statement: str) -> None:
    assert loaded_after(statement) == [], HEAVY


SYS_TENANT = re.compile(r"(ALTER\s+SYSTEM|oceanbase\.|DBA_OB_|GV\$OB_|__all_[a-z])", re.IGNORECASE)
STATEMENT = re.compile(r"^\s*(SELECT|ALTER|INSERT|UPDATE|DELETE|SHOW)\b", re.IGNORECASE)
SOURCE = Path(__file__).resolve().parents[1] / "src" / "pyobshell"


def sources() -> list[Path]:
    paths = sorted(SOURCE.rglob("*.py"))
    assert len(paths) > 100, f"the source tree is not where this test looks: {SOURCE}"
    return paths


def statements_outside_ob() -> list[str]:
    found = []
    for path in sources():
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


def test_the_statement_patterns_match_what_they_guard() -> None:
    """The rule can fail: its patterns recognise a sys-tenant query and an ALTER SYSTEM."""
    assert SYS_TENANT.search("SELECT zone FROM oceanbase.DBA_OB_ZONES") and STATEMENT.match("  ALTER SYSTEM STOP ZONE z1")


def handler_lengths() -> dict[str, int]:
    """Statements in each route handler's body (docstring excluded), by ``module:function``."""
    lengths = {}
    for path in sorted((SOURCE / "api" / "routes").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.decorator_list:
                body = node.body[1:] if ast.get_docstring(node) is not None else node.body
                first = body[0].lineno if body else node.end_lineno
                lengths[f"{path.stem}:{node.name}"] = node.end_lineno - first + 1
    return lengths


def test_every_handler_binds_calls_one_service_and_answers() -> None:
    lengths = handler_lengths()
    assert len(lengths) > 30, "no route handlers found"
    assert {name: n for name, n in lengths.items() if n > 15} == {}
