"""The sandbox's call log (``/_sandbox/calls``): every vendor request it received, as the vendor saw it."""

from __future__ import annotations

import time
import uuid

import requests
from support import DEMO_HEADERS, DEMO_OAUTH, add_fault

from gateway.sandbox.context import CallLog


def _calls(sandbox_url: str, **params) -> list[dict]:
    resp = requests.get(sandbox_url + "/_sandbox/calls", params=params, timeout=5)
    resp.raise_for_status()
    return resp.json()


def _mine(sandbox_url: str, rid: str, **params) -> list[dict]:
    # Only this test's requests: a worker of another test may still be talking to the shared sandbox.
    return [c for c in _calls(sandbox_url, **params) if c["request_id"] == rid]


def test_each_vendor_request_is_logged_with_its_vendor_method_path_and_status(sandbox_url):
    rid = uuid.uuid4().hex
    started = time.time()
    sent = [("GET", "/v1/record?api_key=demo-api-key&app_key=demo-app", {"X-Uuid": "demo-record"}),
            ("GET", "/v4/codes/nope", {"apikey": "demo-flowcode-key"}),
            ("GET", "/api/qr/bulk-generate/nope", {"client-id": "demo-client", "api-key": "demo-exaroutes-key"}),
            ("GET", "/api/v1/sessions", {"api-secret": "demo-events-secret"}),
            ("GET", "/public/feed/demo-feed", {}),
            ("DELETE", "/nowhere", {})]
    answers = [requests.request(method, sandbox_url + path, headers={"X-Request-Id": rid, **headers}, timeout=10)
               for method, path, headers in sent]
    requests.get(sandbox_url + "/_sandbox/health", headers={"X-Request-Id": rid}, timeout=5)

    calls = _mine(sandbox_url, rid)
    assert [(c["vendor"], c["method"], c["path"], c["status"]) for c in calls] == [
        ("flowize", "GET", "/v1/record", answers[0].status_code),
        ("flowcode", "GET", "/v4/codes/nope", answers[1].status_code),
        ("exaroutes", "GET", "/api/qr/bulk-generate/nope", answers[2].status_code),
        ("flowevents", "GET", "/api/v1/sessions", answers[3].status_code),
        ("flowbox", "GET", "/public/feed/demo-feed", answers[4].status_code),
        ("unknown", "DELETE", "/nowhere", answers[5].status_code),
    ]
    assert answers[0].status_code == 200
    assert all(started <= c["time"] <= time.time() for c in calls)
    assert [c["time"] for c in calls] == sorted(c["time"] for c in calls)
    assert "demo-api-key" not in str(calls)  # the query string, with its credentials, is never kept
    assert not any(c["token"] for c in calls)


def test_token_requests_are_marked(sandbox_url):
    rid = uuid.uuid4().hex
    got = requests.get(sandbox_url + "/v1/checkauthentication", headers={"X-Request-Id": rid, **DEMO_OAUTH},
                       timeout=5).json()["resource"]
    requests.get(sandbox_url + "/v1/refreshtoken", timeout=5, headers={
        "X-Request-Id": rid, **DEMO_OAUTH, "refresh_token": got["refresh_token"]}).raise_for_status()
    requests.get(sandbox_url + "/v1/record", headers={"X-Request-Id": rid, **DEMO_HEADERS, "X-Uuid": "demo-record"},
                 timeout=5)
    assert [(c["path"], c["token"]) for c in _mine(sandbox_url, rid, vendor="flowize")] == [
        ("/v1/checkauthentication", True), ("/v1/refreshtoken", True), ("/v1/record", False)]


def test_vendor_and_since_narrow_the_log(sandbox_url):
    rid = uuid.uuid4().hex
    requests.get(sandbox_url + "/public/feed/demo-feed", headers={"X-Request-Id": rid}, timeout=5)
    middle = time.time()
    requests.get(sandbox_url + "/v1/record", headers={"X-Request-Id": rid, **DEMO_HEADERS, "X-Uuid": "demo-record"},
                 timeout=5)
    requests.get(sandbox_url + "/public/feed/demo-feed", headers={"X-Request-Id": rid}, timeout=5)
    assert [c["vendor"] for c in _mine(sandbox_url, rid, vendor="flowbox")] == ["flowbox", "flowbox"]
    assert [c["vendor"] for c in _mine(sandbox_url, rid, since=middle)] == ["flowize", "flowbox"]
    assert _mine(sandbox_url, rid, vendor="flowbox", since=middle)[0]["time"] >= middle
    assert _calls(sandbox_url, vendor="nobody") == []
    for bad in ("yesterday", "nan", "inf"):
        assert requests.get(sandbox_url + "/_sandbox/calls", params={"since": bad}, timeout=5).status_code == 400


def test_requests_answered_or_dropped_by_fault_rules_are_logged_too(sandbox_url):
    rid = uuid.uuid4().hex
    add_fault(sandbox_url, path="/public/feed/demo-feed", status=503, times=1)
    add_fault(sandbox_url, path="/public/feed/other", drop=True, times=1)
    assert requests.get(sandbox_url + "/public/feed/demo-feed", headers={"X-Request-Id": rid},
                        timeout=5).status_code == 503
    try:
        requests.get(sandbox_url + "/public/feed/other", headers={"X-Request-Id": rid}, timeout=5)
    except requests.ConnectionError:
        pass
    assert [(c["path"], c["status"]) for c in _mine(sandbox_url, rid)] == [
        ("/public/feed/demo-feed", 503), ("/public/feed/other", None)]


def test_delete_and_reset_empty_the_log(sandbox_url):
    requests.get(sandbox_url + "/public/feed/demo-feed", timeout=5)
    assert _calls(sandbox_url)
    assert requests.delete(sandbox_url + "/_sandbox/calls", timeout=5).status_code == 204
    assert _calls(sandbox_url, vendor="flowbox") == []
    requests.get(sandbox_url + "/public/feed/demo-feed", timeout=5)
    requests.post(sandbox_url + "/_sandbox/reset", timeout=5).raise_for_status()
    assert _calls(sandbox_url, vendor="flowbox") == []


def test_the_log_keeps_only_the_newest_calls():
    log = CallLog(maxlen=3)
    for n in range(5):
        log.record("flowbox", "GET", f"/public/feed/{n}")
    assert [c["path"] for c in log.entries()] == ["/public/feed/2", "/public/feed/3", "/public/feed/4"]
    assert len(log) == 3
