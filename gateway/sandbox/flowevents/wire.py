"""How the Flow events sandbox speaks: errors, the ``api-secret`` check, JSON and CSV bodies.

flow-events-api.txt documents no error body and no encoding for its CSV reports, so both are
decisions (docs/vendors.md):

* errors: ``{"status": 401, "error": "invalid_api_secret", "message": "..."}``, JSON, always;
* CSV: RFC 4180 (``\\r\\n`` rows, minimal quoting, embedded newlines kept inside quotes), UTF-8
  without BOM and ``text/csv; charset=utf-8`` by default. A session may be stored with another
  encoding (``utf-8-sig``, ``latin-1``, ``cp1252``) and the sandbox-only query knob ``_encoding``
  overrides it per request; those variants are sent as bare ``text/csv``, no charset, like the
  spreadsheet-era exports a connector has to survive.
"""

from __future__ import annotations

import csv
import hmac
import io
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from flask import Response, jsonify, request

__all__ = [
    "ENCODINGS",
    "EventsError",
    "check_secret",
    "csv_response",
    "error_body",
    "error_response",
    "iso",
    "parse_iso",
    "utcnow",
]

REASONS = {
    400: "bad_request", 401: "invalid_api_secret", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 415: "unsupported_media_type", 429: "too_many_requests",
    500: "server_error", 502: "bad_gateway", 503: "service_unavailable", 504: "gateway_timeout",
}
MESSAGES = {
    400: "The request is malformed.", 401: "A valid api-secret header is required.",
    404: "The requested resource was not found.", 405: "Method not allowed.",
    429: "Too many requests, slow down.", 500: "Internal server error.", 502: "Bad gateway.",
    503: "Service temporarily unavailable.", 504: "Gateway timeout.",
}
ENCODINGS = ("utf-8", "utf-8-sig", "latin-1", "cp1252")


class EventsError(Exception):
    """An error answered in the vendor's shape; ``error`` is a stable slug, ``message`` for humans."""

    def __init__(self, status: int, message: str | None = None, error: str | None = None,
                 headers: dict[str, str] | None = None):
        self.status = status
        self.error = error or REASONS.get(status, "error")
        self.message = message or MESSAGES.get(status, "Error.")
        self.headers = headers or {}
        super().__init__(self.message)


def error_body(status: int, message: str | None = None, error: str | None = None) -> dict[str, Any]:
    return {"status": status, "error": error or REASONS.get(status, "error"),
            "message": message or MESSAGES.get(status, "Error.")}


def error_response(err: EventsError) -> Response:
    resp = jsonify(error_body(err.status, err.message, err.error))
    resp.status_code = err.status
    resp.headers.update(err.headers)
    return resp


def check_secret(expected: str, *, optional: bool = False) -> str | None:
    """The ``api-secret`` header, checked in constant time; the secret never appears in a message."""
    given = request.headers.get("api-secret")
    if given is None or given == "":
        if optional:
            return None
        raise EventsError(401, "The api-secret header is missing.", "missing_api_secret")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise EventsError(401, "The api-secret is not valid.", "invalid_api_secret")
    return given


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(value: datetime) -> str:
    """JSON timestamps: ISO 8601 in UTC with ``Z`` (``2024-05-14T15:00:00Z``)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sheet_time(value: str | None) -> str:
    """CSV timestamps: ``2024-05-14 15:00:00`` in UTC, what spreadsheet exports look like."""
    if not value:
        return ""
    return parse_iso(value).strftime("%Y-%m-%d %H:%M:%S")


def parse_iso(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def csv_response(header: Sequence[str], rows: Iterable[Sequence[Any]], *, encoding: str,
                 filename: str) -> Response:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if value is None else value for value in row])
    # Characters the legacy encodings cannot hold become "?", as the vendor's old exports do.
    data = buffer.getvalue().encode(encoding, errors="replace")
    ctype = "text/csv; charset=utf-8" if encoding == "utf-8" else "text/csv"
    resp = Response(data, status=200, content_type=ctype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return resp
