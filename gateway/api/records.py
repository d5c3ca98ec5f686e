"""``/api/records`` and ``/api/flows``: Flowize data records and flows in the facade's style
(docs/api-records.md).

Parse and render only: the body's values go to :class:`gateway.operations.records.RecordsOperations`
as they came (it checks them, picks the Flowize credentials and calls the vendor). Every route needs
the ``records`` scope; the consumer never sends or sees a Flowize credential.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from flask import Blueprint, Response, current_app, url_for

from gateway.api.auth import require_scope
from gateway.api.wire import json_object, respond
from gateway.operations.records import Flow, Record, RecordsOperations

__all__ = ["bp", "flow_json", "record_json"]

bp = Blueprint("records", __name__)

SCOPE = "records"


def _ops() -> RecordsOperations:
    return current_app.extensions["flowgate"].records


def record_json(record: Record) -> dict[str, Any]:
    """``uuid`` and ``data`` always; the rest only when the vendor told it."""
    out = {key: value for key, value in asdict(record).items() if value is not None}
    out.setdefault("data", None)
    return out


def flow_json(flow: Flow) -> dict[str, Any]:
    return {key: value for key, value in asdict(flow).items() if value is not None}


@bp.post("/records")
def create_record() -> Response:
    who = require_scope(SCOPE)
    body = json_object()
    record = _ops().create(who.consumer, body.get("flow"), body.get("data"), body.get("uuid"),
                           body.get("execution_time"))
    return respond(record_json(record), 201, {"Location": url_for("api.records.get_record", uuid=record.uuid)})


@bp.get("/records/<uuid>")
def get_record(uuid: str) -> Response:
    who = require_scope(SCOPE)
    return respond(record_json(_ops().get(who.consumer, uuid)))


@bp.put("/records/<uuid>")
def update_record(uuid: str) -> Response:
    who = require_scope(SCOPE)
    body = json_object()
    return respond(record_json(_ops().update(who.consumer, uuid, body.get("data"), body.get("uuid"))))


@bp.delete("/records/<uuid>")
def delete_record(uuid: str) -> Response:
    who = require_scope(SCOPE)
    _ops().delete(who.consumer, uuid)
    return Response(status=204)


@bp.get("/flows/<name>")
def get_flow(name: str) -> Response:
    who = require_scope(SCOPE)
    return respond(flow_json(_ops().flow(who.consumer, name)))


@bp.put("/flows/<name>/status")
def change_flow_status(name: str) -> Response:
    who = require_scope(SCOPE)
    body = json_object()
    return respond(flow_json(_ops().change_flow_status(who.consumer, name, body.get("status"))))
