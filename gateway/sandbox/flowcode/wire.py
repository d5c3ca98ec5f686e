"""How the Flowcode sandbox speaks: the ``apikey`` header, JSON bodies and the error shape.

flowcode-bulk-codes.txt shows no error body; its client only does ``raise Exception(response.text)``
and its status endpoint answers ``{"status", "message"}``. Errors here are therefore
``{"message": "...", "errors": [{"field": "...", "message": "..."}]}`` (``errors`` only for
validation), see docs/vendors.md.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass
from typing import Any

from flask import Response, request

from gateway.sandbox.context import sandbox

__all__ = [
    "REASONS",
    "Account",
    "FlowcodeError",
    "authenticate",
    "error_payload",
    "error_response",
    "json_body",
    "knob",
    "respond",
]

REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large", 415: "Unsupported Media Type",
           429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}


class FlowcodeError(Exception):
    def __init__(self, status: int, message: str, errors: list[dict[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors


@dataclass(frozen=True)
class Account:
    id: int


def error_payload(message: str, errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"message": message}
    if errors:
        body["errors"] = errors
    return body


def respond(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def error_response(err: FlowcodeError) -> Response:
    return respond(error_payload(err.message, err.errors), err.status)


def authenticate() -> Account:
    """The ``apikey`` header of the doc's examples (``headers = {"apikey": ...}``)."""
    key = request.headers.get("apikey", "")
    if not key:
        raise FlowcodeError(401, "The apikey header is required.")
    for row in sandbox().db.all("SELECT id, api_key FROM fc_accounts"):
        if hmac.compare_digest(row["api_key"].encode(), key.encode()):
            return Account(row["id"])
    raise FlowcodeError(401, "The apikey is not valid.")


def json_body() -> Any:
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise FlowcodeError(400, "The request body is empty; send JSON.")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise FlowcodeError(400, "The request body is not valid JSON.") from None


def knob(name: str) -> float:
    """A sandbox knob kept in the database, so /_sandbox/reset puts the default back."""
    row = sandbox().db.one("SELECT value FROM fc_knobs WHERE name = ?", (name,))
    return float(row["value"]) if row else 0.0
