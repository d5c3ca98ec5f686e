"""The facade's one error table: the exception tree -> ``application/problem+json`` (RFC 9457).

Every error under ``/api/`` is a problem document::

    {"type": "https://flowgate.dev/problems/vendor_unavailable", "title": "Vendor unavailable",
     "status": 503, "detail": "ExaRoutes could not be reached.", "code": "vendor_unavailable",
     "request_id": "…"}

plus ``errors: [{"uid" | "field", "reason"}]`` for validation problems. ``code`` is a stable machine
string; ``detail`` is safe to show (the exception tree never carries a credential). Read top to
bottom, first match wins:

    exception                         status  code
    ValidationFailed                  422     invalid_rows | invalid_body (its own code)
    PayloadTooLarge                   413     payload_too_large
    InvalidRequest                    400     invalid_request
    Forbidden                         403     forbidden
    AuthError                         401     unauthorized
    RequestFailed                     402     request_failed
    NotFound (vendor 410 included)    404     not_found
    Conflict                          409     conflict
    RateLimited                       429     rate_limited (+ Retry-After) | quota_exceeded
    UpstreamTimeout                   504     vendor_timeout
    CircuitOpen                       503     circuit_open (+ Retry-After)
    VendorBusy                        503     vendor_busy (+ Retry-After)
    UpstreamUnavailable               503     vendor_unavailable
    UpstreamError                     502     vendor_error
    GatewayError                      500     internal_error
    werkzeug NotFound                 404     not_found
    werkzeug MethodNotAllowed         405     method_not_allowed (+ Allow)
    werkzeug RequestEntityTooLarge    413     payload_too_large
    other werkzeug HTTPException      .code   http_<status>
    anything else                     500     internal_error (logged with its traceback, never sent)
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from flask import Response, g, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge
from werkzeug.exceptions import NotFound as RouteNotFound

from gateway.errors import (
    AuthError,
    CircuitOpen,
    Conflict,
    Forbidden,
    GatewayError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RequestFailed,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    ValidationFailed,
    VendorBusy,
)

__all__ = ["PROBLEM_JSON", "TYPE_BASE", "problem", "problem_response"]

log = logging.getLogger("gateway.api")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://flowgate.dev/problems/"

# (class, code, title): the first class the exception is an instance of decides.
_TABLE: tuple[tuple[type[GatewayError], str, str], ...] = (
    (ValidationFailed, "invalid_body", "Validation failed"),
    (PayloadTooLarge, "payload_too_large", "Payload too large"),
    (InvalidRequest, "invalid_request", "Invalid request"),
    (Forbidden, "forbidden", "Forbidden"),
    (AuthError, "unauthorized", "Unauthorized"),
    (RequestFailed, "request_failed", "Request failed"),
    (NotFound, "not_found", "Not found"),
    (Conflict, "conflict", "Conflict"),
    (RateLimited, "rate_limited", "Too many requests"),
    (UpstreamTimeout, "vendor_timeout", "Vendor timeout"),
    (CircuitOpen, "circuit_open", "Vendor paused"),
    (VendorBusy, "vendor_busy", "Vendor busy"),
    (UpstreamUnavailable, "vendor_unavailable", "Vendor unavailable"),
    (UpstreamError, "vendor_error", "Vendor error"),
    (GatewayError, "internal_error", "Internal error"),
)


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    body = {"type": TYPE_BASE + code, "title": title, "status": status, "detail": detail, "code": code,
            "request_id": g.get("request_id", "")}
    body.update(extra)
    return body


def _classify(exc: BaseException) -> tuple[dict[str, Any], dict[str, str]]:
    """(problem body, extra headers) for any exception."""
    if isinstance(exc, GatewayError):
        for cls, code, title in _TABLE:
            if isinstance(exc, cls):
                break
        code = getattr(exc, "problem_code", None) or code
        status = exc.status
        extra: dict[str, Any] = {}
        headers: dict[str, str] = {}
        if isinstance(exc, ValidationFailed):
            extra["errors"] = exc.errors
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        if isinstance(exc, NotFound) and exc.code == 410:
            extra["vendor_status"] = 410
        return problem(status, code, title, exc.message, **extra), headers
    if isinstance(exc, RouteNotFound):
        return problem(404, "not_found", "Not found", f"No resource at {request.path}; see GET /api/."), {}
    if isinstance(exc, MethodNotAllowed):
        allow = ", ".join(sorted(exc.valid_methods or ()))
        return (problem(405, "method_not_allowed", "Method not allowed",
                        f"{request.method} is not allowed on {request.path}."), {"Allow": allow} if allow else {})
    if isinstance(exc, RequestEntityTooLarge):
        return problem(413, "payload_too_large", "Payload too large", "The request body is too large."), {}
    if isinstance(exc, HTTPException):
        status = exc.code or 500
        return problem(status, f"http_{status}", exc.name, exc.description or exc.name), {}
    return problem(500, "internal_error", "Internal error",
                   f"Internal gateway error; request id {g.get('request_id', '')}."), {}


def problem_response(exc: BaseException) -> Response:
    body, headers = _classify(exc)
    if body["status"] >= 500 and not isinstance(exc, GatewayError):
        log.error("unhandled error on %s %s (request id %s)", request.method, request.path, g.get("request_id"),
                  exc_info=exc)
    resp = Response(json.dumps(body), status=body["status"], content_type=PROBLEM_JSON)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers.update(headers)
    return resp
