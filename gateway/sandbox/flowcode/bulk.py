"""Flowcode bulk creation: POST /v4/codes/bulk and GET /v4/codes/bulk/{task_id}/status
(flowcode-bulk-codes.txt, "Option 2: Calling Bulk Create").

At most 50 codes: synchronous, 201 with the codes. More than 50: 202 with a ``task_id``; the status
goes PENDING -> STARTED -> SUCCESS or FAILURE with a ``message``. The outcome is decided when the
batch is submitted and its progress computed from timestamps when asked: no worker thread. The
payloads of an asynchronous batch are checked by "the worker", so a bad one gives FAILURE, not 400.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from flask import Blueprint, Response

from gateway.sandbox.context import sandbox
from gateway.sandbox.flowcode.codes import CodeSpec, check_payload, code_json, codes_by_id, insert_codes
from gateway.sandbox.flowcode.wire import Account, FlowcodeError, authenticate, json_body, knob, respond

__all__ = ["MAX_BATCH", "SYNC_LIMIT", "bp"]

bp = Blueprint("flowcode_bulk", __name__)

SYNC_LIMIT = 50     # "If creating 50 codes or less in bulk, you will receive a 201 status code"
MAX_BATCH = 5000    # "within a certain limit defined by the platform"; the doc's own example sends 2000


def _batch(body: Any) -> list[Any]:
    # The doc's snippet posts ``payload`` (the last single code) where it means ``bulk_payload``;
    # accept that as a batch of one rather than fail the documented example.
    if isinstance(body, dict):
        return [body]
    if not isinstance(body, list):
        raise FlowcodeError(400, "The bulk body is a JSON array of code payloads.")
    if not body:
        raise FlowcodeError(400, "The bulk body is an empty array; send at least one code payload.")
    if len(body) > MAX_BATCH:
        raise FlowcodeError(400, f"At most {MAX_BATCH} codes per bulk request; split the batch.")
    return body


def _check_all(account: Account, batch: list[Any]) -> tuple[list[CodeSpec], list[dict[str, str]]]:
    specs, errors = [], []
    for i, payload in enumerate(batch):
        spec, found = check_payload(account, payload, prefix=f"[{i}].")
        errors.extend(found)
        if spec is not None:
            specs.append(spec)
    return specs, errors


@bp.post("/v4/codes/bulk")
def bulk_create() -> Response:
    account = authenticate()
    batch = _batch(json_body())
    specs, errors = _check_all(account, batch)
    db = sandbox().db
    if len(batch) <= SYNC_LIMIT:
        if errors:
            raise FlowcodeError(400, f"Invalid code: {errors[0]['field']}: {errors[0]['message']}", errors)
        with db.transaction() as conn:
            ids = insert_codes(conn, account, specs)
        return respond(codes_by_id(ids), 201)
    task_id = str(uuid.uuid4())
    outcome, message = "SUCCESS", f"Created {len(batch)} codes."
    with db.transaction() as conn:
        conn.execute("INSERT INTO fc_tasks (id, account_id, total, outcome, message, created_at, seconds) "
                     "VALUES (?, ?, ?, 'PENDING', '', ?, ?)", (task_id, account.id, len(batch), time.time(),
                                                              knob("task_seconds")))
        if errors:
            outcome = "FAILURE"
            message = f"{len(errors)} invalid code payload(s); first: {errors[0]['field']}: {errors[0]['message']}"
        else:
            try:
                insert_codes(conn, account, specs, task_id)
            except FlowcodeError as exc:
                outcome, message = "FAILURE", exc.message
        conn.execute("UPDATE fc_tasks SET outcome = ?, message = ? WHERE id = ?", (outcome, message, task_id))
    return respond({"task_id": task_id, "status": "PENDING"}, 202)


def task_state(task: Any, now: float) -> tuple[str, str]:
    """(status, message) of a task at ``now``: a third of its time PENDING, then STARTED, then done."""
    elapsed, seconds, total = now - task["created_at"], task["seconds"], task["total"]
    if elapsed >= seconds:
        return task["outcome"], task["message"]
    if elapsed < seconds / 3:
        return "PENDING", "The task is queued."
    done = int(total * (elapsed - seconds / 3) / (seconds * 2 / 3))
    return "STARTED", f"Creating codes: {done} of {total} done."


@bp.get("/v4/codes/bulk")
def bulk_get() -> Response:
    # Without this, GET /v4/codes/bulk would read as "the code with id bulk"; the doc's own poll loop
    # sends exactly this request (it passes ``url`` where it means ``status_endpoint``).
    resp = respond({"message": "GET is not allowed on /v4/codes/bulk; poll /v4/codes/bulk/{task_id}/status."}, 405)
    resp.headers["Allow"] = "POST"
    return resp


@bp.get("/v4/codes/bulk/<task_id>/status")
def bulk_status(task_id: str) -> Response:
    account = authenticate()
    db = sandbox().db
    task = db.one("SELECT * FROM fc_tasks WHERE id = ? AND account_id = ?", (task_id, account.id))
    if task is None:
        raise FlowcodeError(404, f"Task {task_id} not found.")
    status, message = task_state(task, time.time())
    body: dict[str, Any] = {"task_id": task_id, "status": status, "message": message, "total": task["total"]}
    if status == "SUCCESS":
        rows = db.all("SELECT * FROM fc_codes WHERE task_id = ? ORDER BY position", (task_id,))
        body["codes"] = [code_json(r) for r in rows]
    return respond(body)
