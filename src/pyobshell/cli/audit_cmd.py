"""`pyobshell audit [--dag ID] [--since TIME] [--limit N] [--json] --agent IP:PORT`: the cluster's
audit trail, newest first (every agent's records, from any agent)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

import typer

from pyobshell.audit.query import AuditQueryError, parse_dag, parse_since
from pyobshell.cli.agent_access import AgentOption, JsonOption, connect
from pyobshell.cli.output import Output, reported
from pyobshell.wire.audit import DEFAULT_LIMIT, MAX_LIMIT, AuditRecord

COLUMNS = ("time", "agent", "client", "credential", "request", "summary", "status", "errCode", "dag", "traceId")
MAX_SUMMARY = 80


def _checked(parse: Any) -> Any:
    def check(value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parse(value)
        except AuditQueryError as exc:
            raise typer.BadParameter(str(exc)) from None
        return value.strip()

    return check


DagOption = Annotated[str | None, typer.Option("--dag", "-d", metavar="ID", callback=_checked(parse_dag),
                                               help="Only the records of this task (its id, e.g. 11).")]
SinceOption = Annotated[str | None, typer.Option("--since", "-s", metavar="TIME", callback=_checked(parse_since),
                                                 help="Only records at or after TIME: ISO-8601 (no zone: UTC), "
                                                      "e.g. 2024-05-01T12:00:00Z, or epoch milliseconds.")]
LimitOption = Annotated[int, typer.Option("--limit", "-n", min=1, max=MAX_LIMIT,
                                          help=f"At most N records (1..{MAX_LIMIT}).")]


def summary_text(summary: dict[str, Any]) -> str:
    """``k=v`` pairs in the order the agent gave them, cut to a table cell."""
    text = " ".join(f"{key}={_plain(value)}" for key, value in summary.items())
    return text if len(text) <= MAX_SUMMARY else text[:MAX_SUMMARY - 1] + "…"


def _plain(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_plain(v) for v in value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_plain(v)}" for k, v in value.items()) + "}"
    if isinstance(value, bool):
        return str(value).lower()
    return "" if value is None else str(value)


def audit_rows(records: Sequence[AuditRecord]) -> list[tuple]:
    rows = []
    for r in records:
        agent = r.agent + (f" (from {r.forwarded_from})" if r.forwarded_from else "") + \
            (f" (to {r.forwarded_to})" if r.forwarded_to else "")
        rows.append((r.time, agent, r.client, r.credential or "-", f"{r.method} {r.route}", summary_text(r.summary),
                     r.status, r.err_code, r.dag_id, r.trace_id))
    return rows


def audit(
    agent: AgentOption,
    dag: DagOption = None,
    since: SinceOption = None,
    limit: LimitOption = DEFAULT_LIMIT,
    json_output: JsonOption = False,
) -> None:
    """The audit trail: every state-changing and every refused request of the cluster, newest first."""
    out = Output(json_mode=json_output)
    with reported(out), connect(agent) as client:
        records = client.audit(since=since, dag=dag, limit=limit)
        if out.json_mode:
            out.emit([r.model_dump(mode="json") for r in records])
            return
        if not records:
            out.say("no audit records")
            return
        out.table("audit trail (newest first)", COLUMNS, audit_rows(records))
