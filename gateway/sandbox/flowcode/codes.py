"""Flowcode codes: POST /v4/codes (flowcode-bulk-codes.txt, "Option 1: Calling Create Code
Iteratively"), GET and PATCH /v4/codes/{code_id} (the "update code endpoint" of "Prerequisites" 5)
and GET /v4/codes/{code_id}/image, the code as a JPG, PNG, SVG, PDF or TIFF file.

The payload is the doc's: ``destination``, ``studio_config_id``, ``folder_id`` and ``code_name``
(unique within its folder), plus ``file_type`` ("Know what file type your system wants").
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, request

from gateway.sandbox.context import sandbox
from gateway.sandbox.flowcode.destinations import Destination, DestinationError, parse_destination
from gateway.sandbox.flowcode.images import FILE_TYPES, MIMETYPES, QRTooLong, check_fits, render
from gateway.sandbox.flowcode.wire import Account, FlowcodeError, authenticate, json_body, respond
from gateway.sandbox.state import utcnow

__all__ = ["CodeSpec", "bp", "check_payload", "code_json", "insert_codes", "visible"]

bp = Blueprint("flowcode_codes", __name__)


@dataclass(frozen=True)
class CodeSpec:
    destination: Destination
    studio_config_id: str
    folder_id: int | None
    code_name: str
    file_type: str


def _error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message}


def check_payload(account: Account, payload: Any, prefix: str = "") -> tuple[CodeSpec | None, list[dict[str, str]]]:
    """One code's payload, validated field by field: (spec, []) or (None, every error found)."""
    if not isinstance(payload, dict):
        return None, [_error(prefix.rstrip(".") or "body", "a code payload is a JSON object")]
    errors: list[dict[str, str]] = []
    destination = None
    try:
        destination = parse_destination(payload.get("destination"))
        check_fits(destination.value)
    except DestinationError as exc:
        errors.append(_error(prefix + exc.field, exc.message))
    except QRTooLong as exc:
        errors.append(_error(prefix + "destination", str(exc)))
    db = sandbox().db
    studio = payload.get("studio_config_id")
    if not isinstance(studio, str) or not studio:
        errors.append(_error(prefix + "studio_config_id", "studio_config_id is required (the code design)"))
    elif not db.one("SELECT 1 FROM fc_studio_configs WHERE id = ? AND account_id = ?", (studio, account.id)):
        errors.append(_error(prefix + "studio_config_id", f"studio_config_id {studio} does not exist"))
    folder = payload.get("folder_id")
    if folder is not None:
        if isinstance(folder, bool) or not isinstance(folder, int) or not 0 < folder < 2**63:
            errors.append(_error(prefix + "folder_id", "folder_id must be a positive integer"))
        elif not db.one("SELECT 1 FROM fc_folders WHERE id = ? AND account_id = ?", (folder, account.id)):
            errors.append(_error(prefix + "folder_id", f"folder {folder} does not exist"))
    name = payload.get("code_name")
    if name is not None and (not isinstance(name, str) or not name.strip() or len(name) > 255):
        errors.append(_error(prefix + "code_name", "code_name must be a non-empty string of at most 255 characters"))
    file_type = payload.get("file_type", "PNG")
    if not isinstance(file_type, str) or file_type.upper() not in FILE_TYPES:
        errors.append(_error(prefix + "file_type", f"file_type must be one of {', '.join(FILE_TYPES)}"))
    if errors or destination is None:
        return None, errors
    return CodeSpec(destination, str(studio), folder, name or f"code_{uuid.uuid4().hex[:10]}",
                    file_type.upper()), []


def _duplicate_name(conn: sqlite3.Connection, account: Account, specs: list[CodeSpec]) -> str | None:
    seen: set[tuple[int | None, str]] = set()
    for spec in specs:
        key = (spec.folder_id, spec.code_name)
        if spec.folder_id is not None and key in seen:
            return spec.code_name
        seen.add(key)
        if spec.folder_id is not None and conn.execute(
                "SELECT 1 FROM fc_codes WHERE account_id = ? AND folder_id = ? AND code_name = ?",
                (account.id, spec.folder_id, spec.code_name)).fetchone():
            return spec.code_name
    return None


def insert_codes(conn: sqlite3.Connection, account: Account, specs: list[CodeSpec],
                 task_id: str | None = None) -> list[str]:
    """Insert all or none; a code_name already used in its folder is a 409 (the doc: "code_name must
    be unique since we are placing in a folder"). Returns the new ids, in order."""
    duplicate = _duplicate_name(conn, account, specs)
    if duplicate is not None:
        raise FlowcodeError(409, f"code_name '{duplicate}' is already used in its folder")
    stamp = utcnow().isoformat().replace("+00:00", "Z")
    ids = []
    for position, spec in enumerate(specs):
        code_id = str(uuid.uuid4())
        conn.execute(
            "INSERT INTO fc_codes (id, account_id, folder_id, studio_config_id, code_name, destination, "
            "scan_destination, file_type, task_id, position, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (code_id, account.id, spec.folder_id, spec.studio_config_id, spec.code_name,
             json.dumps(spec.destination.as_json()), spec.destination.value, spec.file_type, task_id,
             position, stamp, stamp))
        ids.append(code_id)
    return ids


def code_json(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "code_name": row["code_name"], "folder_id": row["folder_id"],
            "studio_config_id": row["studio_config_id"], "destination": json.loads(row["destination"]),
            "scan_destination": row["scan_destination"], "file_type": row["file_type"],
            "image_url": f"{request.host_url.rstrip('/')}/v4/codes/{row['id']}/image",
            "created_at": row["created_at"], "updated_at": row["updated_at"]}


def codes_by_id(ids: Iterable[str]) -> list[dict[str, Any]]:
    ids = list(ids)
    marks = ",".join("?" for _ in ids)
    rows = {r["id"]: r for r in sandbox().db.all(f"SELECT * FROM fc_codes WHERE id IN ({marks})", ids)} if ids else {}
    return [code_json(rows[i]) for i in ids]


def visible(row: sqlite3.Row) -> bool:
    """Codes of an asynchronous bulk task exist only once the task has finished."""
    if row["task_id"] is None:
        return True
    task = sandbox().db.one("SELECT created_at, seconds FROM fc_tasks WHERE id = ?", (row["task_id"],))
    return task is not None and time.time() >= task["created_at"] + task["seconds"]


def find_code(account: Account, code_id: str) -> sqlite3.Row:
    row = sandbox().db.one("SELECT * FROM fc_codes WHERE id = ? AND account_id = ?", (code_id, account.id))
    if row is None or not visible(row):
        raise FlowcodeError(404, f"Code {code_id} not found.")
    return row


def _invalid(errors: list[dict[str, str]]) -> FlowcodeError:
    first = errors[0]
    return FlowcodeError(400, f"Invalid code: {first['field']}: {first['message']}", errors)


@bp.post("/v4/codes")
def create_code() -> Response:
    account = authenticate()
    spec, errors = check_payload(account, json_body())
    if spec is None:
        raise _invalid(errors)
    with sandbox().db.transaction() as conn:
        (code_id,) = insert_codes(conn, account, [spec])
    return respond(codes_by_id([code_id])[0], 201)


@bp.get("/v4/codes/<code_id>")
def get_code(code_id: str) -> Response:
    return respond(code_json(find_code(authenticate(), code_id)))


@bp.patch("/v4/codes/<code_id>")
def update_code(code_id: str) -> Response:
    """Update the scan destination (dynamic codes: the printed code keeps working)."""
    account = authenticate()
    row = find_code(account, code_id)
    body = json_body()
    if not isinstance(body, dict) or "destination" not in body:
        raise FlowcodeError(400, "Send {\"destination\": {\"destination_type\": ..., \"redirect_value\": ...}}.")
    try:
        destination = parse_destination(body["destination"])
        check_fits(destination.value)
    except DestinationError as exc:
        raise _invalid([_error(exc.field, exc.message)]) from None
    except QRTooLong as exc:
        raise _invalid([_error("destination", str(exc))]) from None
    stamp = utcnow().isoformat().replace("+00:00", "Z")
    sandbox().db.execute("UPDATE fc_codes SET destination = ?, scan_destination = ?, updated_at = ? WHERE id = ?",
                         (json.dumps(destination.as_json()), destination.value, stamp, row["id"]))
    return respond(codes_by_id([row["id"]])[0])


@bp.get("/v4/codes/<code_id>/image")
def code_image(code_id: str) -> Response:
    """The code's image in its file_type, or in ``?file_type=`` when given."""
    row = find_code(authenticate(), code_id)
    file_type = request.args.get("file_type", row["file_type"]).upper()
    if file_type not in FILE_TYPES:
        raise FlowcodeError(400, f"file_type must be one of {', '.join(FILE_TYPES)}")
    data = render(row["scan_destination"], file_type)
    resp = Response(data, content_type=MIMETYPES[file_type])
    resp.headers["Content-Disposition"] = f'inline; filename="{row["id"]}.{file_type.lower()}"'
    return resp
