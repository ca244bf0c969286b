"""Upgrade packages: upload, list, delete, and read back (the cluster's package store).

* ``POST /api/v1/upgrade/package`` and ``POST /api/v1/package``: multipart field ``file``.
  Both are authenticated (obshell leaves the second one open). On the first, as in obshell,
  a header with ``Keys`` means the whole multipart body is AES-encrypted (obshell's Python SDK
  sends it so); the second takes plain multipart only. ``X-OCS-File-SHA256`` is optional: when
  sent it must name the file. The file is streamed to a private temporary file in the agent
  home (at most ``PYOBSHELL_PACKAGE_MAX_BYTES``), then verified (the RPM's own digests) and
  stored. A refused package is a 4xx envelope and nothing is stored. The first answers
  obshell's storage struct (Go field names, with the route file's text in ``UpgradeDepYaml``),
  the second the snake_case ``UpgradePkgInfo``.
* ``GET /api/v1/upgrade/package/info``: every package, newest first.
* ``DELETE /api/v1/upgrade/package/{id}``: 404 when there is no such package (obshell
  answers success whatever matched).
* ``GET /api/v1/upgrade/package/{id}/download`` (pyobshell's own): the RPM itself, verified
  against its stored digest before the first byte is sent, with its SHA-256 in
  ``Repr-Digest`` (RFC 9530), so any agent or client can read any package back.
"""

from __future__ import annotations

import anyio.to_thread
from fastapi import Request
from fastapi.responses import StreamingResponse

from pyobshell.api.auth import PASSWORD, CallerDep, accepts
from pyobshell.api.dependencies import SecurityDep, StoreDep, UploadSettingsDep
from pyobshell.api.routing import obshell_router
from pyobshell.api.uploads import FILE_FIELD, RPM_MEDIA_TYPE, package_download, receive_package
from pyobshell.errors import ErrorCode, ErrorKind
from pyobshell.wire.package import PackageInfo, UpgradePkgInfo

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


@router.post("/api/v1/upgrade/package", response_model=UpgradePkgInfo, dependencies=_UPLOAD,
             openapi_extra=_UPLOAD_DOC, summary="Upload an upgrade package (obshell's storage-struct answer)")
async def upload_package(request: Request, store: StoreDep, settings: UploadSettingsDep, security: SecurityDep,
                         caller: CallerDep) -> UpgradePkgInfo:
    package = await receive_package(request, store, settings, security, caller.keys if caller else None)
    return package.storage_struct(await anyio.to_thread.run_sync(store.route_file_text, package.pkg_id))


@router.post("/api/v1/package", response_model=PackageInfo, dependencies=_UPLOAD,
             openapi_extra=_UPLOAD_DOC, summary="Upload an upgrade package")
async def upload_package_new(request: Request, store: StoreDep, settings: UploadSettingsDep,
                             security: SecurityDep) -> PackageInfo:
    return (await receive_package(request, store, settings, security)).info()


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
async def download_package(pkg_id: str, store: StoreDep, settings: UploadSettingsDep) -> StreamingResponse:
    return await package_download(store, settings, parse_pkg_id(pkg_id))
