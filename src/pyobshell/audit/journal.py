"""The agent's own copy of its audit records: JSON lines in ``HOME/log/audit.jsonl``.

Written before the cluster store is tried, so a record survives the store being down. When
the file passes ``max_bytes`` it is renamed to ``audit.jsonl.1`` (replacing the older one).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from pyobshell.wire.audit import AuditRecord

FILE_NAME = "audit.jsonl"
DEFAULT_MAX_BYTES = 64 << 20


class AuditJournal:
    def __init__(self, path: Path, max_bytes: int = DEFAULT_MAX_BYTES):
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    @classmethod
    def in_log_dir(cls, log_dir: Path) -> "AuditJournal":
        return cls(Path(log_dir) / FILE_NAME)

    def append(self, records: list[AuditRecord]) -> None:
        """Blocking (file I/O); raises OSError when the file cannot be written."""
        if not records:
            return
        text = "".join(r.model_dump_json(exclude={"id"}) + "\n" for r in records)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            try:
                if self.path.stat().st_size > self.max_bytes:
                    os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            except FileNotFoundError:
                pass
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as stream:
                stream.write(text)
