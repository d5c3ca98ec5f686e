"""``/api/events/...``: Flow events sessions, registrants, surveys and reports (docs/api-events-feeds.md).

    GET  /api/events/sessions[?period=all|current|past|upcoming][&analytics=true]
    GET  /api/events/sessions/<token>[?analytics=true]
    GET  /api/events/sessions/<token>/registrants
    POST /api/events/sessions/<token>/registrants      201 new, 200 already registered
    GET  /api/events/sessions/<token>/surveys
    GET  /api/events/sessions/<token>/reports/<kind>[?survey_id=]   JSON items, or the CSV as sent
                                                                    for ``Accept: text/csv``

Every list is ``{"items", "next_cursor"}``; the vendor sends whole lists, the operations page them
(:func:`gateway.operations.events.page_of`). JSON members are snake_case, times ISO 8601 in UTC.
Scope: ``events``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, request

from gateway.api.auth import require_scope
from gateway.api.paging import page_args, page_body
from gateway.api.wire import json_object, respond
from gateway.errors import InvalidRequest
from gateway.operations.events import EventSession, EventsOperations, Registrant, Survey, page_of

__all__ = ["bp", "iso", "record_json", "registrant_json", "session_json", "survey_json"]

bp = Blueprint("events", __name__, url_prefix="/events")

_FLAGS = {"": False, "0": False, "false": False, "1": True, "true": True}


def _ops() -> EventsOperations:
    return current_app.extensions["flowgate"].events


# -- rendering --------------------------------------------------------------------------------------
def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with ``Z``; a time without a zone is taken as UTC (what the vendor means)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Mapping):
        return {k: _value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_value(v) for v in value]
    return value


def record_json(record: Any) -> dict[str, Any]:
    """A report row (a dataclass of :mod:`gateway.connectors.flowevents_csv`): its fields, snake_case
    already, times as ISO 8601."""
    return {name: _value(value) for name, value in asdict(record).items()}


def session_json(s: EventSession) -> dict[str, Any]:
    analytics = {_snake(k): v for k, v in s.analytics.items()} if s.analytics is not None else None
    return {"token": s.token, "event_id": s.event_id, "title": s.title, "description": s.description,
            "starts_at": iso(s.starts_at), "ends_at": iso(s.ends_at), "timezone": s.timezone,
            "status": s.status, "registration_url": s.registration_url, "analytics": analytics}


def registrant_json(r: Registrant) -> dict[str, Any]:
    return {"id": r.id, "email": r.email, "first_name": r.first_name, "last_name": r.last_name,
            "session_token": r.session_token, "registered_at": iso(r.registered_at), "join_url": r.join_url,
            "attended": r.attended, "minutes_watched": r.minutes_watched}


def survey_json(s: Survey) -> dict[str, Any]:
    # Questions are the vendor's own small objects ({"id", "text", "type"[, "choices"]}), passed on.
    return {"id": s.id, "title": s.title, "questions": _value(s.questions), "response_count": s.response_count}


# -- parsing ----------------------------------------------------------------------------------------
def _bad_parameter(message: str) -> InvalidRequest:
    err = InvalidRequest(message)
    err.problem_code = "invalid_parameter"
    return err


def _flag(name: str) -> bool:
    value = request.args.get(name, "").strip().lower()
    if value not in _FLAGS:
        raise _bad_parameter(f"{name} must be true or false.")
    return _FLAGS[value]


def _survey_id() -> int | None:
    raw = request.args.get("survey_id")
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise _bad_parameter("survey_id must be a whole number (an id from .../surveys).")
    return int(raw)


def _wants_csv() -> bool:
    # JSON unless the client prefers text/csv; on a tie (or */*) JSON wins, as it is listed first.
    return request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"


# -- routes -----------------------------------------------------------------------------------------
@bp.get("/sessions")
def list_sessions() -> Response:
    require_scope("events")
    limit, state = page_args()
    period = request.args.get("period", "all").strip().lower() or "all"
    sessions = _ops().sessions(period, analytics=_flag("analytics"))
    page = page_of(sessions, limit, state, scope=f"sessions/{period}", key=lambda s: s.token)
    return respond(page_body([session_json(s) for s in page.items], page.next_state))


@bp.get("/sessions/<token>")
def get_session(token: str) -> Response:
    require_scope("events")
    return respond(session_json(_ops().session(token, analytics=_flag("analytics"))))


@bp.get("/sessions/<token>/registrants")
def list_registrants(token: str) -> Response:
    require_scope("events")
    limit, state = page_args()
    registrants = _ops().registrants(token)
    page = page_of(registrants, limit, state, scope=f"registrants/{token}", key=lambda r: r.id)
    return respond(page_body([registrant_json(r) for r in page.items], page.next_state))


@bp.post("/sessions/<token>/registrants")
def register(token: str) -> Response:
    require_scope("events")
    registrant = _ops().register(token, json_object())
    return respond(registrant_json(registrant), 201 if registrant.created else 200)


@bp.get("/sessions/<token>/surveys")
def list_surveys(token: str) -> Response:
    require_scope("events")
    limit, state = page_args()
    surveys = _ops().surveys(token)
    page = page_of(surveys, limit, state, scope=f"surveys/{token}", key=lambda s: s.id)
    return respond(page_body([survey_json(s) for s in page.items], page.next_state))


@bp.get("/sessions/<token>/reports/<kind>")
def get_report(token: str, kind: str) -> Response:
    require_scope("events")
    survey_id = _survey_id()
    if _wants_csv():
        # Passed on as sent: the vendor's bytes and Content-Type (its charset, or none), not re-encoded.
        csv = _ops().report_csv(token, kind, survey_id)
        return Response(csv.content, content_type=csv.media_type,
                        headers={"Content-Disposition": f'attachment; filename="{csv.filename}"', "Vary": "Accept"})
    limit, state = page_args()
    rows = _ops().report(token, kind, survey_id)
    # Rows have no id of their own; a finished session's reports do not change, so the offset is enough.
    page = page_of(rows, limit, state, scope=f"report/{kind}/{token}/{'' if survey_id is None else survey_id}")
    resp = respond(page_body([record_json(r) for r in page.items], page.next_state))
    resp.headers["Vary"] = "Accept"
    return resp
