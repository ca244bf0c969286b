"""The observer's persisted configuration, `HOME/etc/observer.config.bin`.

Shared by the simulator (which writes it, as a real observer does at first start) and the
agent (which reads the SQL port, zone and address from it). Like the real file it starts with
a small binary record header followed by ``name=value`` lines; readers skip the header.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

CONFIG_RELATIVE_PATH = Path("etc") / "observer.config.bin"
PID_RELATIVE_PATH = Path("run") / "observer.pid"

_MAGIC = b"OBCF"
_HEADER = struct.Struct("<4sHHI")  # magic, header length, version, body length
_LINE = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


class ObserverConfigError(ValueError):
    """The config file is missing, unreadable or lacks a required key."""


def encode_config(values: dict[str, str]) -> bytes:
    body = "".join(f"{name}={value}\n" for name, value in values.items()).encode()
    return _HEADER.pack(_MAGIC, _HEADER.size, 1, len(body)) + body


def decode_config(data: bytes) -> dict[str, str]:
    if data[:4] == _MAGIC and len(data) >= _HEADER.size:
        data = data[_HEADER.size :]
    values: dict[str, str] = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        match = _LINE.match(line.strip())
        if match:
            values[match.group(1)] = match.group(2)
    return values


def write_config(home: Path, values: dict[str, str]) -> Path:
    path = home / CONFIG_RELATIVE_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(encode_config(values))
    tmp.replace(path)
    return path


def read_config(home: Path) -> dict[str, str]:
    path = home / CONFIG_RELATIVE_PATH
    try:
        return decode_config(path.read_bytes())
    except OSError as exc:
        raise ObserverConfigError(f"cannot read observer config {path}: {exc.strerror}") from exc


def read_int(values: dict[str, str], name: str) -> int:
    raw = values.get(name)
    if raw is None or not raw.strip().isdigit():
        raise ObserverConfigError(f"observer config has no valid '{name}' (got {raw!r})")
    return int(raw)


def read_pid(home: Path) -> int | None:
    """The pid recorded by the observer, or None if there is no readable pid file."""
    try:
        text = (home / PID_RELATIVE_PATH).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
