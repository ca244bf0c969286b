"""Schemathesis, signing every request as a real obshell client does.

Schemathesis generates each case from the agent's OpenAPI document; :func:`signed_request`
then sends it the way obshell's clients do: the exact request target (path and query as on the
request line) in an RSA-encrypted ``X-OCS-Header`` with the root@sys password (``/rpc/v1``: the
cluster's agent token), and a JSON body AES-encrypted with the header's ``Keys``. Multipart
uploads travel as plain form data, as the web UI sends them. The answer is checked by
schemathesis: no 5xx, a documented status and content type, and a body matching the schema.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from pyobshell.security.request_builder import ClientStyle, RequestBuilder

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
RPC_PREFIX = "/rpc/v1/"


@dataclass(frozen=True)
class Signer:
    """What a client knows: the agent's public key, the root@sys password, the agent token."""

    public_key: str
    password: str
    agent_token: str = ""

    def builder(self) -> RequestBuilder:
        return RequestBuilder(self.public_key, ClientStyle.SDK_V2)


def signed_request(client: httpx.Client, case: Case, signer: Signer) -> httpx.Request:
    """The case as a request a real client sends (see the module's note)."""
    headers = {k: str(v) for k, v in (case.headers or {}).items()}
    query = case.query if case.query not in (None, NOT_SET) else None
    body = case.body if case.body is not NOT_SET else None
    url = client.build_request(case.method, case.formatted_path, params=query).url
    target = url.raw_path.decode("ascii")  # exactly what goes on the request line
    multipart = case.media_type == "multipart/form-data"
    plaintext = None if multipart or body is None else _json_bytes(body)
    rpc = case.path.startswith(RPC_PREFIX)
    built = signer.builder().build(target, plaintext, password="" if rpc else signer.password,
                                   token=signer.agent_token if rpc else "")
    headers.update(built.headers)
    if multipart:
        request = client.build_request(case.method, url, headers=headers, files=_form_files(body))
        request.read()  # a multipart body is a stream; the checks read it again
        return request
    if plaintext is not None:
        headers["content-type"] = "application/json"  # what Go clients say of their base64 body
        return client.build_request(case.method, url, headers=headers, content=built.body)
    return client.build_request(case.method, url, headers=headers)


def _json_bytes(body: Any) -> bytes:
    """The plaintext body; an invalid case may be raw bytes (malformed JSON) already."""
    return body if isinstance(body, bytes) else json.dumps(body).encode()


def _form_files(body: Any) -> dict[str, tuple[str, bytes]]:
    value = body.get("file", b"") if isinstance(body, dict) else b""
    data = value if isinstance(value, bytes) else str(value).encode()
    return {"file": ("package.rpm", data)}


@dataclass
class FuzzReport:
    """Per operation (``METHOD /path``): the statuses answered and the failure, if any."""

    statuses: dict[str, list[int]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def refused_every_signature(self) -> list[str]:
        """Operations that never got past authentication (the signing would be wrong)."""
        return [label for label, seen in self.statuses.items() if not seen or all(s == 401 for s in seen)]


def cases(operation: Any) -> st.SearchStrategy[Case]:
    """Valid inputs and, where the schema allows any, invalid ones (each a 4xx, never a 5xx)."""
    strategies = [operation.as_strategy(GenerationMode.POSITIVE)]
    try:
        strategies.append(operation.as_strategy(GenerationMode.NEGATIVE))
    except Exception:  # noqa: BLE001 - nothing in this operation can be made invalid
        pass
    return st.one_of(strategies)


def fuzz(schema: BaseSchema, client: httpx.Client, signer: Signer, max_examples: int) -> FuzzReport:
    """Run every operation of ``schema`` with at most ``max_examples`` generated cases each."""
    report = FuzzReport()
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        seen = report.statuses.setdefault(label, [])

        @settings(max_examples=max_examples, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=cases(operation))
        def run(case: Case) -> None:
            response = client.send(signed_request(client, case, signer))
            seen.append(response.status_code)
            case.validate_response(response, checks=CHECKS)

        started = time.monotonic()
        try:
            run()
        except (Exception, BaseExceptionGroup) as error:  # every operation is tried; all failures reported
            report.failures[label] = str(error)[:4000]
        report.seconds[label] = time.monotonic() - started
    return report
