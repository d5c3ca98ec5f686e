"""Bulk QR jobs, protocol-neutral: submit (check every row, keep the job whole or not at all),
read, list, cancel, and read results back. The work itself is done by workers (gateway/jobs).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from gateway.errors import Conflict, NotFound, ValidationFailed
from gateway.operations.qr import QrOperations, check_vendor
from gateway.qr_rows import MAX_ERRORS, check_rows, parse_options
from gateway.store.jobs import Job, JobRepository, ResultRow

__all__ = ["QrJobOperations"]

log = logging.getLogger("gateway.jobs")


class StepQueue(Protocol):
    """Where a job is handed to the workers: the task engine (gateway/jobs/engine.py) in the app."""

    def advance(self, job_id: str, delay: float = 0.0) -> None: ...


class QrJobOperations:
    def __init__(self, jobs: JobRepository, engine: StepQueue, qr: QrOperations):
        self.jobs = jobs
        self.engine = engine
        self.qr = qr

    def submit(self, consumer: str, rows: Iterable[Any], header: Callable[[], tuple[Any, Any]], *,
               idempotency_key: str | None = None, request_id: str | None = None) -> tuple[Job, bool]:
        """Check and store every row, then queue the job: (job, created). ``rows`` is consumed once,
        streaming; ``header()`` gives (vendor, options) once the rows are read (a JSON body may name
        them after its rows). Any invalid row: ValidationFailed listing each, and nothing is kept.
        With ``idempotency_key`` a job already made by the same consumer is returned as it is."""
        if idempotency_key:
            existing = self.jobs.by_idempotency_key(consumer, idempotency_key)
            if existing is not None:
                return existing, False
        job_id = uuid.uuid4().hex
        errors: list[dict[str, Any]] = []
        invalid = 0
        total = 0
        settled: dict[str, Any] = {}

        def finish() -> tuple[str, dict[str, Any]]:
            vendor, options = header()
            problems: list[dict[str, Any]] = []
            try:
                settled["vendor"] = check_vendor(vendor)
            except ValidationFailed as exc:
                problems.extend(exc.errors)
            try:
                settled["options"] = parse_options(options, settled.get("vendor", "")).as_json()
            except ValidationFailed as exc:
                problems.extend(exc.errors)
            if total == 0:
                problems.append({"field": "rows", "reason": "a job needs at least one row"})
            if problems or invalid:
                message = (f"{invalid} of {total} rows are not valid; nothing was queued." if invalid
                           else "The job is not valid; nothing was queued.")
                raise ValidationFailed(message, errors=problems + errors,
                                       problem_code="invalid_rows" if invalid else "invalid_body")
            return settled["vendor"], settled["options"]

        try:
            with self.jobs.creating(job_id, consumer, finish, idempotency_key=idempotency_key,
                                    request_id=request_id) as add:
                for position, row, error in check_rows(rows):
                    total += 1
                    if error is not None:
                        invalid += 1
                        if len(errors) < MAX_ERRORS:
                            errors.append(error)
                    elif not invalid and row is not None:
                        add(position, row.uid, json.dumps(row.as_json()))
        except Exception as exc:
            if idempotency_key and self.jobs.is_duplicate(exc):  # the same key, submitted at the same time
                existing = self.jobs.by_idempotency_key(consumer, idempotency_key)
                if existing is not None:
                    return existing, False
            raise
        try:
            self.engine.advance(job_id)
        except Exception:
            log.exception("job %s: could not queue its first step; the worker's sweep will", job_id)
        job = self.jobs.get(job_id)
        assert job is not None
        log.info("job %s: queued (%s, %d rows) for %s", job_id, job.vendor, job.total, consumer,
                 extra={"event": "job", "job_id": job_id, "status": "queued", "vendor": job.vendor, "rows": job.total})
        return job, True

    def get(self, job_id: str, consumer: str | None) -> Job:
        """The job, if ``consumer`` may see it (None: an admin sees every job); else NotFound."""
        job = self.jobs.get(job_id)
        if job is None or (consumer is not None and job.consumer != consumer):
            raise NotFound(f"No job {job_id}.")
        return job

    def list(self, consumer: str | None, limit: int, after: tuple[float, str] | None) -> list[Job]:
        return self.jobs.page(consumer, limit, after)

    def cancel(self, job_id: str, consumer: str | None) -> Job:
        """Stop sending what has not been sent; batches already at the vendor finish."""
        job = self.get(job_id, consumer)
        if job.terminal:
            raise Conflict(f"Job {job_id} has already ended ({job.status}).")
        self.jobs.request_cancel(job_id)
        self.engine.advance(job_id)
        return self.get(job_id, consumer)

    def results(self, job_id: str, consumer: str | None) -> Iterator[ResultRow]:
        self.get(job_id, consumer)
        return self.jobs.results(job_id)

    def image(self, job_id: str, consumer: str | None, uid: str) -> tuple[str, bytes]:
        """(media type, image). ExaRoutes' came in its archive and is kept; Flowcode keeps its codes'
        images, so one is fetched from Flowcode when first asked for, then kept."""
        job = self.get(job_id, consumer)
        found = self.jobs.image(job_id, uid)
        if found is None:
            raise NotFound(f"Job {job_id} has no code for uid {uid!r} (yet).")
        media_type, image, vendor_id = found
        if image is None:
            image, media_type = self._fetch(job, uid, vendor_id)
        return media_type, image

    def _fetch(self, job: Job, uid: str, vendor_id: str | None) -> tuple[bytes, str]:
        if job.vendor != "flowcode" or not vendor_id:
            raise NotFound(f"Job {job.id} kept no image for uid {uid!r}.")
        image, media_type = self.qr.code_image("flowcode", vendor_id, job.options.get("file_type"))
        self.jobs.keep_image(job.id, uid, image, media_type)
        return image, media_type

    def images(self, job_id: str, consumer: str | None) -> Iterator[tuple[str, str, bytes]]:
        """(uid, media type, image) of every made code; NotFound at once (not mid-stream) for a job
        the consumer cannot see."""
        job = self.get(job_id, consumer)

        def each() -> Iterator[tuple[str, str, bytes]]:
            for uid, media_type, image, vendor_id in self.jobs.images(job_id):
                if image is None:
                    image, media_type = self._fetch(job, uid, vendor_id)
                yield uid, media_type, image

        return each()
