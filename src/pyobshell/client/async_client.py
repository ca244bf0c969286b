"""``AsyncObshellClient``: :class:`~pyobshell.client.sync_client.ObshellClient` for asyncio.

Same constructor, same methods, awaited; the named routes and the encoding are shared
(``base.py``, ``wire.py``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from pyobshell.client import wire
from pyobshell.client.base import DEFAULT_TIMEOUT_S, PACKAGES_PATH, UPLOAD_TIMEOUT, BaseClient
from pyobshell.client.errors import INVALID_RESPONSE, ObshellApiError, ObshellConnectionError
from pyobshell.security.request_builder import RequestBuilder


class AsyncObshellClient(BaseClient):
    def __init__(self, agent: str, *, timeout: float = DEFAULT_TIMEOUT_S, http_client: httpx.AsyncClient | None = None,
                 **credentials: Any):
        """``agent`` is ``ip:port`` or a base URL; ``credentials`` are ``password``,
        ``agent_password`` or ``token`` (one of them) and ``style`` (see :class:`BaseClient`).

        ``http_client`` replaces the client's own ``httpx.Client`` (for example a FastAPI
        ``TestClient``); it is then not closed by :meth:`close`.
        """
        super().__init__(agent, **credentials)
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.AsyncClient(timeout=timeout)

    async def __aenter__(self) -> "AsyncObshellClient":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def request(self, method: str, path: str, body: Any = None, query: wire.Query = None, *,
                      auth: bool = True, model: Any = None, contents: bool = False) -> Any:
        response = await self.raw_request(method, path, body, query, auth=auth)
        return self._answer(wire.envelope_data(response), model, contents)

    async def raw_request(self, method: str, path: str, body: Any = None, query: wire.Query = None, *,
                          auth: bool = True) -> httpx.Response:
        builder = await self.builder() if auth else None
        # RSA encryption is quick but not free: keep it off the event loop.
        url, headers, content = await asyncio.to_thread(self._prepare, builder, method, path, body, query)
        return await self._send(self._http.build_request(method, url, content=content, headers=headers))

    async def upload(self, path: str, file: Path, *, field: str = "file", data: dict[str, str] | None = None,
                     query: wire.Query = None, progress: Any = None, model: Any = None) -> Any:
        file = Path(file)
        url = wire.target_url(self.base_url, path, query)
        digest = await asyncio.to_thread(wire.file_sha256, file)
        headers = wire.upload_headers(await self.builder(), self._credentials, url, digest)
        with open(file, "rb") as stream:
            request = self._http.build_request(
                "POST", url, headers=headers, data=data, files={field: (file.name, stream, "application/octet-stream")},
                timeout=UPLOAD_TIMEOUT,
            )  # fmt: skip
            return wire.typed(wire.envelope_data(await self._send(request)), model)

    async def download_package(self, pkg_id: int, dest: Path) -> Path:
        builder = await self.builder()
        url, headers, _ = await asyncio.to_thread(self._prepare, builder, "GET", f"{PACKAGES_PATH}/{pkg_id}/download",
                                                  None, None)
        request = self._http.build_request("GET", url, headers=headers, timeout=UPLOAD_TIMEOUT)
        response = await self._send(request, stream=True)
        try:
            if not wire.is_file_reply(response):
                await response.aread()
                wire.envelope_data(response)  # raises the agent's error
                raise ObshellApiError(INVALID_RESPONSE, "the download answered JSON, not a file", response.status_code)
            sink = await asyncio.to_thread(wire.DownloadSink, dest, response.headers)
            try:
                async for chunk in response.aiter_bytes():
                    sink.write(chunk)
            except BaseException:
                sink.abort()
                raise
            return await asyncio.to_thread(sink.finish)
        except httpx.HTTPError as exc:
            raise ObshellConnectionError(f"GET {url}: {type(exc).__name__}: {exc}") from exc
        finally:
            await response.aclose()

    async def builder(self) -> RequestBuilder:
        if self._builder is None:
            self._builder = RequestBuilder((await self.secret()).public_key, self._style)
        return self._builder

    async def refresh_public_key(self) -> None:
        self._builder = None
        await self.builder()

    async def _send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        try:
            return await self._http.send(request, stream=stream)
        except httpx.HTTPError as exc:
            raise ObshellConnectionError(f"{request.method} {request.url}: {type(exc).__name__}: {exc}") from exc
