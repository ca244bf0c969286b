"""Who may scrape ``/metrics``: anyone, unless ``PYOBSHELL_METRICS_TOKEN`` is set.

The figures hold no secret, so the default is open, as Prometheus exporters usually are. With a
token, a scrape must send ``Authorization: Bearer <token>`` (Prometheus's ``authorization``
setting): a plain header rather than obshell's encrypted one, which Prometheus cannot build. A
missing and a wrong token get the same answer; the comparison takes the same time either way.
"""

from __future__ import annotations

import hmac
import os

from pyobshell.errors import METRICS_TOKEN_INCORRECT, ObshellError

TOKEN_ENV = "PYOBSHELL_METRICS_TOKEN"
SCHEME = "bearer"
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="pyobshell metrics"'}


def configured_token(environ: dict[str, str] | None = None) -> str | None:
    """The token from the environment; None (open) when unset or blank."""
    value = (os.environ if environ is None else environ).get(TOKEN_ENV, "").strip()
    return value or None


def presented_token(authorization: str | None) -> str:
    scheme, _, value = (authorization or "").strip().partition(" ")
    return value.strip() if scheme.lower() == SCHEME else ""


def check_access(token: str | None, authorization: str | None) -> None:
    """Raise ``Security.Authentication.Metrics.IncorrectToken`` (401) unless the scrape may read."""
    if token is None:
        return
    if not hmac.compare_digest(presented_token(authorization).encode(), token.encode()):
        error = METRICS_TOKEN_INCORRECT(f"{TOKEN_ENV} is set on this agent: send Authorization: Bearer <token>")
        raise ObshellError(error.error_code, error.message, headers=CHALLENGE)
