"""The ExaRoutes sandbox: exaroutes-bulk-generate.txt on ``/api/qr/bulk-generate``.

* ``POST /api/qr/bulk-generate`` — a JSON array of rows (``uid`` required on each), 25 MB cap; the
  answer is a JSON-encoded *string*, the bulkId. Rows are checked and QR images drawn (segno) when
  the batch is accepted; "the worker" is emulated by timestamps: the order reads ``processing``
  for ``processing_seconds``, then ``completed``. No thread.
* ``GET …/{bulkId}`` — the status row; ``GET …/{bulkId}/result`` — the archive, once (then 410):
  a JSON-encoded string holding an array in submission order that mixes dynamic-row objects, bare
  data-URI strings (static rows) and failed rows, as the doc's "Response — result archive" shows.
* Auth: ``client-id`` + ``api-key``; everything is scoped to the calling subscription (404 for
  another subscription's bulkId). Demo: ``demo-client`` / ``demo-exaroutes-key``; a second
  subscription ``demo-client-2`` / ``demo-exaroutes-key-2``; ``demo-client-suspended`` gets 403.
* 500 "worker failed to spawn": a row whose uid is ``sandbox:spawn-failure`` (nothing is queued),
  or a fault rule. 429: the plan quota, set with ``PATCH /_sandbox/exaroutes {"quota": {...}}``.

Choices where the doc is unclear are in docs/vendors.md.
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import segno
from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException

from gateway.sandbox.context import sandbox
from gateway.sandbox.state import SandboxDB

__all__ = ["MAX_BODY", "SPAWN_FAILURE_UID", "error_body", "http_error", "install", "owns", "seed"]

PREFIX = "/api/qr/bulk-generate"
MAX_BODY = 25 * 1024 * 1024       # "Max body: 25 MB" — Express's "25mb" counts 1024 * 1024 bytes
_MAX_DRAIN = 4 * MAX_BODY         # read (and drop) this much of an oversized body so the 413 arrives
SPAWN_FAILURE_UID = "sandbox:spawn-failure"
DATA_TYPES = ("url", "text", "email", "phone", "sms")
_PHONE = re.compile(r"^\+?[0-9]{3,15}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
KNOB_DEFAULTS = {"processing_seconds": 3.0}

SUBSCRIPTIONS = [  # (id, client-id, api-key, active, plan QR-creation quota left)
    (1, "demo-client", "demo-exaroutes-key", 1, 100_000),
    (2, "demo-client-2", "demo-exaroutes-key-2", 1, 100_000),
    (3, "demo-client-suspended", "demo-exaroutes-key-suspended", 0, 0),
]

DDL = """
CREATE TABLE IF NOT EXISTS er_subscriptions (
    id INTEGER PRIMARY KEY, client_id TEXT NOT NULL UNIQUE, api_key TEXT NOT NULL, active INTEGER NOT NULL,
    quota_left INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS er_bulks (
    id TEXT PRIMARY KEY, subscription_id INTEGER NOT NULL REFERENCES er_subscriptions(id),
    count INTEGER NOT NULL, failed_features TEXT NOT NULL, archive TEXT, created_at INTEGER NOT NULL,
    ready_at INTEGER NOT NULL, downloaded_at INTEGER);
CREATE TABLE IF NOT EXISTS er_qrs (
    id TEXT PRIMARY KEY, subscription_id INTEGER NOT NULL, bulk_id TEXT NOT NULL, uid TEXT NOT NULL,
    url TEXT NOT NULL, data_type TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS er_knobs (name TEXT PRIMARY KEY, value REAL NOT NULL);
"""

bp = Blueprint("exaroutes", __name__)
control = Blueprint("exaroutes_control", __name__, url_prefix="/_sandbox/exaroutes")


class ExaRoutesError(Exception):
    """An error in the vendor's shape: ``{"message": ..., "code": status}`` (+ ``bulkId`` for 429)."""

    def __init__(self, status: int, message: str, **extra: Any):
        super().__init__(message)
        self.status, self.message, self.extra = status, message, extra


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _error_response(err: ExaRoutesError) -> Response:
    return _json({"message": err.message, "code": err.status, **err.extra}, err.status)


def _now_ms() -> int:
    return int(time.time() * 1000)


# -- the module interface of gateway/sandbox/app.py ----------------------------------------------
def owns(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def seed(db: SandboxDB) -> None:
    db.executescript(DDL)
    if db.one("SELECT 1 FROM er_subscriptions WHERE id = 1"):
        return
    with db.transaction() as conn:
        conn.executemany("INSERT INTO er_subscriptions VALUES (?, ?, ?, ?, ?)", SUBSCRIPTIONS)
        conn.executemany("INSERT INTO er_knobs VALUES (?, ?)", KNOB_DEFAULTS.items())


_MESSAGES = {
    400: "Bad request.", 401: "Both client-id and api-key headers are required and must be valid.",
    403: "The subscription is not allowed to use the API.", 404: "Not found.", 410: "Gone.",
    413: "Body exceeds the 25 MB JSON limit. Split into smaller batches.",
    429: "Plan QR-creation limit reached.", 500: "Worker failed to spawn. Retry. If it persists, contact support.",
}


def error_body(path: str, status: int) -> tuple[str, bytes]:
    message = _MESSAGES.get(status, "Service error.")
    return "application/json", json.dumps({"message": message, "code": status}).encode()


def http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    message = {404: "Not found.", 405: f"Method {request.method} is not allowed here."}.get(
        status, _MESSAGES.get(status, exc.description or "Error."))
    return _error_response(ExaRoutesError(status, message))


def install(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_blueprint(control)
    app.register_error_handler(ExaRoutesError, _error_response)


# -- auth ----------------------------------------------------------------------------------------
def _subscription() -> Any:
    """Both auth headers required; the api-key must belong to the client-id's subscription."""
    client_id, api_key = request.headers.get("client-id", ""), request.headers.get("api-key", "")
    if not client_id or not api_key:
        raise ExaRoutesError(401, "Both client-id and api-key headers are required.")
    row = sandbox().db.one("SELECT * FROM er_subscriptions WHERE client_id = ?", (client_id,))
    if row is None or not hmac.compare_digest(row["api_key"].encode(), api_key.encode()):
        raise ExaRoutesError(401, "Invalid client-id or api-key.")
    if not row["active"]:
        raise ExaRoutesError(403, "The subscription is not active.")
    return row


# -- rows ----------------------------------------------------------------------------------------
@dataclass
class _Batch:
    quota_left: int
    archive: list[Any] = field(default_factory=list)
    failed: dict[str, int] = field(default_factory=lambda: {"dynamicQr": 0, "securedQr": 0, "sourceQr": 0})
    dynamic_rows: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    quota_hit: bool = False

    def fail(self, row: Any, message: str, code: int = 400) -> None:
        entry: dict[str, Any] = {}
        if isinstance(row, dict):
            if _has_uid(row):
                entry["uid"] = row["uid"]
            # A failed row is tallied in every bucket it qualifies for (the doc's "Per-row failures").
            self.failed["dynamicQr"] += row.get("qrType") == "dynamic"
            self.failed["securedQr"] += bool(isinstance(row.get("secure"), list) and row["secure"])
            self.failed["sourceQr"] += bool(isinstance(row.get("sources"), list) and row["sources"])
        self.archive.append({**entry, "status": "failed", "message": message, "code": code})


def _has_uid(row: dict[str, Any]) -> bool:
    uid = row.get("uid")
    return (isinstance(uid, str) and uid.strip() != "") or (isinstance(uid, int) and not isinstance(uid, bool))


def _payload(row: dict[str, Any]) -> str:
    """What the QR encodes, or ExaRoutesError(400) with the per-row message."""
    qr_type, data_type = row.get("qrType", "static"), row.get("dataType", "url")
    if qr_type not in ("static", "dynamic"):
        raise ExaRoutesError(400, f"Invalid qrType: {qr_type!r}. Use static or dynamic.")
    if data_type not in DATA_TYPES:
        raise ExaRoutesError(400, f"Invalid dataType: {data_type!r}. Use one of {', '.join(DATA_TYPES)}.")
    data = row.get("data")
    if data is None or data == "":
        raise ExaRoutesError(400, f"data is required for dataType: {data_type}")
    for name, kind in (("secure", list), ("sources", list), ("styling", dict)):
        if name in row and not isinstance(row[name], kind):
            raise ExaRoutesError(400, f"{name} must be {'an array' if kind is list else 'an object'}")
    expiry = row.get("expiry")
    if expiry is not None and (isinstance(expiry, bool) or not isinstance(expiry, int) or expiry <= _now_ms()):
        raise ExaRoutesError(400, "expiry must be a future time in epoch milliseconds")
    text = data if isinstance(data, str) else ""
    if data_type == "url":
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in text):
            raise ExaRoutesError(400, "Invalid URL provided for dataType: url")  # the doc's own wording
        return text
    if data_type == "text":
        if not text.strip():
            raise ExaRoutesError(400, "Invalid text provided for dataType: text")
        return text
    if data_type == "email":
        if not _EMAIL.match(text):
            raise ExaRoutesError(400, "Invalid email provided for dataType: email")
        return "mailto:" + text
    if not _PHONE.match(text):
        raise ExaRoutesError(400, f"Invalid phone number provided for dataType: {data_type}")
    return ("tel:" if data_type == "phone" else "sms:") + text


def _process(rows: list[Any], quota_left: int) -> _Batch:
    """Every row, in submission order: a failure in place, or a QR while the plan's quota lasts."""
    batch = _Batch(quota_left)
    seen: set[Any] = set()
    for row in rows:
        if not isinstance(row, dict):
            batch.fail(row, "Each row must be a JSON object.")
            continue
        if not _has_uid(row):
            batch.fail(row, "uid is required on every row.")
            continue
        if row["uid"] in seen:
            batch.fail(row, f"Duplicate uid in this batch: {row['uid']}")
            continue
        seen.add(row["uid"])
        try:
            payload = _payload(row)
            # A fixed mask, as the Flowcode sandbox draws (flowcode/images.py says why): 2.6x faster.
            image = segno.make_qr(payload, error="m", mask=0).png_data_uri(scale=5, border=4)
        except ExaRoutesError as exc:
            batch.fail(row, exc.message, exc.status)
            continue
        except segno.DataOverflowError:
            batch.fail(row, "data is too long to fit in a QR code")
            continue
        if batch.quota_left <= 0:
            batch.quota_hit = True
            batch.fail(row, "Plan QR-creation limit reached.", 429)
            continue
        batch.quota_left -= 1
        if row.get("qrType") == "dynamic":
            qr_id, slug = "qr_" + secrets.token_hex(6), secrets.token_urlsafe(5)
            url = f"https://qr.exaroutes.com/r/{slug}"
            batch.archive.append({"id": qr_id, "uid": row["uid"], "url": url, "QRs": image})
            batch.dynamic_rows.append((qr_id, str(row["uid"]), url, row.get("dataType", "url"), payload))
        else:
            batch.archive.append(image)  # "Successful static row — string body, no DB row"
    return batch


def _read_body() -> bytes:
    """The body, at most MAX_BODY bytes; a larger one is read to its end (so the client sees the 413
    instead of a reset while it is still sending), then refused."""
    if (request.content_length or 0) > _MAX_DRAIN:
        raise ExaRoutesError(413, _MESSAGES[413])
    chunks, size = [], 0
    while chunk := request.stream.read(1 << 20):
        size += len(chunk)
        if size <= MAX_BODY:
            chunks.append(chunk)
        elif size > _MAX_DRAIN:
            break
    if size > MAX_BODY:
        raise ExaRoutesError(413, _MESSAGES[413])
    return b"".join(chunks)


def _knob(name: str) -> float:
    row = sandbox().db.one("SELECT value FROM er_knobs WHERE name = ?", (name,))
    return float(row["value"]) if row else 0.0


# -- endpoints -----------------------------------------------------------------------------------
@bp.post(PREFIX)
def bulk_generate() -> Response:
    """POST /api/qr/bulk-generate: 200 with the bulkId as a JSON string; 429 (with the bulkId) when
    the plan quota ran out part-way, the rest of the rows recorded as failed."""
    sub = _subscription()
    raw = _read_body()
    try:
        rows = json.loads(raw) if "json" in (request.content_type or "") else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        rows = None
    if not isinstance(rows, list):
        raise ExaRoutesError(400, "Body must be a JSON array (Content-Type: application/json).")
    if not rows:
        raise ExaRoutesError(400, "Body is an empty array.")
    if any(isinstance(r, dict) and r.get("uid") == SPAWN_FAILURE_UID for r in rows):
        raise ExaRoutesError(500, _MESSAGES[500])
    db = sandbox().db
    bulk_id = "bulk_" + secrets.token_hex(6)
    created = _now_ms()
    with db.transaction() as conn:
        quota = conn.execute("SELECT quota_left FROM er_subscriptions WHERE id = ?", (sub["id"],)).fetchone()[0]
        batch = _process(rows, quota)
        conn.execute("UPDATE er_subscriptions SET quota_left = ? WHERE id = ?", (batch.quota_left, sub["id"]))
        conn.execute("INSERT INTO er_bulks (id, subscription_id, count, failed_features, archive, created_at, "
                     "ready_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (bulk_id, sub["id"], len(rows), json.dumps(batch.failed), json.dumps(batch.archive),
                      created, created + int(_knob("processing_seconds") * 1000)))
        conn.executemany("INSERT INTO er_qrs (id, subscription_id, bulk_id, uid, url, data_type, data) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [(q, sub["id"], bulk_id, u, url, t, d) for q, u, url, t, d in batch.dynamic_rows])
    if batch.quota_hit:
        raise ExaRoutesError(429, "Plan QR-creation limit reached for the rows already processed. "
                                  "Remaining rows are recorded as failed.", bulkId=bulk_id)
    return _json(bulk_id)  # "The response body is a JSON-encoded string (the bulkId)."


def _order(bulk_id: str) -> Any:
    row = sandbox().db.one("SELECT * FROM er_bulks WHERE id = ? AND subscription_id = ?",
                           (bulk_id, _subscription()["id"]))
    if row is None:
        raise ExaRoutesError(404, "No bulk order with that id under the calling subscription.")
    return row


def _status(row: Any) -> tuple[str, int]:
    if row["downloaded_at"] is not None:
        return "resultDownloaded", row["downloaded_at"]
    if _now_ms() >= row["ready_at"]:
        return "completed", row["ready_at"]
    return "processing", row["created_at"]


@bp.get(PREFIX)
@bp.get(PREFIX + "/")
def missing_bulk_id() -> Response:
    _subscription()
    raise ExaRoutesError(400, "bulkId path param missing.")


@bp.get(PREFIX + "/<bulk_id>")
def bulk_status(bulk_id: str) -> Response:
    row = _order(bulk_id)
    status, updated = _status(row)
    zero = {"dynamicQr": 0, "securedQr": 0, "sourceQr": 0}
    return _json({"bulkId": row["id"], "status": status, "count": row["count"],
                  "failedFeatures": zero if status == "processing" else json.loads(row["failed_features"]),
                  "product": "qr", "createdAt": row["created_at"], "updatedAt": updated})


@bp.get(PREFIX + "/<bulk_id>/result")
def bulk_result(bulk_id: str) -> Response:
    """One-shot: the archive is handed out once and deleted in the same transaction."""
    row = _order(bulk_id)
    status, _ = _status(row)
    if status == "processing":
        raise ExaRoutesError(410, "Result archive is not available: the worker hasn't completed yet. "
                                  "Check status first.")
    with sandbox().db.transaction() as conn:
        archive = conn.execute("SELECT archive FROM er_bulks WHERE id = ?", (row["id"],)).fetchone()[0]
        if archive is not None:
            conn.execute("UPDATE er_bulks SET archive = NULL, downloaded_at = ? WHERE id = ?",
                         (_now_ms(), row["id"]))
    if archive is None:
        raise ExaRoutesError(410, "Result archive is no longer available: it was already downloaded.")
    return _json(archive)  # the archive is the contained string: JSON inside a JSON string


# -- sandbox knobs -------------------------------------------------------------------------------
@control.get("")
def get_knobs() -> Response:
    db = sandbox().db
    return _json({**{r["name"]: r["value"] for r in db.all("SELECT * FROM er_knobs")},
                  "quota": {r["client_id"]: r["quota_left"] for r in db.all("SELECT * FROM er_subscriptions")}})


@control.patch("")
def patch_knobs() -> Response:
    """``{"processing_seconds": 0.2}`` and/or ``{"quota": {"demo-client": 3}}`` (QR rows left)."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or not data or set(data) - {"processing_seconds", "quota"}:
        return _json({"message": "expected a JSON object with processing_seconds and/or quota"}, 400)
    seconds, quota = data.get("processing_seconds", 0), data.get("quota", {})
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= 3600:
        return _json({"message": "processing_seconds is a number of seconds, 0 to 3600"}, 400)
    if not isinstance(quota, dict) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                              for v in quota.values()):
        return _json({"message": "quota maps client-id to a whole number of QR rows left"}, 400)
    db = sandbox().db
    with db.transaction() as conn:
        if "processing_seconds" in data:
            conn.execute("UPDATE er_knobs SET value = ? WHERE name = 'processing_seconds'", (float(seconds),))
        for client_id, left in quota.items():
            if not conn.execute("UPDATE er_subscriptions SET quota_left = ? WHERE client_id = ?",
                                (left, client_id)).rowcount:
                raise ExaRoutesError(404, f"no subscription {client_id}")
    return get_knobs()
