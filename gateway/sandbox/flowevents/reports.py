"""Flow events sandbox, "GET CSV Reports": the five reports of flow-events-api.txt.

    GET /api/v1/reports/events/sessions/csv/summary/<token>                    "Complied Report"
    GET /api/v1/reports/events/sessions/csv/registrants/<token>                "Registrants"
    GET /api/v1/reports/events/sessions/csv/attendee_chat/<token>              "Attendee Chat Log"
    GET /api/v1/reports/events/sessions/csv/operator_chat/<token>              "Operator Chat Log"
    GET /api/v1/reports/events/sessions/csv/survey_responses/<token>[/<id>]    "Survey Responses"

Only ``summary`` has a doc example; the other slugs follow it. The doc sells reports "on a specified
past event": the registrants report works for any session, the others answer 409
``session_not_ended`` until the session is over. Survey responses take the survey id the surveys
endpoint lists ("the ID used to fetch survey response reports"); without it, every survey.
Encoding: see wire.py (``_encoding`` query knob, per-session default).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from flask import Blueprint, Response, request

from gateway.sandbox.context import sandbox
from gateway.sandbox.flowevents.api import _analytics, find_session, status_of
from gateway.sandbox.flowevents.wire import ENCODINGS, EventsError, csv_response, parse_iso, sheet_time

bp = Blueprint("flowevents_reports", __name__, url_prefix="/api/v1/reports/events/sessions/csv")

Table = tuple[Sequence[str], Iterable[Sequence[Any]]]


def _summary(session) -> Table:
    stats = _analytics(session["token"])
    minutes = round((_ts(session["ends_at"]) - _ts(session["starts_at"])) / 60)
    header = ("Session Token", "Event ID", "Title", "Starts At", "Ends At", "Duration (min)", "Registrants",
              "Attendees", "Attendance Rate (%)", "Average Minutes Watched", "Attendee Chat Messages",
              "Operator Chat Messages", "Survey Responses")
    return header, [(session["token"], session["event_id"], session["title"], sheet_time(session["starts_at"]),
                     sheet_time(session["ends_at"]), minutes, stats["registrants"], stats["attendees"],
                     stats["attendanceRate"], stats["averageMinutesWatched"], stats["attendeeChatMessages"],
                     stats["operatorChatMessages"], stats["surveyResponses"])]


def _registrants(session) -> Table:
    rows = sandbox().db.all("SELECT * FROM fe_registrants WHERE session_token = ? ORDER BY id", (session["token"],))
    header = ("Registrant ID", "First Name", "Last Name", "Email", "Company", "Registered At", "Attended",
              "Join Time", "Leave Time", "Minutes Watched")
    return header, [(r["id"], r["first_name"], r["last_name"], r["email"], r["company"],
                     sheet_time(r["registered_at"]), "Yes" if r["joined_at"] else "No", sheet_time(r["joined_at"]),
                     sheet_time(r["left_at"]), r["minutes_watched"] if r["joined_at"] else "") for r in rows]


def _chat(kind: str) -> Callable[[Any], Table]:
    def table(session) -> Table:
        rows = sandbox().db.all("SELECT * FROM fe_chat WHERE session_token = ? AND kind = ? ORDER BY sent_at, id",
                                (session["token"], kind))
        if kind == "attendee":
            return ("Sent At", "Name", "Email", "Message"), [
                (sheet_time(r["sent_at"]), r["sender_name"], r["sender_email"], r["message"]) for r in rows]
        return ("Sent At", "Operator", "Operator Email", "To", "Message"), [
            (sheet_time(r["sent_at"]), r["sender_name"], r["sender_email"], r["recipient"], r["message"])
            for r in rows]
    return table


def _survey_responses(session, survey_id: int | None) -> Table:
    db = sandbox().db
    surveys = db.all("SELECT * FROM fe_surveys WHERE session_token = ? ORDER BY id", (session["token"],))
    if survey_id is not None:
        surveys = [s for s in surveys if s["id"] == survey_id]
        if not surveys:
            raise EventsError(404, f"No survey {survey_id} in this event session.", "survey_not_found")
    out = []
    for survey in surveys:
        questions = {q["id"]: q["text"] for q in json.loads(survey["questions"])}
        for a in db.all("SELECT a.*, r.email, r.first_name, r.last_name FROM fe_survey_answers a JOIN "
                        "fe_registrants r ON r.id = a.registrant_id WHERE a.survey_id = ? ORDER BY a.id",
                        (survey["id"],)):
            out.append((survey["id"], survey["title"], a["question_id"], questions.get(a["question_id"], ""),
                        a["email"], a["first_name"], a["last_name"], a["answer"], sheet_time(a["answered_at"])))
    header = ("Survey ID", "Survey", "Question ID", "Question", "Email", "First Name", "Last Name", "Answer",
              "Answered At")
    return header, out


REPORTS: dict[str, Callable[[Any], Table]] = {
    "summary": _summary, "registrants": _registrants, "attendee_chat": _chat("attendee"),
    "operator_chat": _chat("operator"),
}


def _ts(value: str) -> float:
    return parse_iso(value).timestamp()


def _encoding(session) -> str:
    wanted = request.args.get("_encoding", session["csv_encoding"]).strip().lower()
    if wanted not in ENCODINGS:
        raise EventsError(400, f"_encoding must be one of: {', '.join(ENCODINGS)}.", "invalid_parameter")
    return wanted


def _send(report: str, session, table: Table) -> Response:
    header, rows = table
    return csv_response(header, rows, encoding=_encoding(session), filename=f"{report}-{session['token']}.csv")


def _ended(session, report: str) -> None:
    if report != "registrants" and status_of(session) != "past":
        raise EventsError(409, "CSV reports are available once the event session is over.", "session_not_ended")


@bp.get("/<report>/<token>")
def csv_report(report: str, token: str):
    if report == "survey_responses":
        return survey_responses(token)
    if report not in REPORTS:
        raise EventsError(404, f"Unknown report {report!r}; one of: {', '.join([*REPORTS, 'survey_responses'])}.",
                          "report_not_found")
    session = find_session(token)
    _ended(session, report)
    return _send(report, session, REPORTS[report](session))


@bp.get("/survey_responses/<token>/<survey_id>")
def survey_responses(token: str, survey_id: str | None = None):
    session = find_session(token)
    _ended(session, "survey_responses")
    if survey_id is not None and not (survey_id.isascii() and survey_id.isdigit()):
        raise EventsError(400, "The survey id is a whole number.", "invalid_parameter")
    number = int(survey_id) if survey_id is not None else None
    return _send("survey_responses", session, _survey_responses(session, number))
