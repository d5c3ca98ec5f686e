"""The ExaRoutes connector: exaroutes-bulk-generate.txt, "Bulk generate".

``generate(rows)`` = ``submit`` -> ``wait`` (the doc's backoff: 2 s -> 5 s -> 15 s -> 30 s, from
``exaroutes_poll_schedule``, the last value repeating) -> ``download``. The result archive is
one-shot ("the S3 object is deleted"), so ``download`` writes the bytes to the store and commits
*before* parsing or returning them; asked again, it answers from the store, even once the vendor
says 410.

Retries:

* ``POST /api/qr/bulk-generate`` is not retried by the HTTP client: ExaRoutes does not deduplicate
  (``uid`` is only echoed), so a replay would queue a second batch and spend plan quota. The one
  exception is the documented 500 "Worker failed to spawn. Retry.": nothing was queued, so it is
  retried ``spawn_retries`` times.
* ``GET …/{bulkId}`` (status) is an idempotent read: retried, and ``wait`` also waits out errors.
* ``GET …/{bulkId}/result`` is never retried: a replay after a lost answer reads 410. If the answer
  is lost in transit (a read timeout) the archive is gone at the vendor: nothing on our side can
  bring it back, which is why it is saved the moment it arrives.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from gateway.config import Settings
from gateway.connectors.common import segment, vendor_error
from gateway.errors import (
    GatewayError,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
)
from gateway.http import HttpClient
from gateway.store.archives import ArchiveRepository

__all__ = [
    "MAX_BODY",
    "BulkResult",
    "BulkStatus",
    "BulkSubmission",
    "ExaRoutesConnector",
    "RowResult",
    "parse_archive",
    "parse_schedule",
]

VENDOR = "exaroutes"
PATH = "/api/qr/bulk-generate"
MAX_BODY = 25 * 1024 * 1024   # "Max body: 25 MB"
DONE = ("completed", "resultDownloaded")


@dataclass(frozen=True)
class BulkSubmission:
    """A queued batch. ``quota_reached``: the POST said 429, the plan ran out part-way and the
    remaining rows are recorded as failed; the batch still runs and its archive says which."""

    bulk_id: str
    quota_reached: bool = False
    message: str = ""


@dataclass(frozen=True)
class BulkStatus:
    bulk_id: str
    status: str                   # processing | completed | resultDownloaded
    count: int
    failed_features: dict[str, int]
    created_at: int               # epoch ms
    updated_at: int

    @property
    def done(self) -> bool:
        return self.status in DONE


@dataclass(frozen=True)
class RowResult:
    """One entry of the archive. ``kind``: dynamic (an object with id and url), static (a bare
    data-URI string, matched to its row by position) or failed."""

    index: int
    kind: str
    uid: Any = None
    id: str | None = None
    url: str | None = None
    data_uri: str | None = None
    message: str | None = None
    code: int | None = None

    @property
    def ok(self) -> bool:
        return self.kind != "failed"

    def image(self) -> bytes | None:
        """The QR image bytes of the data URI (PNG for ExaRoutes)."""
        if not self.data_uri or ";base64," not in self.data_uri:
            return None
        return base64.b64decode(self.data_uri.split(";base64,", 1)[1])


@dataclass(frozen=True)
class BulkResult:
    bulk_id: str
    rows: list[RowResult] = field(default_factory=list)
    from_store: bool = False      # True when the vendor had already handed the archive out

    @property
    def failed(self) -> list[RowResult]:
        return [r for r in self.rows if not r.ok]

    @property
    def succeeded(self) -> list[RowResult]:
        return [r for r in self.rows if r.ok]


def parse_schedule(text: str) -> tuple[float, ...]:
    """``"2,5,15,30"`` -> (2.0, 5.0, 15.0, 30.0)."""
    values = tuple(float(part) for part in text.split(",") if part.strip())
    if not values or any(v < 0 for v in values):
        raise ValueError(f"a poll schedule is seconds separated by commas, got {text!r}")
    return values


def parse_archive(content: bytes, rows: Sequence[Any] | None = None) -> list[RowResult]:
    """The archive body: a JSON string whose content is a JSON array, one entry per submitted row in
    submission order. ``rows`` (what was submitted) gives static rows, bare strings, their uid."""
    try:
        outer = json.loads(content)
        # The doc double-encodes ("the result archive is the contained string"); take a plain array too.
        entries = json.loads(outer) if isinstance(outer, str) else outer
    except (ValueError, UnicodeDecodeError):
        raise UpstreamError("ExaRoutes' result archive is not JSON.") from None
    if not isinstance(entries, list):
        raise UpstreamError("ExaRoutes' result archive is not an array.")
    if rows is not None and len(rows) != len(entries):
        raise UpstreamError(f"ExaRoutes' result archive has {len(entries)} entries for {len(rows)} rows.")
    return [_entry(i, entry, rows) for i, entry in enumerate(entries)]


def _entry(i: int, entry: Any, rows: Sequence[Any] | None) -> RowResult:
    if isinstance(entry, str) and entry.startswith("data:"):
        row = rows[i] if rows is not None else None
        return RowResult(i, "static", uid=row.get("uid") if isinstance(row, Mapping) else None, data_uri=entry)
    if isinstance(entry, dict) and entry.get("status") == "failed":
        return RowResult(i, "failed", uid=entry.get("uid"), message=entry.get("message"), code=entry.get("code"))
    if isinstance(entry, dict) and isinstance(entry.get("QRs"), str):
        return RowResult(i, "dynamic", uid=entry.get("uid"), id=entry.get("id"), url=entry.get("url"),
                         data_uri=entry["QRs"])
    raise UpstreamError(f"ExaRoutes' result archive has an entry of unknown shape at position {i}.")


class ExaRoutesConnector:
    def __init__(self, http: HttpClient, base_url: str, client_id: str, api_key: str, *,
                 archives: ArchiveRepository, poll_schedule: Sequence[float] = (2, 5, 15, 30),
                 sleep: Callable[[float], None] = time.sleep, max_wait: float = 900.0, spawn_retries: int = 1,
                 quota_retry_after: float = 3600.0):
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._api_key = api_key
        self.archives = archives
        self.poll_schedule = tuple(poll_schedule) or (2.0,)
        self._sleep = sleep
        self.max_wait = max_wait
        self.spawn_retries = spawn_retries
        self.quota_retry_after = quota_retry_after

    @classmethod
    def from_settings(cls, http: HttpClient, settings: Settings, archives: ArchiveRepository,
                      **kw: Any) -> ExaRoutesConnector:
        kw.setdefault("poll_schedule", parse_schedule(settings.exaroutes_poll_schedule))
        kw.setdefault("quota_retry_after", float(settings.exaroutes_quota_retry_after))
        return cls(http, settings.exaroutes_base_url, settings.exaroutes_client_id, settings.exaroutes_api_key,
                   archives=archives, **kw)

    def __repr__(self) -> str:
        return f"ExaRoutesConnector({self.base_url}, client_id={self.client_id})"  # never the api key

    def _send(self, method: str, path: str, *, data: bytes | None = None, retry: bool | None = None
              ) -> requests.Response:
        headers = {"client-id": self.client_id, "api-key": self._api_key, "Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        return self.http.send(method, self.base_url + path, headers=headers, data=data, retry=retry,
                              vendor=VENDOR)

    # -- POST /api/qr/bulk-generate ------------------------------------------------------------------
    def submit(self, rows: Sequence[Mapping[str, Any]]) -> BulkSubmission:
        """Queue a batch; the answer is the bulkId, a JSON-encoded string."""
        body = json.dumps(list(rows)).encode()
        if len(body) > MAX_BODY:
            raise PayloadTooLarge(f"The batch is {len(body)} bytes; ExaRoutes takes 25 MB per call: split it.")
        for attempt in range(self.spawn_retries + 1):
            response = self._send("POST", PATH, data=body, retry=False)
            if response.status_code != 500 or attempt == self.spawn_retries:
                break
            self._sleep(self.poll_schedule[0])
        payload = _json_or_none(response)
        if response.status_code == 200:
            if not isinstance(payload, str) or not payload:
                raise UpstreamError("ExaRoutes queued the batch but its answer is not a bulkId string.")
            return BulkSubmission(payload)
        if response.status_code == 429 and isinstance(payload, dict) and isinstance(payload.get("bulkId"), str):
            return BulkSubmission(payload["bulkId"], quota_reached=True, message=str(payload.get("message", "")))
        raise _error(response, payload)

    # -- GET /api/qr/bulk-generate/{bulkId} ----------------------------------------------------------
    def status(self, bulk_id: str) -> BulkStatus:
        response = self._send("GET", f"{PATH}/{segment(bulk_id, 'The bulkId')}")
        body = _json_or_none(response)
        if response.status_code != 200:
            raise _error(response, body)
        try:
            return BulkStatus(str(body["bulkId"]), str(body["status"]), int(body["count"]),
                              dict(body.get("failedFeatures") or {}), int(body["createdAt"]), int(body["updatedAt"]))
        except (TypeError, KeyError, ValueError):
            raise UpstreamError("ExaRoutes' bulk status is missing fields.") from None

    def _delays(self) -> Iterator[float]:
        yield from self.poll_schedule
        while True:
            yield self.poll_schedule[-1]

    def wait(self, bulk_id: str) -> BulkStatus:
        """Poll on the schedule until completed (or already downloaded); transient errors (timeouts,
        5xx, 429) are waited out until ``max_wait`` seconds of polling have passed."""
        waited = 0.0
        last_error: GatewayError | None = None
        for delay in self._delays():
            if waited + delay > self.max_wait:
                raise UpstreamTimeout(f"ExaRoutes bulk {bulk_id} still processing after {waited:g} s"
                                      + (f" (last error: {last_error.message})" if last_error else "") + ".")
            self._sleep(delay)
            waited += delay
            try:
                status = self.status(bulk_id)
            except (UpstreamError, RateLimited) as exc:
                last_error = exc
                continue
            if status.done:
                return status
        raise AssertionError("unreachable")  # pragma: no cover - _delays never ends

    # -- GET /api/qr/bulk-generate/{bulkId}/result ---------------------------------------------------
    def download(self, bulk_id: str, rows: Sequence[Any] | None = None) -> BulkResult:
        """The archive, saved and committed in the store before anything else; from the store when
        it is already there (the vendor would answer 410)."""
        stored = self.archives.get(VENDOR, self.client_id, bulk_id)
        if stored is None:
            response = self._send("GET", f"{PATH}/{segment(bulk_id, 'The bulkId')}/result", retry=False)
            if response.status_code == 200:
                stored = self.archives.save(VENDOR, self.client_id, bulk_id, response.content,
                                            response.headers.get("Content-Type", "application/json"))
                return BulkResult(bulk_id, parse_archive(stored.content, rows))
            body = _json_or_none(response)
            # Another worker may have fetched and saved it a moment ago.
            stored = self.archives.get(VENDOR, self.client_id, bulk_id) if response.status_code == 410 else None
            if stored is None:
                raise _error(response, body)
        return BulkResult(bulk_id, parse_archive(stored.content, rows), from_store=True)

    def generate(self, rows: Sequence[Mapping[str, Any]]) -> BulkResult:
        """Submit, wait, download: one result per row, in submission order.

        A plan quota spent part-way (the POST's 429) raises :class:`RateLimited` once the archive is
        saved: the rows it did create stay readable from the store, and the caller learns of the
        quota instead of finding silently failed rows."""
        submission = self.submit(rows)
        self.wait(submission.bulk_id)
        result = self.download(submission.bulk_id, rows)
        if submission.quota_reached:
            raise self.quota_error(submission)
        return result

    def quota_error(self, submission: BulkSubmission) -> RateLimited:
        """The plan quota ran out: a 429 whose Retry-After is ``quota_retry_after`` (a plan quota
        does not reset in seconds; docs/vendors.md, ExaRoutes choice 2)."""
        err = RateLimited(f"ExaRoutes plan QR-creation limit reached (bulk {submission.bulk_id})"
                          + (f": {submission.message}" if submission.message else "."),
                          retry_after=self.quota_retry_after, detail={"bulk_id": submission.bulk_id})
        err.problem_code = "quota_exceeded"
        return err


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error(response: requests.Response, body: Any) -> GatewayError:
    """``{"message": "...", "code": n}`` -> the exception tree; 410 Gone is NotFound with code 410."""
    status = response.status_code
    message = body.get("message") if isinstance(body, dict) and isinstance(body.get("message"), str) else None
    if status == 410:
        return NotFound(message or "The result archive is no longer available.", code=410)
    return vendor_error("ExaRoutes", status, message, response.headers)
