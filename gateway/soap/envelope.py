"""Reading SOAP envelopes: safely first, leniently second, and only once.

Safely: a body-size cap, then :mod:`gateway.safexml`'s rules (shared with REST XML bodies): no DTD
(SOAP forbids one), no entity expansion, no network, and caps on element count (made sure of before
a tree is built, see :func:`_parse`) and nesting depth, so hostile XML costs little and gets a Client
fault, never a 500 or a hang.

Leniently: the vendor's example envelopes must work character for character, and so must what
legacy stacks send. We accept ``xsi:type`` attributes, ``soapenv:encodingStyle``, comments, an empty
or absent Header, qualified children, any field order, missing optional fields.

Once: the tree :func:`parse_envelope` returns is the one Spyne deserializes (gateway/soap/protocol.py);
no bytes are written or read again. Only the operation element is changed, in place: it is put in
namespace ``Flowize`` (Spyne dispatches on it, whatever namespace the client used) and loses its
attributes (Spyne would read ``xsi:type`` as a class name, ``xsi:nil`` as a null). Below it, the
protocol reads element names and text only: fields by local name (qualified children work), in any
order, skipping elements the types do not name (such as the SOAP Header the introduction nests in
``<input>``, read here for the token), never an attribute (the vendor's examples put ``xsi:type``
on every element).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from lxml import etree

from gateway import safexml
from gateway.safexml import UnsafeXml
from gateway.soap.faults import SOAP11_ENV, SOAP12_ENV

__all__ = ["OPERATIONS", "TNS", "EnvelopeError", "ParsedEnvelope", "parse_envelope"]

TNS = "Flowize"
OPERATIONS = ("insertSchema", "getSchema", "updateSchema", "deleteSchema", "insertRecord", "getRecord",
              "updateRecord", "deleteRecord", "webhook", "getFlowDiagram", "changeFlowStatus")
_OPERATIONS = frozenset(OPERATIONS)
_VERSIONS = {SOAP11_ENV: "1.1", SOAP12_ENV: "1.2"}
_TOKENS = ("AccessToken", "SessionID")


class EnvelopeError(ValueError):
    """The request is not a usable SOAP envelope; the message is safe to show the client."""


@dataclass(frozen=True, slots=True)
class ParsedEnvelope:
    version: str                # "1.1" or "1.2"
    operation: str              # its local name, one of OPERATIONS
    access_token: str | None    # from an AuthenticationHeader, wherever it is
    envelope: etree._Element    # the request's one tree: the Envelope, as parsed
    body: etree._Element        # the operation element in it, made document/literal in place


def _local(tag: object) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _namespace(tag: str) -> str | None:
    return tag[1:].partition("}")[0] if tag[:1] == "{" else None


# Encodings in which "<" is always the byte 0x3C and the byte is never part of another character.
# Not UTF-7: "+ADw-" is a "<" there, so a body could hide any number of elements from a byte count.
_PLAIN_ENCODINGS = frozenset({"utf-8", "utf8", "us-ascii", "ascii", "latin1", "latin-1", *(
    f"iso-8859-{n}" for n in range(1, 17)), *(f"windows-{n}" for n in range(1250, 1259))})
_DECLARED_ENCODING = re.compile(rb"""\sencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._-]*)["']""")


def _plain_lt(data: bytes) -> bool:
    """True when the body is UTF-8 or another encoding whose "<" is the byte 0x3C (see above)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    if not data.startswith(b"<"):  # a UTF-16/32 byte order mark, EBCDIC, leading space: not here
        return False
    if not data.startswith(b"<?xml"):
        return True  # no declaration: UTF-8
    end = data.find(b"?>", 0, 512)
    if end < 0:
        return False
    declaration = data[:end]
    if b"encoding" not in declaration:
        return True
    match = _DECLARED_ENCODING.search(declaration)
    return match is not None and match.group(1).decode("ascii").lower() in _PLAIN_ENCODINGS


# safexml's parser settings, for one call into libxml2 instead of a Python step per element.
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                          remove_comments=True, remove_pis=True)


@functools.lru_cache(maxsize=8)
def _too_deep(max_depth: int) -> etree.XPath:
    """True when the document has an element at depth ``max_depth + 1`` (the root is at depth 1)."""
    return etree.XPath("boolean(/" + "/".join(["*"] * (max_depth + 1)) + ")")


def _parse(data: bytes, max_depth: int, max_elements: int) -> etree._Element:
    """:func:`gateway.safexml.parse`, quicker for what it accepts.

    safexml counts elements and depth in a Python loop over the parser's events, costing several times
    the parse itself. Every element takes at least one ``<``: a body with no more of them than
    ``max_elements`` cannot hold more elements, so it is parsed in one call with the same settings, and
    the DOCTYPE and depth checks are made on the tree (libxml2 refuses nesting beyond 256 by itself;
    no deeper than the count of ``<`` either). That count holds only where every ``<`` is the byte
    0x3C (:func:`_plain_lt`). Anything the quick parse does not take goes to safexml, whose answer —
    the tree or its error message — is the one given."""
    tags = data.count(b"<")  # at least one per element, if "<" is that byte
    if tags <= max_elements and _plain_lt(data):
        try:
            root = etree.fromstring(data, _PARSER)
        except (etree.XMLSyntaxError, ValueError):
            pass
        else:
            docinfo = root.getroottree().docinfo
            if (not docinfo.doctype and docinfo.internalDTD is None
                    and (tags <= max_depth or not _too_deep(max_depth)(root))):
                return root
    try:
        return safexml.parse(data, max_depth=max_depth, max_elements=max_elements)
    except UnsafeXml as exc:
        raise EnvelopeError(str(exc)) from None


def _find_token(root: etree._Element) -> str | None:
    """The first non-empty AccessToken (or SessionID) of an AuthenticationHeader, in any namespace."""
    for header in root.iter("{*}AuthenticationHeader"):
        for child in header:
            if isinstance(child.tag, str) and _local(child.tag) in _TOKENS and child.text and child.text.strip():
                return child.text.strip()
    return None




def parse_envelope(data: bytes, *, max_depth: int = 64, max_elements: int = 100_000) -> ParsedEnvelope:
    """The envelope in ``data``, parsed once, checked, and ready for Spyne; or :class:`EnvelopeError`."""
    root = _parse(data, max_depth, max_elements)
    env = _namespace(root.tag)
    if _local(root.tag) != "Envelope" or env not in _VERSIONS:
        raise EnvelopeError("The request is not a SOAP 1.1 or SOAP 1.2 Envelope.")
    version = _VERSIONS[env]
    bodies = list(root.iterchildren(f"{{{env}}}Body"))
    if not bodies:
        raise EnvelopeError("The SOAP Envelope has no Body.")
    # One Body, one operation: anything more was silently dropped before, so a client could believe
    # a second call was made (docs/soap-decisions.md, F3).
    if len(bodies) > 1:
        raise EnvelopeError(f"The SOAP Envelope has {len(bodies)} Body elements; it must have exactly one.")
    payload = list(bodies[0].iterchildren(etree.Element))
    if not payload:
        raise EnvelopeError("The SOAP Body is empty.")
    if len(payload) > 1:
        names = ", ".join(_local(c.tag)[:40] for c in payload[:5]) + (", ..." if len(payload) > 5 else "")
        raise EnvelopeError(f"The SOAP Body holds {len(payload)} elements ({names}); "
                            "it must hold exactly one operation.")
    operation = payload[0]
    name = _local(operation.tag)
    if name not in _OPERATIONS:
        raise EnvelopeError(f"Unknown operation '{name}'. This service offers: {', '.join(OPERATIONS)}.")
    token = _find_token(root)
    operation.tag = f"{{{TNS}}}{name}"  # in place: see the module docstring
    operation.attrib.clear()
    return ParsedEnvelope(version, name, token, root, operation)
