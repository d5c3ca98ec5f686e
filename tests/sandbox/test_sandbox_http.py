"""The sandbox's generic HTTP behaviour over real HTTP: ETag / If-None-Match, X-RateLimit-* and 429,
JSON errors for unknown routes and methods, HEAD, fault injection and reset (/_sandbox/)."""

from __future__ import annotations

import time

import pytest
import requests
from support import DEMO_HEADERS

RECORD = "/v1/record/demo-record"


def _fault(http, sandbox_url, **rule) -> dict:
    resp = http.post(sandbox_url + "/_sandbox/faults", json=rule, timeout=5)
    assert resp.status_code == 201, resp.text
    return resp.json()


# -- ETag ----------------------------------------------------------------------------------------
def test_get_has_an_etag_and_if_none_match_gives_304_with_empty_body(http, sandbox_url):
    first = http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"')
    again = http.get(sandbox_url + RECORD, headers={**DEMO_HEADERS, "If-None-Match": etag}, timeout=5)
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag


def test_same_data_gives_same_etag(http, sandbox_url):
    a = http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5).headers["ETag"]
    b = http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5).headers["ETag"]
    assert a == b


def test_changed_data_gives_200_and_a_new_etag(http, sandbox_url):
    etag = http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5).headers["ETag"]
    http.put(sandbox_url + "/v1/record", json={"changed": True}, headers={**DEMO_HEADERS, "X-Uuid": "demo-record"},
             timeout=5).raise_for_status()
    resp = http.get(sandbox_url + RECORD, headers={**DEMO_HEADERS, "If-None-Match": etag}, timeout=5)
    assert resp.status_code == 200
    assert resp.json()["resource"]["data_record"] == {"changed": True}
    assert resp.headers["ETag"] != etag


def test_stale_if_none_match_gives_full_200(http, sandbox_url):
    resp = http.get(sandbox_url + RECORD, headers={**DEMO_HEADERS, "If-None-Match": '"0123"'}, timeout=5)
    assert resp.status_code == 200 and resp.json()["resource"]["info"]["uuid"] == "demo-record"


def test_responses_carry_the_documented_no_cache_headers(http, sandbox_url):
    resp = http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5)
    assert resp.headers["Pragma"] == "no-cache"
    assert resp.headers["Expires"] == "Thu, 19 Nov 1981 08:52:00 GMT"
    assert resp.headers["Content-Type"].startswith("application/json")


# -- rate limit ----------------------------------------------------------------------------------
def test_responses_carry_rate_limit_headers_counting_down(http, sandbox_url):
    first = http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5)
    second = http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5)
    for resp in (first, second):
        for name in ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"):
            assert resp.headers[name].isdigit()
    assert int(second.headers["X-RateLimit-Remaining"]) == int(first.headers["X-RateLimit-Remaining"]) - 1
    assert int(first.headers["X-RateLimit-Remaining"]) == int(first.headers["X-RateLimit-Limit"]) - 1


def test_error_responses_carry_rate_limit_headers_too(http, sandbox_url):
    resp = http.get(sandbox_url + "/v1/record/nope", headers=DEMO_HEADERS, timeout=5)
    assert resp.status_code == 404
    assert "X-RateLimit-Remaining" in resp.headers


def test_over_the_rate_limit_gives_documented_429(http, sandbox_url):
    http.patch(sandbox_url + "/_sandbox/config", json={"rate_limit": 3}, timeout=5).raise_for_status()
    for expected_remaining in (2, 1, 0):
        ok = http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5)
        assert ok.status_code == 200
        assert ok.headers["X-RateLimit-Limit"] == "3"
        assert ok.headers["X-RateLimit-Remaining"] == str(expected_remaining)
    resp = http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5)
    assert resp.status_code == 429
    assert resp.json() == {"resource": [], "error": {"code": 429, "message": "Too many requests."}}
    assert int(resp.headers["Retry-After"]) >= 0
    assert resp.headers["X-RateLimit-Remaining"] == "0"


def test_rate_limit_window_resets(http, sandbox_url):
    http.patch(sandbox_url + "/_sandbox/config", json={"rate_limit": 1, "rate_window": 1},
               timeout=5).raise_for_status()
    assert http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5).status_code == 200
    assert http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5).status_code == 429
    time.sleep(1.05)
    assert http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5).status_code == 200


def test_reset_clears_rate_counters(http, sandbox_url):
    http.patch(sandbox_url + "/_sandbox/config", json={"rate_limit": 1}, timeout=5).raise_for_status()
    http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5)
    assert http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5).status_code == 429
    http.post(sandbox_url + "/_sandbox/reset", timeout=5).raise_for_status()
    assert http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5).status_code == 200


# -- routes and methods --------------------------------------------------------------------------
def test_unknown_v1_route_gives_404_json_in_error_shape(http, sandbox_url):
    resp = http.get(sandbox_url + "/v1/no-such-thing", headers=DEMO_HEADERS, timeout=5)
    assert resp.status_code == 404
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert body["resource"] == [] and body["error"]["code"] == 404 and body["error"]["message"]


def test_wrong_method_gives_405_json_with_allow(http, sandbox_url):
    resp = http.delete(sandbox_url + "/v1/checkauthentication", headers=DEMO_HEADERS, timeout=5)
    assert resp.status_code == 405
    assert resp.json()["resource"] == [] and resp.json()["error"]["code"] == 405
    assert "GET" in resp.headers["Allow"]


def test_head_on_a_get_route_gives_headers_and_empty_body(http, sandbox_url):
    get = http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5)
    head = http.head(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["ETag"] == get.headers["ETag"]
    assert head.headers["Content-Type"].startswith("application/json")
    assert "X-RateLimit-Limit" in head.headers


def test_head_with_bad_credentials_gives_401_without_body(http, sandbox_url):
    resp = http.head(sandbox_url + RECORD, timeout=5)
    assert resp.status_code == 401 and resp.content == b""


# -- fault injection -----------------------------------------------------------------------------
def test_latency_fault_delays_the_answer(http, sandbox_url):
    _fault(http, sandbox_url, path="/v1/record*", latency_ms=300)
    start = time.monotonic()
    resp = http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5)
    assert time.monotonic() - start >= 0.3
    assert resp.status_code == 200


def test_a_request_held_by_latency_across_a_reset_is_dropped_not_served(http, sandbox_url):
    """What a reset throws away stays away: a write still held when it came in is not stored later,
    and does not spend the fresh rate window."""
    import threading

    _fault(http, sandbox_url, path="/v1/record", method="POST", latency_ms=600)
    outcome = {}

    def held_write():
        try:
            outcome["status"] = requests.post(
                sandbox_url + "/v1/record", json={"late": True}, timeout=5,
                headers={**DEMO_HEADERS, "X-Flow": "demo-flow", "X-Uuid": "held-write"}).status_code
        except requests.ConnectionError as exc:
            outcome["error"] = exc

    writer = threading.Thread(target=held_write)
    writer.start()
    time.sleep(0.2)
    http.post(sandbox_url + "/_sandbox/reset", timeout=5).raise_for_status()
    http.patch(sandbox_url + "/_sandbox/config", json={"rate_limit": 1}, timeout=5).raise_for_status()
    writer.join(5)
    assert "error" in outcome, outcome  # the connection was dropped, no answer
    # Not stored, and the window of one request is still whole for the caller after the reset.
    resp = http.get(sandbox_url + "/v1/record", headers={**DEMO_HEADERS, "X-Uuid": "held-write"}, timeout=5)
    assert resp.status_code == 404
    assert resp.headers["X-RateLimit-Remaining"] == "0"


def test_latency_fault_on_other_path_does_not_delay(http, sandbox_url):
    _fault(http, sandbox_url, path="/v1/schema*", latency_ms=1000)
    start = time.monotonic()
    http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5)
    assert time.monotonic() - start < 0.9


def test_status_fault_gives_503_in_vendor_error_shape(http, sandbox_url):
    _fault(http, sandbox_url, path="/v1/*", status=503, rate=1)
    for _ in range(3):
        resp = http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5)
        assert resp.status_code == 503
        assert resp.json() == {"resource": [], "error": {"code": 503, "message": "Service Unavailable"}}


def test_status_fault_matches_only_its_method(http, sandbox_url):
    _fault(http, sandbox_url, path="/v1/*", method="post", status=503)
    assert http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5).status_code == 200
    resp = http.post(sandbox_url + "/v1/record", json={"a": 1}, headers={**DEMO_HEADERS, "X-Flow": "demo-flow"},
                     timeout=5)
    assert resp.status_code == 503


def test_429_fault_carries_retry_after(http, sandbox_url):
    _fault(http, sandbox_url, path="/v1/*", status=429, retry_after=7)
    resp = http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5)
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "7"
    assert resp.json() == {"resource": [], "error": {"code": 429, "message": "Too many requests."}}


def test_drop_fault_closes_the_connection(http, sandbox_url):
    _fault(http, sandbox_url, path="/v1/*", drop=True)
    with pytest.raises(requests.ConnectionError):
        requests.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5)


def test_slow_body_fault_still_delivers_the_complete_body(http, sandbox_url):
    expected = http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5).content
    _fault(http, sandbox_url, path="/v1/*", slow_body_ms=2)
    start = time.monotonic()
    resp = http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5)
    elapsed = time.monotonic() - start
    assert resp.status_code == 200
    assert resp.content == expected
    assert resp.json()["resource"]["info"]["uuid"] == "demo-record"
    assert elapsed >= 0.002 * (len(expected) // 16)


def test_fault_with_times_1_expires_after_one_hit(http, sandbox_url):
    _fault(http, sandbox_url, path="/v1/*", status=503, times=1)
    assert http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5).status_code == 503
    assert http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5).status_code == 200
    assert http.get(sandbox_url + "/_sandbox/faults", timeout=5).json()["faults"] == []


def test_fault_with_rate_0_never_fires(http, sandbox_url):
    _fault(http, sandbox_url, path="/v1/*", status=503, rate=0)
    assert all(http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5).status_code == 200 for _ in range(5))


def test_faults_do_not_touch_the_control_api(http, sandbox_url):
    _fault(http, sandbox_url, path="*", status=503)
    assert http.get(sandbox_url + "/_sandbox/health", timeout=5).status_code == 200


@pytest.mark.parametrize("rule", [
    {"path": "/v1/*"},                                  # does nothing
    {"path": "/v1/*", "status": 42},
    {"path": "/v1/*", "status": 503, "rate": 2},
    {"path": "/v1/*", "latency_ms": -5},
    {"path": "/v1/*", "status": 503, "bogus": 1},
    {"path": "/v1/*", "status": 503, "rate": "1"},      # strings would crash every request later
    {"path": "/v1/*", "status": 503, "times": "1"},
    {"path": "/v1/*", "status": 503, "times": 0},
    {"path": 5, "status": 503},
    {"path": "/v1/*", "drop": "no"},
    {"path": "/v1/*", "status": 503, "retry_after": "soon"},
    ["not", "an", "object"],
])
def test_invalid_fault_rule_gives_400_and_is_not_added(http, sandbox_url, rule):
    resp = http.post(sandbox_url + "/_sandbox/faults", json=rule, timeout=5)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == 400
    assert http.get(sandbox_url + "/_sandbox/faults", timeout=5).json()["faults"] == []
    assert http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5).status_code == 200


def test_fault_rules_are_listed_with_their_id(http, sandbox_url):
    rule = _fault(http, sandbox_url, path="/v1/*", status=503)
    listed = http.get(sandbox_url + "/_sandbox/faults", timeout=5).json()["faults"]
    assert [r["id"] for r in listed] == [rule["id"]]


def test_delete_faults_clears_all_rules(http, sandbox_url):
    _fault(http, sandbox_url, path="/v1/*", status=503)
    _fault(http, sandbox_url, path="/v1/*", latency_ms=2000)
    assert http.delete(sandbox_url + "/_sandbox/faults", timeout=5).status_code == 204
    assert http.get(sandbox_url + "/_sandbox/faults", timeout=5).json()["faults"] == []
    start = time.monotonic()
    assert http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5).status_code == 200
    assert time.monotonic() - start < 1.5  # not held by the 2 s latency rule


def test_delete_one_fault_by_id(http, sandbox_url):
    rule = _fault(http, sandbox_url, path="/v1/*", status=503)
    assert http.delete(sandbox_url + f"/_sandbox/faults/{rule['id']}", timeout=5).status_code == 204
    assert http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5).status_code == 200
    assert http.delete(sandbox_url + f"/_sandbox/faults/{rule['id']}", timeout=5).status_code == 404


def test_invalid_config_gives_400(http, sandbox_url):
    assert http.patch(sandbox_url + "/_sandbox/config", json={"nope": 1}, timeout=5).status_code == 400
    assert http.patch(sandbox_url + "/_sandbox/config", json={"rate_limit": "x"}, timeout=5).status_code == 400


# -- reset ---------------------------------------------------------------------------------------
def test_reset_restores_seed_data_and_clears_faults(http, sandbox_url):
    http.delete(sandbox_url + "/v1/record", headers={**DEMO_HEADERS, "uuid": "demo-record"}, timeout=5)
    http.post(sandbox_url + "/v1/record", json={"a": 1}, headers={**DEMO_HEADERS, "X-Flow": "demo-flow",
                                                                  "X-Uuid": "extra"}, timeout=5)
    http.put(sandbox_url + "/v1/changeflowstatus", headers={**DEMO_HEADERS, "X-Flow-Id": "3", "X-Status": "public"},
             timeout=5)
    _fault(http, sandbox_url, path="/v1/schema", status=500)
    assert http.post(sandbox_url + "/_sandbox/reset", timeout=5).status_code == 200
    assert http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5).status_code == 200
    assert http.get(sandbox_url + "/v1/record/extra", headers=DEMO_HEADERS, timeout=5).status_code == 404
    diagram = http.get(sandbox_url + "/v1/flowdiagram", headers={**DEMO_HEADERS, "X-Flow": "demo-draft"}, timeout=5)
    assert diagram.json()["resource"]["current_flow"]["status"] == "draft"
    assert http.get(sandbox_url + "/_sandbox/faults", timeout=5).json()["faults"] == []


def test_reset_restores_config_knobs(http, sandbox_url):
    before = http.get(sandbox_url + "/_sandbox/config", timeout=5).json()
    http.patch(sandbox_url + "/_sandbox/config", json={"rate_limit": 1, "token_ttl": 1}, timeout=5).raise_for_status()
    http.post(sandbox_url + "/_sandbox/reset", timeout=5).raise_for_status()
    assert http.get(sandbox_url + "/_sandbox/config", timeout=5).json() == before
    assert all(http.get(sandbox_url + RECORD, headers=DEMO_HEADERS, timeout=5).status_code == 200 for _ in range(3))


@pytest.mark.parametrize("config", [{"rate_limit": -1}, {"rate_window": 0}, {"token_ttl": -5}])
def test_negative_or_zero_window_config_gives_400(http, sandbox_url, config):
    assert http.patch(sandbox_url + "/_sandbox/config", json=config, timeout=5).status_code == 400
