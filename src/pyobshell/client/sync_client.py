"""``ObshellClient``: a synchronous client of a pyobshell (or obshell) agent.

::

    with ObshellClient("127.0.0.1:2886", password=root_password) as agent:
        print(agent.status().obState)
        tasks = agent.request("GET", "/api/v1/task/dag/12", query={"show_details": "true"})

The agent's public key is fetched from ``/api/v1/secret`` once; every authenticated request
gets a freshly encrypted header (and AES body). Failures raise :class:`ObshellApiError`
(an error envelope) or :class:`ObshellConnectionError` (no answer).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from pyobshell.client import wire
from pyobshell.client.base import DEFAULT_TIMEOUT_S, PACKAGES_PATH, UPLOAD_TIMEOUT, BaseClient
from pyobshell.client.errors import INVALID_RESPONSE, ObshellApiError, ObshellConnectionError
from pyobshell.security.request_builder import RequestBuilder


Progress = Callable[[int], None]


class _ReportingReader:
    """A file that reports every chunk httpx reads from it (upload progress)."""

    def __init__(self, file: BinaryIO, progress: Progress):
        self._file, self._progress = file, progress

    def read(self, size: int = -1) -> bytes:
        chunk = self._file.read(size)
        if chunk:
            self._progress(len(chunk))
        return chunk

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def fileno(self) -> int:
        return self._file.fileno()


class ObshellClient(BaseClient):
    def __init__(self, agent: str, *, timeout: float = DEFAULT_TIMEOUT_S, http_client: httpx.Client | None = None,
                 **credentials: Any):
        """``agent`` is ``ip:port`` or a base URL; ``credentials`` are ``password``,
        ``agent_password`` or ``token`` (one of them) and ``style`` (see :class:`BaseClient`).

        ``http_client`` replaces the client's own ``httpx.Client`` (for example a FastAPI
        ``TestClient``); it is then not closed by :meth:`close`.
        """
        super().__init__(agent, **credentials)
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client(timeout=timeout)

    def __enter__(self) -> "ObshellClient":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def request(self, method: str, path: str, body: Any = None, query: wire.Query = None, *, auth: bool = True,
                model: Any = None, contents: bool = False) -> Any:
        """Call any route; returns the envelope's ``data`` (validated as ``model`` if given).

        ``body`` (dict, list, pydantic model or JSON bytes) is AES-encrypted; ``auth=False``
        sends a plain request (public routes); ``contents`` unwraps obshell's ``{"contents": [...]}``.
        """
        data = wire.envelope_data(self.raw_request(method, path, body, query, auth=auth))
        return self._answer(data, model, contents)

    def raw_request(self, method: str, path: str, body: Any = None, query: wire.Query = None, *, auth: bool = True,
                    ) -> httpx.Response:
        """Like :meth:`request` but returns the HTTP response as is (no envelope parsing)."""
        url, headers, content = self._prepare(self.builder() if auth else None, method, path, body, query)
        return self._send(self._http.build_request(method, url, content=content, headers=headers))

    def upload(self, path: str, file: Path, *, field: str = "file", data: dict[str, str] | None = None,
               query: wire.Query = None, progress: "Progress | None" = None, model: Any = None) -> Any:
        """Authenticated multipart upload of ``file`` (streamed) with its ``X-OCS-File-SHA256``."""
        file = Path(file)
        url = wire.target_url(self.base_url, path, query)
        headers = wire.upload_headers(self.builder(), self._credentials, url, wire.file_sha256(file))
        with open(file, "rb") as raw:
            stream = raw if progress is None else _ReportingReader(raw, progress)
            request = self._http.build_request(
                "POST", url, headers=headers, data=data, files={field: (file.name, stream, "application/octet-stream")},
                timeout=UPLOAD_TIMEOUT,
            )  # fmt: skip
            return wire.typed(wire.envelope_data(self._send(request)), model)

    def download_package(self, pkg_id: int, dest: Path) -> Path:
        """Write package ``pkg_id`` to ``dest`` (streamed, size and SHA-256 verified)."""
        url, headers, _ = self._prepare(self.builder(), "GET", f"{PACKAGES_PATH}/{pkg_id}/download", None, None)
        response = self._send(self._http.build_request("GET", url, headers=headers, timeout=UPLOAD_TIMEOUT), stream=True)
        try:
            if not wire.is_file_reply(response):
                response.read()
                wire.envelope_data(response)  # raises the agent's error
                raise ObshellApiError(INVALID_RESPONSE, "the download answered JSON, not a file", response.status_code)
            sink = wire.DownloadSink(dest, response.headers)
            try:
                for chunk in response.iter_bytes():
                    sink.write(chunk)
            except BaseException:
                sink.abort()
                raise
            return sink.finish()
        except httpx.HTTPError as exc:
            raise ObshellConnectionError(f"GET {url}: {type(exc).__name__}: {exc}") from exc
        finally:
            response.close()

    def builder(self) -> RequestBuilder:
        """The request builder for this agent (fetches its public key on first use)."""
        if self._builder is None:
            self._builder = RequestBuilder(self.secret().public_key, self._style)
        return self._builder

    def refresh_public_key(self) -> None:
        """Fetch the agent's public key again (after the agent's key changed)."""
        self._builder = None
        self.builder()

    def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        try:
            return self._http.send(request, stream=stream)
        except httpx.HTTPError as exc:
            raise ObshellConnectionError(f"{request.method} {request.url}: {type(exc).__name__}: {exc}") from exc
