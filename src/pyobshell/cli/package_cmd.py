"""`pyobshell package list|upload|delete`: the cluster's package store (upgrade RPMs)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from pyobshell.wire.package import PackageInfo
from pyobshell.cli.agent_access import AgentOption, JsonOption, connect
from pyobshell.cli.output import Output, reported
from pyobshell.client import ObshellClient

app = typer.Typer(help="The cluster's upgrade packages: list, upload, delete.", no_args_is_help=True)


def upload_files(out: Output, client: ObshellClient, paths: Sequence[Path]) -> list[PackageInfo]:
    """Upload ``paths`` one by one with a progress bar (a line per file when not a terminal)."""
    stored: list[PackageInfo] = []
    if not out.interactive:
        for path in paths:
            out.say(f"uploading {path.name} ({path.stat().st_size} bytes)")
            info = client.upload_package(path)
            out.say(f"uploaded {path.name}: package id {info.pkg_id}")
            stored.append(info)
        return stored
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, console=out.console) as progress:
        for path in paths:
            task = progress.add_task(f"upload {path.name}", total=path.stat().st_size)
            info = client.upload_package(path, progress=lambda n, task=task: progress.advance(task, n))
            progress.update(task, completed=path.stat().st_size, description=f"uploaded {path.name} (id {info.pkg_id})")
            stored.append(info)
    return stored


def package_rows(packages: Sequence[PackageInfo]) -> list[tuple]:
    return [(p.pkg_id, p.name, p.version, p.release_distribution, p.architecture, p.file_size,
             p.sha256[:12], p.signer, p.gmt_modify.isoformat(timespec="seconds") if p.gmt_modify else "")
            for p in packages]


PACKAGE_COLUMNS = ("id", "name", "version", "release", "arch", "bytes", "sha256", "signer", "stored")


@app.command("list")
def list_packages(agent: AgentOption, json_output: JsonOption = False) -> None:
    """Every package the cluster stores, newest first."""
    out = Output(json_mode=json_output)
    with reported(out), connect(agent) as client:
        packages = client.list_packages()
        if out.json_mode:
            out.emit([p.model_dump(mode="json") for p in packages])
            return
        if not packages:
            out.say("no packages stored")
            return
        out.table("packages", PACKAGE_COLUMNS, package_rows(packages))


@app.command()
def upload(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True, metavar="RPM...",
                                                help="RPM files to store in the cluster.")],
    agent: AgentOption,
    json_output: JsonOption = False,
) -> None:
    """Store RPM files in the cluster's package store (checked by the agent first)."""
    out = Output(json_mode=json_output)
    with reported(out), connect(agent) as client:
        stored = upload_files(out, client, files)
        if out.json_mode:
            out.emit([p.model_dump(mode="json") for p in stored])


@app.command()
def delete(
    ids: Annotated[list[int], typer.Argument(metavar="ID...", help="Package ids (see 'package list').")],
    agent: AgentOption,
    json_output: JsonOption = False,
) -> None:
    """Delete packages from the cluster's package store."""
    out = Output(json_mode=json_output)
    with reported(out), connect(agent) as client:
        for pkg_id in ids:
            client.delete_package(pkg_id)
            out.say(f"deleted package {pkg_id}")
        if out.json_mode:
            out.emit({"deleted": ids})
