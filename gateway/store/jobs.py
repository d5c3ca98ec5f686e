"""Bulk QR jobs in the store: the source of truth for every job, row and vendor batch.

Everything a worker needs to resume after a crash is here, committed before the vendor call it
guards (docs/jobs.md). Rows stream in and out in chunks, so memory never grows with a job's size.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from gateway.store.db import Store
from gateway.store.models import QrJob, QrJobBatch, QrJobRow

__all__ = ["ACTIVE", "TERMINAL", "Batch", "Job", "JobFigures", "JobRepository", "ResultRow"]

TERMINAL = ("succeeded", "partial", "failed", "cancelled")
ACTIVE = ("queued", "running")
CHUNK = 1000
MAX_JOB_ERRORS = 20


@dataclass(frozen=True)
class Job:
    id: str
    vendor: str
    consumer: str
    status: str
    options: dict[str, Any]
    total: int
    done: int
    failed: int
    errors: list[dict[str, Any]]
    cancel_requested: bool
    created_at: float
    updated_at: float
    request_id: str | None = None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL


@dataclass(frozen=True)
class Batch:
    job_id: str
    seq: int
    first_position: int
    last_position: int
    state: str
    vendor_ref: str | None
    attempts: int
    polls: int
    next_at: float
    quota_reached: bool
    error: str | None


@dataclass(frozen=True)
class ResultRow:
    position: int
    uid: str
    status: str
    vendor_id: str | None = None
    url: str | None = None
    media_type: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    row: str = field(default="", repr=False)


def _job(row: QrJob) -> Job:
    return Job(row.id, row.vendor, row.consumer, row.status, json.loads(row.options), row.total, row.done,
               row.failed, json.loads(row.errors or "[]"), bool(row.cancel_requested), row.created_at,
               row.updated_at, row.request_id)


def _batch(row: QrJobBatch) -> Batch:
    return Batch(row.job_id, row.seq, row.first_position, row.last_position, row.state, row.vendor_ref,
                 row.attempts, row.polls, row.next_at, bool(row.quota_reached), row.error)


@dataclass(frozen=True)
class JobFigures:
    """Every job at a glance, for /metrics."""

    by_status: dict[str, int]
    oldest_waiting: float | None   # created_at of the oldest queued or running job
    rows_done: int
    rows_failed: int


class JobRepository:
    def __init__(self, store: Store):
        self.store = store

    # -- creating ---------------------------------------------------------------------------------
    @contextmanager
    def creating(self, job_id: str, consumer: str, header: Callable[[], tuple[str, dict[str, Any]]], *,
                 idempotency_key: str | None = None, request_id: str | None = None
                 ) -> Iterator[Callable[[int, str, str], None]]:
        """One transaction: yields ``add(position, uid, row_json)``; when the block ends ``header()``
        gives the vendor and options (it may raise to refuse the job), and the job is committed,
        queued, with all its rows — or, on any exception, not at all (a 422 leaves nothing behind)."""
        now = time.time()
        buffer: list[dict[str, Any]] = []
        count = 0
        with self.store.session() as session:
            session.add(QrJob(id=job_id, vendor="", consumer=consumer, idempotency_key=idempotency_key,
                              status="queued", options="{}", total=0, done=0, failed=0, errors="[]",
                              cancel_requested=False, lease_until=0.0, request_id=request_id, created_at=now,
                              updated_at=now))
            session.flush()

            def add(position: int, uid: str, row_json: str) -> None:
                nonlocal count
                buffer.append({"job_id": job_id, "position": position, "uid": uid, "row": row_json,
                               "status": "pending"})
                count += 1
                if len(buffer) >= CHUNK:
                    session.execute(insert(QrJobRow), buffer)
                    buffer.clear()

            yield add
            if buffer:
                session.execute(insert(QrJobRow), buffer)
            vendor, options = header()
            session.execute(update(QrJob).where(QrJob.id == job_id).values(
                total=count, vendor=vendor, options=json.dumps(options)))

    def by_idempotency_key(self, consumer: str, key: str) -> Job | None:
        with self.store.session() as session:
            row = session.scalar(select(QrJob).where(QrJob.consumer == consumer, QrJob.idempotency_key == key))
            return _job(row) if row is not None else None

    @staticmethod
    def is_duplicate(exc: Exception) -> bool:
        return isinstance(exc, IntegrityError)

    # -- reading ------------------------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        with self.store.session() as session:
            row = session.get(QrJob, job_id)
            return _job(row) if row is not None else None

    def page(self, consumer: str | None, limit: int, after: tuple[float, str] | None = None) -> list[Job]:
        """Newest first; ``after`` is the (created_at, id) of the last job of the previous page."""
        query = select(QrJob).order_by(QrJob.created_at.desc(), QrJob.id.desc()).limit(limit)
        if consumer is not None:
            query = query.where(QrJob.consumer == consumer)
        if after is not None:
            query = query.where(or_(QrJob.created_at < after[0], and_(QrJob.created_at == after[0], QrJob.id < after[1])))
        with self.store.session() as session:
            return [_job(r) for r in session.scalars(query)]

    def results(self, job_id: str, *, chunk: int = CHUNK) -> Iterator[ResultRow]:
        """Every row in submission order, a chunk per query (keyset paging: no offset scans)."""
        after = -1
        while True:
            with self.store.session() as session:
                rows = session.execute(
                    select(QrJobRow.position, QrJobRow.uid, QrJobRow.status, QrJobRow.vendor_id, QrJobRow.url,
                           QrJobRow.media_type, QrJobRow.error_code, QrJobRow.error_message)
                    .where(QrJobRow.job_id == job_id, QrJobRow.position > after)
                    .order_by(QrJobRow.position).limit(chunk)).all()
            if not rows:
                return
            for r in rows:
                yield ResultRow(*r)
            after = rows[-1][0]

    def images(self, job_id: str, *, chunk: int = 200) -> Iterator[tuple[str, str, bytes | None, str | None]]:
        """(uid, media type, image or None, vendor id) of every made code, in submission order."""
        after = -1
        while True:
            with self.store.session() as session:
                rows = session.execute(
                    select(QrJobRow.position, QrJobRow.uid, QrJobRow.media_type, QrJobRow.image, QrJobRow.vendor_id)
                    .where(QrJobRow.job_id == job_id, QrJobRow.position > after, QrJobRow.status == "ok")
                    .order_by(QrJobRow.position).limit(chunk)).all()
            if not rows:
                return
            for _position, uid, media_type, image, vendor_id in rows:
                yield uid, media_type or "application/octet-stream", image, vendor_id
            after = rows[-1][0]

    def image(self, job_id: str, uid: str) -> tuple[str, bytes | None, str | None] | None:
        """(media type, image or None when not fetched yet, vendor id) of a made code."""
        with self.store.session() as session:
            row = session.execute(select(QrJobRow.media_type, QrJobRow.image, QrJobRow.vendor_id)
                                  .where(QrJobRow.job_id == job_id, QrJobRow.uid == uid,
                                         QrJobRow.status == "ok")).first()
        if row is None:
            return None
        return row[0] or "application/octet-stream", row[1], row[2]

    def keep_image(self, job_id: str, uid: str, image: bytes, media_type: str) -> None:
        with self.store.session() as session:
            session.execute(update(QrJobRow).where(QrJobRow.job_id == job_id, QrJobRow.uid == uid)
                            .values(image=image, media_type=media_type))

    # -- the worker's side ----------------------------------------------------------------------------
    def claim(self, job_id: str, owner: str, lease_seconds: float) -> bool:
        """Take the job for one step, unless another live step holds it."""
        now = time.time()
        with self.store.session() as session:
            result = session.execute(update(QrJob).where(
                QrJob.id == job_id, QrJob.status.in_(ACTIVE), QrJob.lease_until < now)
                .values(lease_owner=owner, lease_until=now + lease_seconds))
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def release(self, job_id: str, owner: str) -> None:
        with self.store.session() as session:
            session.execute(update(QrJob).where(QrJob.id == job_id, QrJob.lease_owner == owner)
                            .values(lease_owner=None, lease_until=0.0))

    def release_dead(self, is_dead: Callable[[str], bool]) -> int:
        """Free the leases whose owner ``is_dead`` says is gone (a killed worker on this machine)."""
        with self.store.session() as session:
            held = session.execute(select(QrJob.id, QrJob.lease_owner).where(
                QrJob.status.in_(ACTIVE), QrJob.lease_owner.is_not(None))).all()
            dead = [job_id for job_id, owner in held if owner and is_dead(owner)]
            if dead:
                session.execute(update(QrJob).where(QrJob.id.in_(dead)).values(lease_owner=None, lease_until=0.0))
            return len(dead)

    def resumable(self) -> list[str]:
        """Jobs not finished whose lease is free or has run out: a worker should pick them up."""
        with self.store.session() as session:
            return list(session.scalars(select(QrJob.id).where(QrJob.status.in_(ACTIVE),
                                                               QrJob.lease_until < time.time())))

    def set_status(self, job_id: str, status: str) -> None:
        with self.store.session() as session:
            session.execute(update(QrJob).where(QrJob.id == job_id).values(status=status, updated_at=time.time()))

    def request_cancel(self, job_id: str) -> None:
        with self.store.session() as session:
            session.execute(update(QrJob).where(QrJob.id == job_id, QrJob.status.in_(ACTIVE))
                            .values(cancel_requested=True, updated_at=time.time()))

    def cancel_pending(self, job_id: str) -> int:
        """Rows not yet sent become cancelled; counted as neither done nor failed."""
        with self.store.session() as session:
            result = session.execute(update(QrJobRow).where(QrJobRow.job_id == job_id, QrJobRow.status == "pending")
                                     .values(status="cancelled"))
            return int(result.rowcount)  # type: ignore[attr-defined]

    def add_error(self, job_id: str, code: str, message: str, rows: int) -> None:
        """Remember a job-level problem (one entry per code, its row count added up)."""
        with self.store.session() as session:
            row = session.get(QrJob, job_id, with_for_update=True)
            if row is None:
                return
            errors = json.loads(row.errors or "[]")
            for entry in errors:
                if entry["code"] == code:
                    entry["rows"] += rows
                    entry["message"] = message
                    break
            else:
                errors.append({"code": code, "message": message, "rows": rows})
            row.errors = json.dumps(errors[-MAX_JOB_ERRORS:])
            row.updated_at = time.time()

    def pending_rows(self, job_id: str, limit: int) -> list[tuple[int, str, str]]:
        """(position, uid, row JSON) of the next rows not yet sent, in order."""
        with self.store.session() as session:
            return [tuple(r) for r in session.execute(  # type: ignore[misc]
                select(QrJobRow.position, QrJobRow.uid, QrJobRow.row)
                .where(QrJobRow.job_id == job_id, QrJobRow.status == "pending")
                .order_by(QrJobRow.position).limit(limit)).all()]

    def start_batch(self, job_id: str, seq: int, positions: list[int]) -> Batch:
        """Commit the batch (state ``sending``) and mark its rows sent, before the vendor call."""
        with self.store.session() as session:
            session.add(QrJobBatch(job_id=job_id, seq=seq, first_position=positions[0], last_position=positions[-1],
                                   state="sending", attempts=0, polls=0, next_at=0.0, quota_reached=False))
            session.execute(update(QrJobRow).where(QrJobRow.job_id == job_id, QrJobRow.position.in_(positions))
                            .values(status="sent", batch=seq).execution_options(synchronize_session=False))
            session.execute(update(QrJob).where(QrJob.id == job_id).values(updated_at=time.time()))
        found = self.batch(job_id, seq)
        assert found is not None
        return found

    def next_seq(self, job_id: str) -> int:
        with self.store.session() as session:
            last = session.scalar(select(func.coalesce(func.max(QrJobBatch.seq), -1))
                                  .where(QrJobBatch.job_id == job_id))
            return int(last if last is not None else -1) + 1

    def batch(self, job_id: str, seq: int) -> Batch | None:
        with self.store.session() as session:
            row = session.get(QrJobBatch, (job_id, seq))
            return _batch(row) if row is not None else None

    def open_batches(self, job_id: str) -> list[Batch]:
        with self.store.session() as session:
            return [_batch(r) for r in session.scalars(
                select(QrJobBatch).where(QrJobBatch.job_id == job_id, QrJobBatch.state.in_(
                    ("sending", "submitted", "images"))).order_by(QrJobBatch.seq))]

    def update_batch(self, job_id: str, seq: int, **values: Any) -> None:
        with self.store.session() as session:
            session.execute(update(QrJobBatch).where(QrJobBatch.job_id == job_id, QrJobBatch.seq == seq)
                            .values(**values))

    def batch_rows(self, job_id: str, seq: int) -> list[tuple[int, str, str]]:
        """(position, uid, row JSON) of a batch, in order."""
        with self.store.session() as session:
            return [tuple(r) for r in session.execute(  # type: ignore[misc]
                select(QrJobRow.position, QrJobRow.uid, QrJobRow.row)
                .where(QrJobRow.job_id == job_id, QrJobRow.batch == seq).order_by(QrJobRow.position)).all()]

    def unfinished(self, job_id: str, seq: int) -> list[int]:
        """Positions of a batch's rows that have no outcome yet."""
        with self.store.session() as session:
            return list(session.scalars(select(QrJobRow.position).where(
                QrJobRow.job_id == job_id, QrJobRow.batch == seq, QrJobRow.status == "sent")
                .order_by(QrJobRow.position)))

    def record(self, job_id: str, results: list[dict[str, Any]], *, batch: tuple[int, dict[str, Any]] | None = None
               ) -> None:
        """Write row outcomes (``position`` plus columns), add them to the job's counters, and
        optionally update a batch — one transaction, so counters and rows never disagree."""
        done = failed = 0
        with self.store.session() as session:
            for result in results:
                values = {k: v for k, v in result.items() if k != "position"}
                query = update(QrJobRow).where(QrJobRow.job_id == job_id, QrJobRow.position == result["position"])
                if "status" in values:  # an outcome is written once: a row already ok or failed stays so
                    query = query.where(QrJobRow.status == "sent")
                changed = session.execute(query.values(**values)).rowcount  # type: ignore[attr-defined]
                if changed and values.get("status") == "ok":
                    done += 1
                elif changed and values.get("status") == "failed":
                    failed += 1
            if batch is not None:
                session.execute(update(QrJobBatch).where(QrJobBatch.job_id == job_id, QrJobBatch.seq == batch[0])
                                .values(**batch[1]))
            session.execute(update(QrJob).where(QrJob.id == job_id).values(
                done=QrJob.done + done, failed=QrJob.failed + failed, updated_at=time.time()))

    def figures(self) -> JobFigures:
        with self.store.session() as session:
            by_status: dict[str, int] = {}
            done = failed = 0
            for status, jobs, job_done, job_failed in session.execute(
                    select(QrJob.status, func.count(), func.sum(QrJob.done), func.sum(QrJob.failed))
                    .group_by(QrJob.status)):
                by_status[status] = int(jobs)
                done += int(job_done or 0)
                failed += int(job_failed or 0)
            oldest = session.scalar(select(func.min(QrJob.created_at)).where(QrJob.status.in_(("queued", "running"))))
        return JobFigures(by_status, oldest, done, failed)

    def counts(self, job_id: str) -> dict[str, int]:
        with self.store.session() as session:
            return {status: n for status, n in session.execute(
                select(QrJobRow.status, func.count()).where(QrJobRow.job_id == job_id).group_by(QrJobRow.status))}
