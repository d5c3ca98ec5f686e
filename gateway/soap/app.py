"""The SOAP front door: a WSGI app mounted at ``/v1/soap`` beside the Flask app.

    GET  /v1/soap?wsdl   wsdl/flowize.wsdl, with soap:address pointing at this server
    POST /v1/soap        SOAP 1.1 (text/xml, any SOAPAction) or SOAP 1.2 (application/soap+xml),
                         answered in the version of the envelope

The request is read with a size cap and parsed once, safely (:mod:`gateway.soap.envelope`); Spyne
takes that tree from there (:mod:`gateway.soap.protocol`): it deserializes, calls the service's
method and serializes the answer, with no second parse and no rewritten environ. Spyne's own WSDL is
not served: the checked-in file is the contract, read once per app and rendered once per address.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from gateway.config import Settings
from gateway.observe import note
from gateway.operations.credentials import CredentialPolicy
from gateway.operations.flowize import FlowizeOperations
from gateway.soap.envelope import EnvelopeError, parse_envelope
from gateway.soap.faults import client_fault, fault_envelope
from gateway.soap.protocol import TreeServer
from gateway.soap.service import SoapCall

__all__ = ["WSDL_PATH", "SoapFrontDoor", "create_soap_app", "published_wsdl"]

WSDL_PATH = Path(__file__).resolve().parents[2] / "wsdl" / "flowize.wsdl"
_PACKAGED_WSDL = Path(__file__).resolve().parent / "flowize.wsdl"
DEFAULT_ADDRESS = "http://127.0.0.1:8080/v1/soap"
_HOST = re.compile(r"^[A-Za-z0-9.\-:\[\]]{1,255}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_CONTENT_TYPES = {"1.1": "text/xml; charset=utf-8", "1.2": "application/soap+xml; charset=utf-8"}


def _wsdl_template() -> bytes:
    path = WSDL_PATH if WSDL_PATH.exists() else _PACKAGED_WSDL
    return path.read_bytes()


def _render_wsdl(template: bytes, address: str) -> bytes:
    escaped = address.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return template.replace(f'location="{DEFAULT_ADDRESS}"'.encode(), f'location="{escaped}"'.encode())


def published_wsdl(address: str) -> bytes:
    """The WSDL as served: the checked-in file with every soap:address pointing at ``address``."""
    return _render_wsdl(_wsdl_template(), address)


class SoapFrontDoor:
    """The WSGI app: reads and parses the envelope, answers what cannot be read with a Client fault,
    and hands the parsed envelope and a :class:`SoapCall` to the Spyne server of its SOAP version."""

    def __init__(self, operations: FlowizeOperations, settings: Settings,
                 credentials: CredentialPolicy | None = None):
        self.operations = operations
        self.credentials = credentials
        self.settings = settings
        #: The Spyne servers that answer envelopes, by SOAP version.
        self.spyne = {"1.1": TreeServer("1.1"), "1.2": TreeServer("1.2")}
        template = _wsdl_template()  # read once, at start
        #: The WSDL as served at an address, rendered once per address (a few: the host names used).
        self.wsdl: Callable[[str], bytes] = functools.lru_cache(maxsize=16)(
            functools.partial(_render_wsdl, template))

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method in ("GET", "HEAD"):
            query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
            if any(k.lower() == "wsdl" for k in query):
                body = self.wsdl(self._address(environ))
                return _reply(start_response, "200 OK", "text/xml; charset=utf-8", b"" if method == "HEAD" else body)
            return _reply(start_response, "400 Bad Request", "text/plain; charset=utf-8",
                          b"This is the Flowize SOAP endpoint: POST SOAP envelopes here, or GET ?wsdl.\n")
        if method != "POST":
            return _reply(start_response, "405 Method Not Allowed", "text/plain; charset=utf-8",
                          b"Use POST for SOAP calls and GET ?wsdl for the WSDL.\n", [("Allow", "GET, HEAD, POST")])

        # The app's Observe middleware chose it (and echoes it, and sets the context variable).
        request_id = environ.get("flowgate.request_id") or uuid.uuid4().hex
        guessed = "1.2" if "soap+xml" in environ.get("CONTENT_TYPE", "") else "1.1"
        try:
            body = self._read_body(environ)
            parsed = parse_envelope(body, max_depth=self.settings.soap_max_depth,
                                    max_elements=self.settings.soap_max_elements)
        except EnvelopeError as exc:
            fault = client_fault(str(exc), request_id)
            status = "400 Bad Request" if guessed == "1.2" else "500 Internal Server Error"
            return _reply(start_response, status, _CONTENT_TYPES[guessed],
                          fault_envelope(fault, guessed))

        note(operation=parsed.operation)
        call = SoapCall(self.operations, self._client_ip(environ), request_id, parsed.access_token,
                        self.settings.soap_webhook_success_as_fault, self.credentials)
        status, headers, body = self.spyne[parsed.version].handle(parsed, call)
        return _reply(start_response, status, _CONTENT_TYPES[parsed.version], body, headers)

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        limit = self.settings.soap_max_body_bytes
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH")
        if length in (None, ""):
            # No length: only a chunked body (the server marks it terminated) can be read safely.
            if not environ.get("wsgi.input_terminated"):
                return b""
            data = stream.read(limit + 1)
        else:
            try:
                declared = int(length)
            except ValueError:
                raise EnvelopeError("Content-Length is not a number.") from None
            if declared > limit:
                raise EnvelopeError(f"The request body is larger than {limit} bytes.")
            data = stream.read(declared) if declared > 0 else b""
        if len(data) > limit:
            raise EnvelopeError(f"The request body is larger than {limit} bytes.")
        return data

    @staticmethod
    def _client_ip(environ: dict[str, Any]) -> str:
        # Behind a trusted proxy, ProxyFix (gateway/app.py) has already put the client's address here.
        return environ.get("REMOTE_ADDR", "")

    def _address(self, environ: dict[str, Any]) -> str:
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/") + "/v1/soap"
        scheme = environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '80')}"
        if scheme not in ("http", "https") or not _HOST.match(host):
            return DEFAULT_ADDRESS
        return f"{scheme}://{host}{environ.get('SCRIPT_NAME', '')}".rstrip("/") or DEFAULT_ADDRESS


def _reply(start_response: Callable[..., Any], status: str, content_type: str, body: bytes,
           extra: list[tuple[str, str]] | None = None) -> list[bytes]:
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body))), *(extra or [])])
    return [body]


def create_soap_app(operations: FlowizeOperations, settings: Settings,
                    credentials: CredentialPolicy | None = None) -> SoapFrontDoor:
    """The SOAP front door over ``operations``; ``credentials`` (the services' policy) lets it take
    consumer keys in gateway-held mode; without it, it passes what callers present through."""
    return SoapFrontDoor(operations, settings, credentials)

