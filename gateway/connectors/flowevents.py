"""The Flow events connector: one method per endpoint of flow-events-api.txt.

Every call carries the ``api-secret`` header (also the registration, whose doc example omits it:
the sandbox and, we assume, the vendor accept it there). JSON answers become small dataclasses,
CSV reports typed records (:mod:`gateway.connectors.flowevents_csv`) or, for pass-through, the bytes
and Content-Type as sent (:meth:`FlowEventsConnector.report_csv`). Vendor errors
(``{"status", "error", "message"}``, docs/vendors.md) become the project's
exception tree here, once.

Retries (through :class:`HttpClient`): every GET; ``create_registrant`` too, because registration is
deduplicated by e-mail per session (the doc's SSO flow registers on every visit, so it must be), and a
repeat returns the first registration; ``create_event`` never, nothing deduplicates events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import requests

from gateway.config import Settings
from gateway.connectors.common import body_message, json_or_none, segment, vendor_error
from gateway.connectors.flowbox import require_https
from gateway.connectors.flowevents_csv import (
    ChatMessage,
    OperatorChatMessage,
    RegistrantRow,
    SessionSummary,
    SurveyResponse,
    parse_report,
)
from gateway.errors import GatewayError, InvalidRequest, UpstreamError
from gateway.http import HttpClient

__all__ = [
    "PERIODS",
    "REPORTS",
    "ChatMessage",
    "EventSession",
    "FlowEventsConnector",
    "Operator",
    "OperatorChatMessage",
    "Registrant",
    "RegistrantRow",
    "SessionSummary",
    "Survey",
    "SurveyResponse",
]

PERIODS = ("all", "current", "past", "upcoming")
#: The CSV report slugs ("GET CSV Reports"; all but ``summary`` are our guesses, docs/vendors.md).
REPORTS = ("summary", "registrants", "attendee_chat", "operator_chat", "survey_responses")


@dataclass(frozen=True)
class EventSession:
    token: str
    event_id: int
    title: str
    description: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    status: str
    registration_url: str
    analytics: Mapping[str, Any] | None = None

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> EventSession:
        return cls(d["eventSessionToken"], int(d["eventId"]), d.get("title", ""), d.get("description", ""),
                   _dt(d["startsAt"]), _dt(d["endsAt"]), d.get("timezone", ""), d.get("status", ""),
                   d.get("registrationUrl", ""), d.get("analytics"))


@dataclass(frozen=True)
class Registrant:
    id: int
    email: str
    first_name: str
    last_name: str
    session_token: str
    registered_at: datetime
    join_url: str
    attended: bool = False
    minutes_watched: int = 0
    created: bool = True  # False when the vendor returned an earlier registration of the e-mail

    @classmethod
    def from_json(cls, d: Mapping[str, Any], created: bool = True) -> Registrant:
        return cls(int(d["id"]), d["email"], d.get("firstName", ""), d.get("lastName", ""),
                   d.get("eventSessionToken", ""), _dt(d["registeredAt"]), d.get("joinUrl", ""),
                   bool(d.get("attended")), int(d.get("minutesWatched") or 0), created)


@dataclass(frozen=True)
class Operator:
    id: int
    name: str
    email: str
    role: str


@dataclass(frozen=True)
class Survey:
    """``id`` is what :meth:`FlowEventsConnector.survey_responses_report` takes."""
    id: int
    title: str
    questions: list[Mapping[str, Any]]
    response_count: int


Record = TypeVar("Record")


class FlowEventsConnector:
    def __init__(self, http: HttpClient, base_url: str, api_secret: str):
        self.http = http
        # The api-secret travels in a header: never over plain HTTP beyond this machine.
        self.base_url = require_https(base_url, "Flow events", "GATEWAY_FLOWEVENTS_BASE_URL")
        self._secret = api_secret

    @classmethod
    def from_settings(cls, http: HttpClient, settings: Settings) -> FlowEventsConnector:
        return cls(http, settings.flowevents_base_url, settings.flowevents_api_secret)

    # -- plumbing ----------------------------------------------------------------------------------
    def _send(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None,
              retry: bool | None = None, accept: str = "application/json") -> requests.Response:
        headers = {"api-secret": self._secret, "Accept": accept}
        response = self.http.send(method, self.base_url + path, headers=headers, params=params, json=body,
                                  retry=retry, vendor="flowevents")
        if response.status_code >= 300:
            raise _error(response)
        return response

    def _data(self, method: str, path: str, **kw: Any) -> Any:
        response = self._send(method, path, **kw)
        try:
            body = response.json()
        except ValueError:
            raise UpstreamError(f"Flow events answered {response.status_code} without JSON.") from None
        if not isinstance(body, dict) or "data" not in body:
            raise UpstreamError("Flow events answered without a data member.")
        return body["data"]

    def _report(self, report: str, token: str, *extra: str) -> requests.Response:
        if report not in REPORTS:
            raise InvalidRequest(f"report must be one of: {', '.join(REPORTS)}.")
        path = "/api/v1/reports/events/sessions/csv/" + "/".join(_seg(p) for p in (report, token, *extra))
        return self._send("GET", path, accept="text/csv")

    def _csv(self, report: str, token: str, record: type[Record], *extra: str) -> list[Record]:
        response = self._report(report, token, *extra)
        return parse_report(response.content, record, declared_charset=_charset(response), report=report)

    # -- "GET Events List", "GET Events Info", "POST Event Creation" --------------------------------
    def list_sessions(self, period: str = "all", *, simple_analytics: bool = False) -> list[EventSession]:
        """GET /api/v1/events/sessions?period=&simple_analytics=."""
        if period not in PERIODS:
            raise InvalidRequest(f"period must be one of: {', '.join(PERIODS)}.")
        data = self._data("GET", "/api/v1/events/sessions",
                          params={"period": period, "simple_analytics": int(simple_analytics)})
        return [EventSession.from_json(d) for d in _list(data)]

    def session_info(self, token: str, *, simple_analytics: bool = False) -> EventSession:
        """GET /api/v1/events/sessions/{token}."""
        data = self._data("GET", "/api/v1/events/sessions/" + _seg(token),
                          params={"simple_analytics": int(simple_analytics)})
        return EventSession.from_json(data)

    def create_event(self, title: str, starts_at: datetime, *, duration_minutes: int = 60,
                     description: str = "", timezone: str = "UTC") -> EventSession:
        """POST /api/v1/events: a barebones event with one session. Never retried."""
        body = {"title": title, "startsAt": starts_at.isoformat(), "duration": duration_minutes,
                "description": description, "timezone": timezone}
        return EventSession.from_json(self._data("POST", "/api/v1/events", body=body, retry=False))

    # -- "POST Registration", "GET Registrant List", "GET Operator List", surveys -------------------
    def create_registrant(self, token: str, email: str, first_name: str, last_name: str = "",
                          company: str = "") -> Registrant:
        """POST /api/v1/registrants; retried, the vendor deduplicates by e-mail (201 new, 200 again)."""
        body = {"email": email, "firstName": first_name, "lastName": last_name, "eventSessionToken": token}
        if company:
            body["company"] = company
        response = self._send("POST", "/api/v1/registrants", body=body, retry=True)
        try:
            data = response.json()["data"]
        except (ValueError, KeyError, TypeError):
            raise UpstreamError("Flow events answered a registration without its data.") from None
        return Registrant.from_json(data, created=response.status_code == 201)

    def list_registrants(self, token: str) -> list[Registrant]:
        """GET /api/v1/reports/events/sessions/registrants/{token}."""
        data = self._data("GET", "/api/v1/reports/events/sessions/registrants/" + _seg(token))
        return [Registrant.from_json(d, created=False) for d in _list(data)]

    def list_operators(self, token: str) -> list[Operator]:
        """GET /api/v1/reports/events/sessions/operators/{token}."""
        data = self._data("GET", "/api/v1/reports/events/sessions/operators/" + _seg(token))
        return [Operator(int(d["id"]), d.get("name", ""), d.get("email", ""), d.get("role", "")) for d in _list(data)]

    def list_surveys(self, token: str) -> list[Survey]:
        """GET /api/v1/reports/events/sessions/surveys/{token}."""
        data = self._data("GET", "/api/v1/reports/events/sessions/surveys/" + _seg(token))
        return [Survey(int(d["id"]), d.get("title", ""), list(d.get("questions") or []),
                       int(d.get("responseCount") or 0)) for d in _list(data)]

    # -- "GET CSV Reports" --------------------------------------------------------------------------
    def summary_report(self, token: str) -> list[SessionSummary]:
        """"Complied Report": GET .../csv/summary/{token}."""
        return self._csv("summary", token, SessionSummary)

    def registrants_report(self, token: str) -> list[RegistrantRow]:
        return self._csv("registrants", token, RegistrantRow)

    def attendee_chat_report(self, token: str) -> list[ChatMessage]:
        return self._csv("attendee_chat", token, ChatMessage)

    def operator_chat_report(self, token: str) -> list[OperatorChatMessage]:
        return self._csv("operator_chat", token, OperatorChatMessage)

    def survey_responses_report(self, token: str, survey_id: int | None = None) -> list[SurveyResponse]:
        """GET .../csv/survey_responses/{token}[/{surveyId}]; every survey of the session without an id."""
        extra = (str(int(survey_id)),) if survey_id is not None else ()
        return self._csv("survey_responses", token, SurveyResponse, *extra)

    def report_csv(self, report: str, token: str, survey_id: int | None = None) -> tuple[bytes, str]:
        """Any of the five reports as the vendor sent it: (bytes, Content-Type), undecoded, for callers
        that pass the file on (``report`` is a slug of :data:`REPORTS`; ``survey_id`` only for
        ``survey_responses``)."""
        extra = (str(int(survey_id)),) if survey_id is not None and report == "survey_responses" else ()
        response = self._report(report, token, *extra)
        return response.content, response.headers.get("Content-Type") or "text/csv"


def _seg(value: str) -> str:
    return segment(value, "The event session token")


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _list(data: Any) -> list[Mapping[str, Any]]:
    if not isinstance(data, list):
        raise UpstreamError("Flow events answered a list endpoint without a list.")
    return data


def _charset(response: requests.Response) -> str | None:
    # requests guesses ISO-8859-1 for any text/* without a charset; only a declared one is a hint.
    for part in response.headers.get("Content-Type", "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip('"')
    return None


def _error(response: requests.Response) -> GatewayError:
    """``{"status": 404, "error": "session_not_found", "message": "..."}`` -> the exception tree;
    the vendor's slug (e.g. "registration_closed") is kept as the error's ``detail``."""
    status = response.status_code
    if 300 <= status < 400:
        return UpstreamError(f"Flow events redirected ({status}); check GATEWAY_FLOWEVENTS_BASE_URL.")
    body = json_or_none(response)
    return vendor_error("Flow events", status, body_message(body), response.headers,
                        detail=body_message(body, "error"))
