"""Who may call a route: declare it on the router or the route, the agent enforces it.

How to declare (route modules)
------------------------------
Pass :func:`accepts` in ``dependencies=`` of the router (applies to all its routes) or of one
route (wins over the router's)::

    from pyobshell.api.auth import AGENT, PASSWORD, PUBLIC, accepts

    router = obshell_router(prefix="/api/v1/task", dependencies=[accepts(PASSWORD)])

    @router.get("/ping", dependencies=[accepts(PUBLIC)])        # no credential needed
    @router.post("/upload", dependencies=[accepts(PASSWORD.with_plain_body())])  # multipart

=============  =======================================================  ========================
policy         credentials accepted                                      used for
=============  =======================================================  ========================
``PUBLIC``     none (but a header that *is* sent must verify)           status, info, secret, time
``PASSWORD``   root@sys password (``X-OCS-Header``), a web session       every other ``/api/v1`` route
               (``session_id``) or the agent password
               (``X-OCS-Agent-Header``)
``LOGIN``      root@sys password only (a ``session_id`` is ignored)      ``POST /api/v1/login``
``AGENT``      cluster agent token (``Token``) or agent password        every ``/rpc/v1`` route
=============  =======================================================  ========================

Any other set is possible: ``accepts(AuthPolicy.of(AuthKind.AGENT_PASSWORD))`` (obproxy routes).
A handler that wants to know who called takes ``caller: CallerDep`` (a :class:`Caller`, or None
on a public route called without a header).

Defaults (routes that declare nothing): the public routes of obshell (§4.6 of the security
reference: ``GET /api/v1/{secret,info,time,git-info}``, ``GET|POST /api/v1/status``) are
``PUBLIC``; any other ``/api/v1`` route is ``PASSWORD``; every ``/rpc/v1`` route is ``AGENT``,
whatever it declares (a declaration there can only narrow the agent kinds). So a route
nobody thought about is authenticated, never open.

How it is enforced
------------------
:class:`~pyobshell.api.auth_middleware.AuthMiddleware` (installed by ``create_app``) finds the
route, verifies the header with the agent's
:class:`~pyobshell.security.request_verifier.RequestVerifier` (Uri bound to the raw request
target with its query, Ts window, replay cache, lock-out, credential), decrypts the AES body and
hands the plaintext JSON to FastAPI, so pydantic validation works as usual. A refusal is
answered with obshell's error code for it (``security.auth_error``). The :func:`accepts` dependency checks again that the
request was verified under the declared policy, so a route can never run unauthenticated even
if the middleware were missing. With ``with_plain_body()`` the body is left untouched (streamed)
and the handler checks the file with :func:`~pyobshell.api.uploads.verify_file_digest`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam

from pyobshell.security.aes_body import AesKeys
from pyobshell.security.auth_error import AuthError, AuthFailure
from pyobshell.security.credentials import AuthKind
from pyobshell.security.request_header import RequestHeader

CALLER_STATE_KEY = "pyobshell_caller"
POLICY_STATE_KEY = "pyobshell_auth_policy"
PLAIN_BODY_STATE_KEY = "pyobshell_plain_body"  # the decrypted JSON body (for the audit trail)
REFUSAL_STATE_KEY = "pyobshell_refusal"  # the AuthError a request was refused with
API_PREFIX = "/api/v1"
RPC_PREFIX = "/rpc/v1"


class BodyMode(Enum):
    ENCRYPTED = "encrypted"  # AES body decrypted before FastAPI parses it (obshell's default)
    PLAIN = "plain"  # left as sent, streamed (multipart package upload)


@dataclass(frozen=True)
class AuthPolicy:
    """The credential kinds a route accepts (empty: public) and how its body travels."""

    kinds: frozenset[AuthKind]
    body: BodyMode = BodyMode.ENCRYPTED

    @classmethod
    def of(cls, *kinds: AuthKind, body: BodyMode = BodyMode.ENCRYPTED) -> "AuthPolicy":
        return cls(frozenset(kinds), body)

    @property
    def public(self) -> bool:
        return not self.kinds

    def with_plain_body(self) -> "AuthPolicy":
        return replace(self, body=BodyMode.PLAIN)

    def describe(self) -> str:
        return "public" if self.public else " or ".join(sorted(kind.value for kind in self.kinds))


PUBLIC = AuthPolicy(frozenset())
PASSWORD = AuthPolicy.of(AuthKind.ROOT_PASSWORD, AuthKind.SESSION, AuthKind.AGENT_PASSWORD)
LOGIN = AuthPolicy.of(AuthKind.ROOT_PASSWORD)
AGENT = AuthPolicy.of(AuthKind.AGENT_TOKEN, AuthKind.AGENT_PASSWORD)

# obshell's unauthenticated routes: (path, methods)
PUBLIC_ROUTES: dict[str, frozenset[str]] = {
    f"{API_PREFIX}/secret": frozenset({"GET"}),
    f"{API_PREFIX}/info": frozenset({"GET"}),
    f"{API_PREFIX}/time": frozenset({"GET"}),
    f"{API_PREFIX}/git-info": frozenset({"GET"}),
    f"{API_PREFIX}/status": frozenset({"GET", "POST"}),
}


@dataclass(frozen=True, repr=False)
class Caller:
    """An authenticated caller: how it proved itself, its decrypted header and AES keys."""

    kind: AuthKind
    header: RequestHeader
    keys: AesKeys | None  # to encrypt a reply value (login / SSO style)

    def __repr__(self) -> str:
        return f"Caller(kind={self.kind.name})"


class AuthRequirement:
    """The dependency behind :func:`accepts`; the middleware reads ``policy`` from it."""

    def __init__(self, policy: AuthPolicy):
        self.policy = policy

    def __repr__(self) -> str:
        return f"accepts({self.policy.describe()})"

    async def __call__(self, request: Request) -> Caller | None:  # async: no worker thread for a dict look-up
        state = request.scope.get("state", {})
        caller = state.get(CALLER_STATE_KEY)
        enforced: AuthPolicy | None = state.get(POLICY_STATE_KEY)
        # The middleware enforced the route's winning declaration; this only makes sure it did.
        if enforced is None:
            raise AuthError(AuthFailure.MISSING_HEADER)
        if enforced.public:
            return caller
        if caller is None:
            raise AuthError(AuthFailure.MISSING_HEADER)
        if caller.kind not in enforced.kinds:
            raise AuthError(AuthFailure.NEEDS_ROOT_PASSWORD)
        return caller


def accepts(policy: AuthPolicy) -> Any:
    """Declare a route's (or a router's) policy: ``dependencies=[accepts(PASSWORD)]``."""
    return Depends(AuthRequirement(policy))


async def current_caller(request: Request) -> Caller | None:
    """The verified caller of this request (None on a public route called without a header)."""
    return request.scope.get("state", {}).get(CALLER_STATE_KEY)


CallerDep = Annotated[Caller | None, Depends(current_caller)]


def declared_policy(route: Any) -> AuthPolicy | None:
    """The policy a route declared with :func:`accepts` (the last declaration wins), if any."""
    dependant = getattr(route, "dependant", None)
    found: AuthPolicy | None = None
    for dependency in getattr(dependant, "dependencies", ()):
        if isinstance(dependency.call, AuthRequirement):
            found = dependency.call.policy
    if found is None:  # declared only as a parameter default? look at the route's own list
        for item in getattr(route, "dependencies", ()) or ():
            if isinstance(item, DependsParam) and isinstance(item.dependency, AuthRequirement):
                found = item.dependency.policy
    return found


def effective_policy(path: str, route_path: str, method: str, declared: AuthPolicy | None) -> AuthPolicy:
    """What is enforced: the declaration within the limits of the path's prefix, else the default."""
    if path.startswith(RPC_PREFIX):
        if declared is not None and declared.kinds and declared.kinds <= AGENT.kinds:
            return declared
        return replace(AGENT, body=declared.body) if declared is not None else AGENT
    if declared is not None:
        return declared
    if method in PUBLIC_ROUTES.get(route_path, frozenset()):
        return PUBLIC
    return PASSWORD
