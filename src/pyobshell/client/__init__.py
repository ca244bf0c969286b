"""Python client of a pyobshell / obshell agent (hybrid-encrypted requests, typed results)."""

from pyobshell.client.async_client import AsyncObshellClient
from pyobshell.client.credentials import CredentialKind, Credentials
from pyobshell.client.errors import ObshellApiError, ObshellClientError, ObshellConnectionError
from pyobshell.client.sync_client import ObshellClient

__all__ = [
    "AsyncObshellClient",
    "CredentialKind",
    "Credentials",
    "ObshellApiError",
    "ObshellClient",
    "ObshellClientError",
    "ObshellConnectionError",
]
