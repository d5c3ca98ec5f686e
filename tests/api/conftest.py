"""Fixtures for the unified facade: the session's real gateway in front of the real sandbox."""

from __future__ import annotations

import requests

DEMO_KEY = "demo-api-key"
DEMO = {"X-Apikey": DEMO_KEY}


def assert_problem(resp: requests.Response, status: int, code: str | None = None) -> dict:
    """The answer is an RFC 9457 problem with ``status`` (and ``code``)."""
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/problem+json"), resp.headers["Content-Type"]
    body = resp.json()
    assert {"type", "title", "status", "detail", "code", "request_id"} <= set(body), body
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    return body
