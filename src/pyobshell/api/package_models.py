"""What the package routes answer (shared with the client).

obshell answers package uploads in two spellings: the old ``/api/v1/upgrade/package`` with
its storage struct's Go field names, the newer ``/api/v1/package`` and the list with
snake_case keys. Both carry ``sha256`` and ``file_size`` of the whole RPM as well.
"""

from __future__ import annotations

from datetime import datetime, timezone

from pydantic import BaseModel, Field

from pyobshell.upgrade.package_schema import StoredPackage


def _utc(moment: datetime | None) -> datetime | None:
    # The store keeps naive UTC; say so on the wire ("...Z").
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=timezone.utc)


class PackageInfo(BaseModel):
    """A stored package (``bo.UpgradePkgInfo``, snake_case)."""

    pkg_id: int
    name: str
    version: str
    release_distribution: str = Field(description="full RPM release, e.g. 101000062023110109.el7")
    distribution: str
    release: str = Field(description="the build number")
    architecture: str
    size: int = Field(description="installed size")
    payload_size: int
    chunk_count: int
    md5: str
    upgrade_dep_yaml: str = Field(default="", description="always empty here, as in obshell")
    gmt_modify: datetime | None = None
    sha256: str = Field(default="", description="SHA-256 of the whole RPM file")
    file_size: int = Field(default=0, description="size of the whole RPM file")

    @property
    def rpm_file_name(self) -> str:
        return f"{self.name}-{self.version}-{self.release_distribution}.{self.architecture}.rpm"

    @classmethod
    def of(cls, package: StoredPackage) -> "PackageInfo":
        return cls(
            pkg_id=package.pkg_id, name=package.name, version=package.version,
            release_distribution=package.release_distribution, distribution=package.distribution,
            release=package.release, architecture=package.architecture, size=package.size,
            payload_size=package.payload_size, chunk_count=package.chunk_count, md5=package.md5,
            gmt_modify=_utc(package.gmt_modify), sha256=package.sha256, file_size=package.file_size,
        )


class UpgradePkgInfo(BaseModel):
    """The old upload answer: the storage struct with Go field names (``UpgradeDepYaml`` filled)."""

    PkgId: int
    Name: str
    Version: str
    ReleaseDistribution: str
    Distribution: str
    Release: str
    Architecture: str
    Size: int
    PayloadSize: int
    ChunkCount: int
    Md5: str
    UpgradeDepYaml: str
    GmtModify: datetime | None
    Sha256: str
    FileSize: int

    @classmethod
    def of(cls, package: StoredPackage, route_file_text: str | None) -> "UpgradePkgInfo":
        return cls(
            PkgId=package.pkg_id, Name=package.name, Version=package.version,
            ReleaseDistribution=package.release_distribution, Distribution=package.distribution,
            Release=package.release, Architecture=package.architecture, Size=package.size,
            PayloadSize=package.payload_size, ChunkCount=package.chunk_count, Md5=package.md5,
            UpgradeDepYaml=route_file_text or "", GmtModify=_utc(package.gmt_modify),
            Sha256=package.sha256, FileSize=package.file_size,
        )
