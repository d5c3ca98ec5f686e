"""Fixtures shared by the connector tests."""

from __future__ import annotations

import pytest
from support import fast_http_client


@pytest.fixture
def http():
    """A real HttpClient with short timeouts (a module may override it with its own)."""
    client = fast_http_client()
    yield client
    client.close()


@pytest.fixture
def slept() -> list[float]:
    """Where an injected ``sleep`` records the waits it was asked for."""
    return []
