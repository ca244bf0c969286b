"""A stored upgrade package, as the package routes answer it.

obshell answers package uploads in two spellings: the old ``/api/v1/upgrade/package`` with
its storage struct's Go field names, the newer ``/api/v1/package`` and the list with
snake_case keys. Both carry ``sha256`` and ``file_size`` of the whole RPM as well; the
snake_case spelling also says who signed the package (``signer``, ``signature``).
"""

from __future__ import annotations

from datetime import datetime

from typing import Literal

from pydantic import BaseModel, Field

SignatureStateText = Literal["verified", "not verified", "unsigned", "not checked"]


class PackageSignature(BaseModel):
    """Who signed a package's RPM header, and whether the agent verified it."""

    state: SignatureStateText = Field(description=(
        "verified: by a key of the agent's trusted keyring; not verified: signed, but the agent has no keyring; "
        "unsigned; not checked: stored before the agent read signatures"))
    key_id: str = Field(default="", description="the signing key's id (16 hex digits)")
    fingerprint: str = Field(default="", description="the trusted certificate's fingerprint when verified, "
                                                     "else the signature's issuer fingerprint")
    user_id: str = Field(default="", description="the trusted certificate's user id (when verified)")


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
    signer: str = Field(default="", description="'unsigned', or the signing key, its user id and 'verified' or "
                                                "'not verified'")
    signature: PackageSignature | None = None

    @property
    def rpm_file_name(self) -> str:
        return f"{self.name}-{self.version}-{self.release_distribution}.{self.architecture}.rpm"


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
