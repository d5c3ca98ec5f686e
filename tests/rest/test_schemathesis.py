"""Property-based tests of the gateway's REST surfaces against its own OpenAPI document (schemathesis).

Every operation of the served document (``/openapi.json``: the Flowize surface of
``gateway/rest/openapi.yaml`` and the facade of ``gateway/api/openapi.yaml``; the SOAP endpoint aside, it
is described by its WSDL) is called over real HTTP on the running gateway, in front of the freshly reset
sandbox, with cases schemathesis generates from the document: its examples, the coverage phase's boundary
and missing-value cases, and fuzzed values, valid and invalid. Every answer must:

* not be a server error (no 5xx; the facade documents 502/503/504 for a failing vendor, but the sandbox
  here does not fail, so any 5xx is a gateway bug);
* have a documented status code, a documented content type, and documented headers;
* match the documented response schema.

The demo credentials go with every case, so the cases reach real behaviour rather than stopping at 401:
X-Apikey + X-App on ``/v1/`` (../shared/DESIGN.md), the embedded demo consumer key on ``/api/``.
Generation is deterministic (fixed seed, derandomized), and bounded: ``MAX_EXAMPLES`` fuzzed cases per
operation and mode on ``/v1/``, ``API_MAX_EXAMPLES`` on ``/api/``, and ``UPLOAD_MAX_EXAMPLES`` for bulk-job
submission and the images archive (every accepted upload is a job in the store and a queue message; no
worker runs here, so jobs stay queued and no vendor is called for them). The number of cases run is
printed at the end of the module (``schemathesis: N cases ...``); run with ``-s`` to see it.

``FLOWGATE_SCHEMATHESIS_TARGET=sandbox`` points the ``/v1/`` cases at the sandbox (the emulated vendor the
gateway mirrors), which is useful to tell a gateway bug from a document bug; the facade's are skipped.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support import DEMO_HEADERS, gateway_with

from gateway.rest.openapi import load_spec

MAX_EXAMPLES = 25
API_MAX_EXAMPLES = 25
UPLOAD_MAX_EXAMPLES = 5
API_HEADERS = {"X-Apikey": "demo-api-key"}  # the embedded demo consumer: every scope
SEED = 20240501
TARGET = os.environ.get("FLOWGATE_SCHEMATHESIS_TARGET", "gateway")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]

CONFIG = schemathesis.Config.from_dict({
    "seed": SEED,
    "headers": DEMO_HEADERS,  # sent with every case
    "generation": {
        "mode": "all",  # valid and invalid inputs: an invalid one must still give a documented 4xx
        "max-examples": MAX_EXAMPLES,
        "deterministic": True,
        # The security schemes' parameters (Authorization, api_key, ...) are not generated: random
        # credentials would only ever test the 401 path, and would win over the demo headers.
        "with-security-parameters": False,
    },
    # The stateful phase needs links between operations, which this document does not declare.
    "phases": {"stateful": {"enabled": False}},
})

API_CONFIG = schemathesis.Config.from_dict({
    "seed": SEED,
    "headers": API_HEADERS,
    "generation": {"mode": "all", "max-examples": API_MAX_EXAMPLES, "deterministic": True,
                   "with-security-parameters": False},
    "phases": {"stateful": {"enabled": False}},
})

# Bulk-job uploads as CSV and NDJSON are text: sent as generated (a string), like text/plain.
for _media_type in ("text/csv", "application/x-ndjson"):
    schemathesis.serializer.alias(_media_type, "text/plain")

# /v1/soap is described by its WSDL; /api/ has its own test (and headers).
schema = schemathesis.openapi.from_dict(load_spec(), config=CONFIG).exclude(path_regex="^(/v1/soap$|/api/)")
# Bulk-job uploads and the images archive get fewer fuzzed cases (UPLOAD_MAX_EXAMPLES): the coverage
# phase already sends each documented media type and parameter combination (some 370 accepted jobs).
_UPLOADS = ["apiSubmitQrJob", "apiGetQrJobImagesZip"]


def _facade_but_uploads(ctx) -> bool:
    operation = ctx.operation
    return operation.path.startswith("/api/") and operation.definition.raw.get("operationId") not in _UPLOADS


api_schema = schemathesis.openapi.from_dict(load_spec(), config=API_CONFIG).include(_facade_but_uploads)
upload_schema = schemathesis.openapi.from_dict(load_spec(), config=API_CONFIG).include(operation_id=_UPLOADS)

# What ran, for the summary line: cases per operation and responses per status code.
_CASES: Counter[str] = Counter()
_STATUSES: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def _summary(request):
    started = time.monotonic()
    yield
    if _CASES:
        classes = ", ".join(f"{k}: {v}" for k, v in sorted(_STATUSES.items()))
        facade = sum(n for label, n in _CASES.items() if " /api/" in label)
        line = (f"schemathesis: {sum(_CASES.values())} cases over {len(_CASES)} operations against the {TARGET} "
                f"({facade} of them on /api/) in {time.monotonic() - started:.1f}s ({classes})")
        print("\n" + line)
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None and request.config.getoption("capture") != "no":
            reporter.write_line(line)


@pytest.fixture(scope="module")
def _gateway(_sandbox_server, tmp_path_factory):
    """A gateway like conftest's ``gateway_url`` one, in front of the same sandbox, but with its own rate
    limit counters and a limit these few thousand calls cannot reach: the shared gateway's default
    limit (1000/hour per consumer; the facade's 6000/hour) would turn most cases into 429s and starve the
    tests that run after this module. 429 itself is checked by
    ``test_rate_limited_and_not_modified_answers_conform``. ExaRoutes is polled as often as the session
    gateway polls it, so a single QR code does not wait out the production schedule."""
    server = gateway_with(tmp_path_factory.mktemp("schemathesis"), _sandbox_server.url,
                          rest_rate_limit="1000000/hour", api_rate_limit="1000000/hour", http_retries=1,
                          http_backoff=0.05, exaroutes_poll_schedule="0.05,0.1,0.2")
    yield server
    server.shutdown()


@pytest.fixture
def base_url(request, sandbox_url) -> str:
    """Where the cases go; ``sandbox_url`` resets the sandbox to its seeded data for every operation."""
    if TARGET == "sandbox":
        return sandbox_url
    return request.getfixturevalue("_gateway").url


@pytest.fixture
def api_base_url(base_url, sandbox_url) -> str:
    """``base_url`` with ExaRoutes answering at once (the sandbox's reset brings back its 3 s of
    processing, which a single QR code would wait out)."""
    if TARGET == "sandbox":
        pytest.skip("the sandbox emulates the vendors, not the facade")
    requests.patch(sandbox_url + "/_sandbox/exaroutes", json={"processing_seconds": 0}, timeout=5).raise_for_status()
    return base_url


def _run(case, base_url: str) -> None:
    response = case.call(base_url=base_url, timeout=15)
    _CASES[case.operation.label] += 1
    _STATUSES[str(response.status_code)] += 1
    case.validate_response(response, checks=CHECKS)


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, max_examples=MAX_EXAMPLES,
          database=None, print_blob=True)
def test_gateway_conforms_to_its_openapi_document(case, base_url):
    _run(case, base_url)


@api_schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
          max_examples=API_MAX_EXAMPLES, database=None, print_blob=True)
def test_facade_conforms_to_its_openapi_document(case, api_base_url):
    _run(case, api_base_url)


@upload_schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True,
          max_examples=UPLOAD_MAX_EXAMPLES, database=None, print_blob=True)
def test_facade_uploads_conform_to_its_openapi_document(case, api_base_url):
    _run(case, api_base_url)


def test_rate_limited_and_not_modified_answers_conform(sandbox_url, tmp_path):
    """The two documented answers the generated cases rarely reach: 429 (with X-RateLimit-* and
    Retry-After) past the consumer's limit, and 304 (empty) for a matching If-None-Match."""
    operation = schema["/v1/record/{uuid}"]["GET"]
    server = gateway_with(tmp_path, sandbox_url, rest_rate_limit="3/hour")

    def call(**headers):
        case = operation.Case(path_parameters={"uuid": "demo-record"}, headers={**DEMO_HEADERS, **headers})
        response = case.call(base_url=server.url, timeout=10)
        case.validate_response(response, checks=CHECKS)
        return response

    def header(response, name: str) -> str | None:
        return (response.headers.get(name.lower()) or [None])[0]  # schemathesis: lower-case names, lists

    try:
        first = call()
        assert first.status_code == 200 and header(first, "ETag")
        cached = call(**{"If-None-Match": header(first, "ETag")})
        assert cached.status_code == 304 and cached.content == b""
        call()
        limited = call()
        assert limited.status_code == 429
        assert limited.json() == {"resource": [], "error": {"code": 429, "message": "Too many requests."}}
        for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset", "Retry-After"):
            assert header(limited, name), name
    finally:
        server.shutdown()
