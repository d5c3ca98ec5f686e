"""The store-and-forward outbox in the store: entries, their leases, and their audit trail.

Portable SQL only (SQLite and PostgreSQL): a worker takes an entry with one conditional UPDATE
(state, lease and "no earlier undelivered entry of the same key" in its WHERE), so two workers, or
two threads, can never both hold it; every state change writes its audit event in the same
transaction.

An entry queued behind earlier undelivered writes of its record is *parked* (``next_attempt_at`` =
:data:`PARKED`) until the one before it is delivered or dropped, which makes it due in the same
transaction: finding what is due is then one indexed range query, whatever the backlog. What the entry *means* (which vendor call it is) is the business of
``gateway/operations/outbox.py`` and ``gateway/jobs/outbox.py``; this module only keeps it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from gateway.store.db import Store
from gateway.store.models import OutboxEntry, OutboxEvent

__all__ = ["PARKED", "STATES", "UNDELIVERED", "Entry", "Event", "OutboxFigures", "OutboxRepository"]

STATES = ("pending", "delivering", "delivered", "dead", "dropped")
#: States that hold back later writes of the same record: a dead letter too, until retried or dropped.
UNDELIVERED = ("pending", "delivering", "dead")
MAX_ERROR = 1000
#: ``next_attempt_at`` of an entry waiting behind an earlier one of its record (year 287,000-odd).
PARKED = 9.0e12


@dataclass(frozen=True)
class Entry:
    id: int
    operation: str
    vendor: str
    ordering_key: str
    payload: str
    credentials: str | None
    idempotency_key: str | None
    state: str
    attempts: int
    next_attempt_at: float
    last_error: str | None
    lease_owner: str | None
    lease_until: float
    request_id: str | None
    created_at: float
    updated_at: float
    delivered_at: float | None


@dataclass(frozen=True)
class Event:
    at: float
    action: str
    actor: str
    detail: str


def _entry(row: OutboxEntry) -> Entry:
    return Entry(row.id, row.operation, row.vendor, row.ordering_key, row.payload, row.credentials,
                 row.idempotency_key, row.state, row.attempts, row.next_attempt_at, row.last_error, row.lease_owner,
                 row.lease_until, row.request_id, row.created_at, row.updated_at, row.delivered_at)


def _earlier(session: Session, key: str, entry_id: int) -> bool:
    return session.scalar(select(OutboxEntry.id).where(
        OutboxEntry.ordering_key == key, OutboxEntry.id < entry_id, OutboxEntry.state.in_(UNDELIVERED)).limit(1)) \
        is not None


def _unpark(session: Session, key: str, now: float) -> None:
    """Make the record's next write due, if it waits parked and nothing earlier is undelivered."""
    head = session.execute(select(OutboxEntry.id, OutboxEntry.state, OutboxEntry.next_attempt_at).where(
        OutboxEntry.ordering_key == key, OutboxEntry.state.in_(UNDELIVERED)).order_by(OutboxEntry.id).limit(1)).first()
    if head is not None and head.state == "pending" and head.next_attempt_at >= PARKED:
        session.execute(update(OutboxEntry).where(OutboxEntry.id == head.id, OutboxEntry.state == "pending")
                        .values(next_attempt_at=now).execution_options(synchronize_session=False))


def _is_head() -> Any:
    """No earlier entry of the same key is still undelivered (correlated to the outer ``outbox``)."""
    earlier = aliased(OutboxEntry)
    return ~exists().where(earlier.ordering_key == OutboxEntry.ordering_key, earlier.id < OutboxEntry.id,
                           earlier.state.in_(UNDELIVERED))


def _due(now: float) -> Any:
    return or_(and_(OutboxEntry.state == "pending", OutboxEntry.next_attempt_at <= now),
               and_(OutboxEntry.state == "delivering", OutboxEntry.lease_until < now))


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:MAX_ERROR]


@dataclass(frozen=True)
class OutboxFigures:
    """The outbox at a glance, for /metrics."""

    by_state: dict[str, int]
    oldest_pending: float | None   # created_at of the oldest entry not yet delivered nor given up


class OutboxRepository:
    def __init__(self, store: Store):
        self.store = store

    # -- the gateway's side ---------------------------------------------------------------------------
    def add(self, *, operation: str, vendor: str, ordering_key: str, payload: str, credentials: str | None,
            idempotency_key: str | None, next_attempt_at: float, last_error: str | None, request_id: str | None,
            actor: str, detail: str) -> int:
        """Commit a new pending entry and its ``queued`` event in one transaction; its id. Behind an
        earlier undelivered write of the same record, it is parked until that one is done."""
        now = time.time()
        with self.store.session() as session:
            row = OutboxEntry(operation=operation, vendor=vendor, ordering_key=ordering_key, payload=payload,
                              credentials=credentials, idempotency_key=idempotency_key, state="pending", attempts=0,
                              next_attempt_at=next_attempt_at, last_error=_clip(last_error), lease_owner=None,
                              lease_until=0.0, request_id=request_id, created_at=now, updated_at=now)
            session.add(row)
            session.flush()
            if _earlier(session, ordering_key, row.id):
                row.next_attempt_at = PARKED
            self._event(session, row.id, "queued", actor, detail, now)
            return int(row.id)

    def has_undelivered(self, ordering_key: str) -> bool:
        with self.store.session() as session:
            return session.scalar(select(OutboxEntry.id).where(
                OutboxEntry.ordering_key == ordering_key, OutboxEntry.state.in_(UNDELIVERED)).limit(1)) is not None

    # -- the worker's side ----------------------------------------------------------------------------
    def due(self, limit: int) -> list[int]:
        """Ids of entries a worker may take now: pending and due (parked ones are not), or held by a
        lease that has run out. Longest waiting first."""
        now = time.time()
        with self.store.session() as session:
            return list(session.scalars(select(OutboxEntry.id).where(_due(now))
                                        .order_by(OutboxEntry.next_attempt_at, OutboxEntry.id).limit(limit)))

    def claim_next(self, owner: str, lease_seconds: float) -> Entry | None:
        """Take the next due entry for ``owner`` (state ``delivering``, lease until now + lease), or None.

        An entry taken over from a lease that ran out counts one attempt (its outcome is unknown)."""
        for entry_id in self.due(8):
            claimed = self.claim(entry_id, owner, lease_seconds)
            if claimed is not None:
                return claimed
        return None

    def claim(self, entry_id: int, owner: str, lease_seconds: float) -> Entry | None:
        now = time.time()
        with self.store.session() as session:
            row = session.get(OutboxEntry, entry_id)
            if row is None or row.state not in ("pending", "delivering"):
                return None
            before, previous, key = row.state, row.lease_owner, row.ordering_key
            session.expunge(row)
            if _earlier(session, key, entry_id):
                # Queued at the same moment as an earlier write of its record (two transactions that
                # did not see each other): it waits, parked, like any write behind another.
                if before == "pending":
                    session.execute(update(OutboxEntry).where(OutboxEntry.id == entry_id, OutboxEntry.state == "pending")
                                    .values(next_attempt_at=PARKED).execution_options(synchronize_session=False))
                return None
            taken = session.execute(
                update(OutboxEntry).where(OutboxEntry.id == entry_id, OutboxEntry.state == before, _due(now), _is_head())
                .values(state="delivering", lease_owner=owner, lease_until=now + lease_seconds, updated_at=now,
                        attempts=OutboxEntry.attempts + (1 if before == "delivering" else 0))
                .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
            if not taken:
                return None
            if before == "delivering":
                self._event(session, entry_id, "attempt_failed", owner,
                            f"the lease of {previous or 'a worker'} ran out mid-delivery; sending again", now)
            fresh = session.get(OutboxEntry, entry_id)
            assert fresh is not None
            return _entry(fresh)

    def delivered(self, entry_id: int, owner: str, detail: str) -> bool:
        """Delivered; the record's next write, parked behind it, is due now (same transaction)."""
        return self._finish(entry_id, owner, "delivered", detail, state="delivered", delivered_at=time.time(),
                            attempts=OutboxEntry.attempts + 1)

    def retry_later(self, entry_id: int, owner: str, error: str, delay: float, *, counted: bool = True) -> bool:
        """The attempt failed in a way that may pass: back to pending, due in ``delay`` seconds."""
        return self._finish(entry_id, owner, "attempt_failed", error, state="pending",
                            next_attempt_at=time.time() + delay, last_error=_clip(error),
                            attempts=OutboxEntry.attempts + (1 if counted else 0))

    def dead(self, entry_id: int, owner: str, reason: str, *, counted: bool = True) -> bool:
        return self._finish(entry_id, owner, "dead", reason, state="dead", last_error=_clip(reason),
                            attempts=OutboxEntry.attempts + (1 if counted else 0))

    def _finish(self, entry_id: int, owner: str, action: str, detail: str, **values: Any) -> bool:
        """Change an entry this owner holds; False (nothing written) when its lease was taken over."""
        now = time.time()
        with self.store.session() as session:
            changed = session.execute(
                update(OutboxEntry).where(OutboxEntry.id == entry_id, OutboxEntry.state == "delivering",
                                          OutboxEntry.lease_owner == owner)
                .values(lease_owner=None, lease_until=0.0, updated_at=now, **values)
                .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
            if changed:
                self._event(session, entry_id, action, owner, detail, now)
                if action == "delivered":
                    _unpark(session, self._key(session, entry_id), now)
            return bool(changed)

    @staticmethod
    def _key(session: Session, entry_id: int) -> str:
        return str(session.scalar(select(OutboxEntry.ordering_key).where(OutboxEntry.id == entry_id)))

    def next_due_in(self) -> float | None:
        """Seconds until the earliest head of a key is due (0 when one is due now); None when no entry
        waits. A running lease counts as due when it runs out."""
        now = time.time()
        with self.store.session() as session:
            pending = session.scalar(select(func.min(OutboxEntry.next_attempt_at))
                                     .where(OutboxEntry.state == "pending", OutboxEntry.next_attempt_at < PARKED))
            leased = session.scalar(select(func.min(OutboxEntry.lease_until)).where(OutboxEntry.state == "delivering"))
        times = [t for t in (pending, leased) if t is not None]
        return max(0.0, min(times) - now) if times else None

    def unpark_heads(self) -> int:
        """Make due every parked entry that no longer waits behind anything. Delivering an entry does
        this for its successor; this catches the one that was being queued at that very moment in a
        concurrent transaction (PostgreSQL; SQLite runs writers one at a time). The sweep calls it."""
        now = time.time()
        with self.store.session() as session:
            changed = session.execute(
                update(OutboxEntry).where(OutboxEntry.state == "pending", OutboxEntry.next_attempt_at >= PARKED,
                                          _is_head())
                .values(next_attempt_at=now).execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
            return int(changed)

    def release_dead(self, is_dead: Callable[[str], bool]) -> int:
        """Free the leases whose owner ``is_dead`` says is gone (a killed worker on this machine)."""
        with self.store.session() as session:
            held = session.execute(select(OutboxEntry.id, OutboxEntry.lease_owner).where(
                OutboxEntry.state == "delivering", OutboxEntry.lease_owner.is_not(None))).all()
            dead = [entry_id for entry_id, owner in held if owner and is_dead(owner)]
            if dead:
                # lease_until 0: due at once; the claim counts the lost attempt and audits it.
                session.execute(update(OutboxEntry).where(OutboxEntry.id.in_(dead), OutboxEntry.state == "delivering")
                                .values(lease_until=0.0).execution_options(synchronize_session=False))
            return len(dead)

    # -- operators ------------------------------------------------------------------------------------
    def get(self, entry_id: int) -> Entry | None:
        with self.store.session() as session:
            row = session.get(OutboxEntry, entry_id)
            return _entry(row) if row is not None else None

    def page(self, states: tuple[str, ...], limit: int, after: int | None = None) -> list[Entry]:
        """Oldest first (the order of delivery); ``after`` is the last id of the previous page."""
        query = select(OutboxEntry).where(OutboxEntry.state.in_(states)).order_by(OutboxEntry.id).limit(limit)
        if after is not None:
            query = query.where(OutboxEntry.id > after)
        with self.store.session() as session:
            return [_entry(r) for r in session.scalars(query)]

    def events(self, entry_id: int) -> list[Event]:
        with self.store.session() as session:
            return [Event(r.at, r.action, r.actor, r.detail) for r in session.scalars(
                select(OutboxEvent).where(OutboxEvent.entry_id == entry_id).order_by(OutboxEvent.id))]

    def counts(self) -> dict[str, int]:
        with self.store.session() as session:
            return {state: int(n) for state, n in session.execute(
                select(OutboxEntry.state, func.count()).group_by(OutboxEntry.state))}

    def figures(self) -> OutboxFigures:
        with self.store.session() as session:
            oldest = session.scalar(select(func.min(OutboxEntry.created_at))
                                    .where(OutboxEntry.state.in_(("pending", "delivering"))))
        return OutboxFigures(self.counts(), oldest)

    def retry(self, entry_id: int, actor: str) -> bool:
        """A dead letter back to pending, due now, its attempts counted afresh; False if not dead."""
        now = time.time()
        with self.store.session() as session:
            changed = session.execute(
                update(OutboxEntry).where(OutboxEntry.id == entry_id, OutboxEntry.state == "dead")
                .values(state="pending", attempts=0, next_attempt_at=now, updated_at=now)
                .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
            if changed:
                self._event(session, entry_id, "retried", actor, "dead letter sent back for delivery", now)
            return bool(changed)

    def drop(self, entry_id: int, actor: str) -> bool:
        """A dead or pending entry is given up (``dropped``): never delivered; False otherwise."""
        now = time.time()
        with self.store.session() as session:
            row = session.get(OutboxEntry, entry_id)
            before = row.state if row is not None else None
            changed = session.execute(
                update(OutboxEntry).where(OutboxEntry.id == entry_id, OutboxEntry.state.in_(("dead", "pending")))
                .values(state="dropped", lease_owner=None, lease_until=0.0, updated_at=now)
                .execution_options(synchronize_session=False)).rowcount  # type: ignore[attr-defined]
            if changed:
                self._event(session, entry_id, "dropped", actor, f"dropped while {before}; it will not be delivered",
                            now)
                _unpark(session, self._key(session, entry_id), now)
            return bool(changed)

    @staticmethod
    def _event(session: Session, entry_id: int, action: str, actor: str, detail: str, at: float) -> None:
        session.execute(insert(OutboxEvent).values(entry_id=entry_id, at=at, action=action, actor=actor[:160],
                                                   detail=(detail or "")[:MAX_ERROR]))
