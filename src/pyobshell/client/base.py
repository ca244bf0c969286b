"""What the sync and async clients share: settings, request building, and every named route.

As httpx's ``BaseClient`` serves ``Client`` and ``AsyncClient``, :class:`BaseClient` holds all
but the I/O. Each named route (``status()``, ``dag()``, ``list_packages()``…) is written once,
as a call of :meth:`request` or :meth:`upload` with the model to validate the answer as; the
sync client's ``request`` returns that value, the async client's returns an awaitable of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from pyobshell.client import wire
from pyobshell.client.credentials import Credentials
from pyobshell.security.request_builder import ClientStyle, RequestBuilder
from pyobshell.wire.audit import AuditRecord
from pyobshell.wire.agent import AgentDetail, AgentInfoWithIdentity, AgentSecret, AgentStatus
from pyobshell.wire.package import PackageInfo
from pyobshell.wire.report import UpgradeReport
from pyobshell.wire.task import DagDetailDTO

DEFAULT_TIMEOUT_S = 30.0
UPLOAD_TIMEOUT = httpx.Timeout(30.0, read=600.0, write=600.0)
PACKAGE_UPLOAD_PATH = "/api/v1/package"
PACKAGES_PATH = "/api/v1/upgrade/package"


class BaseClient:
    def __init__(self, agent: str, *, password: str | None = None, agent_password: str | None = None,
                 token: str | None = None, style: ClientStyle = ClientStyle.SDK_V2):
        """``agent`` is ``ip:port`` or a base URL; give one of the three credentials."""
        self.base_url = wire.base_url(agent)
        self._credentials = Credentials.choose(password, agent_password, token)
        self._style = style
        self._builder: RequestBuilder | None = None

    # -- the I/O, one per flavour --------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None, query: wire.Query = None, *, auth: bool = True,
                model: Any = None, contents: bool = False) -> Any:
        raise NotImplementedError

    def upload(self, path: str, file: Path, *, field: str = "file", data: dict[str, str] | None = None,
               query: wire.Query = None, progress: Any = None, model: Any = None) -> Any:
        raise NotImplementedError

    # -- request building ----------------------------------------------------------------------
    def _prepare(self, builder: RequestBuilder | None, method: str, path: str, body: Any,
                 query: wire.Query) -> tuple[httpx.URL, dict[str, str], bytes | None]:
        """The URL, headers and content of a request; ``builder`` None sends it plain (public routes)."""
        url = wire.target_url(self.base_url, path, query)
        if builder is not None:
            headers, content = wire.encrypted_request(builder, self._credentials, method, url, body)
            return url, headers, content
        headers = {"Content-Type": wire.JSON_CONTENT_TYPE} if body is not None else {}
        return url, headers, None if body is None else wire.json_bytes(body)

    @staticmethod
    def _answer(data: Any, model: Any, contents: bool) -> Any:
        return wire.typed(wire.contents(data) if contents else data, model)

    # -- routes the agent serves ---------------------------------------------------------------
    def status(self) -> Any:
        """``AgentStatus`` of ``/api/v1/status``."""
        return self.request("GET", "/api/v1/status", auth=False, model=AgentStatus)

    def info(self) -> Any:
        """``AgentDetail`` of ``/api/v1/info``."""
        return self.request("GET", "/api/v1/info", auth=False, model=AgentDetail)

    def secret(self) -> Any:
        """``AgentSecret``: the agent's public key."""
        return self.request("GET", "/api/v1/secret", auth=False, model=AgentSecret)

    def time(self) -> Any:
        """The agent's clock, RFC 3339 with nanoseconds."""
        return self.request("GET", "/api/v1/time", auth=False, model=str)

    def agents_status(self) -> Any:
        """Every agent of the cluster, keyed ``ip:port`` (authenticated)."""
        return self.request("GET", "/api/v1/agents/status", model=dict[str, AgentStatus])

    def agent_identity(self) -> Any:
        """``/rpc/v1/agent/info``: needs an agent token or the agent password."""
        return self.request("GET", "/rpc/v1/agent/info", model=AgentInfoWithIdentity)

    # -- upgrade packages ----------------------------------------------------------------------
    def upload_package(self, path: Path, progress: Any = None) -> Any:
        """Store an RPM in the cluster's package store (``POST /api/v1/package``): a ``PackageInfo``;
        ``progress`` is called with the number of bytes of the file sent since its last call."""
        return self.upload(PACKAGE_UPLOAD_PATH, path, progress=progress, model=PackageInfo)

    def list_packages(self) -> Any:
        return self.request("GET", PACKAGES_PATH + "/info", model=list[PackageInfo], contents=True)

    def delete_package(self, pkg_id: int) -> Any:
        return self.request("DELETE", f"{PACKAGES_PATH}/{pkg_id}")

    # -- the cluster and its tasks -------------------------------------------------------------
    def ob_info(self) -> Any:
        """``GET /api/v1/ob/info``: agents, zones, servers with their builds, the maintainer."""
        return self.request("GET", "/api/v1/ob/info")

    def dag(self, gid: str, show_details: bool = True) -> Any:
        """A ``DagDetailDTO``."""
        return self.request("GET", f"/api/v1/task/dag/{gid}", query={"show_details": str(show_details).lower()},
                            model=DagDetailDTO)

    def upgrade_report(self, gid: str) -> Any:
        """``GET /api/v1/ob/upgrade/report/{gid}``: the ``UpgradeReport`` kept with an upgrade DAG
        (``ObshellApiError`` 404 ``OB.Upgrade.Report.NotFound`` when it has none)."""
        return self.request("GET", f"/api/v1/ob/upgrade/report/{quote(str(gid), safe='')}", model=UpgradeReport)

    def verify(self) -> Any:
        """``GET /api/v1/ob/upgrade/verify``: the post-upgrade checks run now, an ``UpgradeReport``."""
        return self.request("GET", "/api/v1/ob/upgrade/verify", model=UpgradeReport)

    def operate_dag(self, gid: str, operator: str) -> Any:
        """RETRY, ROLLBACK, CANCEL or PASS a DAG."""
        return self.request("POST", f"/api/v1/task/dag/{gid}", {"operator": operator})

    def pass_node(self, gid: str) -> Any:
        return self.request("POST", f"/api/v1/task/node/{gid}", {"operator": "PASS"})

    # -- the audit trail -----------------------------------------------------------------------
    def audit(self, since: str | int | None = None, dag: str | None = None, limit: int | None = None) -> Any:
        """``GET /api/v1/audit``: ``AuditRecord`` s, newest first; ``since`` is epoch milliseconds
        or an ISO-8601 time, ``dag`` a DAG's generic id, ``limit`` 1..1000."""
        query = {name: str(value) for name, value in (("since", since), ("dag", dag), ("limit", limit))
                 if value not in (None, "")}
        return self.request("GET", "/api/v1/audit", query=query or None, model=list[AuditRecord], contents=True)
