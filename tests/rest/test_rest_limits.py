"""REST front door: per-consumer rate limits, X-RateLimit-* headers and the documented 429."""

from __future__ import annotations

import pytest
from support import DEMO_HEADERS

RECORD = "/v1/record/demo-record"
TOO_MANY = {"resource": [], "error": {"code": 429, "message": "Too many requests."}}


def test_headers_count_down_then_429(http, gateway_factory):
    gw = gateway_factory(rest_rate_limit="3/minute")
    seen = []
    for _ in range(3):
        resp = http.get(gw.url + RECORD, headers=DEMO_HEADERS, timeout=10)
        assert resp.status_code == 200
        assert resp.headers["X-RateLimit-Limit"] == "3"
        assert 0 < int(resp.headers["X-RateLimit-Reset"]) <= 60
        seen.append(int(resp.headers["X-RateLimit-Remaining"]))
    assert seen == [2, 1, 0]
    limited = http.get(gw.url + RECORD, headers=DEMO_HEADERS, timeout=10)
    assert limited.status_code == 429 and limited.json() == TOO_MANY
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["X-RateLimit-Remaining"] == "0"


def test_limits_are_per_credential_and_options_do_not_count(http, gateway_factory):
    gw = gateway_factory(rest_rate_limit="2/minute")
    for _ in range(2):
        http.get(gw.url + RECORD, headers=DEMO_HEADERS, timeout=10)
    assert http.get(gw.url + RECORD, headers=DEMO_HEADERS, timeout=10).status_code == 429
    other = http.get(gw.url + RECORD, params={"api_key": "demo-api-key", "app_key": "demo-app"}, timeout=10)
    assert other.status_code == 200 and other.headers["X-RateLimit-Remaining"] == "1"
    anonymous = http.options(gw.url + "/v1/options", timeout=10)
    assert anonymous.status_code == 200 and anonymous.headers["X-RateLimit-Remaining"] == "2"
    # errors carry the headers too
    unknown = http.get(gw.url + "/v1/unknown", timeout=10)
    assert unknown.status_code == 404 and "X-RateLimit-Limit" in unknown.headers


def test_limits_shared_through_redis(http, gateway_factory, redis_url):
    """At scale: two gateway processes with one Redis count together."""
    from limits.storage import storage_from_string

    storage_from_string(redis_url).reset()
    first = gateway_factory(rest_rate_limit="3/minute", rest_rate_limit_storage=redis_url)
    second = gateway_factory(rest_rate_limit="3/minute", rest_rate_limit_storage=redis_url)
    remaining = [http.get(gw.url + RECORD, headers=DEMO_HEADERS, timeout=10).headers["X-RateLimit-Remaining"]
                 for gw in (first, second, first)]
    assert remaining == ["2", "1", "0"]
    assert http.get(second.url + RECORD, headers=DEMO_HEADERS, timeout=10).status_code == 429
    storage_from_string(redis_url).reset()


@pytest.mark.parametrize("bad", ["often", "0/nothing"])
def test_bad_rate_limit_setting_is_refused(bad):
    from gateway.config import Settings, SettingsError

    with pytest.raises(SettingsError, match="GATEWAY_REST_RATE_LIMIT"):
        Settings(rest_rate_limit=bad).validate()
