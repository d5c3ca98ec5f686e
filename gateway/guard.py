"""Request bodies arrive in time and within their cap, before any view reads them.

The gevent worker (docs/serving.md) makes a stalled client cost a greenlet instead of one of a few
threads, but a greenlet that waits forever still holds one of the worker's ``worker_connections``.
:class:`BodyGuard` sits outside the front doors (inside the metrics, which count its answers) and
reads every request body itself, so no view ever waits on a client:

* a ``Content-Length`` over the path's cap is refused with 413 before a byte of the body is read.
  ``/v1/soap`` is the exception: such a request goes on unread, and the SOAP front door answers with
  its own Client fault, as SOAP clients expect (it, too, refuses before reading);
* the whole body must arrive within ``body_read_timeout`` seconds, plus one second for every
  ``body_min_rate`` bytes received — a stalled client gets the plain timeout, a slow but steady
  200 MB job upload is not cut off. Late: 408, and the connection is closed;
* the body is handed on as a file (in memory up to 1 MiB, then a temporary file).

How the deadline is kept depends on the server. Under gevent, a ``gevent.Timeout`` around each read:
exact, however the client trickles its bytes. Under gunicorn's thread workers (and Werkzeug's test
server), a timeout on the client socket for each read: it bounds every wait, but a client sending a
byte now and then stretches one read (one reason gevent is the default). Errors come in each door's
shape: problem+json under ``/api/``, Flowize's error JSON under ``/v1/``, plain text elsewhere
(``/v1/soap`` included: a 408 is an HTTP matter, there is no envelope to answer).
"""

from __future__ import annotations

import json
import logging
import re
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from gateway.config import Settings

__all__ = ["BodyGuard"]

log = logging.getLogger("gateway.guard")

SPOOL_IN_MEMORY = 1024 * 1024   # a larger body goes to a temporary file
CHUNK = 64 * 1024
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class _TooSlow(Exception):
    """The body did not arrive within its time."""


class BodyGuard:
    """WSGI middleware: read each request body within its cap and its time, then call ``app``."""

    def __init__(self, app: Callable[..., Iterable[bytes]], settings: Settings):
        from gateway.api.qr_jobs import MAX_UPLOAD_BYTES
        from gateway.rest import MAX_BODY_BYTES

        self.app = app
        self.timeout = settings.body_read_timeout
        self.min_rate = settings.body_min_rate
        self.soap_cap = settings.soap_max_body_bytes
        self.upload_cap = MAX_UPLOAD_BYTES          # POST /api/qr/jobs: rows stream in from a file
        self.default_cap = max(MAX_BODY_BYTES, settings.json_max_body_bytes)

    def cap(self, method: str, path: str) -> int:
        if path == "/v1/soap" or path.startswith("/v1/soap/"):
            return self.soap_cap
        if method == "POST" and path.rstrip("/") == "/api/qr/jobs":
            return self.upload_cap
        return self.default_cap

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH") or ""
        chunked = not length and bool(environ.get("wsgi.input_terminated")) and \
            "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not chunked and length in ("", "0"):
            return self.app(environ, start_response)       # no body: nothing to wait for
        try:
            declared = None if chunked else int(length)
        except ValueError:
            return self.app(environ, start_response)       # the server lets it through; the app says 400
        path = environ.get("PATH_INFO", "")
        soap = path == "/v1/soap" or path.startswith("/v1/soap/")
        cap = self.cap(environ.get("REQUEST_METHOD", "GET"), path)
        if declared is not None and declared > cap:
            if soap:
                return self.app(environ, start_response)   # unread: the SOAP door's own fault (see above)
            return self._refuse(environ, start_response, 413, "Payload Too Large", "payload_too_large",
                                f"The request body is larger than {cap} bytes.")
        try:
            body, size = self._read(environ, declared, cap)
        except _TooSlow:
            log.info("request body from %s not received within its time: %s %s", environ.get("REMOTE_ADDR"),
                     environ.get("REQUEST_METHOD"), path)
            return _Closing(self._refuse(environ, start_response, 408, "Request Timeout", "request_timeout",
                                         f"The request body did not arrive within {self.timeout:g} seconds."),
                            _client_socket(environ))
        except Exception:  # noqa: BLE001 - the client left or broke its chunks (OSError, NoMoreData...)
            return self._refuse(environ, start_response, 400, "Bad Request", "incomplete_body",
                                "The request body ended before its Content-Length.")
        if declared is not None and size < declared:
            return self._refuse(environ, start_response, 400, "Bad Request", "incomplete_body",
                                "The request body ended before its Content-Length.")
        if size > cap:   # chunked: no length was declared, the cap showed while reading
            if soap:
                body.seek(0)   # the SOAP door reads cap + 1 bytes and answers its own fault
            else:
                return self._refuse(environ, start_response, 413, "Payload Too Large", "payload_too_large",
                                    f"The request body is larger than {cap} bytes.")
        body.seek(0)
        environ["wsgi.input"] = body
        environ["CONTENT_LENGTH"] = str(size)
        environ.pop("HTTP_TRANSFER_ENCODING", None)   # now a body of known length
        return self.app(environ, start_response)

    # -- reading ------------------------------------------------------------------------------------
    def _read(self, environ: dict[str, Any], declared: int | None, cap: int) -> tuple[IO[bytes], int]:
        """The body (as a file) and its size; at most ``cap + 1`` bytes when no length is declared."""
        stream = environ["wsgi.input"]
        want = declared if declared is not None else cap + 1
        read = _reader(environ)
        body: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - handed on
        size = 0
        started = time.monotonic()
        while size < want:
            allowed = self.timeout + (size / self.min_rate if self.min_rate else 0.0)
            remaining = started + allowed - time.monotonic()
            if remaining <= 0:
                raise _TooSlow
            chunk = read(stream, min(CHUNK, want - size), remaining)
            if not chunk:
                break
            body.write(chunk)
            size += len(chunk)
        return body, size

    # -- answering ----------------------------------------------------------------------------------
    def _refuse(self, environ: dict[str, Any], start_response: Callable[..., Any], status: int, reason: str,
                code: str, detail: str) -> list[bytes]:
        incoming = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        path = environ.get("PATH_INFO", "")
        if path == "/api" or path.startswith("/api/"):
            from gateway.api.problems import PROBLEM_JSON, TYPE_BASE

            data = json.dumps({"type": TYPE_BASE + code, "title": reason, "status": status, "detail": detail,
                               "code": code, "request_id": request_id}).encode()
            ctype = PROBLEM_JSON
        elif path.startswith("/v1/") and not path.startswith("/v1/soap"):
            data = json.dumps({"resource": [], "error": {"code": status, "message": detail}}).encode()
            ctype = "application/json"
        else:
            data, ctype = (detail + "\n").encode(), "text/plain; charset=utf-8"
        start_response(f"{status} {reason}", [("Content-Type", ctype), ("Content-Length", str(len(data))),
                                              ("Cache-Control", "no-store"), ("X-Request-Id", request_id)])
        return [data]


def _reader(environ: dict[str, Any]) -> Callable[[Any, int, float], bytes]:
    """``read(stream, size, seconds)`` for this server; raises :class:`_TooSlow` when time is up."""
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("socket"):
        from gevent import Timeout

        def read_gevent(stream: Any, size: int, seconds: float) -> bytes:
            with Timeout(seconds, _TooSlow):
                return bytes(stream.read(size))

        return read_gevent
    sock = _client_socket(environ)
    if sock is None:
        return lambda stream, size, _seconds: bytes(stream.read(size))

    def read_socket(stream: Any, size: int, seconds: float) -> bytes:
        previous = sock.gettimeout()
        sock.settimeout(seconds)
        try:
            return bytes(stream.read(size))
        except TimeoutError:   # socket.timeout
            raise _TooSlow from None
        finally:
            try:
                sock.settimeout(previous)
            except OSError:
                pass

    return read_socket


def _client_socket(environ: dict[str, Any]) -> socket.socket | None:
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    return sock if isinstance(sock, socket.socket) else None


class _Closing:
    """The 408 answer; once it is sent, no more is read from the client: what is left of its body
    would otherwise be drained as the next request's start, for as long as keep-alive allows."""

    def __init__(self, body: list[bytes], sock: socket.socket | None):
        self.body, self.sock = body, sock

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.body)

    def close(self) -> None:
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RD)
            except OSError:
                pass
