"""`pyobshell sim ...`: the simulated OceanBase cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from pyobshell.sim.package_builder import build_packages

app = typer.Typer(help="A simulated OceanBase cluster: packages, observers, up and down.", no_args_is_help=True)


@app.command("package")
def package(
    version: Annotated[str, typer.Option("--version", help="OceanBase version, e.g. 4.2.1.1.")],
    release: Annotated[str, typer.Option("--release", help="BUILD.DIST, e.g. 101000062023110109.el7.")],
    out: Annotated[Path, typer.Option("--out", help="Directory the RPM files are written to.")],
    dep_yml: Annotated[
        Optional[Path],
        typer.Option(
            "--dep-yml", exists=True, dir_okay=False, readable=True, help="Route file to ship instead of the default."
        ),
    ] = None,
    interpreter: Annotated[
        Optional[str],
        typer.Option("--interpreter", help="Python that runs the simulated observer (default: this one)."),
    ] = None,
    compressor: Annotated[
        str, typer.Option("--compressor", help="Payload compression: xz (as OceanBase ships) or gzip.")
    ] = "xz",
) -> None:
    """Write simulated oceanbase-ce and oceanbase-ce-libs RPM files and print their paths."""
    if compressor not in ("xz", "gzip"):
        raise typer.BadParameter(f"must be xz or gzip, got {compressor!r}", param_hint="'--compressor'")
    try:
        paths = build_packages(
            version, release, out, dep_yml=dep_yml, interpreter=interpreter, compressor=compressor  # type: ignore[arg-type]
        )
    except ValueError as err:
        raise typer.BadParameter(str(err)) from None
    except OSError as err:
        typer.echo(f"Error: cannot write packages to {out}: {err.strerror or err}", err=True)
        raise typer.Exit(1) from None
    for path in paths:
        typer.echo(str(path))
