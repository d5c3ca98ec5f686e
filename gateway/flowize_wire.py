"""Flowize's HTTP conventions, shared by the vendor emulator and the gateway's Flowize REST surface,
which must speak exactly alike: format negotiation, rendering, the bearer header, no-cache headers,
and values read from a header or its URL parameter.

flowize-api.txt: "Response format negotiation (supporting JSON and XML by default)"; the keystore and
tables sections say the request's Content-Type "determines the format of the output"; the PHP
example spells the bearer header ``Authentication:`` (decisions H3, H4, A4).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import Response, request
from werkzeug.datastructures import ETags, Headers, MIMEAccept

from gateway.xmlshape import to_xml

__all__ = ["NO_CACHE", "bearer_token", "format_of", "negotiate", "param", "render", "response"]

# PHP session defaults the vendor sends with every documented response; kept for fidelity (H3).
NO_CACHE = {"Expires": "Thu, 19 Nov 1981 08:52:00 GMT", "Pragma": "no-cache", "Cache-Control": "no-cache"}
_FORMATS = (("xml", "xml"), ("json", "json"), ("text/plain", "text"))


def format_of(mimetype: str) -> str | None:
    value = mimetype.lower()
    for marker, fmt in _FORMATS:
        if marker in value:
            return fmt
    return None


def negotiate(accept: MIMEAccept, content_type: str) -> str:
    """``json``, ``xml`` or ``text``: ``Accept`` by quality (``application/json, application/xml;q=0.5``
    is JSON), else the request's ``Content-Type``, else JSON."""
    for mimetype, quality in accept:  # werkzeug sorts these by quality
        fmt = format_of(mimetype) if quality > 0 else None
        if fmt:
            return fmt
    return format_of(content_type) or "json"


def render(body: Any, fmt: str) -> tuple[bytes, str]:
    """The body in ``fmt``, and its Content-Type; plain text keeps strings as they are."""
    if fmt == "xml":
        return to_xml(body), "application/xml; charset=utf-8"
    if fmt == "text" and isinstance(body, str):
        return body.encode("utf-8"), "text/plain; charset=utf-8"
    ctype = "text/plain; charset=utf-8" if fmt == "text" else "application/json; charset=utf-8"
    return json.dumps(body, ensure_ascii=False).encode("utf-8"), ctype


def bearer_token(headers: Headers) -> str | None:
    for name in ("Authorization", "Authentication"):
        value = headers.get(name, "") or ""
        if value[:7].lower() == "bearer ":
            return value[7:].strip()
    return None


def param(header: str, *url_names: str) -> str | None:
    """The request's value from its header, else from the first of its URL parameters that is present
    (flowize-api.txt: "If we are using URL Communication we need to pass the variables by GET")."""
    value = request.headers.get(header)
    if value is None:
        for name in url_names:
            if name in request.args:
                return request.args[name]
    return value


def response(data: bytes, ctype: str, status: int, *, method: str, if_none_match: ETags,
             headers: dict[str, str] | None = None) -> Response:
    """The HTTP response, with the vendor's ETag (MD5 of the body) on a GET's 200 and 304 with an empty
    body when ``If-None-Match`` already holds it (the doc's ETag section)."""
    resp = Response(data, status=status, content_type=ctype)
    resp.headers.update(NO_CACHE)
    if headers:
        resp.headers.update(headers)
    if method in ("GET", "HEAD") and status == 200:
        etag = hashlib.md5(data).hexdigest()
        resp.set_etag(etag)
        if etag in if_none_match:
            not_modified = Response(b"", status=304, content_type=ctype)
            not_modified.headers.update(NO_CACHE)
            not_modified.set_etag(etag)
            not_modified.headers["Content-Length"] = "0"
            return not_modified
    return resp
