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

from pyobshell.wire.agent import AgentDetail, AgentInfoWithIdentity, AgentSecret, AgentStatus
from pyobshell.client import wire
from pyobshell.client.credentials import Credentials
from pyobshell.wire.package import PackageInfo
from pyobshell.client.errors import INVALID_RESPONSE, ObshellApiError, ObshellConnectionError
from pyobshell.wire.task import DagDetailDTO
from pyobshell.security.request_builder import ClientStyle, RequestBuilder

DEFAULT_TIMEOUT_S = 30.0
UPLOAD_TIMEOUT = httpx.Timeout(30.0, read=600.0, write=600.0)
PACKAGE_UPLOAD_PATH = "/api/v1/package"
PACKAGES_PATH = "/api/v1/upgrade/package"


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


class ObshellClient:
    def __init__(
        self,
        agent: str,
        *,
        password: str | None = None,
        agent_password: str | None = None,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT_S,
        style: ClientStyle = ClientStyle.SDK_V2,
        http_client: httpx.Client | None = None,
    ):
        """``agent`` is ``ip:port`` or a base URL; give one of the three credentials.

        ``http_client`` replaces the client's own ``httpx.Client`` (for example a FastAPI
        ``TestClient``); it is then not closed by :meth:`close`.
        """
        self.base_url = wire.base_url(agent)
        self._credentials = Credentials.choose(password, agent_password, token)
        self._style = style
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client(timeout=timeout)
        self._builder: RequestBuilder | None = None

    def __enter__(self) -> "ObshellClient":
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    # -- routes the agent serves ------------------------------------------------------------

    def status(self) -> AgentStatus:
        return wire.typed(self.request("GET", "/api/v1/status", auth=False), AgentStatus)

    def info(self) -> AgentDetail:
        return wire.typed(self.request("GET", "/api/v1/info", auth=False), AgentDetail)

    def secret(self) -> AgentSecret:
        return wire.typed(self.request("GET", "/api/v1/secret", auth=False), AgentSecret)

    def time(self) -> str:
        """The agent's clock, RFC 3339 with nanoseconds."""
        return wire.typed(self.request("GET", "/api/v1/time", auth=False), str)

    def agents_status(self) -> dict[str, AgentStatus]:
        """Every agent of the cluster, keyed ``ip:port`` (authenticated)."""
        return wire.typed(self.request("GET", "/api/v1/agents/status"), dict[str, AgentStatus])

    def agent_identity(self) -> AgentInfoWithIdentity:
        """``/rpc/v1/agent/info``: needs an agent token or the agent password."""
        return wire.typed(self.request("GET", "/rpc/v1/agent/info"), AgentInfoWithIdentity)

    # -- upgrade packages --------------------------------------------------------------------

    def upload_package(self, path: Path, progress: "Progress | None" = None) -> PackageInfo:
        """Store an RPM in the cluster's package store (``POST /api/v1/package``);
        ``progress`` is called with the number of bytes of the file sent since its last call."""
        return wire.typed(self.upload(PACKAGE_UPLOAD_PATH, path, progress=progress), PackageInfo)

    def list_packages(self) -> list[PackageInfo]:
        return wire.typed(wire.contents(self.request("GET", PACKAGES_PATH + "/info")), list[PackageInfo])

    def delete_package(self, pkg_id: int) -> None:
        self.request("DELETE", f"{PACKAGES_PATH}/{pkg_id}")

    def download_package(self, pkg_id: int, dest: Path) -> Path:
        """Write package ``pkg_id`` to ``dest`` (streamed, size and SHA-256 verified)."""
        url = wire.target_url(self.base_url, f"{PACKAGES_PATH}/{pkg_id}/download", None)
        headers, _ = wire.encrypted_request(self.builder(), self._credentials, "GET", url, None)
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

    # -- the cluster and its tasks ------------------------------------------------------------

    def ob_info(self) -> dict[str, Any]:
        """``GET /api/v1/ob/info``: agents, zones, servers with their builds, the maintainer."""
        return self.request("GET", "/api/v1/ob/info")

    def dag(self, gid: str, show_details: bool = True) -> DagDetailDTO:
        return self.request("GET", f"/api/v1/task/dag/{gid}", query={"show_details": str(show_details).lower()},
                            model=DagDetailDTO)

    def operate_dag(self, gid: str, operator: str) -> None:
        """RETRY, ROLLBACK, CANCEL or PASS a DAG."""
        self.request("POST", f"/api/v1/task/dag/{gid}", {"operator": operator})

    def pass_node(self, gid: str) -> None:
        self.request("POST", f"/api/v1/task/node/{gid}", {"operator": "PASS"})

    # -- generic -----------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: wire.Query = None,
        *,
        auth: bool = True,
        model: Any = None,
    ) -> Any:
        """Call any route; returns the envelope's ``data`` (validated as ``model`` if given).

        ``body`` (dict, list, pydantic model or JSON bytes) is AES-encrypted; ``auth=False``
        sends a plain request (public routes).
        """
        return wire.typed(wire.envelope_data(self.raw_request(method, path, body, query, auth=auth)), model)

    def raw_request(self, method: str, path: str, body: Any = None, query: wire.Query = None, *, auth: bool = True) -> httpx.Response:
        """Like :meth:`request` but returns the HTTP response as is (no envelope parsing)."""
        url = wire.target_url(self.base_url, path, query)
        if auth:
            headers, content = wire.encrypted_request(self.builder(), self._credentials, method, url, body)
        else:
            headers = {"Content-Type": wire.JSON_CONTENT_TYPE} if body is not None else {}
            content = None if body is None else wire.json_bytes(body)
        return self._send(self._http.build_request(method, url, content=content, headers=headers))

    def upload(self, path: str, file: Path, *, field: str = "file", data: dict[str, str] | None = None,
               query: wire.Query = None, progress: "Progress | None" = None) -> Any:
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
            return wire.envelope_data(self._send(request))

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
