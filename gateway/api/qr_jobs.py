"""``/api/qr/jobs``: durable bulk QR jobs (docs/jobs.md).

Rows arrive as a JSON body (``{"vendor", "rows", "options"}``, parsed as a stream with ijson), a CSV
upload (``text/csv``, ``?vendor=``; columns ``uid``, ``type``, then the destination's fields) or
NDJSON (one row a line); all three are read row by row straight into the store, so a 100,000-row
job never sits in memory. Results, CSV and the ZIP of images stream out the same way.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import ijson
from flask import Blueprint, Response, current_app, g, request, stream_with_context, url_for

from gateway.api.auth import ApiCaller, require_scope
from gateway.api.paging import page_args, page_body
from gateway.api.wire import respond
from gateway.errors import InvalidRequest
from gateway.operations.qr_jobs import QrJobOperations
from gateway.qr_rows import row_from_flat
from gateway.safejson import DEFAULT_MAX_DEPTH
from gateway.safejson import loads as safe_loads
from gateway.store.jobs import Job, ResultRow

__all__ = ["bp"]

bp = Blueprint("qr_jobs", __name__, url_prefix="/qr/jobs")

MAX_UPLOAD_BYTES = 1024 * 1024 * 1024   # 1 GiB: rows stream to the store, never into memory
OPTION_PARAMS = ("file_type", "studio_config_id", "folder_id", "qrType")
CSV_COLUMNS = ("uid", "status", "vendor_id", "url", "image_href", "media_type", "error_code", "error_message")
MAX_IDEMPOTENCY_KEY = 255   # the store's column (gateway/store/models.py)


def _ops() -> QrJobOperations:
    return current_app.extensions["flowgate"].jobs


def _owner(who: ApiCaller) -> str | None:
    """Whose jobs this caller sees: its own, or every job with the admin scope."""
    return None if "admin" in who.scopes else who.identity


def _bad(message: str, code: str) -> InvalidRequest:
    err = InvalidRequest(message)
    err.problem_code = code
    return err


def job_json(job: Job) -> dict[str, Any]:
    return {"id": job.id, "vendor": job.vendor, "status": job.status, "total": job.total, "done": job.done,
            "failed": job.failed, "created_at": _iso(job.created_at), "updated_at": _iso(job.updated_at),
            "errors": job.errors, "cancel_requested": job.cancel_requested,
            "links": {"self": url_for("api.qr_jobs.get_job", job_id=job.id),
                      "results": url_for("api.qr_jobs.results", job_id=job.id),
                      "images": url_for("api.qr_jobs.images_zip", job_id=job.id)}}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- reading the rows ----------------------------------------------------------------------------------
class _Body(io.RawIOBase):
    """The request body as a plain binary file. Werkzeug's input stream takes a zero-byte read
    (which ijson and TextIOWrapper make to probe the type) for a client that went away."""

    def __init__(self, stream: Any):
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not len(buffer):
            return 0
        data = self._stream.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def _body() -> io.BufferedReader:
    return io.BufferedReader(_Body(request.stream), buffer_size=256 * 1024)


class _JsonBody:
    """``{"vendor", "rows": [...], "options"}`` from a stream: rows yielded one by one, vendor and
    options kept whenever they come (before or after the rows).

    Read with ``ijson.basic_parse`` and our own depth count, not ``ijson.parse``: the latter builds
    each event's dotted prefix, so a body of 20,000 ``[`` (40 kB) made about 1 GB of prefixes before
    the first row was seen. Nesting deeper than ``json_max_depth`` is refused as soon as it is met."""

    def __init__(self, stream: Any, max_depth: int = DEFAULT_MAX_DEPTH):
        self.stream = stream
        self.max_depth = max_depth
        self.vendor: Any = None
        self.options: Any = None
        self.saw_rows = False

    def rows(self) -> Iterator[Any]:
        events = ijson.basic_parse(self.stream, use_float=True)
        try:
            event, value = next(events)
        except StopIteration:
            raise _bad("The body is empty; send {\"vendor\", \"rows\", \"options\"}.", "invalid_json") from None
        if event != "start_map":
            raise _bad("The body must be a JSON object with vendor, rows and options.", "invalid_json")
        key = None
        for event, value in events:   # the top-level object: depth 1
            if event == "map_key":
                key = value
                continue
            if event == "end_map":
                continue   # its end; ijson still checks that nothing follows
            if key == "vendor" and event not in ("start_map", "start_array"):
                self.vendor = value
            elif key == "options" and event == "start_map":
                self.options = _build(events, event, value, 2, self.max_depth)
            elif key == "rows" and event == "start_array":
                self.saw_rows = True
                for item_event, item_value in events:
                    if item_event == "end_array":
                        break
                    yield _build(events, item_event, item_value, 3, self.max_depth)
            else:
                _build(events, event, value, 2, self.max_depth)   # any other value: read past it
            key = None

    def header(self) -> tuple[Any, Any]:
        return self.vendor, self.options


def _build(events: Iterator[tuple[str, Any]], event: str, value: Any, depth: int, max_depth: int) -> Any:
    """One JSON value from ijson basic events, starting at (event, value), which opens ``depth``."""
    builder = ijson.ObjectBuilder()
    builder.event(event, value)
    if event not in ("start_map", "start_array"):
        return builder.value
    if depth > max_depth:
        raise _bad(f"The JSON body is nested deeper than {max_depth} levels.", "invalid_json")
    opened = 1
    for ev, val in events:
        if ev in ("start_map", "start_array"):
            opened += 1
            if depth + opened - 1 > max_depth:
                raise _bad(f"The JSON body is nested deeper than {max_depth} levels.", "invalid_json")
        elif ev in ("end_map", "end_array"):
            opened -= 1
        builder.event(ev, val)
        if opened == 0:
            break
    return builder.value


def _csv_rows(stream: Any) -> Iterator[dict[str, Any]]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    if not reader.fieldnames or "uid" not in reader.fieldnames or "type" not in reader.fieldnames:
        raise _bad("The CSV needs a header line with uid, type, then the destination's fields.", "invalid_csv")
    for record in reader:
        yield row_from_flat(record)


def _ndjson_rows(stream: Any, max_depth: int = DEFAULT_MAX_DEPTH) -> Iterator[Any]:
    for number, line in enumerate(io.TextIOWrapper(stream, encoding="utf-8"), start=1):
        if not line.strip():
            continue
        try:
            # One line is one row: the whole body's size cap (MAX_UPLOAD_BYTES) is the line's too.
            row = safe_loads(line, max_depth=max_depth, max_bytes=MAX_UPLOAD_BYTES,
                             invalid=f"Line {number} of the NDJSON body is not JSON.")
        except InvalidRequest as err:
            raise _bad(err.message, "invalid_json") from None
        yield row


def _idempotency_key() -> str | None:
    """The Idempotency-Key header. An empty one is no key: kept as "", it would be one key shared by
    every such submit, and the second would break the store's unique index (a 500)."""
    key = request.headers.get("Idempotency-Key") or None
    if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:
        raise _bad(f"Idempotency-Key is longer than {MAX_IDEMPOTENCY_KEY} characters.", "invalid_request")
    return key


def _after(state: Any) -> tuple[float, str] | None:
    """The (created_at, id) a jobs cursor holds; a genuine cursor of another list is refused."""
    if state is None:
        return None
    if (isinstance(state, list) and len(state) == 2 and isinstance(state[0], (int, float))
            and not isinstance(state[0], bool) and isinstance(state[1], str)):
        return float(state[0]), state[1]
    raise _bad("The cursor belongs to another list; start again without it.", "invalid_cursor")


def _query_options() -> dict[str, Any]:
    return {name: request.args[name] for name in OPTION_PARAMS if name in request.args}


# -- routes ------------------------------------------------------------------------------------------
@bp.post("")
def submit() -> Response:
    who = require_scope("qr")
    request.max_content_length = MAX_UPLOAD_BYTES
    idempotency_key = _idempotency_key()
    ctype = request.mimetype or ""
    stream = _body()
    max_depth = current_app.extensions["flowgate"].settings.json_max_depth
    if ctype == "application/json":
        body = _JsonBody(stream, max_depth)
        rows, header = body.rows(), body.header
    elif ctype in ("text/csv", "application/csv"):
        rows, header = _csv_rows(stream), lambda: (request.args.get("vendor"), _query_options())
    elif ctype in ("application/x-ndjson", "application/ndjson", "application/jsonl"):
        rows, header = _ndjson_rows(stream, max_depth), lambda: (request.args.get("vendor"), _query_options())
    else:
        err = _bad("Send rows as application/json, text/csv or application/x-ndjson.", "unsupported_media_type")
        err.status = 415
        raise err
    try:
        job, created = _ops().submit(who.identity, rows, header, idempotency_key=idempotency_key,
                                     request_id=g.get("request_id"))
    except (ijson.JSONError, UnicodeDecodeError, csv.Error) as exc:
        raise _bad(f"The body could not be read: {type(exc).__name__}.", "invalid_body_encoding") from None
    data = job_json(job)
    answer = {"id": job.id, "status": job.status, "total": job.total,
              "links": {"self": data["links"]["self"], "results": data["links"]["results"]}}
    headers = {"Location": data["links"]["self"]}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return respond(answer, 202, headers)


@bp.get("")
def list_jobs() -> Response:
    who = require_scope("qr")
    limit, after = page_args()
    jobs = _ops().list(_owner(who), limit + 1, _after(after))
    more = len(jobs) > limit
    jobs = jobs[:limit]
    next_state = [jobs[-1].created_at, jobs[-1].id] if more else None
    return respond(page_body([job_json(j) for j in jobs], next_state))


@bp.get("/<job_id>")
def get_job(job_id: str) -> Response:
    who = require_scope("qr")
    return respond(job_json(_ops().get(job_id, _owner(who))))


@bp.delete("/<job_id>")
def cancel_job(job_id: str) -> Response:
    who = require_scope("qr")
    return respond(job_json(_ops().cancel(job_id, _owner(who))), 202)


def _result_json(job_id: str, r: ResultRow) -> dict[str, Any]:
    image = None
    if r.media_type and r.status == "ok":
        image = {"href": f"/api/qr/jobs/{job_id}/images/{quote(r.uid, safe='')}", "media_type": r.media_type}
    error = {"code": r.error_code, "message": r.error_message} if r.status == "failed" else None
    return {"uid": r.uid, "status": r.status, "vendor_id": r.vendor_id, "url": r.url, "image": image, "error": error}


@bp.get("/<job_id>/results")
def results(job_id: str) -> Response:
    who = require_scope("qr")
    rows = _ops().results(job_id, _owner(who))
    wants_csv = request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"  # JSON on ties

    def as_json() -> Iterator[bytes]:
        yield b"["
        first = True
        for r in rows:
            yield (b"" if first else b",\n") + json.dumps(_result_json(job_id, r)).encode()
            first = False
        yield b"]\n"

    def as_csv() -> Iterator[bytes]:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for r in rows:
            item = _result_json(job_id, r)
            writer.writerow([r.uid, r.status, r.vendor_id or "", r.url or "",
                             (item["image"] or {}).get("href", ""), (item["image"] or {}).get("media_type", ""),
                             r.error_code or "", r.error_message or ""])
            if out.tell() > 64 * 1024:
                yield out.getvalue().encode()
                out.seek(0)
                out.truncate()
        yield out.getvalue().encode()

    if wants_csv:
        return Response(stream_with_context(as_csv()), content_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{job_id}-results.csv"'})
    return Response(stream_with_context(as_json()), content_type="application/json")


@bp.get("/<job_id>/images/<path:uid>")
def image(job_id: str, uid: str) -> Response:
    who = require_scope("qr")
    media_type, content = _ops().image(job_id, _owner(who), uid)
    return Response(content, content_type=media_type, headers={"Cache-Control": "private, max-age=86400"})


class _Pipe(io.RawIOBase):
    """A write-only stream whose bytes are taken out as they come: zipfile writes, we yield."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        out = b"".join(self.chunks)
        self.chunks.clear()
        return out


_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/svg+xml": "svg", "application/pdf": "pdf",
               "image/tiff": "tiff"}


@bp.get("/<job_id>/images.zip")
def images_zip(job_id: str) -> Response:
    who = require_scope("qr")
    images = _ops().images(job_id, _owner(who))

    def generate() -> Iterator[bytes]:
        pipe = _Pipe()
        with zipfile.ZipFile(pipe, mode="w", compression=zipfile.ZIP_STORED) as archive:
            for uid, media_type, content in images:
                name = quote(uid, safe="-_.") + "." + _EXTENSIONS.get(media_type, "bin")
                archive.writestr(name, content)
                yield pipe.take()
        yield pipe.take()

    return Response(stream_with_context(generate()), content_type="application/zip",
                    headers={"Content-Disposition": f'attachment; filename="{job_id}-images.zip"'})
