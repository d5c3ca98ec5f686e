"""Flowize "Data Record": POST, GET, PUT, DELETE /v1/record, with X-Flow, X-Uuid, X-Executiontime.

Each value may come as a header (``X-Uuid``), a URL parameter (``uuid``, "URL authorization") or,
for the ``/v1/record/:id`` row of the endpoint table, the path. Search, changestatus and movetoflow
live in ``queue.py``.
"""

from __future__ import annotations

import json
import uuid as uuidlib
from datetime import datetime
from typing import Any

from flask import Blueprint, request

from gateway.flowize_wire import param
from gateway.sandbox.context import sandbox
from gateway.sandbox.flowize.auth import Caller, authenticate
from gateway.sandbox.flowize.wire import FlowizeError, json_body, respond
from gateway.sandbox.state import now_str

bp = Blueprint("flowize_records", __name__)

WRITE_SCOPES = ("record",)
READ_SCOPES = ("record", "record.read")
DELETE_SCOPES = ("record", "record.delete")

# Data record status, as the search section lists them.
STATUS_NAMES = {0: "Not running", 1: "Processing", 2: "Finished", 3: "Finished with errors",
                4: "Scheduled", 5: "Reviewed", 6: "Errors handled"}


def record_uuid(path_uuid: str | None, *, required: bool = True) -> str | None:
    # The delete example sends a bare ``uuid`` header; accept it everywhere.
    value = path_uuid or param("X-Uuid", "uuid") or request.headers.get("uuid")
    if required and not value:
        raise FlowizeError(400, "The record identifier is required (X-Uuid header or uuid parameter).")
    return value


def find_flow(customer_id: int, name: str | None = None, flow_id: str | None = None):
    db = sandbox().db
    row = None
    if flow_id:
        if not str(flow_id).isdigit():
            raise FlowizeError(400, "The flow id must be a number.")
        row = db.one("SELECT * FROM fz_flows WHERE id = ? AND customer_id = ?", (int(flow_id), customer_id))
    elif name:
        row = db.one("SELECT * FROM fz_flows WHERE name = ? AND customer_id = ?", (name, customer_id))
    else:
        raise FlowizeError(400, "The flow is required (X-Flow header or flow_name parameter).")
    if row is None:
        raise FlowizeError(404, f"The flow '{flow_id or name}' doesn't exist.")
    return row


def find_record(customer_id: int, record_id: str | None):
    row = sandbox().db.one("SELECT r.*, f.name AS flow_name FROM fz_records r JOIN fz_flows f ON f.id = r.flow_id "
                           "WHERE r.customer_id = ? AND r.uuid = ?", (customer_id, record_id))
    if row is None:
        raise FlowizeError(404, "The data record doesn't exist.")
    return row


def parse_atom(value: str) -> str:
    """``X-Executiontime``: empty means run now; else an ATOM date such as 2005-08-15T15:52:01+00:00."""
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    # ATOM is a full date-time with an offset; Python would also take a bare date or a naive time.
    if moment is None or "T" not in text.upper() or moment.tzinfo is None:
        raise FlowizeError(400, f"X-Executiontime must be an ATOM date (2005-08-15T15:52:01+00:00), got '{value}'.")
    return moment.isoformat()


def run_state(flow_status: str, execution_time: str) -> dict[str, Any]:
    """What the emulated engine does with a new record: runs at once, waits, or is scheduled."""
    stamp = now_str()
    if execution_time:
        return {"flow_status": 4, "queue_status": "4", "date_next_run": execution_time}
    if flow_status != "running":
        return {"flow_status": 0, "queue_status": "0"}
    return {"flow_status": 2, "queue_status": "", "date_started": stamp, "date_last_run": stamp, "num_runs": 1}


def insert(caller: Caller, flow, data: Any, record_id: str | None, execution_time: str) -> Any:
    record_id = record_id or str(uuidlib.uuid4())
    state = run_state(flow["status"], execution_time)
    columns = {"customer_id": caller.customer_id, "uuid": record_id, "flow_id": flow["id"],
               "flow_version": flow["version"], "data": json.dumps(data), "date_created": now_str(), **state}
    db = sandbox().db
    with db.transaction() as conn:
        if conn.execute("SELECT 1 FROM fz_records WHERE customer_id = ? AND uuid = ?",
                        (caller.customer_id, record_id)).fetchone():
            raise FlowizeError(409, f"A data record with uuid '{record_id}' already exists.")
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        cur = conn.execute(f"INSERT INTO fz_records ({names}) VALUES ({marks})", tuple(columns.values()))
    return cur.lastrowid, record_id


@bp.post("/v1/record")
def insert_record():
    caller = authenticate(WRITE_SCOPES)
    flow = find_flow(caller.customer_id, param("X-Flow", "flow_name"), param("X-Flow-Id", "flow_id"))
    execution = param("X-Executiontime", "executiontime", "realtime") or ""
    execution = parse_atom(execution) if execution.strip() else ""
    data = json_body()
    row_id, record_id = insert(caller, flow, data, param("X-Uuid", "uuid"), execution)
    return respond({"resource": {"flow_id": str(flow["id"]), "flow_name": flow["name"], "data_record_id": str(row_id),
                                 "uuid": record_id, "data_record": data},
                    "message": "Data Record is created successfully"}, 201)


@bp.get("/v1/record")
@bp.get("/v1/record/<path_uuid>")
def get_record(path_uuid: str | None = None):
    caller = authenticate(READ_SCOPES)
    row = find_record(caller.customer_id, record_uuid(path_uuid))
    return respond({"resource": {
        "info": {"uuid": row["uuid"], "customer_id": str(row["customer_id"]), "flow_id": str(row["flow_id"]),
                 "date_created": row["date_created"], "status": STATUS_NAMES[row["flow_status"]]},
        "data_record": json.loads(row["data"]),
        "flow_process": {"date_started": row["date_started"], "date_last_run": row["date_last_run"]},
        "flow_objects_info": [],
    }, "message": "Data Record structure was retrieving successfully"})


@bp.put("/v1/record")
@bp.put("/v1/record/<path_uuid>")
def update_record(path_uuid: str | None = None):
    caller = authenticate(WRITE_SCOPES)
    row = find_record(caller.customer_id, record_uuid(path_uuid))
    data = json_body()
    sandbox().db.execute("UPDATE fz_records SET data = ? WHERE id = ?", (json.dumps(data), row["id"]))
    return respond({"resource": {"flow_name": row["flow_name"], "customer_id": str(caller.customer_id),
                                 "uuid": row["uuid"], "data_record": data},
                    "message": "Data Record was updated successfully"})


@bp.delete("/v1/record")
@bp.delete("/v1/record/<path_uuid>")
def delete_record(path_uuid: str | None = None):
    caller = authenticate(DELETE_SCOPES)
    row = find_record(caller.customer_id, record_uuid(path_uuid))
    if row["flow_status"] == 1:
        raise FlowizeError(403, "Data record cannot be deleted: it is being used")
    sandbox().db.execute("DELETE FROM fz_records WHERE id = ?", (row["id"],))
    return respond({"resource": {"flow_name": row["flow_name"], "uuid": row["uuid"]},
                    "message": "Data Record was removed successfully"})
