"""Loading and validating ``oceanbase_upgrade_dep.yml``, OceanBase's upgrade-route file.

The file is a YAML list with one entry per released version::

    - version: 4.1.0.2                 # "A.B.C.D" or "A.B.C.D-BUILD"
      can_be_upgraded_to: [4.2.0.0]    # direct, QA-tested upgrades (graph edges)
      deprecated: False                # never an upgrade target when True
      require_from_binary:             # a bool, or this conditional form
        value: True
        when_come_from: [4.0.0.0, 4.1.0.0-100000192023032010]

Anything else (duplicates, unknown keys, wrong types) is refused with :class:`RouteFileError`,
because a silently misread route could skip a mandatory binary upgrade.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

from pyobshell.errors import ErrorCode, ErrorKind, ObshellError
from pyobshell.versions import Version

ROUTE_FILE_INVALID = ErrorCode(
    "OB.Upgrade.DepYaml.Invalid", ErrorKind.BAD_REQUEST, "Invalid upgrade dependency YAML: {}"
)
ROUTE_FILE_EMPTY = ErrorCode(
    "OB.Upgrade.DepYamlMissing", ErrorKind.BAD_REQUEST, "Target package upgrade dependency YAML is empty"
)

_ENTRY_KEYS = frozenset({"version", "can_be_upgraded_to", "deprecated", "require_from_binary"})
_REQUIREMENT_KEYS = frozenset({"value", "when_come_from"})


class RouteFileError(ObshellError, ValueError):
    """The route file cannot be used; the message says which entry and why."""

    def __init__(self, detail: str, error_code: ErrorCode = ROUTE_FILE_INVALID):
        message = error_code.template.format(detail) if "{}" in error_code.template else error_code.template
        super().__init__(error_code, message)
        self.detail = detail


@dataclass(frozen=True)
class BinaryRequirement:
    """``require_from_binary``: whether this version's observer binary must really be installed
    when the route passes through it. ``when_come_from`` (version or version-build strings)
    limits that to routes coming from one of those versions; ``None`` means always."""

    value: bool = False
    when_come_from: tuple[str, ...] | None = None

    def applies_when_coming_from(self, origin: Version) -> bool:
        if not self.value:
            return False
        if self.when_come_from is None:
            return True
        return origin.number_string in self.when_come_from or str(origin) in self.when_come_from


@dataclass(frozen=True)
class RouteEntry:
    """One version of the file. ``key`` is the ``version`` string exactly as written."""

    key: str
    version: Version
    can_be_upgraded_to: tuple[str, ...] = ()
    deprecated: bool = False
    require_from_binary: BinaryRequirement = BinaryRequirement()


@dataclass(frozen=True)
class RouteFile:
    """A validated route file; entries keep the file's order."""

    entries: tuple[RouteEntry, ...]

    def __post_init__(self) -> None:
        keys = [entry.key for entry in self.entries]
        duplicates = sorted({key for key in keys if keys.count(key) > 1})
        if duplicates:
            raise RouteFileError(f"version {', '.join(duplicates)} is listed more than once")

    def __iter__(self) -> Iterator[RouteEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def get(self, key: str) -> RouteEntry | None:
        return next((entry for entry in self.entries if entry.key == key), None)

    def all_versions(self) -> list[str]:
        """Every version string the file mentions: entries and edge targets, first-seen order."""
        seen: dict[str, None] = {}
        for entry in self.entries:
            seen.setdefault(entry.key)
            for target in entry.can_be_upgraded_to:
                seen.setdefault(target)
        return list(seen)


def parse_route_file(text: str) -> RouteFile:
    """Parse and validate the YAML text of an ``oceanbase_upgrade_dep.yml``."""
    if not isinstance(text, str) or not text.strip():
        raise RouteFileError("empty", ROUTE_FILE_EMPTY)
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RouteFileError(f"not valid YAML ({_one_line(exc)})") from exc
    if document is None:
        raise RouteFileError("empty", ROUTE_FILE_EMPTY)
    if not isinstance(document, list):
        raise RouteFileError(f"the document must be a list of versions, got {_type_name(document)}")
    return RouteFile(tuple(_parse_entry(index, item) for index, item in enumerate(document, start=1)))


def load_route_file(path: str | Path) -> RouteFile:
    """Read and validate a route file from disk."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RouteFileError(f"cannot read {path}: {_one_line(exc)}") from exc
    return parse_route_file(text)


def _parse_entry(index: int, item: Any) -> RouteEntry:
    where = f"entry {index}"
    if not isinstance(item, dict):
        raise RouteFileError(f"{where} must be a mapping with a 'version' key, got {_type_name(item)}")
    key = _version_string(item.get("version"), f"{where} 'version'")
    where = f"entry {index} (version {key})"
    unknown = sorted(str(k) for k in item if k not in _ENTRY_KEYS)
    if unknown:
        allowed = ", ".join(sorted(_ENTRY_KEYS))
        raise RouteFileError(f"{where} has unknown key(s) {', '.join(unknown)}; allowed: {allowed}")
    return RouteEntry(
        key=key,
        version=Version.parse(key),
        can_be_upgraded_to=_version_list(item.get("can_be_upgraded_to"), f"{where} 'can_be_upgraded_to'"),
        deprecated=_bool(item.get("deprecated", False), f"{where} 'deprecated'"),
        require_from_binary=_requirement(item.get("require_from_binary", False), f"{where} 'require_from_binary'"),
    )


def _requirement(raw: Any, where: str) -> BinaryRequirement:
    if raw is None or isinstance(raw, bool):
        return BinaryRequirement(value=bool(raw))
    if not isinstance(raw, dict):
        raise RouteFileError(f"{where} must be a bool or {{value, when_come_from}}, got {_type_name(raw)}")
    unknown = sorted(str(k) for k in raw if k not in _REQUIREMENT_KEYS)
    if unknown:
        raise RouteFileError(f"{where} has unknown key(s) {', '.join(unknown)}; allowed: value, when_come_from")
    if "value" not in raw:
        raise RouteFileError(f"{where} needs a 'value'")
    origins = raw.get("when_come_from")
    return BinaryRequirement(
        value=_bool(raw["value"], f"{where} 'value'"),
        # An empty list is read as "no condition", as OBD and obshell do.
        when_come_from=_version_list(origins, f"{where} 'when_come_from'") or None,
    )


def _version_list(raw: Any, where: str) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise RouteFileError(f"{where} must be a list of versions, got {_type_name(raw)}")
    return tuple(_version_string(value, where) for value in raw)


def _version_string(raw: Any, where: str) -> str:
    # YAML reads "4.2" as a float; refuse it rather than guess what was meant.
    if not isinstance(raw, str):
        raise RouteFileError(f"{where} must be a version string like '4.2.1.0', got {raw!r}")
    try:
        Version.parse(raw)
    except ValueError as exc:
        raise RouteFileError(f"{where}: {exc}") from exc
    return raw.strip()


def _bool(raw: Any, where: str) -> bool:
    if not isinstance(raw, bool):
        raise RouteFileError(f"{where} must be True or False, got {raw!r}")
    return raw


def _type_name(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
