"""The `pyobshell` command: one typer sub-app per command group."""

from __future__ import annotations

import typer

from pyobshell.cli import agent_cmd, audit_cmd, cluster_cmd, package_cmd, sim_cmd, task_cmd

app = typer.Typer(
    name="pyobshell",
    help="pyobshell: upgrade OceanBase clusters safely (an obshell-compatible agent).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(sim_cmd.app, name="sim")
app.add_typer(agent_cmd.app, name="agent")
app.add_typer(cluster_cmd.app, name="cluster")
app.add_typer(task_cmd.app, name="task")
app.add_typer(package_cmd.app, name="package")
app.command("audit")(audit_cmd.audit)


if __name__ == "__main__":  # pragma: no cover
    app()
