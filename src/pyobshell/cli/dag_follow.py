"""Following a DAG until it finishes: a live view on a terminal, one line per change otherwise.

The DAG is read with ``GET /api/v1/task/dag/{id}`` (details on) — fast at first and after
every change, backing off to about a second while nothing moves. A cluster DAG is the same on
every agent, so when the agent asked stops answering (its own observer is being reinstalled,
say) the next agent of the cluster is asked; only when no agent has answered for a while does
following give up. Ctrl-C stops following, never the task.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

import typer
from rich.console import Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from pyobshell.cli.dag_view import FAILED, RUNNING, SUCCEED, DagView, build_view, format_elapsed
from pyobshell.cli.output import CommandFailed, Output
from pyobshell.cli.probe_view import probe_line
from pyobshell.client import ObshellApiError, ObshellClient, ObshellClientError, ObshellConnectionError
from pyobshell.wire.task import DagDetailDTO

FIRST_DELAY_S = 0.1
MAX_DELAY_S = 1.0
BACKOFF = 1.5
PATIENCE_S = 600.0  # obshell's CLI tolerates 600 failed polls a second apart
LOG_WIDTH = 60
STATE_STYLES = {SUCCEED: "green", FAILED: "bold red", RUNNING: "cyan", "PAUSED": "bold yellow"}


class AgentsGone(Exception):
    """No agent answered for longer than the patience."""


class DagSource:
    """Reads one DAG from the first agent that answers, starting with the one that did last."""

    def __init__(self, clients: Sequence[ObshellClient]):
        if not clients:
            raise ValueError("at least one agent is needed")
        self.clients = list(clients)
        self._current = 0

    @property
    def agent(self) -> str:
        return self.clients[self._current].base_url

    def fetch(self, gid: str) -> DagDetailDTO:
        last: Exception | None = None
        for step in range(len(self.clients)):
            index = (self._current + step) % len(self.clients)
            try:
                dag = self.clients[index].dag(gid, show_details=True)
            except (ObshellConnectionError, ObshellApiError) as error:
                if isinstance(error, ObshellApiError) and error.status < 500:
                    raise  # the request itself is wrong (unknown id...): another agent says the same
                last = error
                continue
            self._current = index
            return dag
        assert last is not None
        raise last


def is_finished(dag: DagDetailDTO) -> bool:
    return dag.state in (SUCCEED, FAILED)


def _fingerprint(dag: DagDetailDTO) -> tuple:
    return dag.state, dag.stage, tuple((n.state, sum(len(t.task_logs or []) for t in n.sub_tasks or []))
                                       for n in dag.nodes or [])


def follow(source: DagSource, gid: str, on_update: Callable[[DagDetailDTO], None],
           on_trouble: Callable[[str], None], *, patience_s: float = PATIENCE_S,
           sleep: Callable[[float], None] = time.sleep) -> DagDetailDTO:
    """Poll until the DAG finishes; returns its last state."""
    delay, last_seen, failing_since = FIRST_DELAY_S, None, None
    while True:
        try:
            dag = source.fetch(gid)
        except (ObshellConnectionError, ObshellApiError) as error:
            failing_since = failing_since or time.monotonic()
            if time.monotonic() - failing_since > patience_s:
                raise AgentsGone(f"no agent answered for {patience_s:g}s; last error: {error}") from error
            on_trouble(f"no answer ({error}); trying again")
            delay = MAX_DELAY_S
        else:
            failing_since = None
            on_update(dag)
            if is_finished(dag):
                return dag
            fingerprint = _fingerprint(dag)
            delay = FIRST_DELAY_S if fingerprint != last_seen else min(delay * BACKOFF, MAX_DELAY_S)
            last_seen = fingerprint
        sleep(delay)


# -- on a terminal -------------------------------------------------------------------------------


def _styled(state: str) -> Text:
    return Text(state, style=STATE_STYLES.get(state, "dim"))


def _clip(text: str, width: int = LOG_WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def render_view(view: DagView, trouble: str = "", sql: str = "") -> RenderableType:
    """The live view: a title line, one row per section, what the SQL probe sees, and what went
    wrong polling, if anything."""
    title = Text.assemble((view.name, "bold"), f"  task {view.id}  stage {view.stage}/{view.max_stage}  ",
                          _styled(view.state), f"  {format_elapsed(view.seconds)}")
    table = Table(box=None, pad_edge=False, expand=False)
    for column in ("section", "state", "steps", "current step", "elapsed", "latest log"):
        table.add_column(column, no_wrap=column != "latest log", style="bold" if column == "section" else None)
    for section in view.sections:
        current = section.current
        table.add_row(section.name, _styled(section.state), f"{section.done}/{len(section.nodes)}",
                      escape(f"[{current.stage}/{view.max_stage}] {current.name}"),
                      format_elapsed(section.seconds), escape(_clip(section.latest_log)))
    parts: list[RenderableType] = [title, table]
    if view.pause:
        parts.append(Text(view.pause, style="bold yellow"))
    if sql:
        parts.append(Text(sql, style="green" if " 100.0 % ok" in sql.split(",")[0] else "yellow"))
    if trouble:
        parts.append(Text(trouble, style="yellow"))
    return Group(*parts)


class LiveDisplay:
    """A rich Live view redrawn four times a second, so elapsed times tick between polls."""

    def __init__(self, out: Output):
        self._dag: DagDetailDTO | None = None
        self._trouble = ""
        self._live = Live(console=out.console, refresh_per_second=4, get_renderable=self._renderable,
                          transient=False)

    def _renderable(self) -> RenderableType:
        if self._dag is None:
            return Text(self._trouble or "waiting for the task…", style="dim")
        return render_view(build_view(self._dag, datetime.now(timezone.utc)), self._trouble, probe_line(self._dag))

    def update(self, dag: DagDetailDTO) -> None:
        self._dag, self._trouble = dag, ""

    def trouble(self, message: str) -> None:
        self._trouble = message

    def __enter__(self) -> "LiveDisplay":
        self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.__exit__(*exc)  # type: ignore[arg-type]


# -- plain output --------------------------------------------------------------------------------


class LinePrinter:
    """One line per node that changes state (and per polling trouble), nothing redrawn."""

    def __init__(self, out: Output):
        self.out = out
        self._states: dict[str, str] = {}
        self._dag_state = ""
        self._trouble = ""
        self._stage = 0
        self._pause = ""

    def update(self, dag: DagDetailDTO) -> None:
        view = build_view(dag)
        self._trouble = ""
        changed = view.state != self._dag_state
        stage_moved = view.stage != self._stage
        self._stage = view.stage
        self._dag_state = view.state
        if changed and not view.finished:
            self._say_dag(view)
        for node in view.nodes:
            if self._states.get(node.id) == node.state or node.state in ("PENDING", "READY"):
                self._states.setdefault(node.id, node.state)
                continue
            self._states[node.id] = node.state
            took = f" {format_elapsed(node.seconds)}" if node.state != RUNNING else ""
            log = f" | {_clip(node.latest_log, 100)}" if node.latest_log and node.state != RUNNING else ""
            self.out.say(f"[{node.stage}/{view.max_stage}] {node.section}: {node.name} {node.state}{took}{log}")
        if view.pause != self._pause:
            self._pause = view.pause
            if view.pause:
                self.out.say(view.pause)
        sql = probe_line(dag)
        if sql and (stage_moved or (changed and view.finished)):
            self.out.say(f"  {sql}")
        if changed and view.finished:  # after the nodes that finished it
            self._say_dag(view)

    def _say_dag(self, view: DagView) -> None:
        self.out.say(f"task {view.id} {view.name}: {view.state} (stage {view.stage}/{view.max_stage})")

    def trouble(self, message: str) -> None:
        if message != self._trouble:
            self._trouble = message
            self.out.say(message)

    def __enter__(self) -> "LinePrinter":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


class QuietDisplay(LinePrinter):
    """``--json``: follow without printing."""

    def update(self, dag: DagDetailDTO) -> None:
        return None

    def trouble(self, message: str) -> None:
        return None


def display_for(out: Output) -> LiveDisplay | LinePrinter:
    if out.json_mode:
        return QuietDisplay(out)
    return LiveDisplay(out) if out.interactive else LinePrinter(out)


def cluster_clients(first: ObshellClient, password: str) -> list[ObshellClient]:
    """``first`` and every other agent of its cluster, to fall back on while following."""
    clients = [first]
    try:
        peers = first.agents_status()
    except ObshellClientError:
        return clients
    mine = first.base_url.removeprefix("http://")
    for key in sorted(peers):
        if key != mine:
            clients.append(type(first)(key, password=password, timeout=10.0))
    return clients


def follow_to_end(out: Output, client: ObshellClient, password: str, gid: str, agent: str) -> DagDetailDTO:
    """Follow ``gid`` (falling back on the other agents) until it finishes."""
    clients = cluster_clients(client, password)
    try:
        try:
            dag = watch(out, DagSource(clients), gid)
        except AgentsGone as gone:
            raise CommandFailed(str(gone)) from None
        except KeyboardInterrupt:
            out.say(f"Stopped following; the task goes on. Follow it again with: "
                    f"pyobshell task watch {gid} --agent {agent}")
            raise typer.Exit(130) from None
    finally:
        for other in clients[1:]:
            other.close()
    return dag


def watch(out: Output, source: DagSource, gid: str) -> DagDetailDTO:
    """Follow ``gid`` with the display that suits ``out``; returns the finished DAG."""
    with display_for(out) as display:
        return follow(source, gid, display.update, display.trouble)
