"""Reading request bodies and writing answers, the same way on every facade route."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Response, request

from gateway.errors import InvalidRequest, ValidationFailed

__all__ = ["json_object", "respond"]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_object() -> Mapping[str, Any]:
    """The body as a JSON object: 415 problem for another media type, 400 for broken JSON, 422 for
    JSON that is not an object."""
    ctype = request.mimetype or ""
    if ctype != "application/json" and not ctype.endswith("+json"):
        err = InvalidRequest("Send the body as application/json.")
        err.status, err.problem_code = 415, "unsupported_media_type"
        raise err
    try:
        body = json.loads(request.get_data(cache=True) or b"null", parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        err = InvalidRequest("The body is not valid JSON.")
        err.problem_code = "invalid_json"
        raise err from None
    if not isinstance(body, Mapping):
        raise ValidationFailed("The body must be a JSON object.", errors=[{"field": "", "reason": "not an object"}])
    return body


def respond(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    resp = Response(json.dumps(body), status=status, content_type="application/json")
    if headers:
        resp.headers.update(headers)
    return resp
