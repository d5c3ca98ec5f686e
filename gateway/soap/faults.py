"""Every error, as a SOAP fault in the vendor's documented shape; the one table from exception to fault.

flowize-api.txt, every "Error Response" example::

    <SOAP-ENV:Fault>
       <faultcode>404</faultcode>
       <faultstring>The credentials are not correct.</faultstring>
       <faultactor>4835…</faultactor>
       <detail><item><key>code</key><value>404</value></item>
               <item><key>message</key><value>The credentials are not correct.</value></item></detail>
    </SOAP-ENV:Fault>

``faultcode`` is the vendor's error code as a bare number (what legacy clients compare against);
``faultactor`` is the request id (the vendor puts an opaque hex token there). Problems with the
envelope itself (not XML, hostile, unknown operation) are ``Client`` faults; our own bugs ``Server``.
SOAP 1.2 has no free-form fault codes: there ``Code/Value`` is ``Sender``/``Receiver`` and the vendor
code travels in ``Detail`` (docs/soap-decisions.md, "SOAP 1.2 faults").

An error that says when to try again (a 429 with ``retry_after``) adds a third detail item,
``retryAfter`` (whole seconds), and the front door sends the same number as an HTTP ``Retry-After``
header (docs/soap-decisions.md, F6).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lxml import etree

from gateway.errors import (
    AuthError,
    Conflict,
    Forbidden,
    GatewayError,
    InvalidRequest,
    NotFound,
    RateLimited,
    RequestFailed,
    UpstreamError,
)

__all__ = ["SOAP11_ENV", "SOAP12_ENV", "SoapFault", "fault_element", "fault_envelope", "fault_for"]

SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"

CLIENT = "Client"
SERVER = "Server"


@dataclass(frozen=True)
class SoapFault:
    faultcode: str            # "404", "436" ... or "Client" / "Server" for envelope-level problems
    faultstring: str
    actor: str = ""
    http_status: int = 500    # SOAP 1.1 answers faults with 500; kept for every fault
    code: int | None = None   # the numeric code for detail/item "code"
    retry_after: int | None = None  # whole seconds: detail/item "retryAfter" and HTTP Retry-After

    @property
    def sender_side(self) -> bool:
        return self.faultcode == CLIENT or (self.code is not None and self.code < 500)


# The table: exception class -> (faultcode used, or None for "the error's own code"; message override).
# Read top to bottom; the first class the error is an instance of wins.
FAULT_TABLE: list[tuple[type[GatewayError], str | None, str | None]] = [
    # The SOAP examples answer wrong credentials with 404 "The credentials are not correct."
    (Forbidden, None, None),                 # 403 (with 436 / 437 as the vendor's code)
    (AuthError, "404", "The credentials are not correct."),
    (InvalidRequest, None, None),            # 400, 413
    (RequestFailed, None, None),             # 402
    (NotFound, None, None),                  # 404
    (Conflict, None, None),                  # 409
    (RateLimited, None, None),               # 429
    (UpstreamError, None, None),             # 502 / 503 / 504
    (GatewayError, None, None),              # 500
]


def fault_for(exc: BaseException, actor: str) -> SoapFault:
    """Map any exception to the fault the client sees; unexpected ones never show their text."""
    if isinstance(exc, GatewayError):
        for cls, faultcode, message in FAULT_TABLE:
            if isinstance(exc, cls):
                code = int(faultcode) if faultcode else exc.code
                return SoapFault(str(code), message or exc.message, actor, 500, code, _seconds(exc))
    return SoapFault(SERVER, f"Internal gateway error; request id {actor}.", actor, 500, 500)


def _seconds(exc: GatewayError) -> int | None:
    """The error's ``retry_after`` (RateLimited, or any error that carries one) in whole seconds, >= 1."""
    value = getattr(exc, "retry_after", None)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return max(1, math.ceil(value))


def client_fault(message: str, actor: str) -> SoapFault:
    return SoapFault(CLIENT, message, actor, 500, 400)


def _detail_items(parent: etree._Element, fault: SoapFault) -> None:
    items = [("code", str(fault.code if fault.code is not None else fault.faultcode)), ("message", fault.faultstring)]
    if fault.retry_after is not None:
        items.append(("retryAfter", str(fault.retry_after)))
    for key, value in items:
        item = etree.SubElement(parent, "item")
        etree.SubElement(item, "key").text = key
        etree.SubElement(item, "value").text = value


def _env_prefix(parent: etree._Element | None, env: str, default: str) -> str:
    """The prefix ``parent`` already binds to ``env``. Fault codes are QNames written as text, and lxml
    drops our own declaration of the envelope namespace when the Fault is appended under another
    prefix: the text must use the prefix that stays in scope, or JAX-WS/WCF cannot resolve it."""
    if parent is not None:
        for prefix, uri in parent.nsmap.items():
            if prefix and uri == env:
                return prefix
    return default


def fault_element(fault: SoapFault, version: str, parent: etree._Element | None = None) -> etree._Element:
    """The ``Fault`` element for SOAP ``version`` "1.1" or "1.2", to be appended to ``parent`` if given."""
    if version == "1.2":
        env = SOAP12_ENV
        prefix = _env_prefix(parent, env, "soap")
        el = etree.Element(f"{{{env}}}Fault", nsmap={prefix: env})
        code = etree.SubElement(el, f"{{{env}}}Code")
        value = etree.SubElement(code, f"{{{env}}}Value")
        value.text = f"{prefix}:Sender" if fault.sender_side else f"{prefix}:Receiver"
        reason = etree.SubElement(el, f"{{{env}}}Reason")
        text = etree.SubElement(reason, f"{{{env}}}Text")
        text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        text.text = fault.faultstring
        if fault.actor:
            etree.SubElement(el, f"{{{env}}}Role").text = fault.actor
        _detail_items(etree.SubElement(el, f"{{{env}}}Detail"), fault)
        return el
    env = SOAP11_ENV
    prefix = _env_prefix(parent, env, "SOAP-ENV")
    el = etree.Element(f"{{{env}}}Fault", nsmap={prefix: env})
    code = fault.faultcode
    etree.SubElement(el, "faultcode").text = f"{prefix}:{code}" if code in (CLIENT, SERVER) else code
    etree.SubElement(el, "faultstring").text = fault.faultstring
    etree.SubElement(el, "faultactor").text = fault.actor
    _detail_items(etree.SubElement(el, "detail"), fault)
    return el


def fault_envelope(fault: SoapFault, version: str) -> bytes:
    env = SOAP12_ENV if version == "1.2" else SOAP11_ENV
    prefix = "soap" if version == "1.2" else "SOAP-ENV"
    envelope = etree.Element(f"{{{env}}}Envelope", nsmap={prefix: env})
    body = etree.SubElement(envelope, f"{{{env}}}Body")
    body.append(fault_element(fault, version))
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
