"""The OpenAPI document says what the agent really answers: obshell's envelope around the data.

Handlers declare their plain data (``response_model``) and :class:`~pyobshell.api.routing.ObshellRoute`
wraps it at run time; FastAPI's generator only knows the data. This module rewrites the document
FastAPI made, once, so that for every ``/api/v1`` and ``/rpc/v1`` operation:

* each JSON success response is ``Envelope_<data>``: ``{successful: true, timestamp, duration,
  status, traceId, data?}``, where ``data`` is the handler's schema, a list given as
  ``{"contents": [...]}`` (as the envelope wraps it), and absent when the handler has none;
* every error is the ``default`` response, ``ErrorEnvelope``: ``{successful: false, ..., error}``
  with obshell's ``{code?, errCode, message, subErrors?}``. FastAPI's 422 is removed: a
  validation failure is answered 400 in that envelope (``api.errors``).

Non-JSON success bodies (a package download) are left as declared.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from pyobshell.api.errors import is_enveloped_path
from pyobshell.wire.envelope import ApiError

REF = "#/components/schemas/"
JSON = "application/json"
ERROR_ENVELOPE = "ErrorEnvelope"
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")

_HEAD_PROPERTIES: dict[str, Any] = {
    "timestamp": {"type": "string", "description": "server time, RFC 3339 with nanoseconds"},
    "duration": {"type": "integer", "minimum": 0, "description": "handling time in milliseconds"},
    "status": {"type": "integer", "description": "the HTTP status of this response"},
    "traceId": {"type": "string", "description": "the request's trace id (empty for /api/v1/status)"},
}
_HEAD_REQUIRED = ["successful", "timestamp", "duration", "status", "traceId"]


def install_openapi(app: FastAPI) -> None:
    """Serve the rewritten document at ``/openapi.json`` (and ``/docs``)."""
    app.openapi = _cached_document(app)  # type: ignore[method-assign]


def _cached_document(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=app.description,
                                   routes=app.routes)
            app.openapi_schema = describe_envelopes(document)
        return app.openapi_schema

    return openapi


def describe_envelopes(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` with every enveloped operation's responses as the agent sends them."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["ApiError"] = ApiError.model_json_schema(ref_template=REF + "{model}")
    schemas[ERROR_ENVELOPE] = _envelope(successful=False, extra={"error": {"$ref": REF + "ApiError"}},
                                        required=["error"])
    for path, operations in document.get("paths", {}).items():
        if not is_enveloped_path(path):
            continue
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                _rewrite_responses(operation["responses"], schemas)
    removed = {name: schemas.pop(name) for name in FASTAPI_VALIDATION_SCHEMAS if name in schemas}
    if _references(document, removed):  # a non-enveloped route still answers FastAPI's 422
        schemas.update(removed)
    return document


def _rewrite_responses(responses: dict[str, Any], schemas: dict[str, Any]) -> None:
    responses.pop("422", None)
    for status, response in responses.items():
        content = response.get("content")
        if not status.startswith("2"):
            continue
        if content is None:
            response["content"] = {JSON: {"schema": {"$ref": REF + _data_envelope({}, schemas)}}}
        elif JSON in content:
            data = content[JSON].get("schema") or {}
            content[JSON]["schema"] = {"$ref": REF + _data_envelope(data, schemas)}
    responses["default"] = {
        "description": "An error: obshell's envelope with errCode and message",
        "content": {JSON: {"schema": {"$ref": REF + ERROR_ENVELOPE}}},
    }


def _data_envelope(data: dict[str, Any], schemas: dict[str, Any]) -> str:
    """The component name of the success envelope around ``data`` (added on first use)."""
    data = {key: value for key, value in data.items() if key != "title"}
    if data.get("type") == "array":  # the envelope wraps a list: {"contents": [...]}
        data = {"type": "object", "required": ["contents"], "properties": {"contents": data}}
    name = "Envelope_" + _name_of(data)
    extra = {"data": data} if data else {}
    candidate = _envelope(successful=True, extra=extra)
    while name in schemas and schemas[name] != candidate:
        name += "_"
    schemas[name] = candidate
    return name


def _envelope(*, successful: bool, extra: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "required": _HEAD_REQUIRED + (required or []),
        "properties": {"successful": {"type": "boolean", "const": successful}, **_HEAD_PROPERTIES, **extra},
    }


def _name_of(data: dict[str, Any]) -> str:
    """A readable name for a data schema: its model, ``list_<model>``, ``dict_<model>``, a type."""
    if not data:
        return "empty"
    if "$ref" in data:
        return data["$ref"].rsplit("/", 1)[1]
    contents = data.get("properties", {}).get("contents")
    if contents is not None:
        return "list_" + _name_of(contents.get("items", {}))
    if isinstance(data.get("additionalProperties"), dict):
        return "dict_" + _name_of(data["additionalProperties"])
    return re.sub(r"\W", "_", str(data.get("type", "any")))


def _references(document: dict[str, Any], names: dict[str, Any]) -> bool:
    """Whether any schema in ``names`` is referenced in ``document``."""
    wanted = {REF + name for name in names}

    def walk(node: Any) -> bool:
        if isinstance(node, dict):
            return node.get("$ref") in wanted or any(walk(value) for value in node.values())
        if isinstance(node, list):
            return any(walk(value) for value in node)
        return False

    return walk(document)
