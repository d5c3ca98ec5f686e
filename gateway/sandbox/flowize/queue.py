"""Flowize record search and queue actions: /v1/record/search, /changestatus, /movetoflow.

The endpoint table says ``PUT /v1/record/search``; its own section says ``GET`` (curl ``-G`` with
``-d`` query parameters). Both are accepted, and POST too (decisions: "record search method").
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, request

from gateway.sandbox.context import sandbox
from gateway.sandbox.flowize.auth import authenticate
from gateway.sandbox.flowize.records import READ_SCOPES, STATUS_NAMES, WRITE_SCOPES, find_flow
from gateway.sandbox.flowize.wire import FlowizeError, envelope, json_body, respond
from gateway.sandbox.state import now_str

bp = Blueprint("flowize_queue", __name__)

MAX_LIMIT = 1000
DATE_TYPES = ("date_created", "date_started", "date_last_run")
# Header name -> URL parameter name, as the search section lists them.
SEARCH_FIELDS = {"X-Limit": "limit", "X-Offset": "offset", "X-Uuid": "uuid", "X-Flow": "flow_name",
                 "X-Datarecord-Status": "datarecord_status", "X-Datafield-Name": "datafield_name",
                 "X-Datafield-Value": "datafield_value"}
QUEUE_ACTIONS = {
    # action: (queue_status, queue_status_key, flow_status or None to keep, message verb)
    "pause-queue": ("1", "Paused", 0, "paused"),
    "resume-queue": ("0", "New", 0, "resumed"),
    "execute-queue": ("", "Executed", 2, "executed"),
    "delete-from-queue": ("", "Removed", None, "removed from the queue"),
    "resume-and-continue": ("0", "New", 0, "resumed from error status"),
}


def _search_params() -> dict[str, str]:
    """Headers win: "If Header parameters are present, URL parameters will be omitted." Dates have no
    header form, so they are always read from the URL (or a JSON body on PUT/POST)."""
    body = json_body(required=False) if request.method in ("PUT", "POST") else None
    url = dict(request.args)
    if isinstance(body, dict):
        url.update({k: str(v) for k, v in body.items() if v is not None})
    from_headers = {param: request.headers[h] for h, param in SEARCH_FIELDS.items() if h in request.headers}
    params = from_headers if from_headers else {p: url[p] for p in SEARCH_FIELDS.values() if p in url}
    for name in ("date_type", "date_from", "date_to"):
        if name in url:
            params[name] = url[name]
    return params


def _int(params: dict[str, str], name: str, default: int, low: int = 0, high: int | None = None) -> int:
    raw = params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise FlowizeError(400, f"'{name}' must be an integer, got '{raw}'.") from None
    if value < low or (high is not None and value > high):
        raise FlowizeError(400, f"'{name}' must be between {low} and {high if high is not None else 'any'}.")
    return value


def parse_date(value: str) -> datetime:
    """Both documented formats (31-12-2017 12:00:00 and 2017-12-31 24:00:00) and a bare date;
    ``24:00:00`` is the end of that day."""
    text = value.strip()
    end_of_day = text.endswith("24:00:00")
    if end_of_day:
        text = text[:-8] + "00:00:00"
    for fmt in ("%d-%m-%Y %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%d-%m-%Y", "%Y-%m-%dT%H:%M:%S"):
        try:
            moment = datetime.strptime(text, fmt)
            return moment + timedelta(days=1) if end_of_day else moment
        except ValueError:
            continue
    raise FlowizeError(400, f"Unrecognised date '{value}': use 2017-12-31 23:59:59 or 31-12-2017 23:59:59.")


def _has_field(data: Any, name: str, value: str | None) -> bool:
    if isinstance(data, dict):
        for key, child in data.items():
            if key == name and (value is None or (not isinstance(child, (dict, list)) and str(child) == value)):
                return True
            if _has_field(child, name, value):
                return True
    elif isinstance(data, list):
        return any(_has_field(item, name, value) for item in data)
    return False


def _record_row(row) -> dict[str, Any]:
    step = {"type": "end", "text": "end"} if row["flow_status"] in (2, 3) else {"type": "start", "text": "start"}
    return {"id": str(row["id"]), "uuid": row["uuid"], "flow_id": str(row["flow_id"]), "flow_name": row["flow_name"],
            "flow_version": str(row["flow_version"]), "date_created": row["date_created"],
            "date_started": row["date_started"], "date_last_run": row["date_last_run"],
            "date_next_run": row["date_next_run"], "queue_status": row["queue_status"], "dynamic_value": "",
            "current_step": step, "num_runs": str(row["num_runs"]), "flow_status": str(row["flow_status"]),
            "flow_status_name": STATUS_NAMES[row["flow_status"]]}


@bp.route("/v1/record/search", methods=["GET", "PUT", "POST"])
def search_records():
    caller = authenticate(READ_SCOPES)
    params = _search_params()
    limit = _int(params, "limit", 10, 1, MAX_LIMIT)
    offset = _int(params, "offset", 0)
    sql = ("SELECT r.*, f.name AS flow_name FROM fz_records r JOIN fz_flows f ON f.id = r.flow_id "
           "WHERE r.customer_id = ?")
    args: list[Any] = [caller.customer_id]
    if params.get("uuid"):
        sql += " AND r.uuid = ?"
        args.append(params["uuid"])
    if params.get("flow_name"):
        sql += " AND f.name = ?"
        args.append(params["flow_name"])
    if params.get("datarecord_status", "") != "":
        sql += " AND r.flow_status = ?"
        args.append(_int(params, "datarecord_status", 0, 0, 6))
    date_type = params.get("date_type")
    if params.get("date_from") or params.get("date_to"):
        date_type = date_type or "date_created"
    if date_type:
        if date_type not in DATE_TYPES:
            raise FlowizeError(400, f"date_type must be one of {', '.join(DATE_TYPES)}.")
        if params.get("date_from"):
            sql += f" AND r.{date_type} != '' AND r.{date_type} >= ?"
            args.append(parse_date(params["date_from"]).strftime("%Y-%m-%d %H:%M:%S"))
        if params.get("date_to"):
            sql += f" AND r.{date_type} != '' AND r.{date_type} < ?" if params["date_to"].strip().endswith("24:00:00") \
                else f" AND r.{date_type} != '' AND r.{date_type} <= ?"
            args.append(parse_date(params["date_to"]).strftime("%Y-%m-%d %H:%M:%S"))
    rows = sandbox().db.all(sql + " ORDER BY r.id DESC", args)
    name, value = params.get("datafield_name"), params.get("datafield_value")
    if name:
        rows = [r for r in rows if _has_field(json.loads(r["data"]), name, value)]
    elif value:
        raise FlowizeError(400, "datafield_value needs datafield_name.")
    page = rows[offset:offset + limit]
    return respond(envelope({"records": [_record_row(r) for r in page], "total": len(rows),
                             "offset": offset, "limit": limit}, "The query has been executed successfully."))


def _uuids_from_request(header: str, required: bool) -> list[str]:
    raw = request.headers.get(header)
    if raw:
        return [u.strip() for u in raw.split(",") if u.strip()]
    body = json_body(required=False)
    if body is None and not required:
        return []
    if not isinstance(body, list) or not all(isinstance(u, str) and u for u in body):
        raise FlowizeError(400, "The payload must be a JSON array of record UUIDs.")
    return body


def _records_by_uuid(customer_id: int, uuids: list[str]):
    if not uuids:
        raise FlowizeError(400, "No record UUIDs given.")
    marks = ",".join("?" for _ in uuids)
    rows = sandbox().db.all(f"SELECT * FROM fz_records WHERE customer_id = ? AND uuid IN ({marks})",
                            [customer_id, *uuids])
    found = {r["uuid"] for r in rows}
    missing = [u for u in uuids if u not in found]
    if missing:
        raise FlowizeError(404, f"Unknown data record(s): {', '.join(missing)}.")
    return rows


@bp.put("/v1/record/changestatus")
def change_status():
    caller = authenticate(WRITE_SCOPES)
    action = request.headers.get("X-Queue-Status", "")
    if action not in QUEUE_ACTIONS:
        raise FlowizeError(400, f"X-Queue-Status must be one of {', '.join(QUEUE_ACTIONS)}.")
    rows = _records_by_uuid(caller.customer_id, _uuids_from_request("X-Queue-Uuids", required=True))
    queue_status, key, flow_status, verb = QUEUE_ACTIONS[action]
    stamp = now_str()
    with sandbox().db.transaction() as conn:
        for row in rows:
            if action == "execute-queue":
                conn.execute("UPDATE fz_records SET queue_status = ?, flow_status = 2, num_runs = num_runs + 1, "
                             "date_last_run = ?, date_started = CASE WHEN date_started = '' THEN ? ELSE date_started END "
                             "WHERE id = ?", (queue_status, stamp, stamp, row["id"]))
            elif flow_status is None:
                conn.execute("UPDATE fz_records SET queue_status = ? WHERE id = ?", (queue_status, row["id"]))
            else:
                conn.execute("UPDATE fz_records SET queue_status = ?, flow_status = ? WHERE id = ?",
                             (queue_status, flow_status, row["id"]))
    records = [{"uuid": r["uuid"], "queue_status": queue_status, "queue_status_key": key} for r in rows]
    return respond(envelope({"records": records, "total": len(records)}, f"{len(records)} datarecords {verb}"))


@bp.put("/v1/record/movetoflow")
def move_to_flow():
    caller = authenticate(WRITE_SCOPES)
    target = request.headers.get("X-MoveToFlow-Flow")
    if not target:
        raise FlowizeError(400, "X-MoveToFlow-Flow header is required.")
    flow = find_flow(caller.customer_id, target)
    rows = _records_by_uuid(caller.customer_id, _uuids_from_request("X-Queue-Uuids", required=True))
    with sandbox().db.transaction() as conn:
        for row in rows:
            conn.execute("UPDATE fz_records SET flow_id = ?, flow_version = ?, queue_status = '0', flow_status = 0 "
                         "WHERE id = ?", (flow["id"], flow["version"], row["id"]))
    records = [{"uuid": r["uuid"], "message": "Data Record is moved to a new flow successfully and it is included "
                "in the queue.", "movetoflow": flow["name"]} for r in rows]
    # The doc's example says "total": 1 for two records; we count them (decisions: "movetoflow total").
    return respond(envelope({"records": records, "total": len(records)},
                            f"{len(records)} flows moved to the new one"))
