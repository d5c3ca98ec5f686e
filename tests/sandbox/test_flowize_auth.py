"""Flowize sandbox over real HTTP: "Authentication" (checkauthentication, refreshtoken) and the
request auth styles (Bearer, X-Apikey + X-App, api_key & app_key), 401 / 403-436 / 403-437."""

from __future__ import annotations

import time

import pytest
from support import DEMO_HEADERS, DEMO_OAUTH, DEMO_PARAMS

PROTECTED = "/v1/record/demo-record"


def _token(http, sandbox_url) -> dict:
    resp = http.get(sandbox_url + "/v1/checkauthentication", headers=DEMO_OAUTH, timeout=5)
    assert resp.status_code == 200, resp.text
    return resp.json()["resource"]


def _assert_error(resp, status: int, code: int | None = None) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["resource"] == []
    assert body["error"]["code"] == (code if code is not None else status)
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_checkauthentication_with_underscore_headers_returns_documented_body(http, sandbox_url):
    resp = http.get(sandbox_url + "/v1/checkauthentication", headers=DEMO_OAUTH, timeout=5)
    assert resp.status_code == 200
    body = resp.json()
    assert body["message"] == "The credentials are valid"
    assert set(body["resource"]) == {"access_token", "token_type", "refresh_token", "expires_in", "scopes"}
    assert body["resource"]["token_type"] == "bearer"
    assert body["resource"]["scopes"] is None
    # "consecutive strings of hex digits"
    int(body["resource"]["access_token"], 16)
    int(body["resource"]["refresh_token"], 16)


def test_checkauthentication_expires_in_is_a_future_unix_timestamp(http, sandbox_url):
    expires = _token(http, sandbox_url)["expires_in"]
    assert isinstance(expires, int)
    assert time.time() < expires < time.time() + 366 * 24 * 3600


def test_checkauthentication_gives_a_new_token_each_time(http, sandbox_url):
    assert _token(http, sandbox_url)["access_token"] != _token(http, sandbox_url)["access_token"]


def test_checkauthentication_with_wrong_secret_gives_401_in_error_shape(http, sandbox_url):
    resp = http.get(sandbox_url + "/v1/checkauthentication",
                    headers={**DEMO_OAUTH, "client_secret": "wrong"}, timeout=5)
    _assert_error(resp, 401)


def test_checkauthentication_with_unknown_client_gives_401(http, sandbox_url):
    resp = http.get(sandbox_url + "/v1/checkauthentication",
                    headers={**DEMO_OAUTH, "client_id": "nobody"}, timeout=5)
    _assert_error(resp, 401)


@pytest.mark.parametrize("grant", ["password", "authorization_code"])
def test_checkauthentication_with_wrong_grant_type_gives_400(http, sandbox_url, grant):
    resp = http.get(sandbox_url + "/v1/checkauthentication",
                    headers={**DEMO_OAUTH, "grant_type": grant}, timeout=5)
    _assert_error(resp, 400)


def test_checkauthentication_without_grant_type_gives_400(http, sandbox_url):
    headers = {k: v for k, v in DEMO_OAUTH.items() if k != "grant_type"}
    _assert_error(http.get(sandbox_url + "/v1/checkauthentication", headers=headers, timeout=5), 400)


def test_refreshtoken_gives_a_new_working_token(http, sandbox_url):
    first = _token(http, sandbox_url)
    resp = http.get(sandbox_url + "/v1/refreshtoken",
                    headers={**DEMO_OAUTH, "refresh_token": first["refresh_token"]}, timeout=5)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["message"] == "The token has been generated"
    new = body["resource"]["access_token"]
    assert new != first["access_token"]
    assert body["resource"]["expires_at"] > time.time()
    got = http.get(sandbox_url + PROTECTED, headers={"Authorization": f"Bearer {new}"}, timeout=5)
    assert got.status_code == 200
    assert got.json()["resource"]["info"]["uuid"] == "demo-record"


def test_refreshtoken_with_unknown_refresh_token_gives_401(http, sandbox_url):
    resp = http.get(sandbox_url + "/v1/refreshtoken", headers={**DEMO_OAUTH, "refresh_token": "abcdef"}, timeout=5)
    _assert_error(resp, 401)


def test_refreshtoken_without_refresh_token_gives_400(http, sandbox_url):
    _assert_error(http.get(sandbox_url + "/v1/refreshtoken", headers=DEMO_OAUTH, timeout=5), 400)


def test_refreshtoken_renews_an_expired_token(http, sandbox_url):
    http.patch(sandbox_url + "/_sandbox/config", json={"token_ttl": 0}, timeout=5).raise_for_status()
    old = _token(http, sandbox_url)
    _assert_error(http.get(sandbox_url + PROTECTED, headers={"Authorization": f"Bearer {old['access_token']}"},
                           timeout=5), 403, 436)
    http.patch(sandbox_url + "/_sandbox/config", json={"token_ttl": 3600}, timeout=5).raise_for_status()
    resp = http.get(sandbox_url + "/v1/refreshtoken", headers={**DEMO_OAUTH, "refresh_token": old["refresh_token"]},
                    timeout=5)
    new = resp.json()["resource"]["access_token"]
    assert http.get(sandbox_url + PROTECTED, headers={"Authorization": f"Bearer {new}"}, timeout=5).status_code == 200


@pytest.mark.parametrize("header", ["Authorization", "Authentication"])
def test_bearer_token_works_for_a_protected_call(http, sandbox_url, header):
    token = _token(http, sandbox_url)["access_token"]
    resp = http.get(sandbox_url + PROTECTED, headers={header: f"Bearer {token}"}, timeout=5)
    assert resp.status_code == 200, resp.text
    assert resp.json()["resource"]["info"]["uuid"] == "demo-record"


def test_expired_token_gives_403_with_code_436(http, sandbox_url):
    http.patch(sandbox_url + "/_sandbox/config", json={"token_ttl": 1}, timeout=5).raise_for_status()
    token = _token(http, sandbox_url)
    time.sleep(max(0.0, token["expires_in"] - time.time()) + 0.05)
    resp = http.get(sandbox_url + PROTECTED, headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=5)
    _assert_error(resp, 403, 436)


def test_unknown_token_gives_403_with_code_436(http, sandbox_url):
    resp = http.get(sandbox_url + PROTECTED, headers={"Authorization": "Bearer " + "ab" * 32}, timeout=5)
    _assert_error(resp, 403, 436)


def test_apikey_and_app_headers_work(http, sandbox_url):
    resp = http.get(sandbox_url + PROTECTED, headers=DEMO_HEADERS, timeout=5)
    assert resp.status_code == 200
    assert resp.json()["message"] == "Data Record structure was retrieving successfully"


def test_api_key_and_app_key_url_params_work(http, sandbox_url):
    resp = http.get(sandbox_url + PROTECTED, params=DEMO_PARAMS, timeout=5)
    assert resp.status_code == 200
    assert resp.json()["resource"]["info"]["uuid"] == "demo-record"


def test_missing_credentials_give_401(http, sandbox_url):
    _assert_error(http.get(sandbox_url + PROTECTED, timeout=5), 401)


def test_wrong_apikey_gives_401(http, sandbox_url):
    _assert_error(http.get(sandbox_url + PROTECTED, headers={**DEMO_HEADERS, "X-Apikey": "nope"}, timeout=5), 401)


def test_wrong_app_gives_401(http, sandbox_url):
    _assert_error(http.get(sandbox_url + PROTECTED, headers={**DEMO_HEADERS, "X-App": "nope"}, timeout=5), 401)


def test_apikey_without_app_gives_401(http, sandbox_url):
    _assert_error(http.get(sandbox_url + PROTECTED, headers={"X-Apikey": "demo-api-key"}, timeout=5), 401)


def test_wrong_app_key_url_param_gives_401(http, sandbox_url):
    _assert_error(http.get(sandbox_url + PROTECTED, params={**DEMO_PARAMS, "app_key": "nope"}, timeout=5), 401)


def test_app_whose_ip_allowlist_excludes_caller_gives_403_with_code_437(http, sandbox_url):
    resp = http.get(sandbox_url + PROTECTED, headers={**DEMO_HEADERS, "X-App": "demo-app-restricted"}, timeout=5)
    _assert_error(resp, 403, 437)


def test_restricted_app_by_url_params_gives_403_with_code_437(http, sandbox_url):
    resp = http.get(sandbox_url + PROTECTED, params={**DEMO_PARAMS, "app_key": "demo-app-restricted"}, timeout=5)
    _assert_error(resp, 403, 437)


def test_wrong_scope_gives_401(http, sandbox_url):
    resp = http.get(sandbox_url + PROTECTED, headers={**DEMO_HEADERS, "X-Scopes": "schema"}, timeout=5)
    _assert_error(resp, 401)


def test_matching_scope_is_accepted(http, sandbox_url):
    resp = http.get(sandbox_url + PROTECTED, headers={**DEMO_HEADERS, "X-Scopes": "record.read"}, timeout=5)
    assert resp.status_code == 200


def test_wrong_scope_with_bearer_token_gives_401(http, sandbox_url):
    token = _token(http, sandbox_url)["access_token"]
    resp = http.get(sandbox_url + PROTECTED, headers={"Authorization": f"Bearer {token}", "X-Scopes": "schema"},
                    timeout=5)
    _assert_error(resp, 401)


def test_wrong_scope_in_url_gives_401(http, sandbox_url):
    resp = http.get(sandbox_url + PROTECTED, params={**DEMO_PARAMS, "scopes": "schema.read"}, timeout=5)
    _assert_error(resp, 401)
