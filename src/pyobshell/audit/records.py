"""Which requests the trail records, and the record of one (pure functions, no I/O)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pyobshell.audit.summary import summarize
from pyobshell.wire.audit import AuditRecord

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
API_PREFIX = "/api/v1/"
MAX_PATH = 512
MAX_ANSWER_BYTES = 4 << 20  # answers parsed for their errCode and DAG id; bigger ones are not
DAG_ROUTES = frozenset({"/api/v1/task/dag/{gid}"})
# credential kinds (security.credentials.AuthKind values) as the trail names them
CREDENTIAL_NAMES = {"root_password": "password", "session": "session",
                    "agent_password": "agent_password", "agent_token": "agent_token"}


def should_record(method: str, path: str, status: int, public: bool) -> bool:
    """Every refused request (any 4xx, on any route), and every other one that may change
    something: not a read, on an authenticated ``/api/v1`` route. Agent-to-agent ``/rpc/v1``
    calls are recorded only when refused."""
    if 400 <= status < 500:
        return True
    return method.upper() not in READ_METHODS and path.startswith(API_PREFIX) and not public


@dataclass
class Observation:
    """What the HTTP layer saw of one request and its answer."""

    method: str
    path: str
    route: str  # template; the path itself when no route matched
    status: int
    at_ns: int
    agent: str
    client: str = ""
    credential: str = ""  # an AuthKind value, or "" (none verified, none claimed)
    session_hash: str = ""
    trace_id: str = ""
    body: bytes | None = None  # the plaintext request body, when it was JSON
    path_params: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    answer: bytes = b""  # the response body (the envelope), possibly cut short
    forwarded_from: str = ""


def build_record(seen: Observation) -> AuditRecord:
    envelope = _envelope(seen.answer)
    error = envelope.get("error")
    err_code = str(error.get("errCode", "")) if isinstance(error, dict) else ""
    return AuditRecord(
        time=rfc3339_ms(seen.at_ns),
        time_ms=seen.at_ns // 1_000_000,
        agent=seen.agent,
        client=seen.client,
        credential=CREDENTIAL_NAMES.get(seen.credential, seen.credential),
        session_hash=seen.session_hash,
        method=seen.method.upper(),
        route=seen.route[:MAX_PATH],
        path=seen.path[:MAX_PATH],
        summary=summarize(seen.route, seen.body, seen.path_params, seen.notes),
        status=seen.status,
        err_code=err_code[:128],
        trace_id=seen.trace_id[:64],
        dag_id=_dag_id(seen, envelope)[:32],
        forwarded_from=seen.forwarded_from[:128],
        forwarded_to=str(seen.notes.get("forwarded_to", ""))[:128],
    )


def _dag_id(seen: Observation, envelope: dict[str, Any]) -> str:
    """The generic id of the DAG the answer names (a created one), else the operated one."""
    data = envelope.get("data")
    if 200 <= seen.status < 300 and isinstance(data, dict) and isinstance(data.get("id"), str) \
            and isinstance(data.get("dag_id"), int):
        return data["id"]
    if seen.route in DAG_ROUTES:
        gid = seen.path_params.get("gid")
        if isinstance(gid, str) and gid.isdigit():
            return gid
    return ""


def _envelope(answer: bytes) -> dict[str, Any]:
    if not answer or len(answer) > MAX_ANSWER_BYTES:
        return {}
    try:
        parsed = json.loads(answer)
    except (ValueError, UnicodeDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def rfc3339_ms(at_ns: int) -> str:
    seconds, rest = divmod(at_ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{rest // 1_000_000:03d}Z"
