"""The Flowize REST surface on the gateway, part 1: authentication, Data Schema, Data Record (with
search, changestatus, movetoflow), Webhooks and Flows (flowize-api.txt, "Endpoints API Methods").

Parsing and rendering only: each view reads the documented headers / URL parameters / body, calls
one protocol-neutral operation (the same the SOAP door calls) and renders the vendor's answer. A
value that the doc sends as a header may also come as its URL parameter (URL authorization) and,
for records, from the path (``/v1/record/:id``), exactly as the vendor accepts it
(docs/flowize-decisions.md R1, R6, F1, F3). Part 2 is ``flowize_data.py``, part 3
``flowize_environments.py``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from gateway.errors import InvalidRequest
from gateway.flowize_wire import param
from gateway.operations.outcome import Outcome
from gateway.rest.auth import gateway_mode, gateway_token, upstream
from gateway.rest.negotiation import object_body, read_body, respond

__all__ = ["bp", "render_outcome"]

bp = Blueprint("rest_flowize", __name__)

# Record search: header -> URL parameter, as the search section lists them.
SEARCH_FIELDS = {"X-Limit": "limit", "X-Offset": "offset", "X-Uuid": "uuid", "X-Flow": "flow_name",
                 "X-Datarecord-Status": "datarecord_status", "X-Datafield-Name": "datafield_name",
                 "X-Datafield-Value": "datafield_value"}
SEARCH_DATES = ("date_type", "date_from", "date_to")


def render_outcome(outcome: Outcome, headers: dict[str, str] | None = None) -> Response:
    return respond(outcome.body, outcome.status, headers=headers)


def _ops():
    return upstream()


# -- Authentication --------------------------------------------------------------------------------
def _oauth_headers() -> tuple[str, str, str | None]:
    h = request.headers
    return h.get("client_id", ""), h.get("client_secret", ""), h.get("grant_type")


@bp.route("/v1/checkauthentication", methods=["GET", "POST"])
def check_authentication() -> Response:
    """GET /v1/checkauthentication: client_id, client_secret, grant_type headers (underscores, A1)."""
    if gateway_mode():
        return respond(gateway_token(refresh=False))
    ops, _ = upstream(required=False)
    client_id, secret, grant = _oauth_headers()
    return render_outcome(ops.check_authentication(client_id, secret, grant))


@bp.route("/v1/refreshtoken", methods=["GET", "POST"])
def refresh_token() -> Response:
    """GET /v1/refreshtoken: + the refresh_token header."""
    if gateway_mode():
        return respond(gateway_token(refresh=True))
    ops, _ = upstream(required=False)
    client_id, secret, grant = _oauth_headers()
    return render_outcome(ops.refresh_token(client_id, secret, request.headers.get("refresh_token", ""), grant))


# -- Data Schema -------------------------------------------------------------------------------------
_SCHEMA_BODY = "The payload must be a JSON object with schema, data_record and url."


def _schema_fields() -> tuple[Any, Any, Any]:
    body = object_body(message=_SCHEMA_BODY)
    return body.get("schema"), body.get("data_record"), body.get("url") or ""


@bp.post("/v1/schema")
def insert_schema() -> Response:
    ops, creds = _ops()
    return render_outcome(ops.insert_schema(creds, *_schema_fields()))


@bp.get("/v1/schema")
def get_schema() -> Response:
    ops, creds = _ops()
    return render_outcome(ops.get_schema(creds))


@bp.put("/v1/schema")
def update_schema() -> Response:
    ops, creds = _ops()
    return render_outcome(ops.update_schema(creds, *_schema_fields()))


@bp.delete("/v1/schema")
def delete_schema() -> Response:
    ops, creds = _ops()
    return render_outcome(ops.delete_schema(creds))


# -- Data Record ---------------------------------------------------------------------------------------
def _record_uuid(path_uuid: str | None) -> str:
    # The delete example sends a bare ``uuid`` header; the vendor accepts it everywhere (R1).
    if path_uuid:
        return path_uuid
    return param("X-Uuid", "uuid") or request.headers.get("uuid") or ""


@bp.post("/v1/record")
def insert_record() -> Response:
    """POST /v1/record: X-Flow / X-Flow-Id, X-Uuid, X-Executiontime; the payload is the record."""
    ops, creds = _ops()
    data = read_body()
    return render_outcome(ops.insert_record(
        creds, data, flow=param("X-Flow", "flow_name"), flow_id=param("X-Flow-Id", "flow_id"),
        uuid=param("X-Uuid", "uuid"), execution_time=param("X-Executiontime", "executiontime", "realtime")))


@bp.get("/v1/record")
@bp.get("/v1/record/<path_uuid>")
def get_record(path_uuid: str | None = None) -> Response:
    ops, creds = _ops()
    return render_outcome(ops.get_record(creds, _record_uuid(path_uuid)))


@bp.put("/v1/record")
@bp.put("/v1/record/<path_uuid>")
def update_record(path_uuid: str | None = None) -> Response:
    ops, creds = _ops()
    uuid = _record_uuid(path_uuid)
    return render_outcome(ops.update_record(creds, uuid, read_body()))


@bp.delete("/v1/record")
@bp.delete("/v1/record/<path_uuid>")
def delete_record(path_uuid: str | None = None) -> Response:
    ops, creds = _ops()
    return render_outcome(ops.delete_record(creds, _record_uuid(path_uuid)))


def _search_filters() -> dict[str, str]:
    """"If Header parameters are present, URL parameters will be omitted"; dates have no header form
    and always come from the URL, or from a JSON body on PUT/POST (R2, R3)."""
    url = {k: v for k, v in request.args.items()}
    if request.method in ("PUT", "POST"):
        body = read_body(required=False)
        if isinstance(body, dict):
            url.update({k: v if isinstance(v, str) else str(v) for k, v in body.items() if v is not None})
    from_headers = {name: request.headers[h] for h, name in SEARCH_FIELDS.items() if h in request.headers}
    filters = from_headers or {name: url[name] for name in SEARCH_FIELDS.values() if name in url}
    filters.update({name: url[name] for name in SEARCH_DATES if name in url})
    return filters


@bp.route("/v1/record/search", methods=["GET", "PUT", "POST"])
def search_records() -> Response:
    """The endpoint table says PUT, its section GET: both, and POST (R2)."""
    ops, creds = _ops()
    return render_outcome(ops.search_records(creds, **_search_filters()))


def _uuids(header: str) -> list[str]:
    """Record UUIDs from a comma-separated header, else a JSON array body."""
    raw = request.headers.get(header)
    if raw:
        return [u.strip() for u in raw.split(",") if u.strip()]
    body = read_body(required=False)
    if not isinstance(body, list) or not all(isinstance(u, str) and u for u in body):
        raise InvalidRequest("The payload must be a JSON array of record UUIDs.")
    return body


@bp.put("/v1/record/changestatus")
def change_status() -> Response:
    ops, creds = _ops()
    action = request.headers.get("X-Queue-Status", "")
    return render_outcome(ops.change_queue_status(creds, action, _uuids("X-Queue-Uuids")))


@bp.put("/v1/record/movetoflow")
def move_to_flow() -> Response:
    ops, creds = _ops()
    target = request.headers.get("X-MoveToFlow-Flow", "")
    return render_outcome(ops.move_to_flow(creds, target, _uuids("X-Queue-Uuids")))


# -- Webhooks and Flows ----------------------------------------------------------------------------
@bp.post("/v1/webhook")
@bp.post("/v1/webhook/<path:uri>")
def webhook(uri: str | None = None) -> Response:
    """No credentials: the webhook uri is the secret (F1)."""
    ops, _ = upstream(required=False)
    uri = uri or request.args.get("uri") or request.args.get("webhook_uri") or ""
    payload = request.get_data(cache=True)
    return render_outcome(ops.webhook(uri, payload, request.content_type or "application/json"))


@bp.get("/v1/flowdiagram")
def flow_diagram() -> Response:
    ops, creds = _ops()
    return render_outcome(ops.get_flow_diagram(creds, param("X-Flow", "flow_name"), param("X-Flow-Id", "flow_id")))


@bp.put("/v1/changeflowstatus")
def change_flow_status() -> Response:
    ops, creds = _ops()
    return render_outcome(ops.change_flow_status(creds, param("X-Flow-Id", "flow_id") or "",
                                                 param("X-Status", "status") or ""))
