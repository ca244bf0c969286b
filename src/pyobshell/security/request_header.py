"""The decrypted content of ``X-OCS-Header`` / ``X-OCS-Agent-Header`` (obshell's ``HttpHeader``).

Parsing follows Go's ``encoding/json`` as obshell uses it, because clients rely on it:
field names match case-insensitively (the web UI sends ``Auth``, the Python SDK ``auth``), the
later of two equal names wins, ``null`` leaves a field at its empty value and unknown fields are
ignored. Types are strict: ``Ts`` must be a JSON *string* of decimal Unix seconds (the expiry
time chosen by the client), ``Keys`` canonical base64 or ``null``, ``ForwardType`` an integer.
Unlike obshell, ``Ts`` is mandatory: a header without it is invalid.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import Enum, IntEnum
from typing import Any

from pyobshell.security import strict_base64
from pyobshell.security.crypto_errors import DecryptionError

ROOT_HEADER = "X-OCS-Header"  # credential: root@sys password (or token / session)
AGENT_HEADER = "X-OCS-Agent-Header"  # credential: agent password (or token); wins if both are sent

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_DECIMAL = re.compile(r"[+-]?[0-9]+")


class HeaderFormatError(ValueError):
    """The decrypted header is not a valid header JSON object (detail is for logs only)."""


class TimestampFormatError(HeaderFormatError):
    """The header is a JSON object whose ``Ts`` is missing or not a string of decimal seconds
    (obshell: ``Security.Authentication.Timestamp.Invalid``; a JSON number there is a decrypt
    failure, as Go's unmarshalling into a string field fails)."""


class ForwardType(IntEnum):
    NOT_FORWARD = 0
    AUTO_FORWARD = 1
    MANUAL_FORWARD = 2


class KeyStyle(Enum):
    """Field-name spelling when emitting a header."""

    GO = "go"  # obshell agents, Go SDK and web UI: Auth, Ts, Uri, Keys, session_id, ...
    LOWER = "lower"  # obshell Python SDK v2: auth, ts, uri, keys


@dataclass(frozen=True)
class ForwardAgent:
    ip: str
    port: int


# (attribute, name as Go emits it); the lower-cased name is the matching key.
_FIELDS: tuple[tuple[str, str], ...] = (
    ("session_id", "session_id"),
    ("auth", "Auth"),
    ("ts", "Ts"),
    ("token", "Token"),
    ("sso_token", "ssotoken"),
    ("uri", "Uri"),
    ("keys", "Keys"),
    ("sha256", "Sha256"),
    ("forward_type", "ForwardType"),
    ("forward_agent", "ForwardAgent"),
)


@dataclass(frozen=True, repr=False)
class RequestHeader:
    """One request header. ``ts`` is the expiry time in Unix seconds; ``keys`` is key ‖ IV."""

    ts: int
    uri: str
    auth: str = ""
    keys: bytes | None = None
    session_id: str = ""
    token: str = ""
    sso_token: str = ""
    sha256: str = ""
    forward_type: ForwardType = ForwardType.NOT_FORWARD
    forward_agent: ForwardAgent | None = field(default=None)

    def __repr__(self) -> str:  # never print credentials
        return f"RequestHeader(uri={self.uri!r}, ts={self.ts}, forward_type={self.forward_type.name})"

    @classmethod
    def parse(cls, data: bytes) -> "RequestHeader":
        """Parse decrypted header bytes; raises :class:`HeaderFormatError`."""
        try:
            obj = json.loads(data.decode("utf-8"), object_pairs_hook=_fold_names)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise HeaderFormatError("header is not UTF-8 JSON") from None
        if not isinstance(obj, dict):
            raise HeaderFormatError("header JSON is not an object")
        if "uri" not in obj or obj["uri"] is None:
            raise HeaderFormatError("Uri is missing")
        if "ts" not in obj or obj["ts"] is None:
            raise TimestampFormatError("Ts is missing")
        ts = _parse_ts(obj["ts"])
        return cls(
            ts=ts,
            uri=_string(obj, "uri"),
            auth=_string(obj, "auth"),
            keys=_keys(obj.get("keys")),
            session_id=_string(obj, "session_id"),
            token=_string(obj, "token"),
            sso_token=_string(obj, "ssotoken"),
            sha256=_string(obj, "sha256"),
            forward_type=_forward_type(obj.get("forwardtype")),
            forward_agent=_forward_agent(obj.get("forwardagent")),
        )

    def to_json(self, style: KeyStyle = KeyStyle.GO) -> bytes:
        """Serialise with ``style`` names; empty optional fields are left out, Ts is a string."""
        out: dict[str, Any] = {}
        for attr, go_name in _FIELDS:
            value = getattr(self, attr)
            name = go_name if style is KeyStyle.GO else go_name.lower()
            if attr in ("auth", "uri"):
                out[name] = value
            elif attr == "ts":
                out[name] = str(value)
            elif attr == "keys":
                if value is not None:
                    out[name] = strict_base64.encode(value)
            elif attr == "forward_type":
                if value is not ForwardType.NOT_FORWARD:
                    out[name] = int(value)
            elif attr == "forward_agent":
                if value is not None:
                    out[name] = {"ip": value.ip, "port": value.port}
            elif value:
                out[name] = value
        return json.dumps(out, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _fold_names(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    return {name.lower(): value for name, value in pairs}  # later duplicates win, as in Go


def _string(obj: dict[str, Any], name: str) -> str:
    value = obj.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise HeaderFormatError(f"{name} is not a string")
    return value


def _parse_ts(value: Any) -> int:
    if not isinstance(value, str):
        raise HeaderFormatError("Ts is not a JSON string")
    if not _DECIMAL.fullmatch(value):
        raise TimestampFormatError("Ts is not a string of decimal seconds")
    ts = int(value)
    if not _INT64_MIN <= ts <= _INT64_MAX:
        raise TimestampFormatError("Ts is out of range")
    return ts


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise HeaderFormatError(f"{name} is not an integer")
    return value


def _keys(value: Any) -> bytes | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise HeaderFormatError("Keys is not a base64 string")
    try:
        return strict_base64.decode(value)
    except DecryptionError:
        raise HeaderFormatError("Keys is not canonical base64") from None


def _forward_type(value: Any) -> ForwardType:
    if value is None:
        return ForwardType.NOT_FORWARD
    try:
        return ForwardType(_integer(value, "ForwardType"))
    except ValueError:
        raise HeaderFormatError("ForwardType is unknown") from None


def _forward_agent(value: Any) -> ForwardAgent | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise HeaderFormatError("ForwardAgent is not an object")
    raw_port = value.get("port")
    port = 0 if raw_port is None else _integer(raw_port, "ForwardAgent.port")
    if not 0 <= port <= 65535:
        raise HeaderFormatError("ForwardAgent.port is out of range")
    return ForwardAgent(ip=_string(value, "ip"), port=port)
