"""FlowcodeConnector over real HTTP against the sandbox: every endpoint, the <= 50 / > 50 bulk switch
and the task poll, vendor errors mapped to the exception tree, retries only where safe, and injected
faults (timeouts, 429 with Retry-After, dropped connections)."""

from __future__ import annotations

import io
import time

import pytest
import requests
import zxingcpp
from PIL import Image
from support import add_fault

from gateway.config import Settings
from gateway.connectors.flowcode import FlowcodeConnector, destination
from gateway.errors import (
    AuthError,
    Conflict,
    InvalidRequest,
    NotFound,
    RateLimited,
    RequestFailed,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.http import HttpClient

KEY = "demo-flowcode-key"
STUDIO = "00000000-0000-0000-0000-000000000001"




@pytest.fixture
def connector(http, sandbox_url, slept):
    return FlowcodeConnector(http, sandbox_url, KEY, sleep=slept.append)



def hits(sandbox_url: str, rule_id: int) -> int:
    rules = requests.get(sandbox_url + "/_sandbox/faults", timeout=5).json()["faults"]
    return next((r["hits"] for r in rules if r["id"] == rule_id), -1)


def knob(sandbox_url: str, seconds: float) -> None:
    requests.patch(sandbox_url + "/_sandbox/flowcode", json={"task_seconds": seconds}, timeout=5).raise_for_status()


def code(name: str | None = None, dest: dict | None = None, **extra) -> dict:
    body = {"destination": dest or destination("URL", url="https://mysite.com"), "studio_config_id": STUDIO,
            "folder_id": 1, **extra}
    if name:
        body["code_name"] = name
    return body


def decode(data: bytes) -> list[str]:
    with Image.open(io.BytesIO(data)) as image:
        return [r.text for r in zxingcpp.read_barcodes(image.convert("L"))]


# -- endpoints ---------------------------------------------------------------------------------------
def test_create_get_update_and_image_round_trip(connector):
    created = connector.create_code(code("c1", destination("EMAIL", email_address="a@example.com", subject="hi")))
    assert created["scan_destination"] == "mailto:a@example.com?subject=hi"
    assert connector.get_code(created["id"]) == created
    updated = connector.update_destination(created["id"], destination("SMS", phone_number="1234567890", body="yo"))
    assert updated["scan_destination"] == "sms:1234567890;?&body=yo"
    png, ctype = connector.code_image(created["id"])
    assert ctype == "image/png" and decode(png) == ["sms:1234567890;?&body=yo"]
    jpg, ctype = connector.code_image(created["id"], "JPG")
    assert ctype == "image/jpeg" and decode(jpg) == ["sms:1234567890;?&body=yo"]


def test_from_settings_uses_the_configured_base_url_and_key(http, sandbox_url):
    connector = FlowcodeConnector.from_settings(http, Settings(flowcode_base_url=sandbox_url))
    assert connector.create_code(code())["file_type"] == "PNG"
    assert KEY not in repr(connector)


def test_bulk_of_50_or_less_returns_the_codes_at_once(connector):
    created = connector.bulk_create([code(f"b{i}") for i in range(50)])
    assert not created.is_async and created.status == 201 and len(created.codes) == 50


def test_bulk_over_50_returns_a_task_and_create_codes_waits_for_it(connector, sandbox_url, slept):
    knob(sandbox_url, 0)
    created = connector.bulk_create([code(f"a{i}") for i in range(51)])
    assert created.is_async and created.status == 202 and created.task_id
    assert connector.bulk_status(created.task_id)["status"] == "SUCCESS"
    codes = connector.create_codes([code(f"w{i}") for i in range(60)], interval=0.01)
    assert [c["code_name"] for c in codes] == [f"w{i}" for i in range(60)]


def test_wait_for_bulk_polls_on_the_interval_until_success(http, sandbox_url):
    knob(sandbox_url, 0.3)
    waits: list[float] = []
    connector = FlowcodeConnector(http, sandbox_url, KEY, sleep=lambda s: (waits.append(s), time.sleep(s)))
    task_id = connector.bulk_create([code(f"p{i}") for i in range(51)]).task_id
    status = connector.wait_for_bulk(task_id, interval=0.1)
    assert status["status"] == "SUCCESS" and len(status["codes"]) == 51
    assert waits and set(waits) == {0.1}


def test_a_failed_bulk_task_raises_request_failed_with_the_vendor_message(connector, sandbox_url):
    knob(sandbox_url, 0)
    payloads = [code(f"f{i}") for i in range(51)]
    payloads[7]["destination"] = destination("PHONE", phone_number="nope")
    with pytest.raises(RequestFailed) as err:
        connector.create_codes(payloads, interval=0)
    assert "[7].destination.redirect_value.phone_number" in err.value.message
    assert err.value.detail["status"] == "FAILURE"


def test_wait_for_bulk_gives_up_after_max_wait(connector, sandbox_url, slept):
    knob(sandbox_url, 60)
    task_id = connector.bulk_create([code(f"t{i}") for i in range(51)]).task_id
    with pytest.raises(UpstreamTimeout):
        connector.wait_for_bulk(task_id, interval=10, max_wait=30)
    assert slept == [10, 10, 10]


# -- vendor errors -> the exception tree ---------------------------------------------------------------
def test_vendor_errors_become_the_exception_tree(connector, http, sandbox_url):
    with pytest.raises(InvalidRequest) as err:
        connector.create_code(code(dest=destination("WIFI", ssid="x", security="WPA")))
    assert "hidden" in err.value.message and err.value.detail[0]["field"] == "destination.redirect_value.hidden"
    connector.create_code(code("same"))
    with pytest.raises(Conflict):
        connector.create_code(code("same"))
    with pytest.raises(NotFound):
        connector.get_code("no-such-code")
    with pytest.raises(NotFound):
        connector.bulk_status("no-such-task")
    with pytest.raises(InvalidRequest):
        connector.bulk_create([])
    with pytest.raises(AuthError) as err:
        FlowcodeConnector(http, sandbox_url, "wrong-secret-key").get_code("x")
    assert "wrong-secret-key" not in str(err.value) and err.value.status == 401


def test_a_non_json_answer_is_an_upstream_error():
    resp = requests.Response()
    resp.status_code, resp._content = 200, b"<html>a proxy page</html>"
    with pytest.raises(UpstreamError):
        FlowcodeConnector._json(resp)


# -- faults: retries only where safe -------------------------------------------------------------------
def test_429_with_retry_after_on_create_is_rate_limited_and_not_replayed(connector, sandbox_url):
    rule = add_fault(sandbox_url, path="/v4/codes", method="POST", status=429, retry_after=7)
    with pytest.raises(RateLimited) as err:
        connector.create_code(code())
    assert err.value.retry_after == 7.0
    assert hits(sandbox_url, rule) == 1


def test_429_with_a_short_retry_after_on_a_read_is_waited_out(connector, sandbox_url):
    created = connector.create_code(code())
    rule = add_fault(sandbox_url, path=f"/v4/codes/{created['id']}", method="GET", status=429, retry_after=0, times=1)
    assert connector.get_code(created["id"])["id"] == created["id"]
    assert hits(sandbox_url, rule) == -1  # the rule was used up: the client's retry got through


def test_dropped_connection_on_create_is_unavailable_and_not_replayed(connector, sandbox_url):
    rule = add_fault(sandbox_url, path="/v4/codes/bulk", method="POST", drop=True)
    with pytest.raises(UpstreamUnavailable):
        connector.bulk_create([code()])
    assert hits(sandbox_url, rule) == 1


def test_dropped_connection_on_update_is_retried_since_it_is_idempotent(connector, sandbox_url):
    created = connector.create_code(code())
    add_fault(sandbox_url, path=f"/v4/codes/{created['id']}", method="PATCH", drop=True, times=1)
    updated = connector.update_destination(created["id"], destination("PHONE", phone_number="5551234"))
    assert updated["scan_destination"] == "tel:5551234"


def test_a_slow_vendor_times_out(sandbox_url):
    client = HttpClient(Settings(http_retries=0, http_read_timeout=0.2))
    add_fault(sandbox_url, path="/v4/codes/bulk/*", latency_ms=400)
    with pytest.raises(UpstreamTimeout):
        FlowcodeConnector(client, sandbox_url, KEY).bulk_status("any")
    client.close()


def test_transient_errors_while_polling_are_waited_out(connector, sandbox_url, slept):
    knob(sandbox_url, 0)
    task_id = connector.bulk_create([code(f"s{i}") for i in range(51)]).task_id
    add_fault(sandbox_url, path=f"/v4/codes/bulk/{task_id}/status", status=503, times=4)
    assert connector.wait_for_bulk(task_id, interval=1)["status"] == "SUCCESS"
    assert slept  # at least one poll failed even after the client's own retry


def test_server_errors_keep_the_vendor_message_but_never_the_key(connector, sandbox_url):
    add_fault(sandbox_url, path="/v4/codes", method="POST", status=502)
    with pytest.raises(UpstreamError) as err:
        connector.create_code(code())
    assert err.value.status == 502 and "Bad Gateway" in err.value.message and KEY not in err.value.message
