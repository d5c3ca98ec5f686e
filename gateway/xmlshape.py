"""The XML shape of Flowize's JSON bodies, both ways.

Flowize answers in XML when asked (``Accept: application/xml``) but documents only the JSON shape.
We use the plain mapping most XML-from-JSON APIs of its generation produce (see
docs/flowize-decisions.md, "XML responses"):

* the root is ``<response>``;
* an object key that is a valid XML name becomes an element; any other key (``$id``, ``1``)
  becomes ``<item key="...">``;
* a list becomes repeated ``<item>`` children;
* ``null`` is an empty element with ``nil="true"``; booleans are ``true``/``false``.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from gateway import safexml

__all__ = ["from_xml", "to_xml"]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def _fill(parent: etree._Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            key = str(key)
            if _NAME.match(key) and not key.lower().startswith("xml"):
                el = etree.SubElement(parent, key)
            else:
                el = etree.SubElement(parent, "item", key=key)
            _fill(el, child)
    elif isinstance(value, (list, tuple)):
        parent.set("type", "array")
        for child in value:
            _fill(etree.SubElement(parent, "item"), child)
    elif value is None:
        parent.set("nil", "true")
    elif isinstance(value, bool):
        parent.text = "true" if value else "false"
    else:
        parent.text = str(value)


def to_xml(value: Any, root: str = "response") -> bytes:
    el = etree.Element(root)
    _fill(el, value)
    return etree.tostring(el, xml_declaration=True, encoding="UTF-8")


def _read(el: etree._Element) -> Any:
    children = list(el)
    if el.get("nil") == "true":
        return None
    if el.get("type") == "array":
        return [_read(c) for c in children]
    if not children:
        return el.text or ""
    out: dict[str, Any] = {}
    for c in children:
        key = c.get("key") if c.tag == "item" and c.get("key") is not None else c.tag
        out[key] = _read(c)
    return out


def from_xml(data: bytes, *, max_depth: int = 64, max_elements: int = 100_000) -> Any:
    """Parse what :func:`to_xml` wrote, with the SOAP front door's safe parser (:mod:`gateway.safexml`:
    no DTD, no entities, no network, depth and element caps; comments and processing instructions
    dropped). ``max_depth`` counts the root: a value nested ``max_depth - 1`` deep. Raises
    :class:`gateway.safexml.UnsafeXml`."""
    return _read(safexml.parse(data, max_depth=max_depth, max_elements=max_elements))
