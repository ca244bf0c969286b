"""Upgrade packages: upload, list, delete, and read back (the cluster's package store).

* ``POST /api/v1/upgrade/package`` and ``POST /api/v1/package``: multipart field ``file``.
  Both are authenticated (obshell leaves the second one open). On the first, as in obshell,
  a header with ``Keys`` means the whole multipart body is AES-encrypted (obshell's Python SDK
  sends it so); the second takes plain multipart only. ``X-OCS-File-SHA256`` is optional: when
  sent it must name the file. The file is streamed to a private temporary file in the agent
  home (at most ``PYOBSHELL_PACKAGE_MAX_BYTES``), then verified (the RPM's own digests) and
  stored by :class:`PackageStore` in a worker thread. A refused package is a 4xx envelope and
  nothing is stored. The first answers obshell's storage struct (Go field names, with the
  route file's text in ``UpgradeDepYaml``), the second the snake_case ``UpgradePkgInfo``.
* ``GET /api/v1/upgrade/package/info``: every package, newest first.
* ``DELETE /api/v1/upgrade/package/{id}``: 404 when there is no such package (obshell
  answers success whatever matched).
* ``GET /api/v1/upgrade/package/{id}/download`` (pyobshell's own): the RPM itself, verified
  against its stored digest before the first byte is sent, with its SHA-256 in
  ``Repr-Digest`` (RFC 9530), so any agent or client can read any package back.

The store lives in the cluster's ``ocs`` database, reachable once this agent's cluster
store is open; tests may override :func:`package_store`.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, BinaryIO

import anyio.to_thread
from fastapi import Depends, Request
from fastapi.responses import StreamingResponse

from pyobshell.api.auth import PASSWORD, CallerDep, accepts
from pyobshell.api.uploads import receive_file
from pyobshell.wire.package import PackageInfo, UpgradePkgInfo
from pyobshell.api.routing import obshell_router
from pyobshell.api.upload_digest import verify_file_digest
from pyobshell.errors import ErrorCode, ErrorKind
from pyobshell.security.aes_body import AesKeys
from pyobshell.upgrade.package_schema import StoredPackage
from pyobshell.upgrade.package_store import PackageStore

log = logging.getLogger(__name__)

MAX_BYTES_ENV = "PYOBSHELL_PACKAGE_MAX_BYTES"
DEFAULT_MAX_BYTES = 4 << 30  # OceanBase RPMs are a few hundred MiB
UPLOAD_DIR_NAME = "upload"
FILE_FIELD = "file"
RPM_MEDIA_TYPE = "application/x-rpm"
DIGEST_HEADER = "Repr-Digest"
_READ_BYTES = 1 << 20

PACKAGE_STORE_UNAVAILABLE = ErrorCode(
    "Package.Store.Unavailable", ErrorKind.UNEXPECTED,
    "The package store is not available: {}")
PATH_PARAM_EMPTY = ErrorCode("Request.Path.Param.Empty", ErrorKind.BAD_REQUEST, "Path parameter '{}' is empty")
PATH_PARAM_ILLEGAL = ErrorCode("Request.Query.Param.Illegal", ErrorKind.BAD_REQUEST, "Parameter '{}' is illegal: {}")

router = obshell_router(tags=["package"], dependencies=[accepts(PASSWORD)])
_UPLOAD = [accepts(PASSWORD.with_plain_body())]
_UPLOAD_DOC = {
    "requestBody": {
        "required": True,
        "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": [FILE_FIELD],
            "properties": {FILE_FIELD: {"type": "string", "format": "binary", "description": "the RPM"}},
        }}},
    },
    "parameters": [{
        "name": "X-OCS-File-SHA256", "in": "header", "required": False, "schema": {"type": "string"},
        "description": "optional: base64 of the agent-key RSA encryption of the file's lower-case hex SHA-256",
    }],
}


@dataclass(frozen=True)
class UploadSettings:
    directory: Path  # temporary files of uploads and downloads
    max_bytes: int


def upload_settings(request: Request) -> UploadSettings:
    """The agent home's ``upload`` directory; the size limit from ``PYOBSHELL_PACKAGE_MAX_BYTES``."""
    raw = os.environ.get(MAX_BYTES_ENV, "").strip()
    max_bytes = DEFAULT_MAX_BYTES
    if raw:
        if raw.isdigit() and int(raw) > 0:
            max_bytes = int(raw)
        else:
            log.warning("%s=%r is not a positive number of bytes; using %d", MAX_BYTES_ENV, raw, max_bytes)
    return UploadSettings(Path(request.app.state.agent.home) / UPLOAD_DIR_NAME, max_bytes)


def package_store(request: Request) -> PackageStore:
    """The store in the cluster's ``ocs`` database (one per engine, kept on the app)."""
    tasks = getattr(request.app.state.agent, "tasks", None)
    engine = tasks.cluster_engine if tasks is not None else None
    if engine is None:
        raise PACKAGE_STORE_UNAVAILABLE("it lives in the cluster's ocs database, which this agent has not opened "
                                        "(is the observer available?)")
    store = getattr(request.app.state, "package_store", None)
    if store is None or store.engine is not engine:
        store = PackageStore(engine)
        request.app.state.package_store = store
    return store


StoreDep = Annotated[PackageStore, Depends(package_store)]
SettingsDep = Annotated[UploadSettings, Depends(upload_settings)]


@router.post("/api/v1/upgrade/package", response_model=UpgradePkgInfo, dependencies=_UPLOAD,
             openapi_extra=_UPLOAD_DOC, summary="Upload an upgrade package (obshell's storage-struct answer)")
async def upload_package(request: Request, store: StoreDep, settings: SettingsDep, caller: CallerDep) -> UpgradePkgInfo:
    package = await _receive_and_store(request, store, settings, caller.keys if caller is not None else None)
    route_text = await anyio.to_thread.run_sync(store.route_file_text, package.pkg_id)
    return package.storage_struct(route_text)


@router.post("/api/v1/package", response_model=PackageInfo, dependencies=_UPLOAD,
             openapi_extra=_UPLOAD_DOC, summary="Upload an upgrade package")
async def upload_package_new(request: Request, store: StoreDep, settings: SettingsDep) -> PackageInfo:
    return (await _receive_and_store(request, store, settings)).info()


@router.get("/api/v1/upgrade/package/info", response_model=list[PackageInfo], summary="Every stored package")
def list_packages(store: StoreDep) -> list[PackageInfo]:
    return [package.info() for package in store.list()]


@router.delete("/api/v1/upgrade/package/{pkg_id}", summary="Delete a package and its chunks")
def delete_package(pkg_id: str, store: StoreDep) -> None:
    store.delete(parse_pkg_id(pkg_id))


@router.get(
    "/api/v1/upgrade/package/{pkg_id}/download", response_class=StreamingResponse,
    summary="Read a stored package back (the RPM, verified)",
    responses={200: {"description": "the RPM file; its SHA-256 in Repr-Digest",
                     "content": {RPM_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}}}},
)
async def download_package(pkg_id: str, store: StoreDep, settings: SettingsDep) -> StreamingResponse:
    package_id = parse_pkg_id(pkg_id)
    package = await anyio.to_thread.run_sync(store.get, package_id)
    path = settings.directory / f".download-{uuid.uuid4().hex}.rpm"
    await anyio.to_thread.run_sync(lambda: settings.directory.mkdir(parents=True, exist_ok=True))
    await anyio.to_thread.run_sync(store.download, package_id, path)  # verified, or raises
    try:
        stream, sha256 = await anyio.to_thread.run_sync(_open_unlinked, path, package)
    finally:
        path.unlink(missing_ok=True)  # normally gone already
    size = os.fstat(stream.fileno()).st_size
    headers = {
        "Content-Length": str(size),
        "Content-Disposition": f'attachment; filename="{package.rpm_file_name}"',
        DIGEST_HEADER: f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode()}:",
    }
    return StreamingResponse(_chunks(stream), media_type=RPM_MEDIA_TYPE, headers=headers)


def parse_pkg_id(text: str) -> int:
    """obshell's rules: empty or ≤ 0 is "empty", anything else not an integer is illegal."""
    value = text.strip()
    if not value:
        raise PATH_PARAM_EMPTY("pkg_id")
    try:
        pkg_id = int(value)
    except ValueError:
        raise PATH_PARAM_ILLEGAL("pkg_id", f"{text!r} is not an integer") from None
    if pkg_id <= 0:
        raise PATH_PARAM_EMPTY("pkg_id")
    return pkg_id


async def _receive_and_store(request: Request, store: PackageStore, settings: UploadSettings,
                             keys: AesKeys | None = None) -> StoredPackage:
    received = await receive_file(request, FILE_FIELD, settings.directory, settings.max_bytes, keys)
    try:
        security = request.app.state.agent.security
        await anyio.to_thread.run_sync(verify_file_digest, request, security, received.sha256)
        return await anyio.to_thread.run_sync(store.add, received.path, received.sha256)
    finally:
        await anyio.to_thread.run_sync(received.remove)


def _open_unlinked(path: Path, package: StoredPackage) -> tuple[BinaryIO, str]:
    """Open the verified file and remove its name at once: nothing is left behind, even if
    the client goes away mid-download. Rows obshell stored have no SHA-256: compute it."""
    stream = open(path, "rb")  # noqa: SIM115 - closed by _chunks
    path.unlink(missing_ok=True)
    if package.sha256:
        return stream, package.sha256
    digest = hashlib.sha256()
    while block := stream.read(_READ_BYTES):
        digest.update(block)
    stream.seek(0)
    return stream, digest.hexdigest()


async def _chunks(stream: BinaryIO) -> AsyncIterator[bytes]:
    try:
        while chunk := await anyio.to_thread.run_sync(stream.read, _READ_BYTES):
            yield chunk
    finally:
        stream.close()
