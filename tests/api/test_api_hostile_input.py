"""Hostile JSON on the facade: too deep, non-finite numbers, nested rows in a streamed job upload.
Each is a 400 ``invalid_json`` problem, quickly, and never reaches a vendor."""

from __future__ import annotations

import time

import pytest
import requests
from api.conftest import DEMO, assert_problem

T = 15


def _post_json(url: str, data: str | bytes, ctype: str = "application/json") -> requests.Response:
    return requests.post(url, data=data, headers={**DEMO, "Content-Type": ctype}, timeout=T)


@pytest.mark.parametrize("number", ["1e999", "-1e400"])
def test_a_number_too_large_for_a_float_is_refused_not_sent_on_as_infinity(api_url, number):
    body = '{"flow": "demo-flow", "data": {"amount": ' + number + "}}"
    problem = assert_problem(_post_json(api_url + "/records", body), 400, "invalid_json")
    assert "finite" in problem["detail"]


def test_json_nested_past_the_cap_is_refused(api_url):
    body = '{"flow": "demo-flow", "data": {"deep": ' + "[" * 100 + "]" * 100 + "}}"
    problem = assert_problem(_post_json(api_url + "/records", body), 400, "invalid_json")
    assert problem["detail"] == "The JSON body is nested deeper than 64 levels."


def test_a_job_upload_with_deeply_nested_rows_is_refused_quickly(api_url):
    # ijson's prefixes made this cost memory quadratic in the depth (20,000 levels: about 1 GB).
    depth = 5000
    body = '{"vendor": "flowcode", "rows": [' + "[" * depth + "]" * depth + "]}"
    started = time.monotonic()
    problem = assert_problem(_post_json(api_url + "/qr/jobs", body), 400, "invalid_json")
    assert time.monotonic() - started < 5
    assert problem["detail"] == "The JSON body is nested deeper than 64 levels."


def test_a_job_upload_with_deep_options_is_refused(api_url):
    body = '{"vendor": "flowcode", "options": {"a": ' + "[" * 100 + "]" * 100 + '}, "rows": []}'
    assert_problem(_post_json(api_url + "/qr/jobs", body), 400, "invalid_json")


def test_an_ndjson_line_nested_too_deep_is_a_400_naming_nothing_else(api_url):
    line = "[" * 10000 + "]" * 10000
    resp = _post_json(api_url + "/qr/jobs?vendor=flowcode", line + "\n", "application/x-ndjson")
    problem = assert_problem(resp, 400, "invalid_json")
    assert "nested deeper" in problem["detail"]
