"""`pyobshell sim ...`: the simulated OceanBase cluster."""

from __future__ import annotations

import typer

app = typer.Typer(help="A simulated OceanBase cluster: packages, observers, up and down.", no_args_is_help=True)
