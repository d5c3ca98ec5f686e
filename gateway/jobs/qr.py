"""One step of a bulk QR job: move every vendor batch of the job forward, then hand the job back.

A step never sleeps: it polls what is due, starts what it may, writes what came back, and returns
how long until the job next needs attention (the engine reschedules it then). Every vendor call is
guarded by state committed before it (docs/jobs.md, "Crash safety"):

    batch state   committed before            on resume
    sending       the POST                    POST again: Flowcode refuses the code names it already
                                              made (409/FAILURE, nothing doubled); ExaRoutes cannot
                                              tell — the one unguarded window, kept to this one call
    submitted     polling (task id / bulkId)  poll
    done/failed   —                           —

ExaRoutes' one-shot archive is saved by the connector before it is parsed, so a crash after the
download re-reads it from the store.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Sequence
from typing import Any

from gateway.config import Settings
from gateway.connectors.exaroutes import MAX_BODY as EXAROUTES_MAX_BODY
from gateway.connectors.exaroutes import ExaRoutesConnector, parse_schedule
from gateway.connectors.flowcode import FlowcodeConnector
from gateway.errors import (
    CircuitOpen,
    Conflict,
    GatewayError,
    NotFound,
    RateLimited,
    RequestFailed,
    UpstreamError,
    UpstreamUnavailable,
    VendorBusy,
)
from gateway.jobs.engine import owner_is_dead_here, worker_owner
from gateway.observe import request_id_var
from gateway.qr_rows import (
    MEDIA_TYPES,
    QrOptions,
    QrRow,
    exaroutes_failure,
    exaroutes_row,
    exaroutes_vendor_id,
    flowcode_code_url,
    flowcode_payload,
    parse_options,
    parse_row,
)
from gateway.store.jobs import Batch, Job, JobRepository

__all__ = ["QrJobRunner"]

log = logging.getLogger("gateway.jobs")

BACKOFF = (2.0, 5.0, 15.0, 30.0, 60.0)   # between tries of a batch the vendor failed


def _options(job: Job) -> QrOptions:
    return parse_options(job.options, job.vendor)   # stored from a checked QrOptions: cannot fail


def _row(row_json: str) -> QrRow:
    return parse_row(json.loads(row_json))           # stored checked: parses the same again


def _failed(position: int, code: str, message: str) -> dict[str, Any]:
    return {"position": position, "status": "failed", "error_code": code, "error_message": message[:1000]}


class QrJobRunner:
    def __init__(self, settings: Settings, jobs: JobRepository, flowcode: FlowcodeConnector,
                 exaroutes: ExaRoutesConnector, *, owner: str | None = None):
        self.settings = settings
        self.jobs = jobs
        self.flowcode = flowcode
        self.exaroutes = exaroutes
        self.owner = owner or worker_owner()
        self.poll_schedule = parse_schedule(settings.exaroutes_poll_schedule)

    # -- the engine's hooks -------------------------------------------------------------------------
    def step(self, job_id: str) -> float | None:
        """Advance the job; seconds until it wants the next step, or None (finished, or held by
        another step, which will reschedule it itself)."""
        # One lease per step, not per process: two threads of one worker must not share a job.
        holder = f"{self.owner}:{uuid.uuid4().hex[:8]}"
        if not self.jobs.claim(job_id, holder, self.settings.jobs_lease_seconds):
            return None
        try:
            return self._work(job_id)
        except Exception:
            # A step must never lose the job: log, come back later.
            log.exception("job %s: step failed; retrying in 5 s", job_id)
            return 5.0
        finally:
            self.jobs.release(job_id, holder)
            request_id_var.set(None)

    def resumable(self) -> list[str]:
        self.jobs.release_dead(owner_is_dead_here)
        return self.jobs.resumable()

    # -- one step ---------------------------------------------------------------------------------
    def _work(self, job_id: str) -> float | None:
        job = self.jobs.get(job_id)
        if job is None or job.terminal:
            return None
        request_id_var.set(job.request_id)
        if job.status == "queued":
            self.jobs.set_status(job_id, "running")
            log.info("job %s: running (%s, %d rows)", job_id, job.vendor, job.total,
                     extra={"event": "job", "job_id": job_id, "status": "running", "vendor": job.vendor,
                            "rows": job.total})
        if job.cancel_requested:
            self.jobs.cancel_pending(job_id)
        deadline = time.monotonic() + self.settings.jobs_step_seconds
        waits: list[float] = []
        open_batches = self.jobs.open_batches(job_id)
        for batch in open_batches:
            if time.monotonic() >= deadline:
                return 0.0
            waits.append(self._attend(job, batch))
        inflight = sum(1 for b in self.jobs.open_batches(job_id) if b.state in ("sending", "submitted"))
        while not job.cancel_requested and inflight < self.settings.jobs_max_inflight \
                and time.monotonic() < deadline:
            rows = self._next_rows(job)
            if not rows:
                break
            batch = self.jobs.start_batch(job_id, self.jobs.next_seq(job_id), [r[0] for r in rows])
            waits.append(self._attend(job, batch))
            inflight += 1
        if self.jobs.open_batches(job_id) or self.jobs.pending_rows(job_id, 1):
            return max(0.0, min(waits)) if waits else 0.0
        self._finish(job_id)
        return None

    def _finish(self, job_id: str) -> None:
        job = self.jobs.get(job_id)
        assert job is not None
        if job.cancel_requested:
            status = "cancelled"
        elif job.failed == 0:
            status = "succeeded"
        elif job.done == 0:
            status = "failed"
        else:
            status = "partial"
        self.jobs.set_status(job_id, status)
        log.info("job %s: %s (%d done, %d failed of %d)", job_id, status, job.done, job.failed, job.total,
                 extra={"event": "job", "job_id": job_id, "status": status, "vendor": job.vendor, "rows": job.total,
                        "rows_done": job.done, "rows_failed": job.failed})

    def _next_rows(self, job: Job) -> list[tuple[int, str, str]]:
        if job.vendor == "flowcode":
            return self.jobs.pending_rows(job.id, self.settings.flowcode_batch_size)
        rows = self.jobs.pending_rows(job.id, self.settings.exaroutes_batch_rows)
        # Keep each call well under ExaRoutes' 25 MB body limit, whatever the rows hold.
        size = 2
        kept: list[tuple[int, str, str]] = []
        for row in rows:
            size += len(row[2]) + 64
            if kept and size > EXAROUTES_MAX_BODY * 0.9:
                break
            kept.append(row)
        return kept

    def _attend(self, job: Job, batch: Batch) -> float:
        """Move one batch forward; seconds until it next needs attention. What a vendor call raises is
        decided here, for every call: a failure that may pass is tried again later, one that will
        not fails the batch's rows with the vendor's reason."""
        now = time.time()
        if batch.next_at > now:
            return batch.next_at - now
        try:
            if job.vendor == "flowcode":
                return self._flowcode(job, batch)
            return self._exaroutes(job, batch)
        except (UpstreamError, RateLimited) as exc:
            return self._retry_or_fail(job, batch, exc)
        except GatewayError as exc:
            self._fail_batch(job, batch, _code(exc), exc.message)
            return 0.0

    def _retry_or_fail(self, job: Job, batch: Batch, exc: GatewayError) -> float:
        """A vendor failure that may pass: try the batch again later, up to jobs_max_attempts."""
        attempts = batch.attempts + 1
        if isinstance(exc, (RateLimited, CircuitOpen, VendorBusy)):
            # Not a try: the vendor was not called (its circuit is open, or this process's share of
            # calls to it is in flight). Wait as told; the batch keeps its attempts.
            delay = getattr(exc, "retry_after", None) or BACKOFF[0]
            self.jobs.update_batch(job.id, batch.seq, next_at=time.time() + delay, error=exc.message)
            return delay
        if attempts < self.settings.jobs_max_attempts:
            delay = BACKOFF[min(attempts - 1, len(BACKOFF) - 1)]
            self.jobs.update_batch(job.id, batch.seq, attempts=attempts, next_at=time.time() + delay,
                                   error=exc.message)
            log.warning("job %s batch %d: %s; try %d in %.0f s", job.id, batch.seq, exc.message, attempts + 1, delay,
                        extra={"event": "job_batch", "job_id": job.id, "batch": batch.seq, "vendor": job.vendor,
                               "attempts": attempts})
            return delay
        self._fail_batch(job, batch, _code(exc), exc.message)
        return 0.0

    def _fail_batch(self, job: Job, batch: Batch, code: str, message: str) -> None:
        """Every row of the batch not yet finished fails with the vendor's reason."""
        results = [_failed(p, code, message) for p in self.jobs.unfinished(job.id, batch.seq)]
        self.jobs.record(job.id, results, batch=(batch.seq, {"state": "failed", "error": message}))
        self.jobs.add_error(job.id, code, message, len(results))

    # -- Flowcode -----------------------------------------------------------------------------------
    def _flowcode(self, job: Job, batch: Batch) -> float:
        if batch.state == "sending":
            return self._flowcode_send(job, batch)
        return self._flowcode_poll(job, batch)

    def _code_name(self, job: Job, position: int) -> str:
        return f"fg-{job.id}-{position}"   # unique in the folder: the vendor refuses a second one

    def _flowcode_send(self, job: Job, batch: Batch) -> float:
        rows = self.jobs.batch_rows(job.id, batch.seq)
        options = _options(job)
        payloads = [flowcode_payload(_row(row_json), options, studio_config_id=self.settings.flowcode_studio_config_id,
                                     folder_id=self.settings.flowcode_folder_id or None,
                                     code_name=self._code_name(job, position))
                    for position, _uid, row_json in rows]
        try:
            created = self.flowcode.bulk_create(payloads)
        except Conflict as exc:
            # Only a try of this very batch can have taken these names: it was made, its answer lost.
            self._fail_batch(job, batch, "unconfirmed", "Flowcode made these codes in an earlier try whose answer "
                             f"was lost; their ids cannot be looked up ({exc.message}).")
            return 0.0
        if created.is_async:
            interval = self.settings.flowcode_poll_interval
            self.jobs.update_batch(job.id, batch.seq, state="submitted", vendor_ref=created.task_id,
                                   next_at=time.time() + interval, error=None)
            return interval
        self._flowcode_made(job, batch, rows, created.codes)
        return 0.0

    def _flowcode_made(self, job: Job, batch: Batch, rows: Sequence[tuple[int, str, str]],
                       codes: list[dict[str, Any]]) -> None:
        if len(codes) != len(rows):
            self._fail_batch(job, batch, "vendor_error", f"Flowcode answered {len(codes)} codes for {len(rows)} rows.")
            return
        # Flowcode keeps every code's image: it is fetched when first asked for (docs/jobs.md).
        results = [{"position": position, "status": "ok", "vendor_id": str(code.get("id")),
                    "url": flowcode_code_url(code),
                    "media_type": MEDIA_TYPES[_options(job).file_type]}
                   for (position, _uid, _row_json), code in zip(rows, codes, strict=True)]
        self.jobs.record(job.id, results, batch=(batch.seq, {"state": "done", "error": None}))

    def _flowcode_poll(self, job: Job, batch: Batch) -> float:
        status = self.flowcode.bulk_status(batch.vendor_ref or "")
        if status["status"] == "SUCCESS":
            self._flowcode_made(job, batch, self.jobs.batch_rows(job.id, batch.seq), list(status.get("codes") or []))
            return 0.0
        if status["status"] == "FAILURE":
            message = str(status.get("message") or "Flowcode's bulk task failed.")
            # A name already taken can only be this batch's own earlier try (the names are the job's).
            code = "unconfirmed" if "already" in message.lower() else "vendor_rejected"
            self._fail_batch(job, batch, code, message)
            return 0.0
        interval = self.settings.flowcode_poll_interval
        self.jobs.update_batch(job.id, batch.seq, polls=batch.polls + 1, next_at=time.time() + interval)
        return interval

    # -- ExaRoutes ----------------------------------------------------------------------------------
    def _exaroutes(self, job: Job, batch: Batch) -> float:
        if batch.state == "sending":
            return self._exaroutes_send(job, batch)
        return self._exaroutes_poll(job, batch)

    def _exaroutes_send(self, job: Job, batch: Batch) -> float:
        options = _options(job)
        rows = [exaroutes_row(_row(row_json), options) for _p, _uid, row_json in self.jobs.batch_rows(job.id, batch.seq)]
        submission = self.exaroutes.submit(rows)
        first = self.poll_schedule[0]
        self.jobs.update_batch(job.id, batch.seq, state="submitted", vendor_ref=submission.bulk_id,
                               quota_reached=submission.quota_reached, next_at=time.time() + first, error=None)
        if submission.quota_reached:
            log.warning("job %s batch %d: ExaRoutes plan quota reached", job.id, batch.seq)
        return first

    def _exaroutes_poll(self, job: Job, batch: Batch) -> float:
        bulk_id = batch.vendor_ref or ""
        status = self.exaroutes.status(bulk_id)
        if not status.done:
            delay = self.poll_schedule[min(batch.polls + 1, len(self.poll_schedule) - 1)]
            self.jobs.update_batch(job.id, batch.seq, polls=batch.polls + 1, next_at=time.time() + delay)
            return delay
        rows = self.jobs.batch_rows(job.id, batch.seq)
        sent = [{"uid": uid} for _p, uid, _r in rows]
        try:
            result = self.exaroutes.download(bulk_id, sent)   # saved in the store before it is parsed
        except NotFound as exc:
            self._fail_batch(job, batch, "archive_lost", exc.message)
            return 0.0
        results = []
        quota_rows = 0
        for (position, _uid, _row_json), entry in zip(rows, result.rows, strict=True):
            if entry.ok:
                results.append({"position": position, "status": "ok",
                                "vendor_id": exaroutes_vendor_id(bulk_id, entry.id, entry.index), "url": entry.url,
                                "media_type": "image/png", "image": entry.image()})
            else:
                code, message = exaroutes_failure(entry.code, entry.message)
                quota_rows += code == "quota_exceeded"
                results.append(_failed(position, code, message))
        self.jobs.record(job.id, results, batch=(batch.seq, {"state": "done", "error": None}))
        if quota_rows:
            self.jobs.add_error(job.id, "quota_exceeded", "ExaRoutes plan QR-creation limit reached.", quota_rows)
        return 0.0


def _code(exc: GatewayError) -> str:
    if exc.problem_code:
        return exc.problem_code
    if isinstance(exc, RateLimited):
        return "rate_limited"
    if isinstance(exc, UpstreamUnavailable):
        return "vendor_unavailable"
    if isinstance(exc, UpstreamError):
        return "vendor_timeout" if exc.status == 504 else "vendor_error"
    if isinstance(exc, RequestFailed):
        return "vendor_rejected"
    return {400: "vendor_rejected", 401: "vendor_auth", 403: "vendor_forbidden", 404: "not_found",
            413: "payload_too_large"}.get(exc.status, "vendor_error")
