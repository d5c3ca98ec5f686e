"""Reading SOAP envelopes: safely first, leniently second.

Safely: a body-size cap, then :mod:`gateway.safexml` (shared with REST XML bodies): no DTD (SOAP
forbids one), no entity expansion, no network, and caps on nesting depth and element count, checked
while parsing, so hostile XML costs little and gets a Client fault, never a 500 or a hang.

Leniently: the vendor's example envelopes must work character for character, and so must what
legacy stacks send. We accept ``xsi:type`` attributes, ``soapenv:encodingStyle``, comments, an empty
or absent Header, qualified children, any field order, missing optional fields; then hand Spyne a
clean document/literal envelope: the operation element in namespace ``Flowize`` and everything
below it unqualified, without attributes.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from gateway import safexml
from gateway.safexml import UnsafeXml
from gateway.soap.faults import SOAP11_ENV, SOAP12_ENV

__all__ = ["OPERATIONS", "TNS", "EnvelopeError", "ParsedEnvelope", "parse_envelope"]

TNS = "Flowize"
OPERATIONS = ("insertSchema", "getSchema", "updateSchema", "deleteSchema", "insertRecord", "getRecord",
              "updateRecord", "deleteRecord", "webhook", "getFlowDiagram", "changeFlowStatus")
_VERSIONS = {SOAP11_ENV: "1.1", SOAP12_ENV: "1.2"}


class EnvelopeError(ValueError):
    """The request is not a usable SOAP envelope; the message is safe to show the client."""


@dataclass(frozen=True)
class ParsedEnvelope:
    version: str            # "1.1" or "1.2"
    operation: str
    access_token: str | None
    clean: bytes            # the normalized envelope for Spyne


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _parse(data: bytes, max_depth: int, max_elements: int) -> etree._Element:
    try:
        return safexml.parse(data, max_depth=max_depth, max_elements=max_elements)
    except UnsafeXml as exc:
        raise EnvelopeError(str(exc)) from None


def _copy_unqualified(source: etree._Element, parent: etree._Element) -> None:
    for child in source:
        if not isinstance(child.tag, str):
            continue
        name = _local(child.tag)
        # The introduction nests a soapenv:Header inside <input>; it is read for the token, not copied.
        if name == "Header" and etree.QName(child).namespace in _VERSIONS:
            continue
        el = etree.SubElement(parent, name)
        if len(child):
            _copy_unqualified(child, el)
        else:
            el.text = child.text
        if (el.text or "").strip() == "" and len(el):
            el.text = None


def _find_token(root: etree._Element) -> str | None:
    for el in root.iter():
        if isinstance(el.tag, str) and _local(el.tag) == "AuthenticationHeader":
            for child in el:
                if (isinstance(child.tag, str) and _local(child.tag) in ("AccessToken", "SessionID")
                        and child.text and child.text.strip()):
                    return child.text.strip()
    return None


def parse_envelope(data: bytes, *, max_depth: int = 64, max_elements: int = 100_000) -> ParsedEnvelope:
    root = _parse(data, max_depth, max_elements)
    env = etree.QName(root).namespace
    if _local(root.tag) != "Envelope" or env not in _VERSIONS:
        raise EnvelopeError("The request is not a SOAP 1.1 or SOAP 1.2 Envelope.")
    version = _VERSIONS[env]
    bodies = root.findall(f"{{{env}}}Body")
    if not bodies:
        raise EnvelopeError("The SOAP Envelope has no Body.")
    # One Body, one operation: anything more was silently dropped before, so a client could believe
    # a second call was made (docs/soap-decisions.md, F3).
    if len(bodies) > 1:
        raise EnvelopeError(f"The SOAP Envelope has {len(bodies)} Body elements; it must have exactly one.")
    body = bodies[0]
    payload = [c for c in body if isinstance(c.tag, str)]
    if not payload:
        raise EnvelopeError("The SOAP Body is empty.")
    if len(payload) > 1:
        names = ", ".join(_local(c.tag)[:40] for c in payload[:5]) + (", ..." if len(payload) > 5 else "")
        raise EnvelopeError(f"The SOAP Body holds {len(payload)} elements ({names}); "
                            "it must hold exactly one operation.")
    op_element = payload[0]
    operation = _local(op_element.tag)
    if operation not in OPERATIONS:
        raise EnvelopeError(f"Unknown operation '{operation}'. This service offers: {', '.join(OPERATIONS)}.")
    token = _find_token(root)

    clean_env = etree.Element(f"{{{env}}}Envelope", nsmap={"soapenv": env, "tns": TNS})
    clean_body = etree.SubElement(clean_env, f"{{{env}}}Body")
    clean_op = etree.SubElement(clean_body, f"{{{TNS}}}{operation}")
    _copy_unqualified(op_element, clean_op)
    return ParsedEnvelope(version, operation, token, etree.tostring(clean_env, encoding="UTF-8"))
