"""How the client commands report: rich on a terminal, plain lines otherwise, one JSON document
with ``--json``; and their exit codes (0 done, 1 the operation failed, 2 usage error — the
last one is click's own).

An agent's error is one line with its errCode and traceId, never a traceback. With ``--json``
a failure is ``{"error": {...}}`` on stdout too, so a script reads one document either way.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pyobshell.client import ObshellApiError, ObshellClientError, ObshellConnectionError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class CommandFailed(Exception):
    """The operation failed for a reason the command explains itself (exit 1)."""

    def __init__(self, message: str, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


@dataclass
class Output:
    """Where a command writes. ``json_mode``: nothing but the final JSON document on stdout."""

    json_mode: bool = False
    console: Console = field(default_factory=lambda: Console(highlight=False))
    errors: Console = field(default_factory=lambda: Console(stderr=True, highlight=False))

    @property
    def interactive(self) -> bool:
        """A terminal a person watches: live views, progress bars, colours, questions."""
        return self.console.is_terminal and not self.json_mode

    def say(self, text: str, style: str | None = None) -> None:
        """A line for people (left out in JSON mode); ``text`` is plain, never markup."""
        if self.json_mode:
            return
        self.console.print(escape(text), style=style if self.interactive else None, soft_wrap=True)

    def warn(self, text: str) -> None:
        self.errors.print(escape(f"warning: {text}"), style="yellow" if self.errors.is_terminal else None,
                          soft_wrap=True)

    def emit(self, document: Any) -> None:
        """The JSON document of a ``--json`` run."""
        sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
        sys.stdout.flush()

    def table(self, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """A table: rich on a terminal, aligned plain columns otherwise (one row per line)."""
        if self.json_mode:
            return
        cells = [[("" if c is None else str(c)) for c in row] for row in rows]
        if self.interactive:
            table = Table(title=title, title_justify="left")
            for column in columns:
                table.add_column(column)
            for row in cells:
                table.add_row(*(escape(c) for c in row))
            self.console.print(table)
            return
        widths = [max([len(columns[i])] + [len(row[i]) for row in cells]) for i in range(len(columns))]
        print(f"{title}:")
        for row in [list(columns), *cells]:
            print("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        sys.stdout.flush()

    def error(self, message: str, details: dict[str, Any] | None = None) -> None:
        if self.json_mode:
            self.emit({"error": {"message": message, **(details or {})}})
        else:
            self.errors.print(escape(f"error: {message}"), style="bold red" if self.errors.is_terminal else None,
                              soft_wrap=True)


def describe_api_error(error: ObshellApiError) -> str:
    """``message [errCode X, traceId Y]``: everything an operator needs to report it."""
    where = [f"errCode {error.err_code}"] + ([f"traceId {error.trace_id}"] if error.trace_id else [])
    return f"{error.message} [{', '.join(where)}]"


def api_error_details(error: ObshellApiError) -> dict[str, Any]:
    return {"errCode": error.err_code, "traceId": error.trace_id, "status": error.status}


@contextmanager
def reported(out: Output) -> Iterator[None]:
    """Run a command body: its failures become one line (or a JSON error) and exit code 1."""
    try:
        yield
    except ObshellApiError as error:
        out.error(error.message if out.json_mode else describe_api_error(error), api_error_details(error))
        raise typer.Exit(EXIT_FAILED) from None
    except ObshellConnectionError as error:
        out.error(f"cannot reach the agent: {error}")
        raise typer.Exit(EXIT_FAILED) from None
    except ObshellClientError as error:
        out.error(str(error))
        raise typer.Exit(EXIT_FAILED) from None
    except CommandFailed as failure:
        out.error(failure.message, failure.details)
        raise typer.Exit(EXIT_FAILED) from None
    except KeyboardInterrupt:
        out.error("interrupted")
        raise typer.Exit(130) from None
