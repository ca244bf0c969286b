"""What a request asked for, without its secrets: the audit record's ``summary``.

Only fields named here are kept, per route template (an allow-list: a field nobody listed,
whatever its name, never reaches the trail). Values are scalars (or short lists of them),
truncated; a session id that a logout names is kept only as its SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

MAX_TEXT = 128
MAX_ITEMS = 16

UPGRADE_FIELDS = ("version", "release", "mode", "upgradeDir", "freeze_server", "pause_after_zones", "soak_s",
                  "hold_before_finalize", "slo")
SLO_FIELDS = ("max_error_rate", "max_p99_ms", "window_s")
CHECK_FIELDS = ("version", "release", "upgradeDir")
OPERATOR_FIELDS = ("operator",)
UPLOAD_NOTES = ("filename", "size", "sha256", "signer")

# route template -> the body fields kept
BODY_FIELDS: dict[str, tuple[str, ...]] = {
    "/api/v1/ob/upgrade": UPGRADE_FIELDS,
    "/api/v1/ob/upgrade/plan": UPGRADE_FIELDS,
    "/api/v1/ob/upgrade/check": CHECK_FIELDS,
    "/api/v1/task/dag/{gid}": OPERATOR_FIELDS,
    "/api/v1/task/node/{gid}": OPERATOR_FIELDS,
}
# route template -> the path parameters kept
PATH_FIELDS: dict[str, tuple[str, ...]] = {
    "/api/v1/task/dag/{gid}": ("gid",),
    "/api/v1/task/node/{gid}": ("gid",),
    "/api/v1/upgrade/package/{pkg_id}": ("pkg_id",),
}
# what a handler may add (``api.audit_middleware.note``) beside the body
NOTE_FIELDS: dict[str, tuple[str, ...]] = {
    "/api/v1/package": UPLOAD_NOTES,
    "/api/v1/upgrade/package": UPLOAD_NOTES,
}
LOGOUT = "/api/v1/logout"


def summarize(route: str, body: bytes | None, path_params: Mapping[str, Any] | None = None,
              notes: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The summary of one request to ``route`` (a template) with this plaintext JSON ``body``."""
    summary: dict[str, Any] = {}
    for name in PATH_FIELDS.get(route, ()):
        if path_params and name in path_params:
            summary[name] = _scalar(path_params[name])
    parsed = _json_object(body)
    for name in BODY_FIELDS.get(route, ()):
        if name in parsed:
            value = parsed[name]
            summary[name] = _kept(value, SLO_FIELDS) if name == "slo" else _value(value)
    if route == LOGOUT and isinstance(parsed.get("session_id"), str) and parsed["session_id"]:
        summary["session_hash"] = hashlib.sha256(parsed["session_id"].encode("utf-8", "surrogateescape")).hexdigest()
    for name in NOTE_FIELDS.get(route, ()):
        if notes and name in notes:
            summary[name] = _scalar(notes[name])
    return summary


def _json_object(body: bytes | None) -> dict[str, Any]:
    if not body:
        return {}
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _kept(value: Any, fields: tuple[str, ...]) -> Any:
    if not isinstance(value, dict):
        return _scalar(value)
    return {name: _scalar(value[name]) for name in fields if name in value}


def _value(value: Any) -> Any:
    if isinstance(value, list):
        return [_scalar(item) for item in value[:MAX_ITEMS]]
    return _scalar(value)


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    text = value if isinstance(value, str) else type(value).__name__
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "…"
