"""The gateway's REST surfaces, described: ``GET /openapi.json`` and an interactive ``GET /docs``.

One served OpenAPI 3.1 document, written by hand in two files, each beside the code it describes:
``gateway/rest/openapi.yaml`` (the Flowize surface under ``/v1/``, with the choices of
docs/flowize-decisions.md in its descriptions, and the document's ``info``) and
``gateway/api/openapi.yaml`` (the unified facade under ``/api/``, docs/api.md). The second is a
complete document too; only its ``paths``, ``tags`` and ``components`` are merged into the first, and
a name defined in both is an error, not an override. tests/rest/test_openapi.py keeps the result
equal to the code by comparing its (path, method) pairs with the Flask URL map.

``/docs`` is Swagger UI served from the installed ``flask-swagger-ui`` package's copy of the
swagger-ui distribution: no CDN, no request leaves the gateway, so the page works offline. The page
and its initializer are ours (``/docs/`` assets are the package's files), with the online validator
badge switched off for the same reason.

Usage: ``app.register_blueprint(gateway.rest.openapi.bp)``.
"""

from __future__ import annotations

import copy
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Response, abort, send_from_directory, url_for

__all__ = ["DOCS_ASSETS", "PARTS", "bp", "load_spec", "merge", "swagger_ui_dir"]

bp = Blueprint("openapi", __name__)

SPEC_FILE = "openapi.yaml"
# (package, file) of each part of the served document; the first gives info, servers and security.
PARTS = (("gateway.rest", SPEC_FILE), ("gateway.api", SPEC_FILE))
# The swagger-ui files the page uses; only these are served (no directory listing, no source maps).
DOCS_ASSETS = ("swagger-ui.css", "index.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
               "favicon-32x32.png", "favicon-16x16.png", "oauth2-redirect.html", "oauth2-redirect.js")

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <title>Flowgate API</title>
  <link rel="stylesheet" type="text/css" href="{base}/swagger-ui.css">
  <link rel="stylesheet" type="text/css" href="{base}/index.css">
  <link rel="icon" type="image/png" href="{base}/favicon-32x32.png" sizes="32x32">
  <link rel="icon" type="image/png" href="{base}/favicon-16x16.png" sizes="16x16">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="{base}/swagger-ui-bundle.js" charset="UTF-8"></script>
  <script src="{base}/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
  <script src="{base}/flowgate-init.js" charset="UTF-8"></script>
</body>
</html>
"""

# In a file of its own rather than inline, so a strict Content-Security-Policy (script-src 'self') works.
_INIT = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: %(spec_url)s,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
    oauth2RedirectUrl: window.location.origin + %(redirect)s
  });
};
"""


def _read(package: str, name: str) -> dict[str, Any]:
    spec = yaml.safe_load(resources.files(package).joinpath(name).read_text(encoding="utf-8"))
    spec.pop("x-fragments", None)  # YAML anchors only, not part of the description
    return spec


def merge(base: dict[str, Any], part: dict[str, Any], label: str = "part") -> dict[str, Any]:
    """``base`` with ``part``'s paths, tags and components added (in place); a clash is a ValueError."""
    for path, item in part.get("paths", {}).items():
        if path in base.setdefault("paths", {}):
            raise ValueError(f"{label}: path {path} is already described")
        base["paths"][path] = item
    known = {tag["name"] for tag in base.get("tags", [])}
    for tag in part.get("tags", []):
        if tag["name"] in known:
            raise ValueError(f"{label}: tag {tag['name']!r} is already described")
        base.setdefault("tags", []).append(tag)
    for section, entries in part.get("components", {}).items():
        target = base.setdefault("components", {}).setdefault(section, {})
        for name, value in entries.items():
            if name in target:
                raise ValueError(f"{label}: components/{section}/{name} is already defined")
            target[name] = value
    return base


@lru_cache(maxsize=1)
def _load() -> dict[str, Any]:
    (package, name), *rest = PARTS
    spec = _read(package, name)
    for package, name in rest:
        merge(spec, _read(package, name), f"{package.replace('.', '/')}/{name}")
    # JSON round trip: YAML anchors become independent copies, and we know the result is JSON-clean.
    return json.loads(json.dumps(spec))


def load_spec() -> dict[str, Any]:
    """The OpenAPI document as a dict (a fresh copy: callers may change it)."""
    return copy.deepcopy(_load())


@lru_cache(maxsize=1)
def _spec_json() -> bytes:
    return json.dumps(_load(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def swagger_ui_dir() -> Path:
    """Where the installed swagger-ui distribution lives (inside the flask-swagger-ui package)."""
    import flask_swagger_ui

    return Path(flask_swagger_ui.__file__).parent / "dist"


@bp.get("/openapi.json")
def openapi_json() -> Response:
    resp = Response(_spec_json(), content_type="application/json; charset=utf-8")
    resp.headers["Access-Control-Allow-Origin"] = "*"  # let other docs tools on other origins read it
    return resp


@bp.get("/docs")
@bp.get("/docs/")
def docs() -> Response:
    # Absolute asset URLs (from url_for, so a mount prefix is honoured): the page works at /docs and /docs/.
    page = _PAGE.format(base=url_for("openapi.docs", _external=False).rstrip("/"))
    return Response(page, content_type="text/html; charset=utf-8")


@bp.get("/docs/flowgate-init.js")
def docs_init() -> Response:
    script = _INIT % {"spec_url": json.dumps(url_for("openapi.openapi_json")),
                      "redirect": json.dumps(url_for("openapi.docs_asset", name="oauth2-redirect.html"))}
    return Response(script, content_type="text/javascript; charset=utf-8")


@bp.get("/docs/<name>")
def docs_asset(name: str):
    if name not in DOCS_ASSETS:
        abort(404)
    return send_from_directory(swagger_ui_dir(), name, max_age=86400)
