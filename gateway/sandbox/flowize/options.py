"""Flowize sandbox: ``OPTIONS /v1/options``, the first row of the endpoint table of flowize-api.txt
("Endpoints API Methods": "Helper to gets the list of methods in the api", returns ``methods``).

The list is read from the running app's URL map, so it always matches what the sandbox serves.
The doc shows no example body; we answer in the ``{"resource": ..., "message": ...}`` shape of
its other helper endpoints. See docs/flowize-decisions.md ("Environments and options") ("OPTIONS /v1/options").
"""

from __future__ import annotations

import re

from flask import Blueprint, current_app

from gateway.sandbox.flowize.wire import respond

__all__ = ["api_methods", "bp"]

bp = Blueprint("flowize_options", __name__)

PATH = "/v1/options"
_ORDER = ("OPTIONS", "GET", "POST", "PUT", "PATCH", "DELETE")
_CONVERTER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")


def _doc_path(rule: str) -> str:
    """``/v1/environment/<int:environment_id>/`` -> ``/v1/environment/:environment_id``, the table's style."""
    return _CONVERTER.sub(r":\1", rule).rstrip("/") or "/"


def _methods_of(methods: set[str] | None, path: str) -> set[str]:
    # HEAD and OPTIONS are answered automatically by every route; listing them would be noise.
    automatic = {"HEAD"} if path == PATH else {"HEAD", "OPTIONS"}
    return set(methods or ()) - automatic


def api_methods() -> list[dict[str, str]]:
    """Every (method, path) the sandbox serves under /v1/, sorted by path then method."""
    seen: set[tuple[str, str]] = set()
    for rule in current_app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/"):
            continue
        path = _doc_path(rule.rule)
        seen.update((method, path) for method in _methods_of(rule.methods, path))
    rank = {m: i for i, m in enumerate(_ORDER)}
    ordered = sorted(seen, key=lambda mp: (mp[1], rank.get(mp[0], len(rank)), mp[0]))
    return [{"method": method, "path": path} for method, path in ordered]


@bp.route(PATH, methods=["OPTIONS", "GET"])
def options():
    methods = api_methods()
    own = sorted({m["method"] for m in methods if m["path"] == PATH} | {"HEAD"}, key=_sort_key)
    return respond({"resource": {"methods": methods}, "message": "The list of methods of the API"},
                   headers={"Allow": ", ".join(own)})


def _sort_key(method: str) -> int:
    return _ORDER.index(method) if method in _ORDER else len(_ORDER)
