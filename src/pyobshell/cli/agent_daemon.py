"""The agent daemon's entry point: ``python -m pyobshell.cli.agent_daemon --home ... --foreground``.

``pyobshell agent start`` launches the daemon through this module rather than through the
typer CLI, so the long-running process does not carry the CLI libraries in its memory. It
accepts the same options as ``agent start --foreground``, and on failure prints one
``error: ...`` line (the launcher shows it) and exits with 1.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from pyobshell.agent.config import AgentConfig, AgentStartError, password_from_env
from pyobshell.agent.process import serve


def run_foreground(config: AgentConfig) -> None:
    """Serve until stopped; any failure becomes one AgentStartError line (the log has the rest)."""
    try:
        serve(config)
    except AgentStartError:
        raise
    except Exception as exc:
        logging.getLogger(__name__).exception("agent failed")
        raise AgentStartError(f"agent failed: {type(exc).__name__}: {exc}") from exc


def parse_config(argv: list[str]) -> AgentConfig:
    parser = argparse.ArgumentParser(prog="pyobshell-agent-daemon", description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--ip", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ob-home", type=Path, required=True)
    parser.add_argument("--foreground", action="store_true", help="accepted for symmetry; the daemon always is")
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65535:
        parser.error(f"--port {args.port} is not between 1 and 65535")
    return AgentConfig(args.home.resolve(), args.ip, args.port, args.ob_home.resolve(), password_from_env())


def main(argv: list[str] | None = None) -> int:
    try:
        run_foreground(parse_config(sys.argv[1:] if argv is None else argv))
    except AgentStartError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
