"""AsyncObshellClient speaks the same protocol (over httpx's ASGI transport)."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI

from pyobshell.client import AsyncObshellClient, ObshellApiError
from tests.client.conftest import BASE, ROOT_PASSWORD, Seen


def run(app: FastAPI, password: str, work):
    async def main():
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
            return await work(AsyncObshellClient(BASE, password=password, http_client=http))

    return asyncio.run(main())


def test_async_client_round_trip(app: FastAPI, seen: Seen) -> None:
    async def work(agent: AsyncObshellClient):
        statuses = await agent.agents_status()
        note = await agent.request("POST", "/api/v1/clienttest/notes/a", {"text": "t"}, {"verbose": "1"})
        return statuses, note

    statuses, note = run(app, ROOT_PASSWORD, work)
    assert "127.0.0.1:2886" in statuses and note == {"name": "a", "count": 1}
    assert seen.notes[0]["verbose"] is True


def test_async_client_wrong_password(app: FastAPI) -> None:
    with pytest.raises(ObshellApiError) as info:
        run(app, "nope", lambda agent: agent.agents_status())
    assert info.value.status == 401
