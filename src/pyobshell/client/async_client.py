"""``AsyncObshellClient``: :class:`~pyobshell.client.sync_client.ObshellClient` for asyncio.

Same constructor, same methods, awaited; the encoding and parsing are shared (``wire.py``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from pyobshell.wire.agent import AgentDetail, AgentInfoWithIdentity, AgentSecret, AgentStatus
from pyobshell.client import wire
from pyobshell.client.credentials import Credentials
from pyobshell.wire.package import PackageInfo
from pyobshell.client.errors import INVALID_RESPONSE, ObshellApiError, ObshellConnectionError
from pyobshell.client.sync_client import DEFAULT_TIMEOUT_S, PACKAGE_UPLOAD_PATH, PACKAGES_PATH, UPLOAD_TIMEOUT
from pyobshell.security.request_builder import ClientStyle, RequestBuilder


class AsyncObshellClient:
    def __init__(
        self,
        agent: str,
        *,
        password: str | None = None,
        agent_password: str | None = None,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        style: ClientStyle = ClientStyle.SDK_V2,
        http_client: httpx.AsyncClient | None = None,
    ):
        self.base_url = wire.base_url(agent)
        self._credentials = Credentials.choose(password, agent_password, token)
        self._style = style
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.AsyncClient(timeout=timeout)
        self._builder: RequestBuilder | None = None

    async def __aenter__(self) -> "AsyncObshellClient":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def status(self) -> AgentStatus:
        return wire.typed(await self.request("GET", "/api/v1/status", auth=False), AgentStatus)

    async def info(self) -> AgentDetail:
        return wire.typed(await self.request("GET", "/api/v1/info", auth=False), AgentDetail)

    async def secret(self) -> AgentSecret:
        return wire.typed(await self.request("GET", "/api/v1/secret", auth=False), AgentSecret)

    async def time(self) -> str:
        return wire.typed(await self.request("GET", "/api/v1/time", auth=False), str)

    async def agents_status(self) -> dict[str, AgentStatus]:
        return wire.typed(await self.request("GET", "/api/v1/agents/status"), dict[str, AgentStatus])

    async def agent_identity(self) -> AgentInfoWithIdentity:
        return wire.typed(await self.request("GET", "/rpc/v1/agent/info"), AgentInfoWithIdentity)

    async def upload_package(self, path: Path) -> PackageInfo:
        return wire.typed(await self.upload(PACKAGE_UPLOAD_PATH, path), PackageInfo)

    async def list_packages(self) -> list[PackageInfo]:
        return wire.typed(wire.contents(await self.request("GET", PACKAGES_PATH + "/info")), list[PackageInfo])

    async def delete_package(self, pkg_id: int) -> None:
        await self.request("DELETE", f"{PACKAGES_PATH}/{pkg_id}")

    async def download_package(self, pkg_id: int, dest: Path) -> Path:
        url = wire.target_url(self.base_url, f"{PACKAGES_PATH}/{pkg_id}/download", None)
        headers, _ = await asyncio.to_thread(wire.encrypted_request, await self.builder(), self._credentials, "GET", url, None)
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

    async def request(
        self, method: str, path: str, body: Any = None, query: wire.Query = None, *, auth: bool = True, model: Any = None
    ) -> Any:
        response = await self.raw_request(method, path, body, query, auth=auth)
        return wire.typed(wire.envelope_data(response), model)

    async def raw_request(
        self, method: str, path: str, body: Any = None, query: wire.Query = None, *, auth: bool = True
    ) -> httpx.Response:
        url = wire.target_url(self.base_url, path, query)
        if auth:
            builder = await self.builder()
            # RSA encryption is quick but not free: keep it off the event loop.
            headers, content = await asyncio.to_thread(wire.encrypted_request, builder, self._credentials, method, url, body)
        else:
            headers = {"Content-Type": wire.JSON_CONTENT_TYPE} if body is not None else {}
            content = None if body is None else wire.json_bytes(body)
        return await self._send(self._http.build_request(method, url, content=content, headers=headers))

    async def upload(
        self, path: str, file: Path, *, field: str = "file", data: dict[str, str] | None = None, query: wire.Query = None
    ) -> Any:
        file = Path(file)
        url = wire.target_url(self.base_url, path, query)
        digest = await asyncio.to_thread(wire.file_sha256, file)
        headers = wire.upload_headers(await self.builder(), self._credentials, url, digest)
        with open(file, "rb") as stream:
            request = self._http.build_request(
                "POST", url, headers=headers, data=data, files={field: (file.name, stream, "application/octet-stream")},
                timeout=UPLOAD_TIMEOUT,
            )  # fmt: skip
            return wire.envelope_data(await self._send(request))

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
