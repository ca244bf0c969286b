"""An in-process agent with real verification (system clock) for the client to talk to."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi import FastAPI, Request, UploadFile
from fastapi.testclient import TestClient
from pydantic import BaseModel

from pyobshell.security.agent_security import AgentSecurity
from pyobshell.api.app import create_app
from pyobshell.api.auth import PASSWORD, accepts
from pyobshell.api.routing import obshell_router
from pyobshell.api.state import AgentState
from pyobshell.api.uploads import verify_file_digest
from pyobshell.security.agent_token import AgentToken
from pyobshell.security.keypair import AgentKeyPair

ROOT_PASSWORD = "root-pw"
AGENT_PASSWORD = "agent-pw"
BASE = "http://testserver"


class Note(BaseModel):
    text: str
    tags: list[str] = []


@dataclass
class Seen:
    notes: list[dict] = field(default_factory=list)
    uploads: list[tuple[str, int]] = field(default_factory=list)
    secret_fetches: int = 0


def routes_for_the_client(seen: Seen):
    router = obshell_router(prefix="/api/v1/clienttest")

    @router.post("/notes/{name}")
    async def add_note(name: str, note: Note, verbose: bool = False) -> dict:
        seen.notes.append({"name": name, **note.model_dump(), "verbose": verbose})
        return {"name": name, "count": len(seen.notes)}

    @router.get("/notes")
    async def list_notes() -> list[dict]:
        return seen.notes

    @router.post("/package", dependencies=[accepts(PASSWORD.with_plain_body())])
    async def upload(request: Request, file: UploadFile) -> dict:
        import hashlib

        digest, size = hashlib.sha256(), 0
        while chunk := await file.read(64 * 1024):
            digest.update(chunk)
            size += len(chunk)
        verify_file_digest(request, request.app.state.agent.security, digest.hexdigest())
        seen.uploads.append((file.filename or "", size))
        return {"sha256": digest.hexdigest(), "size": size}

    return router


@pytest.fixture
def token() -> AgentToken:
    return AgentToken.generate()


@pytest.fixture
def seen() -> Seen:
    return Seen()


@pytest.fixture
def app(tmp_path: Path, key_pair: AgentKeyPair, token: AgentToken, seen: Seen) -> FastAPI:
    security = AgentSecurity.create(
        key_pair, root_check=lambda pw: pw == ROOT_PASSWORD, agent_password=lambda: AGENT_PASSWORD, token_checker=token
    )

    def public_key() -> str:
        seen.secret_fetches += 1
        return key_pair.public_key_b64()

    state = AgentState(ip="127.0.0.1", port=2886, home=tmp_path, public_key=public_key, security=security)
    app = create_app(state)
    app.include_router(routes_for_the_client(seen))
    return app


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url=BASE, raise_server_exceptions=False) as client:
        yield client
