from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.engine import engine_helpers


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def script() -> Iterator[engine_helpers.Script]:
    """The engine test tasks' shared script, fresh for the test."""
    engine_helpers.SCRIPT.__init__()  # type: ignore[misc]
    yield engine_helpers.SCRIPT
    engine_helpers.SCRIPT.release.set()
