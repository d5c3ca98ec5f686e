"""The sandbox server: one Flask app emulating every vendor at the paths of its own docs.

Each vendor is a package or module under ``gateway/sandbox/`` with ``install(app)`` (blueprints and
hooks), ``seed(db)`` (tables and demo data), ``owns(path)`` and ``error_body(path, status)`` (the
vendor's own error shape, used for unknown routes and injected faults). Their paths do not collide,
so one server on 127.0.0.1:8081 answers for all of them.

Every vendor request is noted in the call log (``SandboxContext.calls``, ``GET /_sandbox/calls``)
as it arrives, before fault rules apply: what each vendor received, whichever process sent it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from gateway.config import Settings
from gateway.sandbox import exaroutes, flowbox, flowcode, flowevents, flowize
from gateway.sandbox.context import CallLog, RateLimiter, SandboxContext
from gateway.sandbox.control import bp as control_bp
from gateway.sandbox.faults import FaultMiddleware, FaultSet
from gateway.sandbox.state import SandboxDB

__all__ = ["VENDORS", "CallRecorder", "create_sandbox_app", "vendor_name"]

VENDORS: list[ModuleType] = [flowize, flowcode, exaroutes, flowevents, flowbox]
_NAMES = {vendor: vendor.__name__.rsplit(".", 1)[-1] for vendor in VENDORS}
#: Flowize's OAuth token endpoints: a call to one is a token fetched (or refreshed) from the vendor.
TOKEN_PATHS = frozenset({"/v1/checkauthentication", "/v1/refreshtoken"})


def _generic_error_body(path: str, status: int) -> tuple[str, bytes]:
    return "application/json", json.dumps({"error": {"code": status, "message": "sandbox error"}}).encode()


def _vendor_for(path: str) -> ModuleType | None:
    for vendor in VENDORS:
        if vendor.owns(path):
            return vendor
    return None


def vendor_name(path: str) -> str:
    """``flowize``, ``flowcode``, ``exaroutes``, ``flowevents``, ``flowbox``, or ``unknown``."""
    vendor = _vendor_for(path)
    return _NAMES[vendor] if vendor is not None else "unknown"


class CallRecorder:
    """WSGI middleware noting each vendor request in the call log: vendor, method, path (never the
    query string, where credentials may travel), arrival time, X-Request-Id, and the status once
    the answer starts. The control API is not a vendor and is not noted."""

    def __init__(self, app: Any, calls: CallLog, exempt_prefix: str = "/_sandbox"):
        self.app = app
        self.calls = calls
        self.exempt_prefix = exempt_prefix

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(self.exempt_prefix):
            return self.app(environ, start_response)
        call = self.calls.record(vendor_name(path), environ.get("REQUEST_METHOD", "GET"), path,
                                 environ.get("HTTP_X_REQUEST_ID"), token=path in TOKEN_PATHS)

        def noting(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            try:
                call.status = int(status[:3])
            except ValueError:  # not a status line any server sends: the call stays unanswered
                pass
            return start_response(status, headers, exc_info)

        return self.app(environ, noting)


def error_body(path: str, status: int) -> tuple[str, bytes]:
    vendor = _vendor_for(path)
    return vendor.error_body(path, status) if vendor else _generic_error_body(path, status)


def create_sandbox_app(settings: Settings | None = None, *, database: str | None = None) -> Flask:
    """Build the sandbox. ``database`` overrides the settings' path (``":memory:"`` for tests)."""
    settings = settings or Settings()
    app = Flask("gateway.sandbox")
    app.json.sort_keys = False  # type: ignore[attr-defined]
    # Vendors answer the path they are sent, never a redirect to a "canonical" one: Werkzeug's
    # default would turn PUT /v1/tables/users into a 308 with an HTML page.
    app.url_map.redirect_defaults = False
    db = SandboxDB(database or settings.effective_sandbox_database)
    faults = FaultSet()
    faults.load_json(settings.sandbox_faults)
    ctx = SandboxContext(db=db, faults=faults,
                         rate_limiter=RateLimiter(settings.sandbox_rate_limit, settings.sandbox_rate_window),
                         token_ttl=settings.sandbox_token_ttl)
    app.extensions["flowgate_sandbox"] = ctx

    def seed_all() -> None:
        for vendor in VENDORS:
            vendor.seed(db)

    def reset() -> None:
        with db.transaction() as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
            conn.execute("PRAGMA defer_foreign_keys = ON")
            for table in tables:
                conn.execute(f'DROP TABLE IF EXISTS "{table}"')
        faults.reset()
        ctx.rate_limiter.reset()
        ctx.calls.clear()
        seed_all()

    app.extensions["flowgate_sandbox_reset"] = reset
    seed_all()
    for vendor in VENDORS:
        vendor.install(app)
    app.register_blueprint(control_bp)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        vendor = _vendor_for(request.path)
        if vendor is not None:
            return vendor.http_error(exc)
        return jsonify({"error": {"code": status, "message": exc.description}}), status

    # The recorder is outermost: a request a fault rule delays, fails or drops still reached the vendor.
    app.wsgi_app = CallRecorder(FaultMiddleware(app.wsgi_app, faults, error_body),  # type: ignore[method-assign]
                                ctx.calls)
    return app
