"""OceanBase version numbers: ``A.B.C.D``, an optional build number, RPM releases and the
``build_version`` string an observer reports.

Ordering follows obshell's ``CompareVersion``: the four numbers first, then the build number,
where a missing build counts as 0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import total_ordering

# re.ASCII keeps \d to 0-9: int() would otherwise accept other scripts' digits.
_NUMBERS = r"\d+\.\d+\.\d+\.\d+"
_VERSION_RE = re.compile(rf"(?P<numbers>{_NUMBERS})(?:-(?P<build>\d+))?", re.ASCII)
_BUILD_RE = re.compile(r"\d+", re.ASCII)
# e.g. 4.2.1.0_101000062023110109-7b0f4369...(Sep 28 2023 07:23:24)
_BUILD_VERSION_RE = re.compile(
    rf"(?P<numbers>{_NUMBERS})_(?P<build>\d+)(?:-(?P<commit>[^()\s]+))?(?:\((?P<built_at>[^()]*)\))?",
    re.ASCII,
)


@total_ordering
@dataclass(frozen=True, eq=False)
class Version:
    """A four-part version such as ``4.2.1.0`` with an optional build number."""

    numbers: tuple[int, int, int, int]
    build: str | None = None

    def __post_init__(self) -> None:
        if len(self.numbers) != 4 or any(not isinstance(n, int) or n < 0 for n in self.numbers):
            raise ValueError(f"a version needs four non-negative numbers, got {self.numbers!r}")
        if self.build is not None and not _BUILD_RE.fullmatch(self.build):
            raise ValueError(f"a build number is made of digits, got {self.build!r}")

    @classmethod
    def parse(cls, text: str) -> "Version":
        """Parse ``4.2.1.0`` or ``4.1.0.0-100000192023032010`` (version-build)."""
        if not isinstance(text, str):
            raise ValueError(f"a version must be a string like '4.2.1.0', got {text!r}")
        match = _VERSION_RE.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"malformed version {text!r}: expected 'A.B.C.D' or 'A.B.C.D-BUILD'")
        return cls(_numbers(match["numbers"]), match["build"])

    @property
    def number_string(self) -> str:
        """The four-part version alone, e.g. ``4.2.1.0``."""
        return ".".join(str(n) for n in self.numbers)

    @property
    def build_number(self) -> int:
        return int(self.build) if self.build else 0

    def without_build(self) -> "Version":
        return replace(self, build=None)

    def with_build(self, build: str | None) -> "Version":
        return replace(self, build=build)

    def same_numbers(self, other: "Version") -> bool:
        return self.numbers == other.numbers

    def _key(self) -> tuple[tuple[int, int, int, int], int]:
        return self.numbers, self.build_number

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() == other._key()

    def __lt__(self, other: "Version") -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        """``4.2.1.0`` or ``4.2.1.0-101000062023110109`` (obshell's BuildVersion form)."""
        return self.number_string if self.build is None else f"{self.number_string}-{self.build}"


@dataclass(frozen=True)
class Release:
    """An RPM release such as ``101000062023110109.el7``: the build number and the distribution."""

    build: str
    distribution: str

    @classmethod
    def parse(cls, text: str) -> "Release":
        # Like obshell's SplitRelease: build is the first dot part, distribution the last.
        if not isinstance(text, str):
            raise ValueError(f"a release must be a string like '101000062023110109.el7', got {text!r}")
        parts = text.strip().split(".")
        if len(parts) < 2 or not all(parts):
            raise ValueError(
                f"malformed release {text!r}: expected 'BUILD.DISTRIBUTION', e.g. '101000062023110109.el7'"
            )
        if not _BUILD_RE.fullmatch(parts[0]):
            raise ValueError(f"malformed release {text!r}: the build number {parts[0]!r} is not all digits")
        return cls(build=parts[0], distribution=parts[-1])

    def __str__(self) -> str:
        return f"{self.build}.{self.distribution}"


@dataclass(frozen=True)
class BuildVersion:
    """What an observer reports as ``build_version``:
    ``4.2.1.0_101000062023110109-<git commit>(<build date> <time>)``."""

    version: Version
    commit: str | None = None
    built_at: str | None = None

    @classmethod
    def parse(cls, text: str) -> "BuildVersion":
        if not isinstance(text, str):
            raise ValueError(f"a build_version must be a string, got {text!r}")
        match = _BUILD_VERSION_RE.fullmatch(text.strip())
        if match is None:
            raise ValueError(
                f"malformed build_version {text!r}: expected 'A.B.C.D_BUILD-<commit>(<date> <time>)'"
            )
        version = Version(_numbers(match["numbers"]), match["build"])
        return cls(version=version, commit=match["commit"], built_at=match["built_at"])


def parse_version(text: str, build: str | None = None) -> Version:
    """Parse a version and attach ``build`` (a build suffix in ``text`` must then agree)."""
    version = Version.parse(text)
    if build is None or version.build == build:
        return version
    if version.build is not None:
        raise ValueError(f"version {text!r} already carries build {version.build}, not {build}")
    return version.with_build(build)


def _numbers(text: str) -> tuple[int, int, int, int]:
    a, b, c, d = (int(part) for part in text.split("."))
    return a, b, c, d
