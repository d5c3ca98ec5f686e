"""``OPTIONS /v1/options``: the helper listing the API's methods (flowize-api.txt, endpoint table)."""

from __future__ import annotations

import re

import pytest


@pytest.fixture
def options(sandbox_url, http):
    def call(method: str = "OPTIONS", **kwargs):
        return http.request(method, sandbox_url + "/v1/options", timeout=5, **kwargs)
    return call


def test_options_lists_the_environment_methods_of_the_endpoint_table(options):
    resp = options()
    assert resp.status_code == 200
    body = resp.json()
    assert body["message"]
    listed = {(m["method"], m["path"]) for m in body["resource"]["methods"]}
    for row in [("OPTIONS", "/v1/options"), ("GET", "/v1/checkauthentication"), ("GET", "/v1/environment"),
                ("POST", "/v1/environment"), ("GET", "/v1/environment/:environment_id"),
                ("DELETE", "/v1/environment/:environment_id"),
                ("POST", "/v1/environment/:environment_id/update-version"),
                ("POST", "/v1/environment/:environment_id/project/:project_id"),
                ("GET", "/v1/environment/:environment_id/urls")]:
        assert row in listed


def test_options_lists_each_method_once_without_automatic_ones(options):
    methods = options().json()["resource"]["methods"]
    pairs = [(m["method"], m["path"]) for m in methods]
    assert len(pairs) == len(set(pairs))
    assert all(m["path"].startswith("/v1/") and "<" not in m["path"] for m in methods)
    assert not any(m["method"] == "HEAD" for m in methods)
    assert [p for p in pairs if p[0] == "OPTIONS"] == [("OPTIONS", "/v1/options")]
    assert [p[1] for p in pairs] == sorted(p[1] for p in pairs)


def test_every_listed_method_is_really_served(options, sandbox_url, http):
    """No drift: each listed method answers on its path (401 and 400 are fine, 405 is not)."""
    for entry in options().json()["resource"]["methods"]:
        path = re.sub(r":\w+", "1", entry["path"])
        resp = http.request(entry["method"], sandbox_url + path, timeout=5)
        assert resp.status_code != 405, entry


def test_options_sends_an_allow_header(options):
    allow = {m.strip() for m in options().headers["Allow"].split(",")}
    assert {"OPTIONS", "GET"} <= allow


def test_get_on_options_gives_the_same_list(options):
    assert options("GET").json() == options().json()


def test_options_needs_no_credentials_and_speaks_xml(options):
    resp = options(headers={"Accept": "application/xml"})
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/xml")
    assert b"<method>OPTIONS</method>" in resp.content


def test_other_methods_on_options_give_405(options):
    resp = options("DELETE")
    assert resp.status_code == 405
    assert resp.json()["error"]["code"] == 405
