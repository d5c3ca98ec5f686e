"""How the REST front door speaks HTTP: formats both ways, selectable fields, ETag and 304.

flowize-api.txt, "Introduction" (format negotiation JSON/XML, "selectable output fields", OPTIONS
and HEAD), "ETag" (``If-None-Match`` -> 304 with an empty body) and the keystore/tables sections
(``Content-Type`` "determines the format of the output"). The rules are the sandbox's
(docs/flowize-decisions.md H3, H4), so a client sees the same bytes from the gateway as from the vendor:

* a specific ``Accept`` wins, else the request's ``Content-Type``, else JSON; ``text/plain`` gives a
  raw keystore's text as is and anything else as JSON text;
* XML is the ``gateway.xmlshape`` mapping (root ``<response>``);
* ``?fields=resource.uuid,message`` keeps only those dotted paths of a successful body (docs/rest.md);
* GET/HEAD 200 answers carry ``ETag`` (MD5 of the body, as the doc's 32-hex example) and the doc's
  ``Expires``/``Pragma`` headers.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request

from gateway.errors import InvalidRequest
from gateway.flowize_wire import NO_CACHE, negotiate, response
from gateway.flowize_wire import render as render_as
from gateway.safejson import loads as safe_loads
from gateway.safexml import UnsafeXml
from gateway.xmlshape import from_xml

__all__ = [
    "NO_CACHE",
    "object_body",
    "parse_fields",
    "read_body",
    "render",
    "respond",
    "select_fields",
    "wanted_format",
]

FIELDS_PARAM = "fields"


def wanted_format() -> str:
    """``json``, ``xml`` or ``text``, as the vendor decides it (gateway/flowize_wire.py)."""
    return negotiate(request.accept_mimetypes, request.headers.get("Content-Type", ""))


def render(body: Any, fmt: str | None = None) -> tuple[bytes, str]:
    return render_as(body, fmt or wanted_format())


# -- selectable output fields ----------------------------------------------------------------------
Tree = dict[str, Any]  # key -> subtree, or True for "the whole value"


def parse_fields(raw: str) -> Tree | None:
    """``resource.uuid,message`` -> ``{"resource": {"uuid": True}, "message": True}``; None if empty."""
    if not raw.strip():
        return None
    tree: Tree = {}
    for path in raw.split(","):
        parts = path.strip().split(".")
        if not path.strip() or any(not p.strip() for p in parts):
            raise InvalidRequest(f"Invalid fields selection {raw!r}: use dotted paths separated by commas, "
                                 "e.g. fields=resource.uuid,message.")
        node = tree
        for part in parts[:-1]:
            child = node.get(part.strip())
            if child is True:
                break  # a shorter path already keeps the whole value
            node = node.setdefault(part.strip(), {})
        else:
            node[parts[-1].strip()] = True
    return tree


def select_fields(value: Any, tree: Tree | bool) -> Any:
    """Keep the paths of ``tree``. Lists are transparent (the rest of the path applies to each item);
    a path that meets a scalar keeps the scalar; keys keep the body's order."""
    if tree is True:
        return value
    if isinstance(value, list):
        return [select_fields(item, tree) for item in value]
    if isinstance(value, dict) and isinstance(tree, dict):
        return {k: select_fields(v, tree[k]) for k, v in value.items() if k in tree}
    return value


# -- responses -------------------------------------------------------------------------------------
def respond(body: Any, status: int = 200, *, headers: dict[str, str] | None = None) -> Response:
    """Render a successful body: request-ip, fields selection, negotiation, ETag / 304."""
    if isinstance(body, dict) and "request-ip" in body:
        # The vendor saw the gateway's address; the consumer expects its own, as SOAP's RequestIP.
        body = {**body, "request-ip": request.remote_addr or ""}
    tree = parse_fields(request.args.get(FIELDS_PARAM, ""))
    if tree is not None and 200 <= status < 300:
        body = select_fields(body, tree)
    data, ctype = (b"", "application/json; charset=utf-8") if body is None else render(body)
    return response(data, ctype, status, method=request.method, if_none_match=request.if_none_match,
                    headers=headers)


# -- request bodies --------------------------------------------------------------------------------
def read_body(*, required: bool = True) -> Any:
    """The request body as JSON (:mod:`gateway.safejson`: depth and size caps, no NaN), or XML
    (``gateway.xmlshape``, through the SOAP front door's safe parser) when the Content-Type says so."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise InvalidRequest("The request body is empty.")
        return None
    settings = current_app.extensions["flowgate"].settings
    if "xml" in (request.content_type or "").lower():
        try:
            # The root <response> wraps the value: one XML level more than the JSON cap allows.
            return from_xml(raw, max_depth=settings.json_max_depth + 1, max_elements=settings.soap_max_elements)
        except UnsafeXml as exc:
            raise InvalidRequest(str(exc)) from None
    return safe_loads(raw, max_depth=settings.json_max_depth, max_bytes=settings.json_max_body_bytes)


def object_body(*, required: bool = True, message: str = "The request body must be a JSON object.") -> dict[str, Any]:
    body = read_body(required=required)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise InvalidRequest(message)
    return body
