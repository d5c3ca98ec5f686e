"""The gateway's OpenAPI document, its docs page and the Postman collection, checked against the code.

* The document is well formed: OpenAPI 3.1, every ``$ref`` resolves, operation ids are unique, every
  error of the Flowize surface has the documented body, 429 carries the ``X-RateLimit-*`` headers.
  (The facade's own rules, problem+json and consumer keys, are in tests/api/test_api_openapi.py.)
* Every row of flowize-api.txt's endpoint table is documented.
* Drift: the documented (path, method) pairs under ``/v1/`` and the Flask URL map's rules under
  ``/v1/`` are the same set, in both directions (``/v1/soap`` is a mounted WSGI app, not a rule); the
  same under ``/api/`` (the facade, described by gateway/api/openapi.yaml).
* ``GET /openapi.json`` serves the document; ``GET /docs`` and every asset it references load from the
  gateway itself, and the page names no external host (it must work offline).
* deploy/postman/flowgate.postman_collection.json is a Postman v2.1 collection with a request for
  every documented operation, on the fixed embedded port; the facade's are in its ``/api`` folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.routing.rules import parse_converter_args

from gateway.config import Settings
from gateway.rest.openapi import DOCS_ASSETS, bp, load_spec
from gateway.server import serve_in_thread

ROOT = Path(__file__).resolve().parents[2]
POSTMAN = ROOT / "deploy" / "postman" / "flowgate.postman_collection.json"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# Flask answers HEAD for every GET rule and OPTIONS for every rule by itself; those are described once,
# in the document's introduction, not as operations. (An explicit OPTIONS route, /v1/options, counts.)
AUTOMATIC = {"HEAD"}

# flowize-api.txt, "Endpoints API Methods": every row, as (method, path) on the paths the sections use
# (the table abbreviates: ``GET /v1/keystore`` is ``GET /v1/keystore/{keystore_id}/{keystore_key}``...).
ENDPOINT_TABLE = [
    ("OPTIONS", "/v1/options"),
    ("GET", "/v1/checkauthentication"),
    ("GET", "/v1/refreshtoken"),
    ("POST", "/v1/schema"), ("GET", "/v1/schema"), ("PUT", "/v1/schema"), ("DELETE", "/v1/schema"),
    ("GET", "/v1/record/{id}"), ("POST", "/v1/record"), ("PUT", "/v1/record"), ("DELETE", "/v1/record"),
    ("PUT", "/v1/record/search"), ("PUT", "/v1/record/movetoflow"), ("PUT", "/v1/record/changestatus"),
    ("POST", "/v1/webhook"),
    ("GET", "/v1/flowdiagram"),
    ("PUT", "/v1/changeflowstatus"),
    ("GET", "/v1/keystore/{keystore_id}/{keystore_key}"), ("POST", "/v1/keystore/{keystore_id}/{keystore_key}"),
    ("PUT", "/v1/keystore/{keystore_id}/{keystore_key}"), ("DELETE", "/v1/keystore/{keystore_id}/{keystore_key}"),
    ("POST", "/v1/keystore/{keystore_id}"),
    ("GET", "/v1/tables/{table_name}/{id}"), ("POST", "/v1/tables/{table_name}"), ("PUT", "/v1/tables/{table_name}/{id}"),
    ("DELETE", "/v1/tables/{table_name}/{id}"), ("POST", "/v1/tables/{table_name}/search"),
    ("GET", "/v1/environment"), ("GET", "/v1/environment/{id}"), ("GET", "/v1/environment/{id}/status"),
    ("POST", "/v1/environment"), ("POST", "/v1/environment/{id}"), ("DELETE", "/v1/environment/{id}"),
    ("POST", "/v1/environment/{id}/upgrade"), ("POST", "/v1/environment/{id}/update-version"),
    ("POST", "/v1/environment/{id}/optimize"), ("GET", "/v1/environment/{id}/projects"),
    ("POST", "/v1/environment/{id}/project/{project_id}"), ("DELETE", "/v1/environment/{id}/project/{project_id}"),
]


# -- helpers -----------------------------------------------------------------------------------------
_PARAM = re.compile(r"\{[^{}]*\}|<(?:[^:<>]+:)?[^<>]+>|:[A-Za-z_][A-Za-z0-9_]*|\{\{[^{}]*\}\}")


def shape(path: str) -> str:
    """A path as a client sees it: parameters anonymous, no trailing slash.

    ``/v1/tables/<table_name>/<int:row_id>/``, ``/v1/tables/{table_name}/{id}`` and Postman's
    ``/v1/tables/:table_name/{{id}}`` all become ``/v1/tables/{}/{}``."""
    path = re.sub(r"\{\{[^{}]*\}\}", "{}", path)
    return _PARAM.sub("{}", path).rstrip("/") or "/"


def documented(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield method.upper(), path, op


def resolve(spec: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"only local references are used: {ref}"
    node: Any = spec
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"unresolvable $ref {ref}"
        node = node[part]
    return node


def deref(spec: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node and len(node) == 1:
        node = resolve(spec, node["$ref"])
    return node


_ANY = re.compile(r"<any\(([^)]*)\):[A-Za-z_][A-Za-z0-9_]*>")


def expand_any(rule: str) -> list[str]:
    """``/x/<any(a, "b-c"):part>`` is the literal paths ``/x/a`` and ``/x/b-c``, as the router sees it."""
    match = _ANY.search(rule)
    if match is None:
        return [rule]
    choices, _ = parse_converter_args(match.group(1))
    return [path for choice in choices
            for path in expand_any(rule[:match.start()] + str(choice) + rule[match.end():])]


def url_map_pairs(app, prefix: str = "/v1") -> set[tuple[str, str]]:
    """(method, path shape) of every Flask rule under ``prefix``; HEAD and automatic OPTIONS left out."""
    pairs = set()
    for rule in app.url_map.iter_rules():
        if not (rule.rule == prefix or rule.rule.startswith(prefix + "/")):
            continue
        methods = set(rule.methods or ()) - AUTOMATIC
        if getattr(rule, "provide_automatic_options", True):  # OPTIONS added by Flask, not by the route
            methods.discard("OPTIONS")
        pairs.update((m, shape(path)) for path in expand_any(rule.rule) for m in methods)
    return pairs


def with_docs(app):
    """The app with the OpenAPI blueprint, registering it if gateway/app.py does not (yet)."""
    if "openapi" not in app.blueprints:
        app.register_blueprint(bp)
    return app


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return load_spec()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from gateway.app import create_app

    settings = Settings(data_dir=str(tmp_path_factory.mktemp("openapi")), flowize_base_url="http://127.0.0.1:9")
    return with_docs(create_app(settings))


@pytest.fixture(scope="module")
def docs_url(app):
    server = serve_in_thread(app)
    yield server.url
    server.shutdown()


# -- the document --------------------------------------------------------------------------------
def test_document_is_openapi_3_1_and_its_references_resolve(spec):
    assert spec["openapi"].startswith("3.1.")
    assert "x-fragments" not in spec, "the YAML anchors block is not part of the served document"

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                yield node["$ref"]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    refs = set(walk(spec))
    assert len(refs) > 50
    for ref in refs:
        resolve(spec, ref)

    ids = [op["operationId"] for _, _, op in documented(spec)]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    assert set(spec["components"]["securitySchemes"]) >= {"bearerAuth", "apiKeyHeader", "appKeyHeader",
                                                          "apiKeyQuery", "appKeyQuery"}


def test_path_parameters_are_declared(spec):
    for method, path, op in documented(spec):
        params = [deref(spec, p) for p in spec["paths"][path].get("parameters", []) + op.get("parameters", [])]
        declared = {p["name"] for p in params if p["in"] == "path"}
        assert declared == set(re.findall(r"\{([^}]+)\}", path)), f"{method} {path}"


def test_every_flowize_error_has_the_documented_body_and_429_its_headers(spec):
    error_ref = "#/components/schemas/Error"
    for method, path, op in documented(spec):
        if not path.startswith("/v1/") or path == "/v1/soap":
            continue
        responses = op["responses"]
        for status in ("400", "401", "403", "404", "429", "502", "503", "504"):
            assert status in responses, f"{method} {path} does not document {status}"
        for status, response in responses.items():
            if int(status) < 400:
                continue
            response = deref(spec, response)
            assert response["content"]["application/json"]["schema"] == {"$ref": error_ref}, f"{method} {path} {status}"
        limited = deref(spec, responses["429"])
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"} <= set(limited["headers"])
        if method == "GET":
            assert "304" in responses, f"{method} {path}: If-None-Match gives 304"


def test_security_styles(spec):
    default = spec["security"]
    assert {"bearerAuth": []} in default
    assert {"apiKeyHeader": [], "appKeyHeader": []} in default
    assert {"apiKeyQuery": [], "appKeyQuery": []} in default
    ops = {(m, p): op for m, p, op in documented(spec)}
    assert ops[("POST", "/v1/webhook/{webhook_uri}")]["security"] == []  # the uri is the secret
    assert ops[("GET", "/v1/checkauthentication")]["security"] == []
    assert {"apiKeyHeader": []} in ops[("GET", "/v1/environment")]["security"]  # the API key alone


def test_every_row_of_the_endpoint_table_is_documented(spec):
    pairs = {(m, shape(p)) for m, p, _ in documented(spec)}
    missing = [(m, p) for m, p in ENDPOINT_TABLE if (m, shape(p)) not in pairs]
    assert not missing, f"endpoint table rows not in the OpenAPI document: {missing}"
    assert ("POST", "/v1/soap") in pairs and ("GET", "/healthz") in pairs and ("GET", "/readyz") in pairs


def test_the_description_says_what_is_served(spec):
    """Both surfaces and the five vendors are named, and nothing beyond them is promised."""
    info = spec["info"]["summary"] + "\n" + spec["info"]["description"]
    assert "/v1/" in info and "/api/" in info
    for vendor in ("Flowize", "Flowcode", "ExaRoutes", "Flow events", "Flowbox"):
        assert vendor in info, vendor
    assert "other vendor" not in info


# -- drift: document <-> code ---------------------------------------------------------------------
@pytest.mark.parametrize(("prefix", "source"), [("/v1", "gateway/rest/openapi.yaml"),
                                                ("/api", "gateway/api/openapi.yaml")])
def test_documented_operations_and_the_url_map_agree(spec, app, prefix, source):
    code = url_map_pairs(app, prefix)
    doc = {(m, shape(p)) for m, p, _ in documented(spec)
           if p.startswith(prefix + "/") and p != "/v1/soap"}  # /v1/soap: a mounted WSGI app, not a Flask rule
    assert code, f"no Flask routes under {prefix}/: is the front door still installed by create_app?"
    undocumented = sorted(code - doc, key=lambda mp: (mp[1], mp[0]))
    unimplemented = sorted(doc - code, key=lambda mp: (mp[1], mp[0]))
    assert not undocumented and not unimplemented, (
        f"{source} and the Flask routes under {prefix}/ disagree:\n"
        f"  served but not documented: {undocumented}\n"
        f"  documented but not served: {unimplemented}")


def test_every_documented_path_is_under_a_known_surface(spec):
    """A path outside /v1/ and /api/ would escape both drift checks."""
    others = {p for _, p, _ in documented(spec) if not p.startswith(("/v1/", "/api/"))}
    assert others == {"/healthz", "/readyz"}


def test_shape_normalisation():
    assert shape("/v1/environment/<int:environment_id>/") == "/v1/environment/{}"
    assert shape("/v1/webhook/<path:uri>") == "/v1/webhook/{}"
    assert shape("/v1/tables/{table_name}/{id}") == "/v1/tables/{}/{}"
    assert shape("/v1/tables/:table_name/{{id}}") == "/v1/tables/{}/{}"
    assert shape("/v1/record/search") == "/v1/record/search"
    assert expand_any('/v1/environment/<int:id>/<any(upgrade, "update-version"):action>') == [
        "/v1/environment/<int:id>/upgrade", "/v1/environment/<int:id>/update-version"]


# -- served: /openapi.json and /docs ------------------------------------------------------------------
def test_openapi_json_is_served(docs_url, spec):
    resp = requests.get(docs_url + "/openapi.json", timeout=10)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.json() == spec


class _Refs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.refs.append(value)


def test_docs_page_and_all_its_assets_load_from_the_gateway(docs_url):
    page = requests.get(docs_url + "/docs", timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "://" not in page.text and "//cdn" not in page.text, "the docs page must not name another host"
    parser = _Refs()
    parser.feed(page.text)
    assert any(ref.endswith("swagger-ui-bundle.js") for ref in parser.refs)
    for ref in parser.refs:
        assert ref.startswith("/") and not ref.startswith("//"), f"{ref} is not served by the gateway itself"
        asset = requests.get(docs_url + ref, timeout=10)
        assert asset.status_code == 200, ref
        assert asset.content, ref
        if ref.endswith("flowgate-init.js"):
            assert "://" not in asset.text and "validatorUrl: null" in asset.text
            assert '"/openapi.json"' in asset.text
    assert requests.get(docs_url + "/docs/", timeout=10).status_code == 200
    for name in DOCS_ASSETS:
        assert requests.get(f"{docs_url}/docs/{name}", timeout=10).status_code == 200, name
    assert requests.get(docs_url + "/docs/../setup.cfg", timeout=10).status_code == 404
    assert requests.get(docs_url + "/docs/swagger-ui.js.map", timeout=10).status_code == 404


def test_the_gateway_serves_openapi_json_and_docs(gateway_url):
    """The real gateway (gateway/app.py's create_app) registers the blueprint: DESIGN.md's contract."""
    assert requests.get(gateway_url + "/openapi.json", timeout=10).status_code == 200
    assert requests.get(gateway_url + "/docs", timeout=10).status_code == 200


# -- the Postman collection ---------------------------------------------------------------------------
def _requests_of(items: list[dict[str, Any]], folder: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for item in items:
        if "item" in item:
            yield from _requests_of(item["item"], item["name"])
        else:
            yield folder, item


def test_postman_collection(spec):
    collection = json.loads(POSTMAN.read_text(encoding="utf-8"))
    assert collection["info"]["schema"] == "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
    variables = {v["key"]: v["value"] for v in collection["variable"]}
    assert variables["baseUrl"] == "http://127.0.0.1:8080"
    assert variables["api_key"] == "demo-api-key" and variables["app_key"] == "demo-app"
    assert variables["client_id"] == "demo-client-id" and variables["client_secret"] == "demo-client-secret"
    assert variables["flow"] == "demo-flow"
    assert variables["consumerKey"] == "demo-api-key"

    requests_ = list(_requests_of(collection["item"]))
    have = set()
    for folder, item in requests_:
        url = item["request"]["url"]
        raw = url["raw"] if isinstance(url, dict) else url
        assert raw.startswith("{{baseUrl}}/"), f"{item['name']}: {raw}"
        have.add((item["request"]["method"], shape(raw[len("{{baseUrl}}"):].split("?")[0])))
    missing = sorted({(m, shape(p)) for m, p, _ in documented(spec)} - have)
    assert not missing, f"OpenAPI operations without a Postman request: {missing}"

    folders = {folder for folder, _ in requests_}
    assert {"Authentication", "Data Schema", "Data Record", "Webhooks", "Flows", "Keystore", "Tables",
            "Environments", "SOAP", "/api"} <= folders

    # The facade: every /api operation in the /api folder, each with the consumer key (the index needs none).
    facade = [item for folder, item in requests_ if folder == "/api"]
    in_folder = {(item["request"]["method"], shape(item["request"]["url"]["raw"][len("{{baseUrl}}"):].split("?")[0]))
                 for item in facade}
    assert in_folder == {(m, shape(p)) for m, p, _ in documented(spec) if p.startswith("/api/")}
    for item in facade:
        headers = {h["key"]: h["value"] for h in item["request"]["header"] if not h.get("disabled")}
        if item["request"]["url"]["raw"] == "{{baseUrl}}/api/":
            continue
        assert (headers.get("X-Apikey") == "{{consumerKey}}"
                or headers.get("Authorization") == "Bearer {{consumerKey}}"), item["name"]
    soap = [item for folder, item in requests_ if folder == "SOAP"]
    assert any("<mym:getRecord>" in item["request"]["body"]["raw"] for item in soap)
