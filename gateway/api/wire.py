"""Reading request bodies and writing answers, the same way on every facade route."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask import Response, current_app, request

from gateway.errors import InvalidRequest, PayloadTooLarge, ValidationFailed
from gateway.safejson import loads as safe_loads

__all__ = ["json_object", "respond"]


def json_object() -> Mapping[str, Any]:
    """The body as a JSON object: 415 problem for another media type, 400 for broken JSON (too deep,
    NaN or Infinity included: gateway/safejson.py), 413 over ``json_max_body_bytes``, 422 for JSON
    that is not an object."""
    ctype = request.mimetype or ""
    if ctype != "application/json" and not ctype.endswith("+json"):
        err = InvalidRequest("Send the body as application/json.")
        err.status, err.problem_code = 415, "unsupported_media_type"
        raise err
    settings = current_app.extensions["flowgate"].settings
    try:
        body = safe_loads(request.get_data(cache=True) or b"null", max_depth=settings.json_max_depth,
                          max_bytes=settings.json_max_body_bytes, invalid="The body is not valid JSON.")
    except PayloadTooLarge:
        raise
    except InvalidRequest as err:
        err.problem_code = "invalid_json"
        raise
    if not isinstance(body, Mapping):
        raise ValidationFailed("The body must be a JSON object.", errors=[{"field": "", "reason": "not an object"}])
    return body


def respond(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    resp = Response(json.dumps(body), status=status, content_type="application/json")
    if headers:
        resp.headers.update(headers)
    return resp
