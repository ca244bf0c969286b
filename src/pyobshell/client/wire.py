"""The client's request encoding and envelope parsing, shared by the sync and async clients.

Requests are built exactly as obshell's SDKs build them
(:class:`~pyobshell.security.request_builder.RequestBuilder`): the header's ``Uri`` is the
request target httpx will put on the request line (path and encoded query), so both come from
one ``httpx.URL``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, TypeAdapter

from pyobshell.client.credentials import Credentials
from pyobshell.client.errors import INVALID_RESPONSE, ObshellApiError
from pyobshell.security.file_digest import FILE_SHA256_HEADER, build_file_sha256_header
from pyobshell.security.request_builder import ClientStyle, RequestBuilder
from pyobshell.wire.envelope import EnvelopeError
from pyobshell.wire.envelope import envelope_data as read_envelope

DEFAULT_PORT = 2886
JSON_CONTENT_TYPE = "application/json"  # what obshell's clients send with the base64 body
HASH_CHUNK = 1024 * 1024

Query = Mapping[str, Any] | None


def base_url(agent: str) -> str:
    """``http://host:port`` from ``ip:port``, ``host`` or a full URL (no trailing slash)."""
    text = agent.strip().rstrip("/")
    if "://" not in text:
        text = f"http://{text}"
    url = httpx.URL(text)
    if url.port is None and url.scheme == "http":
        url = url.copy_with(port=DEFAULT_PORT)
    return str(url).rstrip("/")


def target_url(base: str, path: str, query: Query) -> httpx.URL:
    url = httpx.URL(base + (path if path.startswith("/") else "/" + path))
    return url.copy_merge_params(dict(query)) if query else url


def request_target(url: httpx.URL) -> str:
    """What goes on the request line, and therefore in the header's ``Uri``."""
    return url.raw_path.decode("ascii")


def json_bytes(body: Any) -> bytes:
    if isinstance(body, BaseModel):
        return body.model_dump_json(by_alias=True).encode("utf-8")
    if isinstance(body, (bytes, bytearray)):
        return bytes(body)  # already JSON
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def encrypted_request(
    builder: RequestBuilder, credentials: Credentials, method: str, url: httpx.URL, body: Any
) -> tuple[dict[str, str], bytes | None]:
    """The auth headers and the raw (encrypted) body of one request."""
    plaintext = None if body is None else json_bytes(body)
    built = builder.build(request_target(url), plaintext, **credentials.builder_arguments())  # type: ignore[arg-type]
    headers = dict(built.headers)
    if plaintext is not None:
        headers["Content-Type"] = JSON_CONTENT_TYPE
    return headers, (built.body if plaintext is not None else None)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def upload_headers(builder: RequestBuilder, credentials: Credentials, url: httpx.URL, digest_hex: str) -> dict[str, str]:
    """Auth header (no body encryption) plus ``X-OCS-File-SHA256`` for a multipart upload."""
    built = builder.build(request_target(url), None, **credentials.builder_arguments())  # type: ignore[arg-type]
    return {**built.headers, FILE_SHA256_HEADER: build_file_sha256_header(builder.public_key, digest_hex)}


def envelope_data(response: httpx.Response) -> Any:
    """``data`` of a success envelope; any other reply raises :class:`ObshellApiError`."""
    try:
        return read_envelope(response.status_code, response.content)
    except EnvelopeError as error:
        raise ObshellApiError.of(error) from None


def typed(data: Any, model: Any) -> Any:
    """Validate ``data`` as ``model`` (a pydantic model or any type); a mismatch is InvalidResponse."""
    if model is None:
        return data
    try:
        return TypeAdapter(model).validate_python(data)
    except ValueError as exc:
        raise ObshellApiError(INVALID_RESPONSE, f"unexpected data: {exc}", 200) from None


def default_builder(public_key: str, style: ClientStyle) -> RequestBuilder:
    return RequestBuilder(public_key, style)


def contents(data: Any) -> Any:
    """The list inside obshell's ``{"contents": [...]}`` wrapping of a slice."""
    if isinstance(data, dict) and "contents" in data:
        return data["contents"]
    raise ObshellApiError(INVALID_RESPONSE, "expected a list wrapped as {\"contents\": [...]}", 200)


DOWNLOAD_CORRUPTED = "Client.Download.Corrupted"
_DIGEST_RE = re.compile(r"sha-256=:([A-Za-z0-9+/=]+):")


def is_file_reply(response: httpx.Response) -> bool:
    """A download answered with the file itself (errors come as JSON envelopes)."""
    return response.status_code == 200 and not response.headers.get("content-type", "").startswith("application/json")


class DownloadSink:
    """Writes a downloaded file next to ``dest`` and moves it there only once its size and its
    ``Repr-Digest`` SHA-256 match; on any failure nothing is left at ``dest``."""

    def __init__(self, dest: Path, headers: httpx.Headers):
        match = _DIGEST_RE.search(headers.get("repr-digest", ""))
        if match is None:
            raise ObshellApiError(INVALID_RESPONSE, "the download has no Repr-Digest sha-256", 200)
        self.expected_sha256 = base64.b64decode(match.group(1)).hex()
        length = headers.get("content-length", "")
        self.expected_size = int(length) if length.isdigit() else None
        self.dest = Path(dest)
        self.dest.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{self.dest.name}.", suffix=".partial", dir=self.dest.parent)
        self.partial = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._digest.update(chunk)
        self.size += len(chunk)

    def finish(self) -> Path:
        self._file.close()
        actual = self._digest.hexdigest()
        problem = None
        if self.expected_size is not None and self.size != self.expected_size:
            problem = f"{self.size} bytes received, {self.expected_size} announced"
        elif actual != self.expected_sha256:
            problem = f"SHA-256 {actual} does not match the announced {self.expected_sha256}"
        if problem is not None:
            self.abort()
            raise ObshellApiError(DOWNLOAD_CORRUPTED, f"download of {self.dest.name} failed: {problem}", 200)
        os.replace(self.partial, self.dest)
        return self.dest

    def abort(self) -> None:
        self._file.close()
        self.partial.unlink(missing_ok=True)
