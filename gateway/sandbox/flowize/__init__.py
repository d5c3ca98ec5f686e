"""The Flowize sandbox: every row of the REST endpoint table of flowize-api.txt, on ``/v1/``.

Modules, one per section of the doc: ``auth`` (checkauthentication, refreshtoken and the request
styles), ``schema``, ``records`` (+ search, changestatus, movetoflow), ``flows`` (webhook,
flowdiagram, changeflowstatus), ``keystore``, ``tables``, ``environments``, ``options``.
``wire`` holds the response conventions shared by all of them.
"""

from __future__ import annotations

import json

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from gateway.sandbox.context import sandbox
from gateway.sandbox.flowize import (
    auth,
    environment_projects,
    environments,
    environments_seed,
    flows,
    keystore,
    options,
    queue,
    records,
    schema,
    tables,
)
from gateway.sandbox.flowize.seed import seed as _seed
from gateway.sandbox.flowize.wire import MESSAGES, FlowizeError, error_response
from gateway.sandbox.flowize.wire import error_body as _error_body

__all__ = ["error_body", "http_error", "install", "owns", "seed"]

PREFIX = "/v1/"
_BLUEPRINTS = (auth.bp, schema.bp, queue.bp, records.bp, flows.bp, keystore.bp, tables.bp, environments.bp, environment_projects.bp,
               options.bp)


def owns(path: str) -> bool:
    return path.startswith(PREFIX) or path == "/v1"


def seed(db) -> None:
    _seed(db)
    for module in (keystore, tables, environments_seed):
        module.seed(db)


def error_body(path: str, status: int) -> tuple[str, bytes]:
    return "application/json", json.dumps(_error_body(status, MESSAGES.get(status, "Error"))).encode()


def http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    message = {404: "The requested resource doesn't exist.",
               405: f"The method {request.method} is not allowed for this endpoint."}.get(status, exc.description)
    resp = error_response(FlowizeError(status, message))
    if status == 405 and exc.get_response().headers.get("Allow"):
        resp.headers["Allow"] = exc.get_response().headers["Allow"]
    return resp


def install(app: Flask) -> None:
    for bp in _BLUEPRINTS:
        app.register_blueprint(bp)
    app.register_error_handler(FlowizeError, error_response)

    @app.before_request
    def _rate_limit():
        if not owns(request.path) or request.method == "OPTIONS":
            return
        allowed, remaining, reset = sandbox().rate_limiter.hit(auth.credential_key())
        g.flowize_rate = (sandbox().rate_limiter.limit, remaining, reset)
        if not allowed:
            raise FlowizeError(429, "Too many requests.", headers={"Retry-After": str(reset)})
        return

    @app.after_request
    def _rate_headers(resp: Response) -> Response:
        rate = g.get("flowize_rate")
        if rate is not None:
            resp.headers["X-RateLimit-Limit"] = str(rate[0])
            resp.headers["X-RateLimit-Remaining"] = str(rate[1])
            resp.headers["X-RateLimit-Reset"] = str(rate[2])
        return resp
