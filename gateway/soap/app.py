"""The SOAP front door: a WSGI app mounted at ``/v1/soap`` beside the Flask app.

    GET  /v1/soap?wsdl   wsdl/flowize.wsdl, with soap:address pointing at this server
    POST /v1/soap        SOAP 1.1 (text/xml, any SOAPAction) or SOAP 1.2 (application/soap+xml),
                         answered in the version of the envelope

The request is read with a size cap and parsed safely (:mod:`gateway.soap.envelope`), normalized,
then dispatched by Spyne. Spyne's own WSDL is not served: the checked-in file is the contract.
"""

from __future__ import annotations

import copy
import io
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from spyne import Application
from spyne import const as spyne_const
from spyne.protocol.soap import Soap11, Soap12
from spyne.server.wsgi import WsgiApplication

from gateway.config import Settings
from gateway.http import request_id_var
from gateway.operations.credentials import CredentialPolicy
from gateway.operations.flowize import FlowizeOperations
from gateway.soap.envelope import TNS, EnvelopeError, parse_envelope
from gateway.soap.faults import SoapFault, client_fault, fault_element, fault_envelope
from gateway.soap.service import FlowizeService, SoapCall, SpyneFault

__all__ = ["WSDL_PATH", "create_soap_app", "published_wsdl"]

WSDL_PATH = Path(__file__).resolve().parents[2] / "wsdl" / "flowize.wsdl"
_PACKAGED_WSDL = Path(__file__).resolve().parent / "flowize.wsdl"
DEFAULT_ADDRESS = "http://127.0.0.1:8080/v1/soap"
_HOST = re.compile(r"^[A-Za-z0-9.\-:\[\]]{1,255}$")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
_CONTENT_TYPES = {"1.1": "text/xml; charset=utf-8", "1.2": "application/soap+xml; charset=utf-8"}


def _wsdl_template() -> bytes:
    path = WSDL_PATH if WSDL_PATH.exists() else _PACKAGED_WSDL
    return path.read_bytes()


def published_wsdl(address: str) -> bytes:
    """The WSDL as served: the checked-in file with every soap:address pointing at ``address``."""
    escaped = address.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")
    return _wsdl_template().replace(f'location="{DEFAULT_ADDRESS}"'.encode(), f'location="{escaped}"'.encode())


class _FlowizeSoap11(Soap11):
    def fault_to_parent(self, ctx: Any, cls: Any, inst: Any, parent: Any, ns: Any, *args: Any, **kw: Any) -> None:
        parent.append(fault_element(_as_soap_fault(ctx, inst), "1.1", parent))


class _FlowizeSoap12(Soap12):
    def fault_to_parent(self, ctx: Any, cls: Any, inst: Any, parent: Any, ns: Any, *args: Any, **kw: Any) -> None:
        fault = _as_soap_fault(ctx, inst)
        # The SOAP 1.2 HTTP binding answers Sender faults with 400 (Receiver faults keep 500).
        ctx.transport.req_env["flowgate.soap.status"] = "400 Bad Request" if fault.sender_side else None
        parent.append(fault_element(fault, "1.2", parent))


def _as_soap_fault(ctx: Any, inst: Any) -> SoapFault:
    if isinstance(inst, SpyneFault):
        if inst.soap_fault.retry_after is not None and ctx.transport is not None:
            # Sent as an HTTP Retry-After header too (docs/soap-decisions.md, F6); see ``start`` below.
            ctx.transport.req_env["flowgate.soap.retry_after"] = str(inst.soap_fault.retry_after)
        return inst.soap_fault
    # Spyne's own faults (a value it could not deserialize...): the client's fault, in our shape.
    request_id = ctx.transport.req_env.get("flowgate.soap").request_id if ctx.transport else ""
    code = str(getattr(inst, "faultcode", "Client"))
    if code.startswith("Server"):
        return SoapFault("Server", "Internal gateway error.", request_id, 500, 500)
    return client_fault(str(getattr(inst, "faultstring", "") or "The request could not be read."), request_id)


def _spyne_app(protocol: type, max_body_bytes: int) -> WsgiApplication:
    application = Application([FlowizeService], tns=TNS, name="FlowizeService",
                              in_protocol=protocol(), out_protocol=protocol())
    # The front door has already capped the raw body at GATEWAY_SOAP_MAX_BODY_BYTES; Spyne reads the
    # normalized envelope, which can be larger (text is re-escaped: a raw ">" is written "&gt;"), so
    # its own cap (2 MiB by default) must be the looser one, never the one that refuses.
    return WsgiApplication(application, max_content_length=4 * max_body_bytes + 64 * 1024)


class SoapFrontDoor:
    def __init__(self, operations: FlowizeOperations, settings: Settings,
                 credentials: CredentialPolicy | None = None):
        if credentials is not None and credentials.gateway and operations.held is not None:
            # The policy resolves every gateway-held call to the consumer's own upstream credentials,
            # else the settings' ones; operations holding the settings' would override the consumer's.
            operations = copy.copy(operations)
            operations.held = None
        self.operations = operations
        self.credentials = credentials
        self.settings = settings
        self._spyne = {"1.1": _spyne_app(_FlowizeSoap11, settings.soap_max_body_bytes),
                       "1.2": _spyne_app(_FlowizeSoap12, settings.soap_max_body_bytes)}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        query = {k.lower(): v for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        if method in ("GET", "HEAD"):
            if "wsdl" in query:
                body = published_wsdl(self._address(environ))
                return _reply(start_response, "200 OK", "text/xml; charset=utf-8", b"" if method == "HEAD" else body)
            return _reply(start_response, "400 Bad Request", "text/plain; charset=utf-8",
                          b"This is the Flowize SOAP endpoint: POST SOAP envelopes here, or GET ?wsdl.\n")
        if method != "POST":
            return _reply(start_response, "405 Method Not Allowed", "text/plain; charset=utf-8",
                          b"Use POST for SOAP calls and GET ?wsdl for the WSDL.\n", [("Allow", "GET, HEAD, POST")])

        request_id = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = request_id if _REQUEST_ID.match(request_id) else uuid.uuid4().hex
        guessed = "1.2" if "soap+xml" in environ.get("CONTENT_TYPE", "") else "1.1"
        try:
            body = self._read_body(environ)
            parsed = parse_envelope(body, max_depth=self.settings.soap_max_depth,
                                    max_elements=self.settings.soap_max_elements)
        except EnvelopeError as exc:
            fault = client_fault(str(exc), request_id)
            status = "400 Bad Request" if guessed == "1.2" else "500 Internal Server Error"
            return _reply(start_response, status, _CONTENT_TYPES[guessed],
                          fault_envelope(fault, guessed), [("X-Request-Id", request_id)])

        environ = dict(environ)
        environ["flowgate.soap"] = SoapCall(self.operations, self._client_ip(environ), request_id,
                                            parsed.access_token, self.settings.soap_webhook_success_as_fault,
                                            self.credentials)
        environ["wsgi.input"] = io.BytesIO(parsed.clean)
        environ["CONTENT_LENGTH"] = str(len(parsed.clean))
        environ["CONTENT_TYPE"] = _CONTENT_TYPES[parsed.version]
        environ.pop("HTTP_SOAPACTION", None)  # we dispatch on the Body, whatever the action says
        environ["PATH_INFO"] = "/"
        token = request_id_var.set(request_id)
        try:
            def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
                status = environ.get("flowgate.soap.status") or status
                headers = [h for h in headers if h[0].lower() != "x-request-id"] + [("X-Request-Id", request_id)]
                if environ.get("flowgate.soap.retry_after"):
                    headers.append(("Retry-After", environ["flowgate.soap.retry_after"]))
                return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

            return list(self._spyne[parsed.version](environ, start))
        finally:
            request_id_var.reset(token)

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

    def _client_ip(self, environ: dict[str, Any]) -> str:
        if self.settings.trust_proxy and environ.get("HTTP_X_FORWARDED_FOR"):
            return environ["HTTP_X_FORWARDED_FOR"].split(",")[0].strip()
        return environ.get("REMOTE_ADDR", "")

    def _address(self, environ: dict[str, Any]) -> str:
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/") + "/v1/soap"
        scheme = environ.get("wsgi.url_scheme", "http")
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '80')}"
        if self.settings.trust_proxy:
            scheme = (environ.get("HTTP_X_FORWARDED_PROTO") or scheme).split(",")[0].strip()
            host = (environ.get("HTTP_X_FORWARDED_HOST") or host).split(",")[0].strip()
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
    # Spyne logs every Fault a method raises with a traceback; ours are expected answers (a wrong key,
    # an unknown record), and unexpected errors are logged by the service's guard instead.
    logging.getLogger("spyne.application").setLevel(logging.CRITICAL)
    logging.getLogger("spyne.application.server").setLevel(logging.CRITICAL)
    # Spyne runs a full gc.collect() once a second, after a request, to close uploaded files early; we
    # take no uploads, and each collection stalled every thread for ~60 ms (the SOAP p99 in make bench).
    spyne_const.MIN_GC_INTERVAL = float("inf")
    return SoapFrontDoor(operations, settings, credentials)

