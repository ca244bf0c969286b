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
    sign: Annotated[
        Optional[Path],
        typer.Option("--sign", metavar="KEYFILE", dir_okay=False,
                     help="OpenPGP secret key file (armored or binary) that signs each package's header, as rpmsign."),
    ] = None,
) -> None:
    """Write simulated oceanbase-ce and oceanbase-ce-libs RPM files and print their paths."""
    if compressor not in ("xz", "gzip"):
        raise typer.BadParameter(f"must be xz or gzip, got {compressor!r}", param_hint="'--compressor'")
    try:
        paths = build_packages(
            version, release, out, dep_yml=dep_yml, interpreter=interpreter, compressor=compressor,  # type: ignore[arg-type]
            sign_key=sign,
        )
    except ValueError as err:
        hint = "'--sign'" if sign is not None and "signing key" in str(err) else None
        raise typer.BadParameter(str(err), param_hint=hint) from None
    except OSError as err:
        typer.echo(f"Error: cannot write packages to {out}: {err.strerror or err}", err=True)
        raise typer.Exit(1) from None
    for path in paths:
        typer.echo(str(path))


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"Error: {message}", err=True)
    return typer.Exit(code)


@app.command("up")
def up(
    directory: Annotated[Path, typer.Option("--dir", help="New or empty directory for the cluster's files.")],
    zones: Annotated[int, typer.Option("--zones", help="Number of zones.")] = 3,
    servers_per_zone: Annotated[int, typer.Option("--servers-per-zone", help="Observers per zone.")] = 1,
    version: Annotated[str, typer.Option("--version", help="OceanBase version, e.g. 4.2.1.0.")] = "4.2.1.0",
    release: Annotated[str, typer.Option("--release", help="BUILD.DIST.")] = "100000012023101010.el7",
    root_password: Annotated[str, typer.Option("--root-password", help="Password of root@sys.")] = "",
    net: Annotated[int, typer.Option("--net", help="Second byte of the hosts' 127.x.z.s addresses.")] = 0,
    no_agents: Annotated[bool, typer.Option("--no-agents", help="Start observers only, no pyobshell agents.")] = False,
    profile: Annotated[str, typer.Option("--profile", help="Delays: 'realistic' (demo) or 'fast' (tests).")] = "realistic",
    lease: Annotated[Optional[float], typer.Option("--lease", help="Seconds before a silent observer is INACTIVE.")] = None,
    sql_port: Annotated[int, typer.Option("--sql-port")] = 2881,
    rpc_port: Annotated[int, typer.Option("--rpc-port")] = 2882,
    agent_port: Annotated[int, typer.Option("--agent-port")] = 2886,
) -> None:
    """Install and start a simulated cluster, wait until it serves, write DIR/cluster.json."""
    from pyobshell.sim.cluster import sim_up
    from pyobshell.sim.topology import SimError, UpRequest
    from pyobshell.sim.settings import SimSettings

    if profile not in ("realistic", "fast"):
        raise typer.BadParameter("must be 'realistic' or 'fast'", param_hint="'--profile'")
    overrides = {"lease": lease} if lease is not None else {}
    settings = SimSettings.fast(**overrides) if profile == "fast" else SimSettings.realistic(**overrides)
    request = UpRequest(directory, zones, servers_per_zone, version, release, root_password, net, not no_agents,
                        sql_port, rpc_port, agent_port, settings)
    try:
        document = sim_up(request)
    except SimError as error:
        raise _fail(str(error)) from None
    for observer in document["observers"]:
        typer.echo(f"observer {observer['zone']} {observer['ip']}:{observer['sql_port']} {observer['version']}")
    for agent in document["agents"]:
        typer.echo(f"agent {agent['ip']}:{agent['port']}")
    typer.echo(f"cluster ready: {directory / 'cluster.json'}")


@app.command("down")
def down(directory: Annotated[Path, typer.Option("--dir", help="Directory given to 'sim up'.")]) -> None:
    """Stop every process that 'sim up' started in DIR."""
    from pyobshell.sim.cluster import sim_down
    from pyobshell.sim.topology import SimError

    try:
        pids = sim_down(directory)
    except SimError as error:
        raise _fail(str(error)) from None
    typer.echo(f"stopped {len(pids)} process(es)")


@app.command("fault")
def fault(
    directory: Annotated[Path, typer.Option("--dir", help="Directory of the simulated cluster.")],
    kind: Annotated[str, typer.Option(
        "--kind", help="never_serve, log_never_sync, upgrade_job_fails, extra_startup_delay, leaders_stuck, "
                       "slow_sql (with --clear and no --kind: every fault).")] = "",
    server: Annotated[str, typer.Option("--server", help="ip:rpc_port of one observer (default: all).")] = "",
    value: Annotated[str, typer.Option(
        "--value", help="Value: seconds for extra_startup_delay, milliseconds for slow_sql.")] = "1",
    clear: Annotated[bool, typer.Option("--clear", help="Switch the fault off.")] = False,
) -> None:
    """Switch an injected failure on or off."""
    from pyobshell.sim.faults import clear_fault, set_fault

    if not kind and not clear:
        raise _fail("name the fault with --kind (or clear every fault with --clear)", 2)
    try:
        if clear:
            cleared = clear_fault(directory, kind, server)
            typer.echo(f"fault(s) off: {', '.join(cleared) or 'none was on'}")
            return
        set_fault(directory, kind, server, value)
    except ValueError as error:
        raise _fail(str(error), 2) from None
    typer.echo(f"fault {kind} on for {server or 'every server'}")
