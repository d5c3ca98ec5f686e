"""The Flowcode sandbox: flowcode-bulk-codes.txt on ``/v4/``.

Modules: ``destinations`` (the destination-type table and its protocols), ``images`` (real QR
images in the five file types), ``codes`` (create, fetch, update, image), ``bulk`` (bulk create and
the task status), ``wire`` (apikey auth, JSON, the error shape), ``seed`` (tables, demo data).

Knob: ``GET``/``PATCH /_sandbox/flowcode`` ``{"task_seconds": 3.0}`` is how long an asynchronous
bulk task takes; it lives in the sandbox database, so ``/_sandbox/reset`` restores it.
"""

from __future__ import annotations

import json

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException

from gateway.sandbox.context import sandbox
from gateway.sandbox.flowcode import bulk, codes
from gateway.sandbox.flowcode.seed import KNOB_DEFAULTS
from gateway.sandbox.flowcode.seed import seed as _seed
from gateway.sandbox.flowcode.wire import REASONS, FlowcodeError, error_payload, error_response, respond
from gateway.sandbox.state import SandboxDB

__all__ = ["error_body", "http_error", "install", "owns", "seed"]

PREFIX = "/v4/"

control = Blueprint("flowcode_control", __name__, url_prefix="/_sandbox/flowcode")


def owns(path: str) -> bool:
    return path.startswith(PREFIX) or path == "/v4"


def seed(db: SandboxDB) -> None:
    _seed(db)


def error_body(path: str, status: int) -> tuple[str, bytes]:
    return "application/json", json.dumps(error_payload(REASONS.get(status, "Error"))).encode()


def http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    message = {404: f"No such endpoint: {request.method} {request.path}.",
               405: f"The method {request.method} is not allowed for {request.path}.",
               500: "Internal Server Error"}.get(status, exc.description or REASONS.get(status, "Error"))
    resp = error_response(FlowcodeError(status, message))
    allow = exc.get_response().headers.get("Allow") if status == 405 else None
    if allow:
        resp.headers["Allow"] = allow
    return resp


@control.get("")
def get_knobs() -> Response:
    return respond({r["name"]: r["value"] for r in sandbox().db.all("SELECT name, value FROM fc_knobs")})


@control.patch("")
def patch_knobs() -> Response:
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not data or set(data) - set(KNOB_DEFAULTS):
        return respond({"message": f"expected a JSON object with any of: {', '.join(KNOB_DEFAULTS)}"}, 400)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 3600 for v in data.values()):
        return respond({"message": "knob values are numbers of seconds, 0 to 3600"}, 400)
    for name, value in data.items():
        sandbox().db.execute("UPDATE fc_knobs SET value = ? WHERE name = ?", (float(value), name))
    return get_knobs()


def install(app: Flask) -> None:
    for bp in (bulk.bp, codes.bp, control):
        app.register_blueprint(bp)
    app.register_error_handler(FlowcodeError, error_response)
