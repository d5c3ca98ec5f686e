"""Flowize "Data Schema": POST, GET, PUT, DELETE /v1/schema (one schema per customer, base64 fields)."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from flask import Blueprint

from gateway.sandbox.context import sandbox
from gateway.sandbox.flowize.auth import authenticate
from gateway.sandbox.flowize.wire import FlowizeError, json_body, respond
from gateway.sandbox.state import now_str

bp = Blueprint("flowize_schema", __name__)

WRITE_SCOPES = ("schema",)
READ_SCOPES = ("schema", "schema.read")


def _decode_json_b64(value: Any, field: str) -> None:
    """The doc: schema and data_record "have to be encoded in Base 64"; we also check they hold JSON."""
    if not isinstance(value, str) or not value.strip():
        raise FlowizeError(400, f"The parameter '{field}' is required (base64 encoded JSON).")
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise FlowizeError(400, f"The parameter '{field}' is not valid base64.") from None
    try:
        json.loads(decoded)
    except (ValueError, UnicodeDecodeError):
        raise FlowizeError(400, f"The parameter '{field}' does not hold JSON once decoded.") from None


def _payload() -> tuple[str, str, str]:
    body = json_body()
    if not isinstance(body, dict):
        raise FlowizeError(400, "The payload must be a JSON object with schema, data_record and url.")
    _decode_json_b64(body.get("schema"), "schema")
    _decode_json_b64(body.get("data_record"), "data_record")
    url = body.get("url") or ""
    if not isinstance(url, str):
        raise FlowizeError(400, "The parameter 'url' must be a string.")
    return body["schema"], body["data_record"], url


def _current(customer_id: int):
    row = sandbox().db.one("SELECT * FROM fz_schemas WHERE customer_id = ?", (customer_id,))
    if row is None:
        raise FlowizeError(404, "The customer has no Data Schema.")
    return row


@bp.post("/v1/schema")
def insert_schema():
    caller = authenticate(WRITE_SCOPES)
    schema, data_record, url = _payload()
    stamp = now_str()
    db = sandbox().db
    if db.one("SELECT 1 FROM fz_schemas WHERE customer_id = ?", (caller.customer_id,)):
        raise FlowizeError(409, "The customer already has a Data Schema; use PUT to update it.")
    db.execute("INSERT INTO fz_schemas VALUES (?, ?, ?, ?, ?, ?)",
               (caller.customer_id, url, schema, data_record, stamp, stamp))
    return respond({"resource": {"creation_date": stamp, "modified_date": stamp},
                    "message": "Schema structure is created successfully"}, 201)


@bp.get("/v1/schema")
def get_schema():
    caller = authenticate(READ_SCOPES)
    row = _current(caller.customer_id)
    customer = sandbox().db.one("SELECT name FROM fz_customers WHERE id = ?", (caller.customer_id,))
    return respond({"resource": {"url": row["url"], "schema": row["schema"], "creation_date": row["creation_date"],
                                 "modified_date": row["modified_date"], "customer": customer["name"]},
                    "message": "Schema structure is retrieving successfully"})


@bp.put("/v1/schema")
def update_schema():
    caller = authenticate(WRITE_SCOPES)
    schema, data_record, url = _payload()
    row = _current(caller.customer_id)
    stamp = now_str()
    sandbox().db.execute("UPDATE fz_schemas SET url = ?, schema = ?, data_record = ?, modified_date = ? "
                         "WHERE customer_id = ?", (url, schema, data_record, stamp, caller.customer_id))
    # The doc answers 201 to an update; kept (decisions: "schema update status").
    return respond({"resource": {"creation_date": row["creation_date"], "modified_date": stamp},
                    "message": "Schema structure is updated successfully"}, 201)


@bp.delete("/v1/schema")
def delete_schema():
    caller = authenticate(WRITE_SCOPES + ("schema.delete",))
    _current(caller.customer_id)
    sandbox().db.execute("DELETE FROM fz_schemas WHERE customer_id = ?", (caller.customer_id,))
    return respond({"resource": {}, "message": "Schema has been removed successfully"})
