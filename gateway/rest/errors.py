"""The REST front door's one error table: the exception tree -> Flowize's documented error body.

flowize-api.txt shows one error body, the 429 example, and the gateway uses its shape for every
error (docs/flowize-decisions.md H1)::

    {"resource": [], "error": {"code": 429, "message": "Too many requests."}}

``code`` is the vendor's internal code when there is one (436 token not valid, 437 IP not valid),
else the HTTP status. Vendor errors arrive here already translated by the connector, so they keep
their status and code (401, 403/436/437, 404, 409, 429...); a vendor 5xx is a 502 from us. A value
that cannot travel as an HTTP header is the connector's InvalidRequest (400) before anything is sent.
Unknown routes, wrong methods and malformed bodies answer in the same shape, never an HTML page,
and in XML when the client asked for XML.

Read top to bottom:

    exception                       status  code           message
    GatewayError (and subclasses)   .status .code          .message (+ Retry-After for RateLimited)
    werkzeug NotFound               404     404            The requested resource doesn't exist.
    werkzeug MethodNotAllowed       405     405            The method X is not allowed ... (+ Allow)
    werkzeug RequestEntityTooLarge  413     413            The request body is too large.
    other werkzeug HTTPException    .code   .code          its description
    anything else                   500     500            Internal gateway error; request id ...
"""

from __future__ import annotations

import logging
import math
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge

from gateway.errors import GatewayError
from gateway.rest.negotiation import NO_CACHE, render

__all__ = ["classify", "error_body", "error_response", "install_error_handlers"]

log = logging.getLogger("gateway.rest")


def error_body(code: int, message: str) -> dict[str, Any]:
    return {"resource": [], "error": {"code": code, "message": message}}


def classify(exc: BaseException) -> tuple[int, int, str, dict[str, str]]:
    """(HTTP status, error code, safe message, extra headers) for any exception."""
    if isinstance(exc, GatewayError):
        headers = {}
        retry_after = getattr(exc, "retry_after", None)  # rate limits, open circuits, a full bulkhead
        if retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        return exc.status, exc.code, exc.message, headers
    if isinstance(exc, NotFound):
        return 404, 404, "The requested resource doesn't exist.", {}
    if isinstance(exc, MethodNotAllowed):
        allow = ", ".join(sorted(exc.valid_methods or ()))
        return 405, 405, f"The method {request.method} is not allowed for this endpoint.", \
            ({"Allow": allow} if allow else {})
    if isinstance(exc, RequestEntityTooLarge):
        return 413, 413, "The request body is too large.", {}
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        return status, status, exc.description or exc.name, {}
    return 500, 500, f"Internal gateway error; request id {g.get('request_id', '')}.", {}


def error_response(exc: BaseException) -> Response:
    status, code, message, headers = classify(exc)
    if status >= 500 and not isinstance(exc, GatewayError):
        log.error("unhandled error on %s %s (request id %s)", request.method, request.path, g.get("request_id"),
                  exc_info=exc)
    data, ctype = render(error_body(code, message))
    resp = Response(data, status=status, content_type=ctype)
    resp.headers.update(NO_CACHE)
    resp.headers.update(headers)
    return resp


def install_error_handlers(app: Flask) -> None:
    """One handler for the whole tree; Flask picks it for every exception a view or hook raises."""
    app.register_error_handler(GatewayError, error_response)
    app.register_error_handler(HTTPException, error_response)
    app.register_error_handler(Exception, error_response)
