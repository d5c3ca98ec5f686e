"""Fixtures for the REST front door: the real gateway over HTTP in front of the sandbox."""

from __future__ import annotations

import pytest
from support import DEMO_HEADERS, DEMO_OAUTH, DEMO_PARAMS

# The documented credential styles, as a consumer sends them: (headers, URL parameters).
STYLES = {
    "bearer": None,  # filled per test with a fresh token (see ``auth``)
    "apikey": (DEMO_HEADERS, {}),
    "url": ({}, DEMO_PARAMS),
    "client": ({"client_id": DEMO_OAUTH["client_id"], "client_secret": DEMO_OAUTH["client_secret"]}, {}),
}


def bearer_token(http, base: str) -> str:
    resp = http.get(base + "/v1/checkauthentication", headers=DEMO_OAUTH, timeout=10)
    assert resp.status_code == 200, resp.text
    return resp.json()["resource"]["access_token"]


@pytest.fixture(params=["bearer", "apikey", "url"])
def auth(request, http, gateway_url):
    """(headers, params) for each of the three documented styles, against the gateway."""
    if request.param == "bearer":
        return {"Authorization": f"Bearer {bearer_token(http, gateway_url)}"}, {}
    headers, params = STYLES[request.param]
    return dict(headers), dict(params)


@pytest.fixture
def gateway_url(_gateway_server, sandbox_url) -> str:
    """The session's gateway, with fresh rate-limit counters per test (the sandbox's are reset too),
    so a test's 429 never comes from requests another test made."""
    _gateway_server.server.app.extensions["flowgate.rest"].limiter.reset()
    return _gateway_server.url
