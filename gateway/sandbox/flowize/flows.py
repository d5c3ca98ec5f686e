"""Flowize "Webhooks" and "Flows": POST /v1/webhook/{uri}, GET /v1/flowdiagram, PUT /v1/changeflowstatus."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime

from flask import Blueprint, request

from gateway.sandbox.context import sandbox
from gateway.sandbox.flowize.auth import authenticate
from gateway.sandbox.flowize.records import find_flow, param, run_state
from gateway.sandbox.flowize.wire import FlowizeError, respond
from gateway.sandbox.state import now_str

bp = Blueprint("flowize_flows", __name__)

# The flowdiagram section lists "schema OR schema.read" (a copy-paste); the flow scopes work too.
DIAGRAM_READ_SCOPES = ("flowdiagram", "flowdiagram.read", "schema", "schema.read")
DIAGRAM_WRITE_SCOPES = ("flowdiagram", "record")

# X-Status -> (stored status, statuses it may come from, message)
TRANSITIONS = {
    "public": ("running", ("draft",), "Flow diagram has been published successfully"),
    "paused": ("paused", ("running",), "Flow diagram has been stopped successfully"),
    "running": ("running", ("paused", "inactive"), "Flow diagram has been resumed successfully"),
    "inactive": ("inactive", ("draft", "running", "paused"), "Flow diagram has been deactivated successfully"),
}


@bp.post("/v1/webhook")
@bp.post("/v1/webhook/<path:uri>")
def webhook(uri: str | None = None):
    """No credentials: the webhook uri itself is the secret, created in the Flowize front end."""
    uri = uri or request.args.get("uri") or request.args.get("webhook_uri")
    if not uri:
        raise FlowizeError(400, "The webhook uri is required: POST /v1/webhook/{webhook_uri}.")
    db = sandbox().db
    hook = db.one("SELECT * FROM fz_webhooks WHERE uri = ?", (uri,))
    if hook is None:
        raise FlowizeError(404, f"The webhook '{uri}' doesn't exist.")
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise FlowizeError(400, "The webhook payload is empty.")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        data = {"raw": raw.decode("utf-8", "replace")}  # the payload "is dynamically from external resources"
    ident = secrets.token_hex(12)
    created = datetime.now(UTC).astimezone().replace(microsecond=0).isoformat()
    flow = db.one("SELECT * FROM fz_flows WHERE id = ?", (hook["flow_id"],))
    if flow is None:
        raise FlowizeError(404, f"The flow of webhook '{uri}' doesn't exist.")
    state = run_state(flow["status"], "")
    with db.transaction() as conn:
        conn.execute("INSERT INTO fz_webhook_data VALUES (?, ?, ?, ?)", (ident, uri, raw.decode("utf-8", "replace"),
                                                                       created))
        columns = {"customer_id": hook["customer_id"], "uuid": ident, "flow_id": flow["id"],
                   "flow_version": flow["version"], "data": json.dumps(data), "date_created": now_str(), **state}
        conn.execute(f"INSERT INTO fz_records ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
                     tuple(columns.values()))
    return respond({"resource": {"_id": {"$id": ident}, "customer_id": str(hook["customer_id"]),
                                 "plugin_id": hook["plugin_id"], "application_id": hook["application_id"],
                                 "date_created": created, "data": {"flow_id": str(hook["flow_id"])}},
                    "message": "Data stored successfully"}, 201)


@bp.get("/v1/flowdiagram")
def flow_diagram():
    caller = authenticate(DIAGRAM_READ_SCOPES)
    flow = find_flow(caller.customer_id, param("X-Flow", "flow_name"), param("X-Flow-Id", "flow_id"))
    customer = sandbox().db.one("SELECT name FROM fz_customers WHERE id = ?", (caller.customer_id,))
    versions = [{"version": v, "status": flow["status"] if v == flow["version"] else "archived"}
                for v in range(1, flow["version"] + 1)]
    # The doc shows "id": {{http code}}; we answer "ok" plus "code", like the newer endpoints.
    return respond({"id": "ok", "code": 200, "resource": {
        "customer": customer["name"], "flow_name": flow["name"], "description": flow["description"],
        "current_flow": {"id": str(flow["id"]), "status": flow["status"], "version": flow["version"],
                         "diagram": json.loads(flow["diagram"])},
        "versions": versions}, "message": "Flow diagram is retrieving successfully"})


@bp.put("/v1/changeflowstatus")
def change_flow_status():
    caller = authenticate(DIAGRAM_WRITE_SCOPES)
    flow_id = param("X-Flow-Id", "flow_id")
    status = param("X-Status", "status")
    if not flow_id:
        raise FlowizeError(400, "X-Flow-Id header (or flow_id parameter) is required.")
    if status not in TRANSITIONS:
        raise FlowizeError(400, f"X-Status must be one of {', '.join(TRANSITIONS)}.")
    flow = find_flow(caller.customer_id, flow_id=flow_id)
    new_status, allowed_from, message = TRANSITIONS[status]
    if flow["status"] not in allowed_from:
        raise FlowizeError(402, f"The flow diagram is {flow['status']}; it cannot be set to {status}.")
    sandbox().db.execute("UPDATE fz_flows SET status = ? WHERE id = ?", (new_status, flow["id"]))
    return respond({"id": "ok", "resource": "", "message": message})
