"""The Flow events sandbox: every endpoint of flow-events-api.txt, on ``/api/v1/``.

``api`` holds the JSON endpoints (sessions, event creation, registrants, operators, surveys),
``reports`` the five CSV reports, ``wire`` the error shape, the ``api-secret`` check and CSV
rendering, ``seed`` the demo data. Every call needs ``api-secret: demo-events-secret`` except
``POST /api/v1/registrants``, which the doc's own example sends without one (a wrong secret is
still refused there). Requests are counted per credential by the sandbox rate limiter (the doc
has no rate limit; the knob lets tests see a 429 with ``Retry-After``).
"""

from __future__ import annotations

import hashlib
import json

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from gateway.sandbox.context import sandbox
from gateway.sandbox.flowevents import api, reports
from gateway.sandbox.flowevents.seed import seed as _seed
from gateway.sandbox.flowevents.wire import EventsError, check_secret, error_response
from gateway.sandbox.flowevents.wire import error_body as _error_body

__all__ = ["error_body", "http_error", "install", "owns", "seed"]

PREFIX = "/api/v1/"


def owns(path: str) -> bool:
    return path.startswith(PREFIX) or path == "/api/v1"


def seed(db) -> None:
    _seed(db)


def error_body(path: str, status: int) -> tuple[str, bytes]:
    return "application/json", json.dumps(_error_body(status)).encode()


def http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    message = {404: "The requested resource was not found.",
               405: f"The method {request.method} is not allowed here."}.get(status, exc.description)
    resp = error_response(EventsError(status, message))
    allow = exc.get_response().headers.get("Allow") if status == 405 else None
    if allow:
        resp.headers["Allow"] = allow
    return resp


def _authenticate() -> str:
    """Check ``api-secret``; return what the rate limiter counts by (never the secret itself)."""
    account = sandbox().db.one("SELECT secret FROM fe_account WHERE id = 1")
    if account is None:  # only between a reset's DROP and its seed
        raise EventsError(503)
    secret = account["secret"]
    # The doc's registration example carries no api-secret: accept that, refuse a wrong one.
    optional = request.method == "POST" and request.path.rstrip("/") == "/api/v1/registrants"
    given = check_secret(secret, optional=optional)
    if given is None:
        return "flowevents:" + (request.remote_addr or "")
    return "flowevents:" + hashlib.sha256(given.encode()).hexdigest()[:16]


def install(app: Flask) -> None:
    app.register_blueprint(api.bp)
    app.register_blueprint(reports.bp)
    app.register_error_handler(EventsError, error_response)

    @app.before_request
    def _guard():
        if not owns(request.path):
            return
        key = _authenticate()
        allowed, _remaining, reset = sandbox().rate_limiter.hit(key)
        if not allowed:
            raise EventsError(429, headers={"Retry-After": str(max(reset, 1))})
        return
