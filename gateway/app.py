"""The gateway's WSGI application, built in a function: importing this module starts nothing.

``create_app(settings)`` returns the Flask app; protocol front doors are separate WSGI apps mounted
beside it with Werkzeug's DispatcherMiddleware, e.g. the SOAP service at ``/v1/soap``.
The REST front door (``gateway.rest``) is Flask blueprints on the app itself, under ``/v1/``;
the mount is matched first, so it can never shadow ``/v1/soap``.

Every request, whichever door answers it, goes through the same WSGI stack, outermost first::

    ProxyFix          only with GATEWAY_TRUST_PROXY: REMOTE_ADDR, wsgi.url_scheme and HTTP_HOST
                      from the X-Forwarded-For/-Proto/-Host the one trusted proxy set
    Observe           X-Request-Id (the client's if well-formed, else a new one) in the environ as
                      ``flowgate.request_id``, in ``request_id_var`` and on every response; the
                      request's record, its metrics, its JSON log line and trace (gateway/observe.py)
    BodyGuard         bodies read in time and within caps (gateway/guard.py)
    with_deadline     one deadline for everything done for the request
    Dispatcher        /v1/soap -> the SOAP door; everything else -> Flask (REST, /api, probes)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.middleware.proxy_fix import ProxyFix

from gateway.config import Settings
from gateway.errors import GatewayError
from gateway.http import deadline_var
from gateway.metrics import StoreFigures, observe_circuit, render_metrics
from gateway.observe import REQUEST_ID_KEY, Observe, note
from gateway.safejson import JsonProvider
from gateway.services import Services

__all__ = ["create_app"]

log = logging.getLogger("gateway.app")


def with_deadline(wsgi_app: Callable[..., Any], seconds: float) -> Callable[..., Any]:
    """Every client request gets one deadline; each vendor call and retry made for it fits inside."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        token = deadline_var.set(time.monotonic() + seconds)
        try:
            return wsgi_app(environ, start_response)
        finally:
            deadline_var.reset(token)

    return app


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> Flask:
    """The gateway app; ``migrate=False`` where the schema is known to be current (``flowgate serve``
    migrates once, before its workers load the app)."""
    settings = settings or Settings.load()
    services = Services.build(settings, migrate=migrate)
    app = Flask("gateway")
    app.json = JsonProvider(app)  # keys in order, and never NaN/Infinity (invalid JSON): gateway/safejson.py
    app.extensions["flowgate"] = services

    @app.before_request
    def _request_id() -> None:
        # The id is taken by the Observe middleware; views and error pages read it from ``g``.
        g.request_id = request.environ.get(REQUEST_ID_KEY, "")
        rule = request.url_rule
        note(operation=f"{request.method} {rule.rule}" if rule is not None else "unmatched")

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok"})

    figures = StoreFigures(services.jobs.jobs, services.outbox.repo if services.outbox else None,
                           services.engine.queue_length)

    @app.get("/metrics")
    def metrics():
        for vendor, state in services.http.circuits().items():
            observe_circuit(vendor, state)  # as this process sees it now, Redis-shared or not
        data, content_type = render_metrics(figures)
        return Response(data, content_type=content_type)

    @app.get("/readyz")
    def readyz():
        # Not ready while the store is down or a vendor's circuit is open: a load balancer should
        # send clients to a gateway that can serve them (docs/reliability.md). With ?circuits=report
        # the circuits are listed but do not count: where they are shared through Redis, every
        # gateway has the same, and one vendor's outage must not take every gateway out of a
        # Service (docs/operations.md).
        circuits = services.http.circuits()
        circuit_checks = {f"circuit:{vendor}": state != "open" for vendor, state in circuits.items()}
        checks = {"database": services.store.ping(), "task_engine": services.engine.ping(), **circuit_checks}
        counted = checks if request.args.get("circuits") != "report" else {
            k: v for k, v in checks.items() if k not in circuit_checks}
        ready = all(counted.values())
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
    stack = with_deadline(DispatcherMiddleware(app.wsgi_app, {"/v1/soap": soap}), settings.request_deadline)
    from gateway.guard import BodyGuard  # bodies read in time and within caps, before the deadline starts

    outer: Callable[..., Iterable[bytes]] = Observe(BodyGuard(stack, settings))
    if settings.trust_proxy:
        # One proxy in front, trusted for the last hop it adds: the client address it saw, and the
        # scheme and host the client asked for (docs/rest.md, "Behind a proxy").
        outer = ProxyFix(outer, x_for=1, x_proto=1, x_host=1)
    app.wsgi_app = outer  # type: ignore[method-assign]
    return app
