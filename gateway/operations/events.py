"""Flow events (sessions, registrants, surveys, reports), protocol-neutral: what the facade calls.

The vendor answers every list whole, so paging is ours (:func:`page_of`): the position is an offset
plus the id of the last item handed out, in a state the front door signs into its cursor. Resuming
after that id (not just at the offset) keeps "each item once" when the list grew or shrank in front
of it between two pages; if that item is gone, the offset is the fallback. A state names the list it
belongs to (``scope``), so a cursor of one list is refused on another (docs/api-events-feeds.md).

Registration bodies are checked here before any vendor call; the vendor's own errors (404 unknown
session, 409 registration closed or report not ready, 429, 5xx) arrive from the connector as the
exception tree and pass through untouched.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

# EventSession, Registrant and Survey are re-exported: the front door names them without a connector import.
from gateway.connectors.flowevents import (
    PERIODS,
    EventSession,
    FlowEventsConnector,
    Registrant,
    Survey,
)
from gateway.errors import InvalidRequest, NotFound, ValidationFailed

__all__ = [
    "REPORT_KINDS",
    "CsvFile",
    "EventSession",
    "EventsOperations",
    "Page",
    "Registrant",
    "Survey",
    "check_registration",
    "invalid_cursor",
    "page_of",
]

T = TypeVar("T")

#: Facade report kind -> the vendor's CSV report slug.
REPORT_KINDS = {
    "summary": "summary",
    "registrants": "registrants",
    "attendee-chat": "attendee_chat",
    "operator-chat": "operator_chat",
    "survey-responses": "survey_responses",
}

# The sandbox's check (gateway/sandbox/flowevents/api.py), so a bad address is a 422 before any call.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NAME_LIMIT = 200
_EMAIL_LIMIT = 254


def invalid_cursor(message: str = "The cursor belongs to another list; start again without it.") -> InvalidRequest:
    err = InvalidRequest(message)
    err.problem_code = "invalid_cursor"
    return err


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_state: dict[str, Any] | None  # None: this was the last page


def page_of(items: Sequence[T], limit: int, state: Any, *, scope: str,
            key: Callable[[T], Any] | None = None) -> Page[T]:
    """One page of a whole list. ``state`` is None (first page) or a ``next_state`` handed out for the
    same ``scope``; anything else is an ``invalid_cursor`` InvalidRequest."""
    start = 0
    if state is not None:
        if (not isinstance(state, dict) or state.get("s") != scope or not isinstance(state.get("o"), int)
                or isinstance(state.get("o"), bool) or state["o"] < 0):
            raise invalid_cursor()
        start = state["o"]
        after = state.get("k")
        if key is not None and after is not None:
            for index, item in enumerate(items):
                if key(item) == after:
                    start = index + 1
                    break
    end = start + limit
    page = list(items[start:end])
    if end >= len(items) or not page:
        return Page(page, None)
    return Page(page, {"s": scope, "o": end, "k": key(page[-1]) if key is not None else None})


@dataclass(frozen=True)
class CsvFile:
    """A report as the vendor sent it: bytes, Content-Type, and a file name to offer."""
    content: bytes
    media_type: str
    filename: str


def _text(body: Mapping[str, Any], names: tuple[str, ...], *, required: bool, limit: int,
          errors: list[dict[str, Any]]) -> str:
    """The first of ``names`` present in ``body`` (camelCase, then snake_case), stripped; problems go
    to ``errors`` under the first name."""
    value = next((body[n] for n in names if body.get(n) is not None), None)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors.append({"field": names[0], "reason": "required"})
        return ""
    if not isinstance(value, str):
        errors.append({"field": names[0], "reason": "must be a string"})
        return ""
    if len(value) > limit:
        errors.append({"field": names[0], "reason": f"at most {limit} characters"})
        return ""
    return value.strip()


def check_registration(body: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """(email, first name, last name, company) or ValidationFailed listing every bad field."""
    errors: list[dict[str, Any]] = []
    email = _text(body, ("email",), required=True, limit=_EMAIL_LIMIT, errors=errors)
    if email and not _EMAIL.match(email):
        errors.append({"field": "email", "reason": "not a valid e-mail address"})
    first = _text(body, ("firstName", "first_name"), required=True, limit=_NAME_LIMIT, errors=errors)
    last = _text(body, ("lastName", "last_name"), required=False, limit=_NAME_LIMIT, errors=errors)
    company = _text(body, ("company",), required=False, limit=_NAME_LIMIT, errors=errors)
    if errors:
        raise ValidationFailed("The registration is not valid.", errors=errors)
    return email, first, last, company


class EventsOperations:
    def __init__(self, connector: FlowEventsConnector):
        self.connector = connector

    # -- sessions ---------------------------------------------------------------------------------
    def sessions(self, period: str = "all", *, analytics: bool = False) -> list[EventSession]:
        if period not in PERIODS:
            err = InvalidRequest(f"period must be one of: {', '.join(PERIODS)}.")
            err.problem_code = "invalid_parameter"
            raise err
        return self.connector.list_sessions(period, simple_analytics=analytics)

    def session(self, token: str, *, analytics: bool = False) -> EventSession:
        return self.connector.session_info(token, simple_analytics=analytics)

    # -- registrants and surveys ------------------------------------------------------------------
    def registrants(self, token: str) -> list[Registrant]:
        return self.connector.list_registrants(token)

    def register(self, token: str, body: Mapping[str, Any]) -> Registrant:
        """Register (or find the earlier registration of) an e-mail; ``created`` tells which. The body is
        checked before any vendor call: ValidationFailed (422) names every bad field."""
        email, first, last, company = check_registration(body)
        return self.connector.create_registrant(token, email, first, last, company)

    def surveys(self, token: str) -> list[Survey]:
        return self.connector.list_surveys(token)

    # -- reports ----------------------------------------------------------------------------------
    @staticmethod
    def _slug(kind: str) -> str:
        slug = REPORT_KINDS.get(kind)
        if slug is None:
            raise NotFound(f"No report {kind!r}; one of: {', '.join(REPORT_KINDS)}.")
        return slug

    def report(self, token: str, kind: str, survey_id: int | None = None) -> list[Any]:
        """The report's rows as typed records (:mod:`gateway.connectors.flowevents_csv`)."""
        slug = self._slug(kind)
        c = self.connector
        readers: dict[str, Callable[[str], list[Any]]] = {
            "summary": c.summary_report, "registrants": c.registrants_report,
            "attendee_chat": c.attendee_chat_report, "operator_chat": c.operator_chat_report,
            "survey_responses": lambda t: c.survey_responses_report(t, survey_id),
        }
        return readers[slug](token)

    def report_csv(self, token: str, kind: str, survey_id: int | None = None) -> CsvFile:
        """The report's CSV exactly as the vendor sent it (bytes and Content-Type untouched)."""
        slug = self._slug(kind)
        content, media_type = self.connector.report_csv(slug, token, survey_id)
        suffix = f"-{survey_id}" if survey_id is not None and slug == "survey_responses" else ""
        # The name goes into a Content-Disposition header: only characters that need no quoting there.
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", token)
        return CsvFile(content, media_type, f"{kind}-{safe}{suffix}.csv")
