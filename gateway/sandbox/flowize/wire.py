"""How the Flowize sandbox speaks: error bodies, JSON/XML/plain negotiation, ETag and 304.

flowize-api.txt: "Response format negotiation (supporting JSON and XML by default)", the ETag /
If-None-Match section, and the one documented error body (the 429 example):
``{"resource": [], "error": {"code": 429, "message": "Too many requests."}}``, used for every error.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request
from lxml import etree

from gateway.flowize_wire import NO_CACHE, negotiate, response
from gateway.flowize_wire import render as render_as

__all__ = ["FlowizeError", "envelope", "error_body", "json_body", "request_ip", "respond", "wanted_format"]


MESSAGES = {
    400: "Bad Request",
    401: "The credentials are not correct.",
    402: "Request Failed",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Payload Too Large",
    429: "Too many requests.",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class FlowizeError(Exception):
    """An error the vendor documents: HTTP ``status``, internal ``code`` (436, 437...) and message."""

    def __init__(self, status: int, message: str | None = None, code: int | None = None,
                 headers: dict[str, str] | None = None):
        self.status = status
        self.code = code if code is not None else status
        self.message = message or MESSAGES.get(status, "Error")
        self.headers = headers or {}
        super().__init__(self.message)


def error_body(code: int, message: str) -> dict[str, Any]:
    return {"resource": [], "error": {"code": code, "message": message}}


def request_ip() -> str:
    return request.remote_addr or ""


def envelope(resource: Any, message: str, code: int = 200, id_: str = "ok") -> dict[str, Any]:
    """The fuller body of the newer endpoints (search, queue actions, keystore delete)."""
    return {"id": id_, "code": code, "request-ip": request_ip(), "resource": resource,
            "message": message, "error": None}


def wanted_format() -> str:
    """``json``, ``xml`` or ``text``: ``Accept`` by quality, else ``Content-Type`` (the keystore and
    tables sections say Content-Type "determines the format of the output"), else JSON."""
    return negotiate(request.accept_mimetypes, request.headers.get("Content-Type", ""))


def render(body: Any, fmt: str | None = None) -> tuple[bytes, str]:
    return render_as(body, fmt or wanted_format())


def respond(body: Any, status: int = 200, *, fmt: str | None = None, last_modified: str | None = None,
            headers: dict[str, str] | None = None) -> Response:
    data, ctype = render(body, fmt)
    extra = {**(headers or {}), **({"Last-Modified": last_modified} if last_modified else {})}
    return response(data, ctype, status, method=request.method, if_none_match=request.if_none_match,
                    headers=extra)


def error_response(err: FlowizeError) -> Response:
    data, ctype = render(error_body(err.code, err.message))
    resp = Response(data, status=err.status, content_type=ctype)
    resp.headers.update(NO_CACHE)
    resp.headers.update(err.headers)
    return resp


def json_body(*, required: bool = True, allow_empty: bool = False) -> Any:
    """The request body as JSON (or XML, which the record and keystore endpoints accept)."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required and not allow_empty:
            raise FlowizeError(400, "The request body is empty.")
        return None
    ctype = (request.content_type or "").lower()
    if "xml" in ctype:
        from gateway.xmlshape import from_xml
        try:
            return from_xml(raw)
        except (etree.XMLSyntaxError, ValueError):
            raise FlowizeError(400, "The request body is not well-formed XML.") from None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise FlowizeError(400, "The request body is not valid JSON.") from None
