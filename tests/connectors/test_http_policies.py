"""The HTTP client's policies per vendor, over real HTTP to the sandbox and a local echo app:
one deadline per client request, retries counted per attempt, idempotency-marked writes retried,
a bulkhead per vendor and a circuit breaker per vendor (its state shared through Redis when set)."""

from __future__ import annotations

import threading
import time

import pytest
import requests
from support import DEMO_HEADERS, add_fault, free_port

from gateway.config import Settings
from gateway.errors import CircuitOpen, UpstreamTimeout, UpstreamUnavailable, VendorBusy
from gateway.http import HttpClient, deadline_var
from gateway.metrics import UPSTREAM
from gateway.server import serve_in_thread


def _client(**kw) -> HttpClient:
    base = {"http_retries": 2, "http_backoff": 0.01, "http_connect_timeout": 0.5, "http_read_timeout": 1.0,
            "http_max_retry_after": 2.0}
    base.update(kw)
    return HttpClient(Settings(**base))


def _attempts(vendor: str, method: str, outcome: str) -> float:
    return UPSTREAM.labels(vendor, method, outcome)._value.get()


class _Counting:
    """Answers 200 after ``delay`` seconds; counts calls and the most in flight at once."""

    def __init__(self, delay: float = 0.0, status: str = "200 OK"):
        self.delay, self.status = delay, status
        self.calls = self.inflight = self.peak = 0
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            self.calls += 1
            self.inflight += 1
            self.peak = max(self.peak, self.inflight)
        try:
            time.sleep(self.delay)
        finally:
            with self.lock:
                self.inflight -= 1
        start_response(self.status, [("Content-Type", "application/json"), ("Content-Length", "2")])
        return [b"{}"]


@pytest.fixture
def served():
    servers = []

    def serve(app):
        server = serve_in_thread(app)
        servers.append(server)
        return server.url

    yield serve
    for server in servers:
        server.shutdown()


# -- one deadline per client request -------------------------------------------------------------
def test_a_slow_vendor_costs_at_most_the_deadline_not_retries_times_the_read_timeout(sandbox_url):
    add_fault(sandbox_url, path="/v1/record*", method="GET", latency_ms=5000)
    client = _client(http_read_timeout=2.0, http_retries=2)  # without a deadline: 3 attempts x 2 s
    token = deadline_var.set(time.monotonic() + 1.0)
    started = time.perf_counter()
    try:
        with pytest.raises(UpstreamTimeout):
            client.send("GET", sandbox_url + "/v1/record", headers={**DEMO_HEADERS, "X-Uuid": "demo-record"},
                        vendor="flowize")
    finally:
        deadline_var.reset(token)
    assert time.perf_counter() - started < 1.4


def test_a_spent_deadline_sends_nothing(served):
    app = _Counting()
    url = served(app)
    token = deadline_var.set(time.monotonic() - 1)
    try:
        with pytest.raises(UpstreamTimeout) as err:
            _client().send("GET", url + "/x", vendor="flowbox")
    finally:
        deadline_var.reset(token)
    assert app.calls == 0 and "deadline" in str(err.value)


# -- retries, counted per attempt --------------------------------------------------------------------
def test_every_attempt_is_counted_in_the_metrics(sandbox_url):
    add_fault(sandbox_url, path="/v1/record", method="GET", status=503, times=2)
    before = _attempts("flowize", "GET", "503"), _attempts("flowize", "GET", "200")
    resp = _client().send("GET", sandbox_url + "/v1/record", headers={**DEMO_HEADERS, "X-Uuid": "demo-record"},
                          vendor="flowize")
    assert resp.status_code == 200
    assert _attempts("flowize", "GET", "503") - before[0] == 2
    assert _attempts("flowize", "GET", "200") - before[1] == 1


def test_a_write_marked_as_deduplicated_is_retried_and_written_once(sandbox_url):
    add_fault(sandbox_url, path="/v1/record", method="POST", status=503, times=1)
    headers = {**DEMO_HEADERS, "X-Flow": "demo-flow", "X-Uuid": "retried-once", "Content-Type": "application/json"}
    resp = _client().send("POST", sandbox_url + "/v1/record", headers=headers, data='{"a": 1}', retry=True,
                          vendor="flowize")
    assert resp.status_code == 201
    assert resp.json()["resource"]["uuid"] == "retried-once"


def test_a_refused_connection_is_retried_even_for_a_post(served):
    """Nothing was sent, so repeating is safe whatever the method; it still fails in the end."""
    port = free_port()
    before = _attempts(f"127.0.0.1:{port}", "POST", "UpstreamUnavailable")
    with pytest.raises(UpstreamUnavailable):
        _client(http_retries=2).send("POST", f"http://127.0.0.1:{port}/x", data="{}")
    assert _attempts(f"127.0.0.1:{port}", "POST", "UpstreamUnavailable") - before == 3


# -- bulkhead ------------------------------------------------------------------------------------------
def test_the_bulkhead_caps_calls_in_flight_to_one_vendor_and_leaves_the_others_alone(served):
    slow, fast = _Counting(delay=1.5), _Counting()
    slow_url, fast_url = served(slow), served(fast)
    client = _client(vendor_max_inflight=3, vendor_busy_wait=0.05, http_read_timeout=3.0)
    outcomes: list[str] = []

    def call() -> None:
        try:
            client.send("GET", slow_url + "/x", vendor="flowcode")
            outcomes.append("ok")
        except VendorBusy as exc:
            assert exc.retry_after and exc.status == 503
            outcomes.append("busy")

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    started = time.perf_counter()
    assert client.send("GET", fast_url + "/x", vendor="flowbox").status_code == 200
    assert time.perf_counter() - started < 1.0  # another vendor is not held up behind the 1.5 s calls
    for t in threads:
        t.join()
    assert slow.peak == 3
    assert sorted(outcomes) == ["busy"] * 5 + ["ok"] * 3


# -- circuit breaker -----------------------------------------------------------------------------------
def test_the_circuit_opens_after_failures_fails_fast_then_a_probe_closes_it(served):
    app = _Counting(status="503 Service Unavailable")
    url = served(app)
    client = _client(http_retries=0, breaker_fail_max=3, breaker_reset_timeout=0.5)
    for _ in range(3):
        assert client.send("GET", url + "/x", vendor="exaroutes").status_code == 503
    assert client.circuits(("exaroutes",)) == {"exaroutes": "open"}
    started = time.perf_counter()
    with pytest.raises(CircuitOpen) as err:
        client.send("GET", url + "/x", vendor="exaroutes")
    assert time.perf_counter() - started < 0.25 and app.calls == 3  # not sent, nor waited for the 0.5 s reset
    assert err.value.status == 503 and 0 < err.value.retry_after <= 1
    assert "127.0.0.1" not in str(err.value)
    time.sleep(0.6)
    app.status = "200 OK"
    assert client.send("GET", url + "/x", vendor="exaroutes").status_code == 200  # the half-open probe
    assert client.circuits(("exaroutes",)) == {"exaroutes": "closed"}


def test_client_errors_do_not_open_the_circuit(served):
    url = served(_Counting(status="404 Not Found"))
    client = _client(http_retries=0, breaker_fail_max=2)
    for _ in range(5):
        assert client.send("GET", url + "/x", vendor="flowcode").status_code == 404
    assert client.circuits(("flowcode",)) == {"flowcode": "closed"}


def test_the_circuit_state_is_shared_between_processes_through_redis(served, redis_url):
    app = _Counting(status="502 Bad Gateway")
    url = served(app)
    import redis

    for key in redis.Redis.from_url(redis_url).scan_iter("flowgate:circuit:flowbox*"):
        redis.Redis.from_url(redis_url).delete(key)
    one = _client(http_retries=0, breaker_fail_max=2, breaker_reset_timeout=30, redis_url=redis_url)
    other = _client(http_retries=0, breaker_fail_max=2, breaker_reset_timeout=30, redis_url=redis_url)
    for _ in range(2):
        one.send("GET", url + "/x", vendor="flowbox")
    with pytest.raises(CircuitOpen):
        other.send("GET", url + "/x", vendor="flowbox")  # opened by `one`
    assert app.calls == 2
    for key in redis.Redis.from_url(redis_url).scan_iter("flowgate:circuit:flowbox*"):
        redis.Redis.from_url(redis_url).delete(key)


def test_per_vendor_overrides_apply_to_that_vendor_only(served):
    app = _Counting(status="503 Service Unavailable")
    url = served(app)
    client = _client(http_retries=0, vendor_policies="flowcode.retries=2", breaker_fail_max=100)
    client.send("GET", url + "/x", vendor="flowcode")
    assert app.calls == 3
    client.send("GET", url + "/x", vendor="flowbox")
    assert app.calls == 4


def test_a_bad_vendor_policy_is_a_clear_settings_error():
    from gateway.config import SettingsError

    with pytest.raises(SettingsError, match="GATEWAY_VENDOR_POLICIES"):
        Settings(vendor_policies="flowcod.retries=2").validate()
    with pytest.raises(SettingsError, match="number"):
        Settings(vendor_policies="flowcode.retries=many").validate()


def test_requests_is_the_transport_and_urllib3_makes_one_attempt(served):
    app = _Counting(status="503 Service Unavailable")
    url = served(app)
    resp = _client(http_retries=0).send("GET", url + "/x", vendor="flowbox")
    assert isinstance(resp, requests.Response) and app.calls == 1


def test_a_failure_says_whether_the_vendor_may_have_got_the_request(served):
    """A write that failed may be retried blindly only if no attempt reached the vendor."""
    app = _Counting(delay=0.5)
    url = served(app)
    client = _client(http_retries=2, http_read_timeout=0.2, breaker_fail_max=1, breaker_reset_timeout=30)
    with pytest.raises(CircuitOpen) as late:
        client.send("POST", url + "/x", data="{}", retry=True, vendor="flowize")  # timed out, then the circuit
    assert late.value.never_sent is False and app.calls == 1
    with pytest.raises(CircuitOpen) as fresh:
        client.send("POST", url + "/x", data="{}", retry=True, vendor="flowize")
    assert fresh.value.never_sent is True and app.calls == 1
    with pytest.raises(UpstreamUnavailable) as refused:
        _client(http_retries=1).send("POST", f"http://127.0.0.1:{free_port()}/x", data="{}")
    assert refused.value.never_sent is True
