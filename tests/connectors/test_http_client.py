"""HttpClient over real HTTP: the sandbox (with fault rules) and a tiny local echo app on loopback.

Timeouts, refused and dropped connections, retries of idempotent methods only, Retry-After honoured
up to a cap, X-Request-Id passed through, secrets kept out of messages and logs, and rate-limit
awareness (no call once the vendor said the window is spent).
"""

from __future__ import annotations

import json
import logging
import threading
import time

import pytest
import requests
from support import DEMO_HEADERS, DEMO_OAUTH, add_fault, free_port

from gateway.config import Settings
from gateway.errors import RateLimited, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from gateway.http import HttpClient
from gateway.observe import request_id_var
from gateway.server import serve_in_thread

SECRET_KEY = "s3cret-api-key-value"
SECRET_HEADER = "hdr-secret-apikey-value"


def _settings(**kw) -> Settings:
    base = {"http_retries": 1, "http_backoff": 0.01, "http_connect_timeout": 0.5, "http_read_timeout": 0.3,
            "http_max_retry_after": 2.0}
    base.update(kw)
    return Settings(**base)


@pytest.fixture
def client():
    c = HttpClient(_settings())
    yield c
    c.close()



# -- a tiny echo app: answers with the request headers it got, counts calls ------------------------
class _Echo:
    def __init__(self) -> None:
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            self.calls += 1
        headers = {key[5:].replace("_", "-").title(): value
                   for key, value in environ.items() if key.startswith("HTTP_")}
        path = environ.get("PATH_INFO", "")
        extra: list[tuple[str, str]] = []
        status = "200 OK"
        if path == "/spent":
            extra = [("X-RateLimit-Limit", "5"), ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "30")]
        elif path == "/slow":
            time.sleep(1.5)
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            status = f"{code} Echo"
        body = json.dumps({"headers": headers, "query": environ.get("QUERY_STRING", "")}).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))), *extra])
        return [body]


@pytest.fixture(scope="module")
def _echo_server():
    app = _Echo()
    server = serve_in_thread(app)
    server.echo = app
    yield server
    server.shutdown()


@pytest.fixture
def echo(_echo_server):
    _echo_server.echo.calls = 0
    return _echo_server


# -- timeouts and broken connections ---------------------------------------------------------------
def test_read_timeout_raises_upstream_timeout_long_before_the_latency(client, sandbox_url):
    add_fault(sandbox_url, path="/v1/record*", method="GET", latency_ms=3000)
    started = time.perf_counter()
    with pytest.raises(UpstreamTimeout) as err:
        client.send("GET", sandbox_url + "/v1/record", headers=DEMO_HEADERS)
    elapsed = time.perf_counter() - started
    assert elapsed < 2.0, elapsed  # one try and one retry of 0.3 s each, not the 3 s latency
    assert err.value.status == 504


def test_read_timeout_on_a_post_is_not_retried_and_is_upstream_timeout(client, sandbox_url):
    add_fault(sandbox_url, path="/v1/record", method="POST", latency_ms=2000)
    started = time.perf_counter()
    with pytest.raises(UpstreamTimeout):
        client.send("POST", sandbox_url + "/v1/record", headers=DEMO_HEADERS, data="{}")
    assert time.perf_counter() - started < 1.0


def test_connection_refused_raises_upstream_unavailable(client):
    with pytest.raises(UpstreamUnavailable) as err:
        client.send("GET", f"http://127.0.0.1:{free_port()}/v1/record")
    assert err.value.status == 503


def test_dropped_connection_raises_upstream_unavailable_or_error(client, sandbox_url):
    add_fault(sandbox_url, path="/v1/record", method="GET", drop=True)
    with pytest.raises((UpstreamUnavailable, UpstreamError)):
        client.send("GET", sandbox_url + "/v1/record", headers={**DEMO_HEADERS, "X-Uuid": "demo-record"})


# -- retries -----------------------------------------------------------------------------------------
def test_get_is_retried_after_a_503_and_succeeds(client, sandbox_url):
    add_fault(sandbox_url, path="/v1/record", method="GET", status=503, times=1)
    resp = client.send("GET", sandbox_url + "/v1/record", headers={**DEMO_HEADERS, "X-Uuid": "demo-record"})
    assert resp.status_code == 200
    assert resp.json()["resource"]["info"]["uuid"] == "demo-record"


def test_post_is_not_retried_after_a_503(client, sandbox_url):
    add_fault(sandbox_url, path="/v1/record", method="POST", status=503, times=1)
    headers = {**DEMO_HEADERS, "X-Flow": "demo-flow", "X-Uuid": "post-once", "Content-Type": "application/json"}
    resp = client.send("POST", sandbox_url + "/v1/record", headers=headers, data='{"a": 1}')
    assert resp.status_code == 503
    # The record was not created by a silent retry; the fault is spent, so a real call goes through now.
    check = client.send("GET", sandbox_url + "/v1/record", headers={**DEMO_HEADERS, "X-Uuid": "post-once"})
    assert check.status_code == 404


def test_429_with_short_retry_after_is_waited_for_and_retried(client, sandbox_url):
    add_fault(sandbox_url, path="/v1/record", method="GET", status=429, retry_after=1, times=1)
    started = time.perf_counter()
    resp = client.send("GET", sandbox_url + "/v1/record", headers={**DEMO_HEADERS, "X-Uuid": "demo-record"})
    elapsed = time.perf_counter() - started
    assert resp.status_code == 200
    assert 0.9 <= elapsed < 3.0, elapsed


def test_429_with_retry_after_over_the_cap_is_returned_without_sleeping(client, sandbox_url):
    add_fault(sandbox_url, path="/v1/record", method="GET", status=429, retry_after=120, times=1)
    started = time.perf_counter()
    resp = client.send("GET", sandbox_url + "/v1/record", headers={**DEMO_HEADERS, "X-Uuid": "demo-record"})
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "120"
    assert time.perf_counter() - started < 1.0


# -- request id --------------------------------------------------------------------------------------
def test_request_id_from_the_contextvar_is_sent_as_x_request_id(client, echo):
    token = request_id_var.set("req-abc-123")
    try:
        resp = client.send("GET", echo.url + "/echo")
    finally:
        request_id_var.reset(token)
    assert resp.json()["headers"]["X-Request-Id"] == "req-abc-123"


def test_a_request_id_is_generated_when_none_is_set(client, echo):
    resp = client.send("GET", echo.url + "/echo")
    assert len(resp.json()["headers"]["X-Request-Id"]) >= 16


# -- secrets stay out of messages and logs -------------------------------------------------------------
def _assert_no_secret(text: str) -> None:
    assert SECRET_KEY not in text
    assert SECRET_HEADER not in text


def test_secrets_in_the_url_and_headers_reach_the_vendor(client, echo):
    resp = client.send("GET", echo.url + "/echo", params={"api_key": SECRET_KEY},
                       headers={"X-Apikey": SECRET_HEADER})
    assert resp.json()["headers"]["X-Apikey"] == SECRET_HEADER
    assert SECRET_KEY in resp.json()["query"]


def test_logs_of_a_successful_call_hold_no_secret(client, echo, caplog):
    caplog.set_level(logging.DEBUG)
    client.send("GET", echo.url + "/echo", params={"api_key": SECRET_KEY, "app_key": "demo-app"},
                headers={"X-Apikey": SECRET_HEADER})
    assert caplog.records, "the client logs each call"
    for record in caplog.records:
        _assert_no_secret(record.getMessage())


def test_timeout_message_and_logs_hold_no_secret(client, echo, caplog):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(UpstreamTimeout) as err:
        client.send("POST", echo.url + "/slow", params={"api_key": SECRET_KEY}, headers={"X-Apikey": SECRET_HEADER})
    _assert_no_secret(str(err.value))
    _assert_no_secret(repr(err.value))
    # The client is told which call failed, not where the vendor lives nor what the query held.
    assert str(err.value).startswith("the vendor POST /slow:")
    assert "127.0.0.1" not in str(err.value) and "api_key" not in str(err.value)
    for record in caplog.records:
        _assert_no_secret(record.getMessage())


def test_retried_failure_message_and_logs_hold_no_secret(client, sandbox_url, caplog):
    caplog.set_level(logging.DEBUG)
    add_fault(sandbox_url, path="/v1/record", method="GET", drop=True)
    with pytest.raises(UpstreamError) as err:
        client.send("GET", sandbox_url + "/v1/record", params={"api_key": SECRET_KEY, "uuid": "demo-record"},
                    headers={"X-Apikey": SECRET_HEADER})
    _assert_no_secret(str(err.value))
    for record in caplog.records:
        _assert_no_secret(record.getMessage())


def test_refused_connection_message_holds_no_secret(client, caplog):
    caplog.set_level(logging.DEBUG)
    url = f"http://user:{SECRET_KEY}@127.0.0.1:{free_port()}/v1/record"
    with pytest.raises(UpstreamUnavailable) as err:
        client.send("GET", url, params={"api_key": SECRET_KEY}, headers={"X-Apikey": SECRET_HEADER})
    _assert_no_secret(str(err.value))
    for record in caplog.records:
        _assert_no_secret(record.getMessage())


# -- rate-limit awareness -------------------------------------------------------------------------------
def test_spent_window_raises_rate_limited_without_calling_again(client, echo):
    headers = {"X-Apikey": "key-one"}
    first = client.send("GET", echo.url + "/spent", headers=headers)
    assert first.status_code == 200
    assert echo.echo.calls == 1
    with pytest.raises(RateLimited) as err:
        client.send("GET", echo.url + "/echo", headers=headers)
    assert echo.echo.calls == 1  # not sent
    assert err.value.retry_after is not None and 25 <= err.value.retry_after <= 30
    # Another credential has its own window.
    assert client.send("GET", echo.url + "/echo", headers={"X-Apikey": "key-two"}).status_code == 200
    assert echo.echo.calls == 2


def test_spent_window_counts_url_api_key_as_the_same_credential(client, echo):
    client.send("GET", echo.url + "/spent", params={"api_key": "key-three"})
    with pytest.raises(RateLimited):
        client.send("GET", echo.url + "/echo", headers={"X-Apikey": "key-three"})
    assert echo.echo.calls == 1


def test_sandbox_rate_limit_is_respected_before_sending(client, sandbox_url):
    # A token of its own: the sandbox counts per credential, and the session's gateway may still be
    # delivering a previous test's work with the demo API key, which would spend a shared window.
    token = requests.get(sandbox_url + "/v1/checkauthentication", headers=DEMO_OAUTH, timeout=5).json()
    requests.patch(sandbox_url + "/_sandbox/config", json={"rate_limit": 2}, timeout=5).raise_for_status()
    headers = {"Authorization": "Bearer " + token["resource"]["access_token"], "X-Uuid": "demo-record"}
    remaining = []
    for _ in range(2):
        resp = client.send("GET", sandbox_url + "/v1/record", headers=headers)
        assert resp.status_code == 200
        remaining.append(resp.headers["X-RateLimit-Remaining"])
    assert remaining == ["1", "0"]
    with pytest.raises(RateLimited) as err:
        client.send("GET", sandbox_url + "/v1/record", headers=headers)
    # Raised by the client itself (the vendor's own 429 says "Too many requests.").
    assert "spent" in str(err.value)
    assert err.value.retry_after and err.value.retry_after > 0
    # The vendor would indeed refuse it: the window really is spent on its side too.
    probe = requests.get(sandbox_url + "/v1/record", headers=headers, timeout=5)
    assert probe.status_code == 429
