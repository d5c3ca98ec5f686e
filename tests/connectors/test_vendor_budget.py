"""Each vendor's request budget, spent by every call from every process (gateway/budget.py)."""

from __future__ import annotations

import time
import uuid

import pytest

from gateway.budget import VendorBudget
from gateway.config import Settings
from gateway.errors import RateLimited
from gateway.http import HttpClient, deadline_var


def call(http: HttpClient, sandbox_url: str, vendor: str = "flowcode") -> int:
    return http.send("GET", sandbox_url + "/_sandbox/health", vendor=vendor).status_code


def test_a_gateway_call_waits_for_the_budget_to_refill(sandbox_url):
    http = HttpClient(Settings(http_retries=0, flowcode_rate_limit="2/second"))
    started = time.monotonic()
    assert [call(http, sandbox_url) for _ in range(3)] == [200, 200, 200]
    assert time.monotonic() - started >= 0.8   # the third waited for the window to move on


def test_a_worker_call_is_told_when_to_come_back_instead(sandbox_url):
    http = HttpClient(Settings(http_retries=0, exaroutes_rate_limit="2/minute"), budget_wait=0)
    assert [call(http, sandbox_url, "exaroutes") for _ in range(2)] == [200, 200]
    with pytest.raises(RateLimited) as spent:
        call(http, sandbox_url, "exaroutes")
    assert 1 <= spent.value.retry_after <= 60
    assert "The request budget for ExaRoutes (2/minute) is spent" in spent.value.message
    assert call(http, sandbox_url, "flowize") == 200   # a vendor without a budget is not held back


def test_a_wait_longer_than_the_deadline_allows_answers_429_at_once(sandbox_url):
    http = HttpClient(Settings(http_retries=0, flowcode_rate_limit="1/minute"))
    call(http, sandbox_url)
    token = deadline_var.set(time.monotonic() + 2)
    try:
        started = time.monotonic()
        with pytest.raises(RateLimited):
            call(http, sandbox_url)
        assert time.monotonic() - started < 1.5  # not the 2 s the deadline would allow
    finally:
        deadline_var.reset(token)


def test_processes_sharing_redis_share_one_budget(sandbox_url, redis_url):
    # A vendor name of its own, so that reruns and other tests do not spend this budget.
    vendor = f"budget-test-{uuid.uuid4().hex}"
    settings = Settings(http_retries=0, redis_url=redis_url)
    first, second = HttpClient(settings, budget_wait=0), HttpClient(settings, budget_wait=0)
    first.budget = VendorBudget(redis_url, {vendor: "3/minute"})
    second.budget = VendorBudget(redis_url, {vendor: "3/minute"})
    outcomes = []
    for http in (first, second, first, second):
        try:
            outcomes.append(call(http, sandbox_url, vendor))
        except RateLimited:
            outcomes.append(429)
    assert outcomes == [200, 200, 200, 429]


def test_an_unreachable_budget_store_does_not_stop_vendor_calls(sandbox_url):
    http = HttpClient(Settings(http_retries=0, flowcode_rate_limit="1/minute", redis_url="redis://127.0.0.1:1/0"),
                      budget_wait=0)
    assert [call(http, sandbox_url) for _ in range(3)] == [200, 200, 200]
