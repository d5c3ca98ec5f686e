"""The gateway's WSGI application, built in a function: importing this module starts nothing.

``create_app(settings)`` returns the Flask app; protocol front doors are separate WSGI apps mounted
beside it with Werkzeug's DispatcherMiddleware (``mounts``), e.g. the SOAP service at ``/v1/soap``.
The REST front door (``gateway.rest``) is Flask blueprints on the app itself, under ``/v1/``;
the mount is matched first, so it can never shadow ``/v1/soap``.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.http import deadline_var, request_id_var
from gateway.metrics import MetricsMiddleware, observe_circuit, render_metrics
from gateway.safejson import JsonProvider
from gateway.services import Services

__all__ = ["create_app"]

log = logging.getLogger("gateway.app")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def error_body(status: int, code: int, message: str) -> dict[str, Any]:
    """Flowize's documented error shape, used by every REST error of the gateway."""
    return {"resource": [], "error": {"code": code, "message": message}}


def with_deadline(wsgi_app: Callable[..., Any], seconds: float) -> Callable[..., Any]:
    """Every client request gets one deadline; each vendor call and retry made for it fits inside."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        token = deadline_var.set(time.monotonic() + seconds)
        try:
            return wsgi_app(environ, start_response)
        finally:
            deadline_var.reset(token)

    return app


def create_app(settings: Settings | None = None, *, services: Services | None = None,
               mounts: dict[str, Callable[..., Any]] | None = None) -> Flask:
    settings = settings or Settings.load()
    services = services or Services.build(settings)
    app = Flask("gateway")
    app.json = JsonProvider(app)  # keys in order, and never NaN/Infinity (invalid JSON): gateway/safejson.py
    app.extensions["flowgate"] = services

    @app.before_request
    def _request_id() -> None:
        incoming = request.headers.get("X-Request-Id", "")
        g.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.request_id_token = request_id_var.set(g.request_id)

    @app.after_request
    def _echo_request_id(resp: Response) -> Response:
        resp.headers["X-Request-Id"] = g.get("request_id", "")
        return resp

    @app.teardown_request
    def _reset_request_id(_exc: BaseException | None) -> None:
        token = g.pop("request_id_token", None)
        if token is not None:
            request_id_var.reset(token)

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    @app.get("/metrics")
    def metrics():
        for vendor, state in services.http.circuits().items():
            observe_circuit(vendor, state)  # as this process sees it now, Redis-shared or not
        data, content_type = render_metrics()
        return Response(data, content_type=content_type)

    @app.get("/readyz")
    def readyz():
        # Not ready while the store is down or a vendor's circuit is open: a load balancer should
        # send clients to a gateway that can serve them (docs/reliability.md).
        circuits = services.http.circuits()
        checks = {"database": services.store.ping(), "task_engine": services.jobs.engine.ping(),
                  **{f"circuit:{vendor}": state != "open" for vendor, state in circuits.items()}}
        ready = all(checks.values())
        return jsonify({"status": "ready" if ready else "not ready", "checks": checks,
                        "circuits": circuits}), 200 if ready else 503

    # The REST front door: /v1/... hooks, blueprints, and the one error handler for the whole app
    # (Flowize's documented error shape, JSON or XML; gateway/rest/errors.py).
    from gateway import rest

    rest.install(app, services)
    # The unified facade: /api/... with its own auth, and errors as problem+json (gateway/api).
    from gateway import api
    from gateway.api.problems import problem_response
    from gateway.rest.errors import error_response

    api.install(app, services)

    def render_error(exc: BaseException) -> Response:
        return problem_response(exc) if api.is_api_path(request.path) else error_response(exc)

    for kind in (GatewayError, HTTPException, Exception):
        app.register_error_handler(kind, render_error)
    # GET /openapi.json and /docs (DESIGN.md endpoints): the description of that surface.
    from gateway.rest import openapi

    app.register_blueprint(openapi.bp)

    from gateway.soap import create_soap_app

    soap = create_soap_app(services.flowize, settings, services.credentials)
    mounted: dict[str, Callable[..., Any]] = {"/v1/soap": soap, **(mounts or {})}
    stack = with_deadline(DispatcherMiddleware(app.wsgi_app, mounted), settings.request_deadline)
    from gateway.guard import BodyGuard  # bodies read in time and within caps, before the deadline starts

    app.wsgi_app = MetricsMiddleware(BodyGuard(stack, settings))  # type: ignore[method-assign]
    return app
