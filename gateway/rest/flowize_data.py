"""The Flowize REST surface on the gateway, part 2: Keystore and Tables (flowize-api.txt, "Keystore",
"Tables"). These answer with the stored data itself, not the ``resource``/``message`` envelope, in
JSON, XML or (keystore) plain text as the request's ``Accept`` / ``Content-Type`` ask.

Keystore writes with a ``text/*`` Content-Type store raw text, anything else JSON (or XML mapped to
JSON), as the vendor does (docs/flowize-decisions.md, "Keystore and tables").
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from gateway.errors import InvalidRequest
from gateway.rest.auth import upstream
from gateway.rest.flowize import render_outcome
from gateway.rest.negotiation import read_body

__all__ = ["bp"]

bp = Blueprint("rest_flowize_data", __name__)


# -- Keystore ----------------------------------------------------------------------------------------
def _keystore_payload() -> tuple[Any, bool]:
    """(data, raw_text): the body as text for ``text/*``, else parsed JSON/XML."""
    if (request.content_type or "").lower().startswith("text/"):
        try:
            return request.get_data(cache=True).decode("utf-8"), True
        except UnicodeDecodeError:
            raise InvalidRequest("The raw keystore data must be UTF-8 text.") from None
    try:
        return read_body(), False
    except InvalidRequest as err:
        raise InvalidRequest(f"{err.message} Send Content-Type: text/plain to store raw text.") from None


@bp.get("/v1/keystore/<keystore_id>/<keystore_key>")
def keystore_get(keystore_id: str, keystore_key: str) -> Response:
    ops, creds = upstream()
    return render_outcome(ops.keystore_get(creds, keystore_id, keystore_key))


@bp.post("/v1/keystore/<keystore_id>/<keystore_key>")
def keystore_insert(keystore_id: str, keystore_key: str) -> Response:
    """Insert only: an existing key is 409."""
    ops, creds = upstream()
    data, raw = _keystore_payload()
    return render_outcome(ops.keystore_put(creds, keystore_id, keystore_key, data, only_new=True, raw_text=raw))


@bp.put("/v1/keystore/<keystore_id>/<keystore_key>")
def keystore_put(keystore_id: str, keystore_key: str) -> Response:
    ops, creds = upstream()
    data, raw = _keystore_payload()
    return render_outcome(ops.keystore_put(creds, keystore_id, keystore_key, data, raw_text=raw))


@bp.delete("/v1/keystore/<keystore_id>/<keystore_key>")
def keystore_delete(keystore_id: str, keystore_key: str) -> Response:
    ops, creds = upstream()
    return render_outcome(ops.keystore_delete(creds, keystore_id, keystore_key))


@bp.post("/v1/keystore/<keystore_id>")
def keystore_search(keystore_id: str) -> Response:
    """POST /v1/keystore/{keystore_id}: select / where; no body selects every key."""
    ops, creds = upstream()
    body = read_body(required=False)
    return render_outcome(ops.keystore_search(creds, keystore_id, {} if body is None else body))


# -- Tables ------------------------------------------------------------------------------------------
@bp.get("/v1/tables/<table_name>/<row_id>")
def table_get(table_name: str, row_id: str) -> Response:
    ops, creds = upstream()
    return render_outcome(ops.table_get(creds, table_name, row_id))


@bp.post("/v1/tables/<table_name>/search")
def table_search(table_name: str) -> Response:
    ops, creds = upstream()
    body = read_body(required=False)
    return render_outcome(ops.table_search(creds, table_name, {} if body is None else body))


# Without an id, with or without the trailing slash: separate endpoints rather than ``defaults``, so
# Werkzeug answers both forms directly instead of redirecting one to the other (308).
@bp.post("/v1/tables/<table_name>", endpoint="table_insert_noslash")
@bp.post("/v1/tables/<table_name>/", endpoint="table_insert_slash")
@bp.post("/v1/tables/<table_name>/<row_id>")
def table_insert(table_name: str, row_id: str | None = None) -> Response:
    """A flat row on .../{table_name}/, or ``columns`` on .../{table_name}/{id} ("alternative way")."""
    ops, creds = upstream()
    return render_outcome(ops.table_insert(creds, table_name, read_body(), row_id))


@bp.put("/v1/tables/<table_name>", endpoint="table_update_noslash")
@bp.put("/v1/tables/<table_name>/", endpoint="table_update_slash")
@bp.put("/v1/tables/<table_name>/<row_id>")
def table_update(table_name: str, row_id: str | None = None) -> Response:
    ops, creds = upstream()
    return render_outcome(ops.table_update(creds, table_name, row_id, read_body()))


@bp.delete("/v1/tables/<table_name>/<row_id>")
def table_delete(table_name: str, row_id: str) -> Response:
    ops, creds = upstream()
    return render_outcome(ops.table_delete(creds, table_name, row_id))
