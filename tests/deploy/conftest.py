"""Fixtures of the deployment tests: the local managed identity endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.deploy.token_server import TokenServer


@pytest.fixture
async def token_server() -> AsyncIterator[TokenServer]:
    server = await TokenServer().start()
    try:
        yield server
    finally:
        await server.close()
