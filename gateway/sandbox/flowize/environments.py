"""Flowize sandbox: the "Environments" section of flowize-api.txt (Organization API key endpoints).

``/v1/environment`` (list, create), ``/v1/environment/:id`` (get, update, delete), ``.../status``,
``.../upgrade``, ``.../update-version``, ``.../optimize``, ``.../projects``, ``.../project/:project_id``
and ``.../urls`` (documented in the section although missing from the endpoint table).

Asynchronous actions (create, delete, upgrade, update-version, optimize) store the status they lead
to and a ``ready_at`` time; the change is applied lazily by the next request that looks, so no
background threads. Every choice the doc leaves open is listed in docs/flowize-decisions.md ("Environments and options").
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from flask import Blueprint, request

from gateway.sandbox.context import sandbox
from gateway.sandbox.flowize.auth import Caller, authenticate
from gateway.sandbox.flowize.wire import FlowizeError, json_body, respond
from gateway.sandbox.state import now_str

__all__ = ["CERTIFICATE", "bp"]

bp = Blueprint("flowize_environments", __name__)
_S = TypeVar("_S", bound=str | None)

PACKAGES = {"SS-A": ("Single Server A", 20), "SS-B": ("Single Server B", 40),
            "SS-C": ("Single Server C", 80), "SS-D": ("Single Server D", 160)}
# Region -> the timezone used when the create payload names none.
REGIONS = {"amsterdam": "Europe/Amsterdam", "frankfurt": "Europe/Berlin", "london": "Europe/London",
           "new york": "America/New_York", "san francisco": "America/Los_Angeles",
           "toronto": "America/Toronto", "bangalore": "Asia/Kolkata", "singapore": "Asia/Singapore"}
VERSIONS = {"v.8.3.0": {"date_created": "2022-06-28 12:00:00", "blocking_update": 1},
            "v.8.4.0": {"date_created": "2023-02-14 12:00:00", "blocking_update": 0}}
FIRST_VERSION, LATEST_VERSION = "v.8.3.0", "v.8.4.0"
BUSY = ("creating", "updating", "deleting", "upgrading")
ACTIONS = ("insert", "insert or update", "delete and insert")
URL_TYPES = ("website", "hostedpage")
STORAGE_STEP = 100
MAX_ID = 2**63 - 1  # SQLite's largest integer; bigger ids cannot exist
_TIMEZONES = frozenset(zoneinfo.available_timezones())  # empty without tz data: then accept any
NEW_STATS = {"status": "OBSERVE", "current_storage": 0, "visits": 0, "records": 0, "batches": 0,
             "webhooks": 0, "tasks": 0, "avg_performance": 0, "peak_performance": 0}


def _host_token(customer_id: int, env_id: int) -> str:
    """The 24 characters the doc shows as x's in www-xxxxxxxxxxxxxxxxxxxxxxxx.onflowize.com."""
    return hashlib.sha1(f"{customer_id}-{env_id}".encode()).hexdigest()[:24]


@bp.url_value_preprocessor
def _ids_fit_sqlite(endpoint: str | None, values: dict[str, Any] | None) -> None:
    for key, value in (values or {}).items():
        if isinstance(value, int) and value > MAX_ID:
            raise FlowizeError(404, f"The {key.split('_')[0].capitalize()} {value} doesn't exist.")


# -- loading, settling and rendering ---------------------------------------------------------
def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _settle() -> None:
    """Apply every asynchronous action whose time has come."""
    db, now = sandbox().db, time.time()
    with db.transaction() as conn:
        for row in conn.execute("SELECT id, pending FROM fz_env_environments "
                                "WHERE ready_at IS NOT NULL AND ready_at <= ?", (now,)).fetchall():
            changes: dict[str, Any] = json.loads(row["pending"])
            sets = ", ".join(f"{column} = ?" for column in changes)
            conn.execute(f"UPDATE fz_env_environments SET {sets}, ready_at = NULL, pending = NULL "
                         "WHERE id = ?", (*changes.values(), row["id"]))


def _load(env_id: int, caller: Caller, *, idle: bool = False, settle: bool = True) -> sqlite3.Row:
    if settle:
        _settle()
    row = sandbox().db.one("SELECT * FROM fz_env_environments WHERE id = ? AND customer_id = ?",
                           (env_id, caller.customer_id))
    if row is None or row["status"] == "deleted":
        raise FlowizeError(404, f"The Environment {env_id} doesn't exist.")
    if idle and row["status"] in BUSY:
        raise FlowizeError(409, f"The Environment {env_id} is {row['status']}; try again when its "
                                "status is ready.")
    return row


def _render(row: sqlite3.Row, *, with_certificate: bool = True) -> dict[str, Any]:
    projects = sandbox().db.all("SELECT project_id FROM fz_env_hosted WHERE environment_id = ? "
                                "ORDER BY project_id", (row["id"],))
    package_name, base = PACKAGES[row["package"]]
    addons = json.loads(row["storage_addons"])
    # Host names exist only once the server does (the create example shows them empty).
    host = "" if row["status"] == "creating" else row["host_token"] + ".onflowize.com"
    body: dict[str, Any] = {
        "id": str(row["id"]), "name": row["name"], "description": row["description"],
        "date_created": row["date_created"], "date_updated": row["date_updated"],
        "info": {"frontend_url": host and "www-" + host, "api_url": host and "api-" + host,
                 "html_url": host and "web-" + host, "timezone": row["timezone"]},
        "status": row["status"],
        "projects": [str(p["project_id"]) for p in projects],
        "package": {"name": package_name, "code": row["package"]},
        "software": {"current_version": {"version": row["version"], **VERSIONS[row["version"]],
                                         "changelog": f"https://kb.flowize.com/changelog/{row['version']}"}},
        "base_storage": base, "total_storage": base + sum(a["storage"] for a in addons),
        "storage_addons": addons,
        "storage_info": {"used": 0, "total": 0, "used_percentage": 0, "available_percentage": 0},
        "active": 1, "ip": "127.0.0.1", "stats": json.loads(row["stats"]),
    }
    if with_certificate and row["ssl_certificate"]:
        body["ssl_certificate"] = json.loads(row["ssl_certificate"])
    return body


def _one(env_id: int, caller: Caller, status: int = 200, *, settle: bool = True):
    row = _load(env_id, caller, settle=settle)
    return respond({"code": status, "data": _render(row)}, status)


def _started(env_id: int, caller: Caller, status: int = 200):
    """The answer to an asynchronous action: its transitional status, even with a zero delay."""
    return _one(env_id, caller, status, settle=False)


def _start(env_id: int, status: str, then: dict[str, Any], **now: Any) -> None:
    """Begin an asynchronous action: show ``status`` now, apply ``then`` after the configured delay."""
    ready_at = time.time() + sandbox().environment_ready_after
    pending = json.dumps({"date_updated": _stamp(ready_at), **then})
    columns = {"status": status, "date_updated": now_str(), **now}
    sets = ", ".join(f"{column} = ?" for column in columns)
    sandbox().db.execute(f"UPDATE fz_env_environments SET {sets}, ready_at = ?, pending = ? WHERE id = ?",
                         (*columns.values(), ready_at, pending, env_id))


# -- payload helpers -------------------------------------------------------------------------
def _object_body(*, required: bool) -> dict[str, Any]:
    body = json_body(required=required, allow_empty=not required)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise FlowizeError(400, "The request body must be a JSON object.")
    return body


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise FlowizeError(400, f"The parameter '{key}' must be a string.")
    return value.strip()


def _need(body: dict[str, Any], key: str) -> str:
    value = _text(body, key)
    if value is None:
        raise FlowizeError(400, f"The parameter '{key}' is required.")
    return value


def _choice(value: _S, key: str, allowed: Any) -> _S:
    if value is not None and value not in allowed:
        raise FlowizeError(400, f"The parameter '{key}' must be one of: {', '.join(allowed)}.")
    return value


def _integer(value: Any, key: str) -> int:
    """A positive integer; digit strings too, since XML bodies carry every value as text."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_ID:
        raise FlowizeError(400, f"The parameter '{key}' must be a positive integer.")
    return value


# -- list, get, status, create ---------------------------------------------------------------
@bp.route("/v1/environment", methods=["GET", "POST"])
@bp.route("/v1/environment/", methods=["GET", "POST"])
def environments():
    caller = authenticate(require_app=False)
    if request.method == "POST":
        return _create(caller)
    _settle()
    rows = sandbox().db.all("SELECT * FROM fz_env_environments WHERE customer_id = ? AND status != 'deleted' "
                            "ORDER BY id", (caller.customer_id,))
    return respond({"code": 200, "data": [_render(r, with_certificate=False) for r in rows]})


def _create(caller: Caller):
    body = _object_body(required=True)
    name = _need(body, "name")
    description = _text(body, "description") or ""
    package = _choice(_need(body, "package"), "package", PACKAGES)
    region = _choice(_need(body, "region").lower(), "region", REGIONS)
    tz = _text(body, "timezone") or REGIONS[region]
    if _TIMEZONES and tz not in _TIMEZONES:
        raise FlowizeError(400, f"The timezone '{tz}' is not a TZ database name (e.g. Europe/Amsterdam).")
    stamp = now_str()
    with sandbox().db.transaction() as conn:
        cur = conn.execute(
            "INSERT INTO fz_env_environments (customer_id, name, description, region, timezone, host_token, "
            "package, version, stats, status, date_created, date_updated) "
            "VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, 'creating', ?, ?)",
            (caller.customer_id, name, description, region, tz, package, FIRST_VERSION,
             json.dumps(NEW_STATS), stamp, stamp))
        env_id = cast(int, cur.lastrowid)
        conn.execute("UPDATE fz_env_environments SET host_token = ? WHERE id = ?",
                     (_host_token(caller.customer_id, env_id), env_id))
    _start(env_id, "creating", {"status": "ready"})
    return _started(env_id, caller, 201)


@bp.get("/v1/environment/<int:environment_id>")
def get_environment(environment_id: int):
    return _one(environment_id, authenticate(require_app=False))


@bp.get("/v1/environment/<int:environment_id>/status")
def environment_status(environment_id: int):
    caller = authenticate(require_app=False)
    _settle()
    # Unlike the other endpoints, status still answers for a deleted environment: "deleted" is
    # one of its documented values and the only way a poller sees the deletion finish.
    row = sandbox().db.one("SELECT id, status FROM fz_env_environments WHERE id = ? AND customer_id = ?",
                           (environment_id, caller.customer_id))
    if row is None:
        raise FlowizeError(404, f"The Environment {environment_id} doesn't exist.")
    return respond({"code": 200, "data": {"id": str(row["id"]), "status": row["status"]}})


# -- update, delete --------------------------------------------------------------------------
_FILES = ("pem_file", "private_key_file", "certificate_file", "chain_files")


def _update_payload() -> tuple[dict[str, Any], dict[str, list[str]]]:
    """(fields, files) from multipart/urlencoded forms (documented) or a JSON object (files as text)."""
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        fields: dict[str, Any] = {k: v for k, v in request.form.items() if k not in _FILES}
        files = {k: [f.read().decode("utf-8", "replace") for f in request.files.getlist(k)] for k in _FILES}
        for key in _FILES:  # a file's text sent as a plain form value counts as the file
            files[key] += request.form.getlist(key)
    else:
        fields = _object_body(required=True)
        files = {}
        for key in _FILES:
            value = fields.pop(key, None)
            values = value if isinstance(value, list) else [] if value is None else [value]
            if not all(isinstance(v, str) for v in values):
                raise FlowizeError(400, f"The parameter '{key}' must hold the file's text.")
            files[key] = values
    return fields, {k: [v for v in vs if v.strip()] for k, vs in files.items()}


def _require_pem(text: str, marker: str, key: str) -> None:
    if f"-----BEGIN {marker}" not in text and not (marker == "PRIVATE KEY" and "PRIVATE KEY-----" in text):
        raise FlowizeError(400, f"The {key} is not a PEM file with a {marker} block.")


def _certificate(files: dict[str, list[str]]) -> dict[str, Any] | None:
    """The ssl_certificate block for the uploaded files, or None when none were sent."""
    if files["pem_file"]:
        material = files["pem_file"][0]  # the doc: with a PEM file, other files are ignored
        _require_pem(material, "CERTIFICATE", "pem_file")
        _require_pem(material, "PRIVATE KEY", "pem_file")
    elif files["private_key_file"] or files["certificate_file"]:
        if not (files["private_key_file"] and files["certificate_file"]):
            raise FlowizeError(400, "The private_key_file and the certificate_file must be uploaded "
                                    "together.")
        _require_pem(files["private_key_file"][0], "PRIVATE KEY", "private_key_file")
        _require_pem(files["certificate_file"][0], "CERTIFICATE", "certificate_file")
        for chain in files["chain_files"]:
            _require_pem(chain, "CERTIFICATE", "chain_files")
        material = "".join(files["certificate_file"] + files["chain_files"])
    elif files["chain_files"]:
        raise FlowizeError(400, "chain_files need a private_key_file and a certificate_file (or a pem_file).")
    else:
        return None
    # The sandbox does not parse certificates: it keeps the doc's sample block, made unique per upload.
    digest = hashlib.sha256(material.encode()).hexdigest()
    now = datetime.now(UTC)
    return {**CERTIFICATE, "hash": digest[:8], "serial_number": "0x" + digest[:37].upper(),
            "valid_from": int(now.timestamp()), "valid_to": int((now + timedelta(days=90)).timestamp())}


@bp.route("/v1/environment/<int:environment_id>", methods=["POST", "DELETE"])
def change_environment(environment_id: int):
    caller = authenticate(require_app=False)
    row = _load(environment_id, caller, idle=True)
    if request.method == "DELETE":
        _start(environment_id, "deleting", {"status": "deleted"})
        return _started(environment_id, caller)
    fields, files = _update_payload()
    changes: dict[str, Any] = {}
    if "name" in fields:
        changes["name"] = _need(fields, "name")
    if "description" in fields:
        changes["description"] = _text(fields, "description") or ""
    delete = str(fields.get("delete_certificate", "0")).strip().lower()
    if delete not in ("0", "1", "false", "true"):
        raise FlowizeError(400, "The parameter 'delete_certificate' must be 0 or 1.")
    certificate = _certificate(files)
    if delete in ("1", "true"):
        if certificate is not None:
            raise FlowizeError(400, "delete_certificate=1 cannot be combined with certificate files.")
        changes["ssl_certificate"] = None
    elif certificate is not None:
        changes["ssl_certificate"] = json.dumps(certificate)
    if certificate is None and not {"name", "description", "delete_certificate"} & set(fields):
        raise FlowizeError(400, "Nothing to update: send name, description, delete_certificate or "
                                "certificate files.")
    if changes and any(row[k] != v for k, v in changes.items()):
        changes["date_updated"] = now_str()
        sets = ", ".join(f"{column} = ?" for column in changes)
        sandbox().db.execute(f"UPDATE fz_env_environments SET {sets} WHERE id = ?",
                             (*changes.values(), environment_id))
    return _one(environment_id, caller)


# -- upgrade, update-version, optimize -------------------------------------------------------
@bp.post("/v1/environment/<int:environment_id>/upgrade")
def upgrade(environment_id: int):
    caller = authenticate(require_app=False)
    row = _load(environment_id, caller, idle=True)
    body = _object_body(required=True)
    package = _choice(_text(body, "package"), "package", PACKAGES)
    if package is not None:  # the doc: if package is sent, storage is ignored
        if list(PACKAGES).index(package) <= list(PACKAGES).index(row["package"]):
            raise FlowizeError(400, f"The Environment already has {row['package']}; upgrade to a bigger "
                                    "package.")
        _start(environment_id, "upgrading", {"status": "upgraded"}, package=package)
    elif body.get("storage") is not None:
        if _integer(body["storage"], "storage") != STORAGE_STEP:
            raise FlowizeError(400, f"You can only add {STORAGE_STEP}GB of storage each time.")
        addons = json.loads(row["storage_addons"]) + [{"storage": STORAGE_STEP, "date_created": now_str()}]
        _start(environment_id, "upgrading", {"status": "upgraded"}, storage_addons=json.dumps(addons))
    else:
        raise FlowizeError(400, "Send a 'package' (SS-B, SS-C, SS-D) or 'storage' (100) to upgrade.")
    return _started(environment_id, caller)


@bp.post("/v1/environment/<int:environment_id>/update-version")
def update_version(environment_id: int):
    caller = authenticate(require_app=False)
    row = _load(environment_id, caller, idle=True)
    if row["version"] == LATEST_VERSION:
        raise FlowizeError(409, f"The Environment already runs the latest version ({LATEST_VERSION}).")
    _start(environment_id, "upgrading", {"status": "upgraded", "version": LATEST_VERSION})
    return _started(environment_id, caller)


@bp.post("/v1/environment/<int:environment_id>/optimize")
def optimize(environment_id: int):
    caller = authenticate(require_app=False)
    row = _load(environment_id, caller, idle=True)
    stats = json.loads(row["stats"])
    stats["current_storage"] = round(stats["current_storage"] * 0.8, 4)  # something for the client to see
    _start(environment_id, "upgrading", {"status": "ready", "stats": json.dumps(stats)})
    return _started(environment_id, caller)


# -- projects --------------------------------------------------------------------------------
_PURPOSES = [(True, False, "SSL client"), (True, False, "SSL server"),
             (True, False, "Netscape SSL server"), (False, False, "S/MIME signing"),
             (False, False, "S/MIME encryption"), (False, False, "CRL signing"), (True, True, "Any Purpose"),
             (True, False, "OCSP helper"), (False, False, "Time Stamp signing")]
_NO_NAMES = dict.fromkeys(("organization_name", "organizational_unit_name", "locality_name",
                           "state_province_name", "country_name"))
CERTIFICATE: dict[str, Any] = {  # the doc's sample ssl_certificate block
    "name": "/CN=www.mydomain.com",
    "subject": {"serial_number": None, "email_address": None, "common_name": "www.mydomain.com", **_NO_NAMES},
    "hash": "b128c3f7",
    "issuer": {"country_name": "US", "state_province_name": None, "organization_name": "Let's Encrypt",
               "organizational_unit_name": None, "common_name": "Let's Encrypt Authority X3",
               "email_address": None},
    "version": 2, "serial_number": "0x031D48DED368727DA88D9B7FB85432B8699C3",
    "valid_from": 1602704994, "valid_to": 1610480994,
    "signature_type_SN": "RSA-SHA256", "signature_type_LN": "sha256WithRSAEncryption",
    "signature_type_NID": 668,
    "purposes": {str(i): list(p) for i, p in enumerate(_PURPOSES, start=1)},
}
