"""``/api/outbox``: the store-and-forward outbox for operators (scope ``admin``; docs/outbox.md).

List what waits (pending, being delivered) and what gave up (dead letters), see one entry with its
audit trail, send a dead letter back for delivery, or drop an entry that should never be delivered.
Every change is audited with the caller's identity. What an entry shows is chosen for operators:
never its credentials (sealed in the store), never a webhook's uri (its secret), never the record's
data (only its size); the error text is the exception tree's, which never carries a credential.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for

from gateway.api.auth import ApiCaller, require_scope
from gateway.api.paging import page_args, page_body
from gateway.api.wire import respond
from gateway.errors import Conflict, InvalidRequest, NotFound
from gateway.operations.outbox import write_summary
from gateway.store.outbox import PARKED, STATES, UNDELIVERED, Entry, Event, OutboxRepository

__all__ = ["bp", "entry_json"]

bp = Blueprint("outbox", __name__, url_prefix="/outbox")


def _repo() -> OutboxRepository:
    outbox = current_app.extensions["flowgate"].outbox
    if outbox is None:  # pragma: no cover - Services.build always makes one
        raise NotFound("This gateway has no outbox.")
    return outbox.repo


def _actor(who: ApiCaller) -> str:
    return f"{who.identity} ({who.name})"


def _bad(message: str, code: str) -> InvalidRequest:
    err = InvalidRequest(message)
    err.problem_code = code
    return err


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def entry_json(entry: Entry) -> dict[str, Any]:
    links = {"self": url_for("api.outbox.get_entry", entry_id=entry.id)}
    if entry.state == "dead":
        links["retry"] = url_for("api.outbox.retry_entry", entry_id=entry.id)
    return {
        "id": entry.id, "operation": entry.operation, "vendor": entry.vendor, "key": entry.ordering_key,
        "state": entry.state, "attempts": entry.attempts,
        "next_attempt_at": (_iso(entry.next_attempt_at)
                            if entry.state == "pending" and entry.next_attempt_at < PARKED else None),
        "last_error": entry.last_error, "idempotency_key": entry.idempotency_key, "request_id": entry.request_id,
        "lease": ({"owner": entry.lease_owner, "until": _iso(entry.lease_until)}
                  if entry.state == "delivering" else None),
        "created_at": _iso(entry.created_at), "updated_at": _iso(entry.updated_at),
        "delivered_at": _iso(entry.delivered_at), "write": write_summary(entry.operation, entry.payload),
        "links": links,
    }


def _event_json(event: Event) -> dict[str, Any]:
    return {"at": _iso(event.at), "action": event.action, "actor": event.actor, "detail": event.detail}


def _states() -> tuple[str, ...]:
    raw = request.args.get("state")
    if raw is None or raw == "":
        return UNDELIVERED
    states = tuple(dict.fromkeys(s.strip() for s in raw.split(",") if s.strip()))
    unknown = [s for s in states if s not in STATES]
    if unknown or not states:
        raise _bad(f"state must be one or more (comma-separated) of {', '.join(STATES)}.", "invalid_parameter")
    return states


def _after(state: Any) -> int | None:
    if state is None:
        return None
    if isinstance(state, dict) and set(state) == {"outbox"} and isinstance(state["outbox"], int) \
            and not isinstance(state["outbox"], bool):
        return int(state["outbox"])
    raise _bad("The cursor belongs to another list; start again without it.", "invalid_cursor")


def _found(entry_id: int) -> Entry:
    # Beyond a 64-bit integer no entry can exist, and the database would refuse to look it up.
    entry = _repo().get(entry_id) if 0 < entry_id < 2**63 else None
    if entry is None:
        raise NotFound(f"No outbox entry {entry_id}.")
    return entry


def _wake() -> None:
    outbox = current_app.extensions["flowgate"].outbox
    if outbox is not None:
        outbox.wake(0.0)


# -- routes ------------------------------------------------------------------------------------------
@bp.get("")
def list_entries() -> Response:
    require_scope("admin")
    states = _states()
    limit, after = page_args()
    entries = _repo().page(states, limit + 1, _after(after))
    more = len(entries) > limit
    entries = entries[:limit]
    body = page_body([entry_json(e) for e in entries], {"outbox": entries[-1].id} if more else None)
    body["counts"] = {state: n for state, n in _repo().counts().items() if state in STATES}
    return respond(body)


@bp.get("/<int:entry_id>")
def get_entry(entry_id: int) -> Response:
    require_scope("admin")
    entry = _found(entry_id)
    return respond({**entry_json(entry), "events": [_event_json(e) for e in _repo().events(entry_id)]})


@bp.post("/<int:entry_id>/retry")
def retry_entry(entry_id: int) -> Response:
    """A dead letter back to pending, due now: the deliverer is woken."""
    who = require_scope("admin")
    _found(entry_id)
    if not _repo().retry(entry_id, _actor(who)):
        raise Conflict(f"Outbox entry {entry_id} is {_found(entry_id).state}: only a dead letter can be retried.")
    _wake()
    return respond(entry_json(_found(entry_id)))


@bp.delete("/<int:entry_id>")
def drop_entry(entry_id: int) -> Response:
    """A dead or pending entry is dropped: never delivered, kept with its audit trail."""
    who = require_scope("admin")
    _found(entry_id)
    if not _repo().drop(entry_id, _actor(who)):
        raise Conflict(f"Outbox entry {entry_id} is {_found(entry_id).state}: only a pending or dead entry can be "
                       "dropped.")
    _wake()   # what it held back may go now
    return respond(entry_json(_found(entry_id)))
