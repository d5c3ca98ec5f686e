"""Reading Flow events CSV reports ("GET CSV Reports" of flow-events-api.txt) into typed records.

The doc only says "CSV Data will be returned", so the reader assumes nothing it can check instead:

* bytes: a UTF-8 BOM (or a UTF-16 one) wins; else strict UTF-8; else the charset the response
  declared; else cp1252, the usual "latin-1" of spreadsheet exports; latin-1 as the last resort,
  which decodes any byte;
* rows: RFC 4180 through :mod:`csv` (quoted commas, doubled quotes, ``\\n`` and ``\\r\\n`` inside
  quoted fields); blank lines skipped, short rows padded;
* columns: found by header name, not position, compared loosely (``"Duration (min)"`` is
  ``duration_min``); unknown columns are ignored so a vendor adding one breaks nothing;
* values: ints, floats, Yes/No booleans and timestamps (``2024-05-14 15:00:00`` or ISO 8601; no zone
  means UTC) are typed; a value that does not parse is the vendor's fault: :class:`UpstreamError`.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, TypeVar

from gateway.errors import UpstreamError

__all__ = [
    "ChatMessage",
    "OperatorChatMessage",
    "RegistrantRow",
    "SessionSummary",
    "SurveyResponse",
    "decode_csv",
    "parse_report",
    "read_csv",
]

_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def decode_csv(data: bytes, declared: str | None = None) -> str:
    """Bytes of a CSV report -> text, whatever encoding the vendor chose this time."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace").lstrip("\ufeff")
    candidates = ["utf-8"]
    if declared:
        try:
            candidates.append(codecs.lookup(declared).name)
        except LookupError:
            pass
    candidates.append("cp1252")
    for encoding in candidates:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


def _column(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def read_csv(text: str) -> list[dict[str, str]]:
    """CSV text -> one dict per row, keyed by the loosened header names."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=False)
    try:
        header = next(reader)
    except StopIteration:
        return []
    except csv.Error as exc:
        raise UpstreamError(f"Flow events sent an unreadable CSV header: {exc}") from None
    names = [_column(h) for h in header]
    rows = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            values = values + [""] * (len(names) - len(values))
            rows.append(dict(zip(names, values)))
    except csv.Error as exc:
        raise UpstreamError(f"Flow events sent an unreadable CSV (line {reader.line_num}): {exc}") from None
    return rows


# -- typed values ---------------------------------------------------------------------------------
def _int(value: str) -> int | None:
    return int(value.replace(",", "")) if value.strip() else None


def _float(value: str) -> float | None:
    return float(value.replace(",", "")) if value.strip() else None


def _bool(value: str) -> bool | None:
    text = value.strip().lower()
    if not text:
        return None
    if text in ("yes", "y", "true", "1"):
        return True
    if text in ("no", "n", "false", "0"):
        return False
    raise ValueError(value)


def _time(value: str) -> datetime | None:
    text = value.strip()
    if not text:
        return None
    parsed = datetime.fromisoformat(text)
    # The reports carry no zone; the sandbox and the JSON endpoints are UTC, so read them as UTC.
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _text(value: str) -> str:
    return value


# Keyed by the dataclass fields' annotations, which are strings under ``from __future__ import annotations``.
_CONVERT: dict[str, Callable[[str], Any]] = {
    "int | None": _int, "float | None": _float, "bool | None": _bool, "datetime | None": _time, "str": _text,
}


# -- the five reports -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SessionSummary:
    """"Complied Report" (``csv/summary``): one row per session."""
    session_token: str
    event_id: int | None
    title: str
    starts_at: datetime | None
    ends_at: datetime | None
    duration_min: int | None
    registrants: int | None
    attendees: int | None
    attendance_rate: float | None
    average_minutes_watched: float | None
    attendee_chat_messages: int | None
    operator_chat_messages: int | None
    survey_responses: int | None


@dataclass(frozen=True)
class RegistrantRow:
    """"Registrants" (``csv/registrants``)."""
    registrant_id: int | None
    first_name: str
    last_name: str
    email: str
    company: str
    registered_at: datetime | None
    attended: bool | None
    join_time: datetime | None
    leave_time: datetime | None
    minutes_watched: int | None


@dataclass(frozen=True)
class ChatMessage:
    """"Attendee Chat Log" (``csv/attendee_chat``)."""
    sent_at: datetime | None
    name: str
    email: str
    message: str


@dataclass(frozen=True)
class OperatorChatMessage:
    """"Operator Chat Log" (``csv/operator_chat``); ``to`` is "All attendees" or one attendee."""
    sent_at: datetime | None
    operator: str
    operator_email: str
    to: str
    message: str


@dataclass(frozen=True)
class SurveyResponse:
    """"Survey Responses" (``csv/survey_responses``): one row per answered question."""
    survey_id: int | None
    survey: str
    question_id: int | None
    question: str
    email: str
    first_name: str
    last_name: str
    answer: str
    answered_at: datetime | None


Record = TypeVar("Record")


def parse_report(data: bytes, record: type[Record], *, declared_charset: str | None = None,
                 report: str = "report") -> list[Record]:
    """Bytes of one report -> a list of ``record`` dataclasses; missing columns become empty values."""
    rows = read_csv(decode_csv(data, declared_charset))
    out = []
    for number, row in enumerate(rows, start=2):
        values = {}
        for f in fields(record):  # type: ignore[arg-type]
            raw = row.get(f.name, "")
            try:
                values[f.name] = _CONVERT[str(f.type)](raw)
            except (ValueError, KeyError):
                raise UpstreamError(f"Flow events {report} CSV, row {number}: {f.name} {raw[:40]!r} "
                                    f"is not a valid {str(f.type).split(' ')[0]}.") from None
        out.append(record(**values))
    return out
