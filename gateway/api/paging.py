"""One list shape for the whole facade: ``?limit=&cursor=`` -> ``{"items": [...], "next_cursor": ...}``.

A cursor is opaque to the consumer: the position (an offset, a job id, or a vendor's own cursor)
signed with the gateway's key, so a consumer can neither read a vendor's cursor nor forge one, and
any gateway process sharing the key (``GATEWAY_API_SECRET_KEY``) accepts it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer

from gateway.errors import InvalidRequest

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "decode_cursor", "encode_cursor", "page_args", "page_body"]

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def _serializer() -> URLSafeSerializer:
    settings = current_app.extensions["flowgate"].settings
    secret = settings.api_secret_key or hashlib.sha256(
        ("flowgate-cursor:" + settings.effective_database_url).encode()).hexdigest()
    return URLSafeSerializer(secret, salt="flowgate.api.cursor")


def encode_cursor(state: Any) -> str:
    return str(_serializer().dumps(state))


def decode_cursor(text: str) -> Any:
    try:
        return _serializer().loads(text)
    except BadSignature:
        err = InvalidRequest("The cursor is not one this gateway handed out; start again without it.")
        err.problem_code = "invalid_cursor"
        raise err from None


def page_args(*, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> tuple[int, Any]:
    """(limit, decoded cursor state or None) from the query string."""
    raw = request.args.get("limit")
    limit = default
    if raw is not None:
        if not raw.isdigit() or not 1 <= int(raw) <= maximum:
            err = InvalidRequest(f"limit must be a whole number from 1 to {maximum}.")
            err.problem_code = "invalid_limit"
            raise err
        limit = int(raw)
    cursor = request.args.get("cursor")
    return limit, (decode_cursor(cursor) if cursor else None)


def page_body(items: list[Any], next_state: Any, *, key: str = "items") -> dict[str, Any]:
    return {key: items, "next_cursor": encode_cursor(next_state) if next_state is not None else None}
