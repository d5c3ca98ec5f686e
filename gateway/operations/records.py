"""Flowize records and flows in the facade's style (``/api/records``, ``/api/flows``), over the Flowize
operations with the gateway's own credentials: the facade's consumer never holds a Flowize key.

Protocol-neutral: the facade's views hand in the body's values as they came; everything is checked
here, all at once, before any vendor call (:class:`~gateway.errors.ValidationFailed`, one entry per
field). Which credentials go upstream is decided in one place, :meth:`RecordsOperations.credentials`.
The choices (identifier formats, names vs ids of flows, what a vendor 401 means here) are in
docs/api-records.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from gateway.config import Settings
from gateway.credentials import FlowizeCredentials
from gateway.errors import AuthError, Forbidden, GatewayError, UpstreamError, ValidationFailed
from gateway.operations.credentials import consumer_upstream
from gateway.operations.flowize import FLOW_STATUSES, FlowizeOperations
from gateway.operations.outcome import Outcome
from gateway.store.consumers import Consumer

__all__ = ["SANDBOX_API_KEY", "SANDBOX_APP_KEY", "Flow", "Record", "RecordsOperations"]

# The embedded sandbox's demo customer (gateway/sandbox/flowize/seed.py DEMO; a test keeps them equal).
# Written out rather than imported: operations do not import the sandbox.
SANDBOX_API_KEY = "demo-api-key"
SANDBOX_APP_KEY = "demo-app"

NO_CREDENTIALS = "No upstream Flowize credentials are configured."
# Flowize's 403 codes that mean "these credentials", not "this action": token not valid, IP not allowed.
CREDENTIAL_CODES = (436, 437)

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
MAX_NAME = 255

T = TypeVar("T")


@dataclass(frozen=True)
class Record:
    """A data record as the facade shows it; None: the vendor did not tell (left out of the answer)."""

    uuid: str
    data: Any
    flow: str | None = None
    flow_id: str | None = None
    status: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    last_run_at: str | None = None
    scheduled_at: str | None = None


@dataclass(frozen=True)
class Flow:
    """A flow diagram: its current version, and the list of versions."""

    name: str
    id: str | None = None
    status: str | None = None
    version: int | None = None
    description: str | None = None
    diagram: Any = None
    versions: list[Any] = field(default_factory=list)


# -- checks: each returns the reason a value is refused, or None ------------------------------------
def _header_safe(value: str) -> str | None:
    """Names and identifiers travel to Flowize as headers (X-Flow, X-Uuid): ISO-8859-1, no controls."""
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return "must hold ISO-8859-1 characters only"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        return "must not hold control characters"
    return None


def _name_problem(value: Any) -> str | None:
    if value is None:
        return "is required"
    if not isinstance(value, str):
        return "must be a string"
    if not value.strip():
        return "must not be empty"
    if value != value.strip():
        return "must not start or end with whitespace"
    if len(value) > MAX_NAME:
        return f"must be at most {MAX_NAME} characters"
    return _header_safe(value)


def _new_uuid_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a string"
    if not UUID_RE.fullmatch(value):
        return "must be a UUID (8-4-4-4-12 hexadecimal digits)"
    return None


def _id_problem(value: Any) -> str | None:
    """Records made elsewhere (SOAP, /v1, the Flowize front end) keep custom identifiers such as
    ``demo-record``: any identifier Flowize can take as X-Uuid is readable here, not only UUIDs."""
    return _name_problem(value)


def _data_problem(value: Any) -> str | None:
    # Flowize also takes an array as a record's data (decision R7); the facade's records are objects.
    if value is None:
        return "is required"
    return None if isinstance(value, Mapping) else "must be a JSON object"


def _is_flow_id(name: str) -> bool:
    # ASCII digits only: str.isdigit() also takes "²", which Flowize would refuse as an id.
    return name.isascii() and name.isdigit()


def _execution_time_problem(value: Any) -> str | None:
    """Flowize X-Executiontime: an ATOM date, e.g. 2005-08-15T15:52:01+00:00 (a date-time with offset)."""
    if not isinstance(value, str):
        return "must be a string"
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        moment = None
    if moment is None or "T" not in value.upper() or moment.tzinfo is None:
        return "must be an ATOM date-time with an offset, e.g. 2005-08-15T15:52:01+00:00"
    return None


def _check(problems: list[dict[str, str]], name: str, reason: str | None) -> None:
    if reason is not None:
        problems.append({"field": name, "reason": reason})


def _raise(problems: list[dict[str, str]], message: str) -> None:
    if problems:
        raise ValidationFailed(message, errors=problems)


def _text(value: Any) -> str | None:
    """A vendor value as a string; empty and absent are both None."""
    if value is None or value == "":
        return None
    return str(value)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _resource(outcome: Outcome) -> dict[str, Any]:
    return _dict(outcome.resource)


class RecordsOperations:
    def __init__(self, flowize: FlowizeOperations, settings: Settings):
        self.flowize = flowize
        self.settings = settings

    # -- credentials ---------------------------------------------------------------------------
    def credentials(self, consumer: Consumer | None) -> FlowizeCredentials:
        """Who we are towards Flowize for ``consumer`` (None: the embedded demo key), first match wins:
        the consumer's own upstream credentials; the gateway-held ones from settings; in embedded mode
        only, the sandbox's demo customer; else a GatewayError (500): the gateway is not configured."""
        own = consumer_upstream(consumer)
        if own is not None:
            return own
        held = FlowizeCredentials.from_settings(self.settings)
        if held is not None:
            return held
        if self.settings.embedded:
            return FlowizeCredentials.api_keys(SANDBOX_API_KEY, SANDBOX_APP_KEY)
        raise GatewayError(NO_CREDENTIALS)

    def _call(self, consumer: Consumer | None,
              action: Callable[[FlowizeOperations, FlowizeCredentials], T]) -> T:
        """Run ``action`` with the upstream credentials the policy gives ``consumer``.

        The consumer holds no Flowize credential, so Flowize refusing ours (401, 403 with 436 or 437)
        is the gateway's misconfiguration, not the consumer's: a 502, never a 401 that would send the
        consumer looking at its own key (docs/api-records.md, "Credentials")."""
        try:
            return action(self.flowize, self.credentials(consumer))
        except AuthError as exc:
            if isinstance(exc, Forbidden) and exc.code not in CREDENTIAL_CODES:
                raise  # a real "not allowed", e.g. deleting a record that is being processed
            raise UpstreamError(f"Flowize refused the gateway's credentials ({exc.code}): {exc.message}",
                                code=exc.code) from None

    # -- records -------------------------------------------------------------------------------
    def create(self, consumer: Consumer | None, flow: Any, data: Any, uuid: Any = None,
               execution_time: Any = None) -> Record:
        """Flowize: POST /v1/record (X-Flow or X-Flow-Id, X-Uuid, X-Executiontime). Without ``uuid`` the
        operations make one (an idempotency key: a lost answer is read back, never written twice)."""
        problems: list[dict[str, str]] = []
        _check(problems, "flow", _name_problem(flow))
        _check(problems, "data", _data_problem(data))
        if uuid is not None:
            _check(problems, "uuid", _new_uuid_problem(uuid))
        if execution_time is not None and execution_time != "":
            _check(problems, "execution_time", _execution_time_problem(execution_time))
        _raise(problems, "The record is not valid.")
        sent = dict(data)
        by_id = _is_flow_id(flow)  # as on /api/flows/{name}: an all-digit flow is its id
        outcome = self._call(consumer, lambda ops, creds: ops.insert_record(
            creds, sent, flow=None if by_id else flow, flow_id=flow if by_id else None, uuid=uuid or None,
            execution_time=execution_time or None))
        res = _resource(outcome)
        told = res.get("data_record")
        return Record(uuid=str(res.get("uuid") or ""), data=told if told is not None else sent,
                      flow=_text(res.get("flow_name")) or (None if by_id else flow),
                      flow_id=_text(res.get("flow_id")) or (flow if by_id else None),
                      scheduled_at=execution_time or None)

    def get(self, consumer: Consumer | None, uuid: Any) -> Record:
        """Flowize: GET /v1/record (X-Uuid)."""
        record_id = self._record_id(uuid)
        res = _resource(self._call(consumer, lambda ops, creds: ops.get_record(creds, record_id)))
        info, process = _dict(res.get("info")), _dict(res.get("flow_process"))
        return Record(uuid=str(info.get("uuid") or record_id), data=res.get("data_record"),
                      flow=_text(info.get("flow_name") or res.get("flow_name")),
                      flow_id=_text(info.get("flow_id")), status=_text(info.get("status")),
                      created_at=_text(info.get("date_created")), started_at=_text(process.get("date_started")),
                      last_run_at=_text(process.get("date_last_run")))

    def update(self, consumer: Consumer | None, uuid: Any, data: Any, body_uuid: Any = None) -> Record:
        """Flowize: PUT /v1/record (X-Uuid); the payload replaces the record's data."""
        problems: list[dict[str, str]] = []
        _check(problems, "uuid", _id_problem(uuid))
        if body_uuid is not None and body_uuid != uuid:
            _check(problems, "uuid", "does not match the record's uuid in the path")
        _check(problems, "data", _data_problem(data))
        _raise(problems, "The record is not valid.")
        sent = dict(data)
        res = _resource(self._call(consumer, lambda ops, creds: ops.update_record(creds, uuid, sent)))
        told = res.get("data_record")
        return Record(uuid=str(res.get("uuid") or uuid), data=told if told is not None else sent,
                      flow=_text(res.get("flow_name")))

    def delete(self, consumer: Consumer | None, uuid: Any) -> None:
        """Flowize: DELETE /v1/record (X-Uuid)."""
        record_id = self._record_id(uuid)
        self._call(consumer, lambda ops, creds: ops.delete_record(creds, record_id))

    @staticmethod
    def _record_id(uuid: Any) -> str:
        problems: list[dict[str, str]] = []
        _check(problems, "uuid", _id_problem(uuid))
        _raise(problems, "The record identifier is not valid.")
        return str(uuid)

    # -- flows ---------------------------------------------------------------------------------
    def flow(self, consumer: Consumer | None, name: Any) -> Flow:
        """Flowize: GET /v1/flowdiagram. An all-digit ``name`` is the flow's id (X-Flow-Id), else its
        name (X-Flow): Flowize flow ids are numbers (docs/api-records.md, "Flows")."""
        problems: list[dict[str, str]] = []
        _check(problems, "name", _name_problem(name))
        _raise(problems, "The flow name is not valid.")
        by_id = _is_flow_id(name)
        outcome = self._call(consumer, lambda ops, creds: ops.get_flow_diagram(
            creds, flow=None if by_id else name, flow_id=name if by_id else None))
        return _flow(_resource(outcome), name, by_id)

    def change_flow_status(self, consumer: Consumer | None, name: Any, status: Any) -> Flow:
        """Flowize: PUT /v1/changeflowstatus (X-Flow-Id, X-Status). The vendor wants the id: a name is
        resolved with the diagram call first. Answers the flow as it is afterwards (``public``
        publishes a draft, which then runs)."""
        problems: list[dict[str, str]] = []
        _check(problems, "name", _name_problem(name))
        if status is None:
            _check(problems, "status", "is required")
        elif not isinstance(status, str) or status not in FLOW_STATUSES:
            _check(problems, "status", f"must be one of {', '.join(FLOW_STATUSES)}")
        _raise(problems, "The flow status change is not valid.")
        flow_id = name if _is_flow_id(name) else self.flow(consumer, name).id
        if not flow_id:
            raise UpstreamError(f"Flowize did not tell the id of flow {name!r}; use the flow's numeric id.")
        self._call(consumer, lambda ops, creds: ops.change_flow_status(creds, flow_id, status))
        return self.flow(consumer, flow_id)


def _flow(res: dict[str, Any], asked: str, by_id: bool) -> Flow:
    current = res.get("current_flow")
    info = _dict(current)
    versions = res.get("versions")
    version = info.get("version")
    return Flow(name=str(res.get("flow_name") or asked),
                id=_text(info.get("id") or res.get("flow_id") or (asked if by_id else None)),
                status=_text(info.get("status")),
                version=version if isinstance(version, int) and not isinstance(version, bool) else None,
                description=_text(res.get("description")),
                diagram=info.get("diagram") if isinstance(current, dict) else current,
                versions=versions if isinstance(versions, list) else [])
