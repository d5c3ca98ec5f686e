"""Parsing XML a caller sent, safely: the one parser of the SOAP front door and of REST XML bodies.

No DTD (a ``<!DOCTYPE`` is refused: SOAP forbids one, and Flowize's XML bodies never need one), no
entity expansion, no network, and caps on nesting depth and element count, checked while parsing,
so hostile XML (billion laughs, XXE, deep nesting) costs little and is refused with a message that
is safe to show. Comments and processing instructions are dropped: callers only ever see elements.
"""

from __future__ import annotations

import io

from lxml import etree

__all__ = ["UnsafeXml", "parse"]

LIBXML2_MAX_DEPTH = 256   # without huge_tree


class UnsafeXml(ValueError):
    """The bytes are not XML we accept; the message is safe to show the client."""


def parse(data: bytes, *, max_depth: int = 64, max_elements: int = 100_000) -> etree._Element:
    """The root element of ``data``, or :class:`UnsafeXml`."""
    depth = elements = 0
    try:
        events = etree.iterparse(io.BytesIO(data), events=("start", "end"), resolve_entities=False,
                                 no_network=True, load_dtd=False, huge_tree=False, remove_comments=True,
                                 remove_pis=True)
        root = None
        for event, element in events:
            if event == "start":
                depth += 1
                elements += 1
                if depth > max_depth:
                    raise UnsafeXml(f"The XML is nested deeper than {max_depth} levels.")
                if elements > max_elements:
                    raise UnsafeXml(f"The XML has more than {max_elements} elements.")
                if root is None:
                    root = element
            else:
                depth -= 1
        docinfo = events.root.getroottree().docinfo if events.root is not None else None
    except etree.XMLSyntaxError as exc:
        if "Excessive depth" in (exc.msg or "") and max_depth < LIBXML2_MAX_DEPTH:
            # libxml2 (2.14+) stops at 256 levels by itself, sometimes before our count sees the 65th.
            raise UnsafeXml(f"The XML is nested deeper than {max_depth} levels.") from None
        raise UnsafeXml(f"The request is not well-formed XML: {exc.msg}") from None
    if root is None:
        raise UnsafeXml("The request body is empty.")
    if docinfo is not None and (docinfo.doctype or docinfo.internalDTD is not None):
        raise UnsafeXml("The XML must not contain a Document Type Declaration (DOCTYPE).")
    return root
