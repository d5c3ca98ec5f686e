"""Flow events sandbox, the JSON endpoints of flow-events-api.txt.

    GET  /api/v1/events/sessions?period=&simple_analytics=      "GET Events List"
    GET  /api/v1/events/sessions/<token>                        "GET Events Info" (no example: path chosen)
    POST /api/v1/events                                         "POST Event Creation" (barebones event)
    POST /api/v1/registrants                                    "POST Registration"
    GET  /api/v1/reports/events/sessions/registrants/<token>    "GET Registrant List"
    GET  /api/v1/reports/events/sessions/operators/<token>      "GET Operator List" (path chosen)
    GET  /api/v1/reports/events/sessions/surveys/<token>        "GET Event Session Surveys"

Lists come as ``{"data": [...]}``: the doc says the API "returns JSON objects" and, for surveys,
"an array of data", so an object holding an array named ``data`` satisfies both.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, jsonify, request

from gateway.sandbox.context import sandbox
from gateway.sandbox.flowevents.seed import join_key
from gateway.sandbox.flowevents.wire import EventsError, iso, parse_iso, utcnow

bp = Blueprint("flowevents_api", __name__, url_prefix="/api/v1")

PERIODS = ("all", "current", "past", "upcoming")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_FLAGS = {"1": True, "true": True, "0": False, "false": False, "": False}


def find_session(token: str) -> sqlite3.Row:
    row = sandbox().db.one("SELECT s.*, e.title, e.description FROM fe_sessions s JOIN fe_events e "
                           "ON e.id = s.event_id WHERE s.token = ?", (token,))
    if row is None:
        raise EventsError(404, f"No event session with token {token!r}.", "session_not_found")
    return row


def status_of(session: sqlite3.Row, now: datetime | None = None) -> str:
    now = now or utcnow()
    if now < parse_iso(session["starts_at"]):
        return "upcoming"
    return "live" if now < parse_iso(session["ends_at"]) else "past"


def _flag(name: str) -> bool:
    value = request.args.get(name, "").strip().lower()
    if value not in _FLAGS:
        raise EventsError(400, f"{name} must be 0 or 1.", "invalid_parameter")
    return _FLAGS[value]


_ANALYTICS_SQL = (
    ("SELECT COUNT(*) AS n, SUM(joined_at IS NOT NULL) AS attended, "
     "AVG(CASE WHEN joined_at IS NOT NULL THEN minutes_watched END) AS avg_minutes "
     "FROM fe_registrants WHERE session_token = ?"),
    ("SELECT SUM(kind = 'attendee') AS attendee, SUM(kind = 'operator') AS operator "
     "FROM fe_chat WHERE session_token = ?"),
    ("SELECT COUNT(DISTINCT a.survey_id || '/' || a.registrant_id) AS n FROM fe_survey_answers a "
     "JOIN fe_surveys s ON s.id = a.survey_id WHERE s.session_token = ?"),
)


def _analytics(token: str) -> dict[str, Any]:
    """The ``simple_analytics=1`` numbers, also the summary report's."""
    reg, chats, answers = (_one(sql, token) for sql in _ANALYTICS_SQL)
    registrants, attendees = reg["n"], reg["attended"] or 0
    return {"registrants": registrants, "attendees": attendees,
            "attendanceRate": round(100 * attendees / registrants, 1) if registrants else 0.0,
            "averageMinutesWatched": round(float(reg["avg_minutes"] or 0), 1),
            "attendeeChatMessages": chats["attendee"] or 0, "operatorChatMessages": chats["operator"] or 0,
            "surveyResponses": answers["n"]}


def _one(sql: str, token: str) -> sqlite3.Row:
    row = sandbox().db.one(sql, (token,))
    if row is None:  # an aggregate always has one row; this is for the type checker
        raise EventsError(500)
    return row


def session_json(row: sqlite3.Row, *, analytics: bool = False) -> dict[str, Any]:
    body = {"eventSessionToken": row["token"], "eventId": row["event_id"], "title": row["title"],
            "description": row["description"], "startsAt": row["starts_at"], "endsAt": row["ends_at"],
            "timezone": row["timezone"], "status": status_of(row),
            "registrationUrl": f"{request.host_url}register/{row['token']}"}
    if analytics:
        body["analytics"] = _analytics(row["token"])
    return body


def registrant_json(row: sqlite3.Row) -> dict[str, Any]:
    return {"id": row["id"], "email": row["email"], "firstName": row["first_name"], "lastName": row["last_name"],
            "company": row["company"], "eventSessionToken": row["session_token"],
            "registeredAt": row["registered_at"], "attended": row["joined_at"] is not None,
            "joinedAt": row["joined_at"], "leftAt": row["left_at"], "minutesWatched": row["minutes_watched"],
            "joinUrl": f"{request.host_url}join/{row['session_token']}/{row['join_key']}"}


def _json_object() -> dict[str, Any]:
    if not request.is_json:
        raise EventsError(415, "Send the body as JSON with Content-Type: application/json.")
    try:
        body = json.loads(request.get_data())
    except (ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise EventsError(400, "The body must be a JSON object.", "invalid_body")
    return body


def _text(body: dict[str, Any], name: str, *, required: bool = True, limit: int = 200) -> str:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise EventsError(400, f"{name} is required.", "missing_field")
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise EventsError(400, f"{name} must be a string of at most {limit} characters.", "invalid_field")
    return value.strip()


@bp.get("/events/sessions")
def list_sessions():
    period = request.args.get("period", "all").strip().lower()
    if period not in PERIODS:
        raise EventsError(400, f"period must be one of: {', '.join(PERIODS)}.", "invalid_parameter")
    analytics = _flag("simple_analytics")
    rows = sandbox().db.all("SELECT s.*, e.title, e.description FROM fe_sessions s JOIN fe_events e "
                            "ON e.id = s.event_id ORDER BY s.starts_at, s.token")
    now = utcnow()
    wanted = {"all": {"past", "live", "upcoming"}, "current": {"live", "upcoming"},
              "past": {"past"}, "upcoming": {"upcoming"}}[period]
    return jsonify({"data": [session_json(r, analytics=analytics) for r in rows if status_of(r, now) in wanted]})


@bp.get("/events/sessions/<token>")
def session_info(token: str):
    return jsonify({"data": session_json(find_session(token), analytics=_flag("simple_analytics"))})


@bp.post("/events")
def create_event():
    body = _json_object()
    title = _text(body, "title")
    try:
        starts = parse_iso(_text(body, "startsAt", limit=40))
    except ValueError:
        raise EventsError(400, "startsAt must be an ISO 8601 date and time.", "invalid_field") from None
    duration = body.get("duration", 60)
    if isinstance(duration, bool) or not isinstance(duration, int) or not 1 <= duration <= 24 * 60:
        raise EventsError(400, "duration must be a whole number of minutes, 1 to 1440.", "invalid_field")
    tz = _text(body, "timezone", required=False, limit=64) or "UTC"
    try:
        starts_at, ends_at = iso(starts), iso(starts + timedelta(minutes=duration))
    except (OverflowError, ValueError):
        raise EventsError(400, "startsAt is out of range.", "invalid_field") from None
    with sandbox().db.transaction() as conn:
        event_id = conn.execute("INSERT INTO fe_events (title, description) VALUES (?, ?)",
                                (title, _text(body, "description", required=False, limit=2000))).lastrowid
        token = secrets.token_urlsafe(8)  # 11 characters, like the doc's "rGt3dC546xs"
        conn.execute("INSERT INTO fe_sessions (token, event_id, starts_at, ends_at, timezone) VALUES (?, ?, ?, ?, ?)",
                     (token, event_id, starts_at, ends_at, tz))
    return jsonify({"data": session_json(find_session(token))}), 201


@bp.post("/registrants")
def create_registrant():
    body = _json_object()
    token = _text(body, "eventSessionToken", limit=64)
    email = _text(body, "email", limit=254)
    if not _EMAIL.match(email):
        raise EventsError(400, "email is not a valid e-mail address.", "invalid_field")
    first, last = _text(body, "firstName"), _text(body, "lastName", required=False)
    company = _text(body, "company", required=False)
    session = find_session(token)
    if status_of(session) == "past":
        raise EventsError(409, "Registration is closed: the event session is over.", "registration_closed")
    db = sandbox().db
    # Registering an e-mail again returns the first registration (200, same id and join link): the SSO
    # flow registers on every visit, so the vendor must deduplicate. See docs/vendors.md.
    with db.transaction() as conn:
        existing = conn.execute("SELECT * FROM fe_registrants WHERE session_token = ? AND email = ?",
                                (token, email)).fetchone()
        if existing is None:
            conn.execute("INSERT INTO fe_registrants (session_token, email, first_name, last_name, company, "
                         "registered_at, join_key) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         (token, email, first, last, company, iso(utcnow()), join_key(token, email)))
    row = db.one("SELECT * FROM fe_registrants WHERE session_token = ? AND email = ?", (token, email))
    return jsonify({"data": registrant_json(row)}), 200 if existing else 201


@bp.get("/reports/events/sessions/registrants/<token>")
def list_registrants(token: str):
    find_session(token)
    rows = sandbox().db.all("SELECT * FROM fe_registrants WHERE session_token = ? ORDER BY id", (token,))
    return jsonify({"data": [registrant_json(r) for r in rows]})


@bp.get("/reports/events/sessions/operators/<token>")
def list_operators(token: str):
    find_session(token)
    rows = sandbox().db.all("SELECT * FROM fe_operators WHERE session_token = ? ORDER BY id", (token,))
    return jsonify({"data": [{"id": r["id"], "name": r["name"], "email": r["email"], "role": r["role"]}
                             for r in rows]})


@bp.get("/reports/events/sessions/surveys/<token>")
def list_surveys(token: str):
    find_session(token)
    db = sandbox().db
    rows = db.all("SELECT s.*, (SELECT COUNT(DISTINCT registrant_id) FROM fe_survey_answers a "
                  "WHERE a.survey_id = s.id) AS responses FROM fe_surveys s WHERE session_token = ? ORDER BY id",
                  (token,))
    return jsonify({"data": [{"id": r["id"], "title": r["title"], "questions": json.loads(r["questions"]),
                              "responseCount": r["responses"]} for r in rows]})
