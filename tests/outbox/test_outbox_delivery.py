"""Writes accepted while Flowize is down are queued, answered 202, and delivered by a real worker once
it is back: exactly once as the vendor sees it, in order per record."""

from __future__ import annotations

import base64
import json
import re
import time

import requests
from outbox.conftest import (
    API,
    entry,
    new_uuid,
    outage,
    record_count,
    records_with,
    recover,
    rest_insert,
    rest_update,
    soap_insert,
    soap_update,
    wait_until,
)
from support import add_fault


def _entry_id(message: str) -> int:
    found = re.search(r"outbox entry (\d+)", message)
    assert found, message
    return int(found.group(1))


def test_outage_answers_soap_202_and_rest_202_then_the_worker_delivers_each_write_once(
        outbox_gateway, outbox_worker, sandbox_url, vendor_db):
    url = outbox_gateway.url
    down = outage(sandbox_url, method="POST")
    soap_data, rest_data = {"client": [{"name": "Soap Queued"}]}, {"client": [{"name": "Rest Queued"}]}

    reply = soap_insert(url, soap_data)
    assert reply.status == 200
    result = reply.result()
    assert result["Code"] == "202" and result["Id"] == "accepted" and result["Error"] == "null", result
    assert result["Message"].startswith("Accepted: Flowize is unavailable; the write is queued for delivery")
    assert json.loads(base64.b64decode(result["Resource"])) == soap_data
    soap_uuid = re.search(r"record Uuid ([0-9a-f-]{36})", result["Message"]).group(1)
    soap_entry = _entry_id(result["Message"])

    resp = rest_insert(url, rest_data)
    assert resp.status_code == 202, resp.text
    body = resp.json()["resource"]
    assert body["state"] == "pending" and body["operation"] == "insertRecord" and body["outbox_id"] > soap_entry
    rest_uuid, rest_entry = body["uuid"], body["outbox_id"]
    assert record_count(vendor_db, soap_uuid) == 0 and record_count(vendor_db, rest_uuid) == 0

    # The worker tries while Flowize is still down: the entries stay pending, their attempts counted.
    outbox_worker.start()
    wait_until(lambda: [e["action"] for e in entry(url, rest_entry)["events"]].count("attempt_failed") >= 2,
               what="delivery attempts during the outage")
    pending = entry(url, soap_entry)
    assert pending["state"] in ("pending", "delivering") and pending["attempts"] >= 1, pending
    assert "503" in pending["events"][1]["detail"], pending["events"]

    recover(sandbox_url, down)
    recovered = time.monotonic()
    wait_until(lambda: entry(url, soap_entry)["state"] == entry(url, rest_entry)["state"] == "delivered",
               what="delivery after recovery")
    delay = time.monotonic() - recovered
    print(f"\noutbox: delivered {delay:.2f} s after recovery")
    assert delay < 5, f"delivered {delay:.1f} s after recovery"
    for uuid, data in ((soap_uuid, soap_data), (rest_uuid, rest_data)):
        rows = records_with(vendor_db, uuid)
        assert len(rows) == 1 and json.loads(rows[0]["data"]) == data
    trail = [e["action"] for e in entry(url, rest_entry)["events"]]
    assert trail[0] == "queued" and trail[-1] == "delivered" and "attempt_failed" in trail
    # and the live path works again: nothing is left for the record, so no queueing
    assert rest_update(url, rest_uuid, {"v": 2}).status_code == 200


def test_writes_of_one_record_are_delivered_in_order(outbox_gateway, outbox_worker, sandbox_url, vendor_db):
    url = outbox_gateway.url
    uuid = new_uuid("order")
    down = outage(sandbox_url)
    first = rest_insert(url, {"v": 1}, uuid)
    assert first.status_code == 202, first.text
    second = soap_update(url, uuid, {"v": 2}).result()
    assert second["Code"] == "202", second
    # Flowize is back, but earlier writes of the record wait: this one must not overtake them.
    recover(sandbox_url, down)
    third = rest_update(url, uuid, {"v": 3})
    assert third.status_code == 202, third.text
    assert third.json()["message"].startswith("Accepted: earlier writes of this record are waiting")
    assert record_count(vendor_db, uuid) == 0
    outbox_worker.start()
    ids = [first.json()["resource"]["outbox_id"], _entry_id(second["Message"]), third.json()["resource"]["outbox_id"]]
    wait_until(lambda: all(entry(url, i)["state"] == "delivered" for i in ids), what="all three delivered")
    rows = records_with(vendor_db, uuid)
    assert len(rows) == 1 and json.loads(rows[0]["data"]) == {"v": 3}
    delivered_at = [entry(url, i)["delivered_at"] for i in ids]
    assert delivered_at == sorted(delivered_at)


def test_a_timed_out_insert_is_queued_and_made_once(gateway_factory, sandbox_url, vendor_db, tmp_path):
    from jobs.conftest import Worker
    from outbox.conftest import OUTBOX_SETTINGS, WORKER_ENV, services

    gateway = gateway_factory(**{**OUTBOX_SETTINGS, "http_read_timeout": 0.3})
    url = gateway.url
    # Flowize writes the records, but only after the gateway stopped waiting for its answers.
    add_fault(sandbox_url, path="/v1/record", method="POST", latency_ms=900, times=2)
    generated = soap_insert(url, {"who": "generated"}).result()
    own_uuid = new_uuid("timeout")
    own = rest_insert(url, {"who": "own"}, own_uuid)
    assert generated["Code"] == "202" and "UpstreamTimeout" not in generated["Message"], generated
    assert own.status_code == 202, own.text
    gen_uuid = re.search(r"record Uuid ([0-9a-f-]{36})", generated["Message"]).group(1)
    # The late writes land at the vendor ...
    wait_until(lambda: record_count(vendor_db, gen_uuid) == record_count(vendor_db, own_uuid) == 1,
               what="the late writes")
    # ... and the deliveries, with the same X-Uuid, find them there: made once, counted delivered.
    worker = Worker(services(gateway).settings.data_dir, sandbox_url, tmp_path / "w.log", **WORKER_ENV)
    worker.start()
    try:
        ids = [_entry_id(generated["Message"]), own.json()["resource"]["outbox_id"]]
        wait_until(lambda: all(entry(url, i)["state"] == "delivered" for i in ids), what="delivery")
    finally:
        worker.stop()
    assert record_count(vendor_db, gen_uuid) == record_count(vendor_db, own_uuid) == 1
    details = [entry(url, i)["events"][-1]["detail"] for i in ids]
    assert "already had the record" in details[0] and "with this data" in details[1], details


def test_webhooks_are_queued_on_5xx_answered_202_and_delivered_once(outbox_gateway, outbox_worker, sandbox_url,
                                                                    vendor_db):
    from outbox.conftest import soap

    url = outbox_gateway.url
    down = outage(sandbox_url, path="/v1/webhook/*", status=500)
    marker = new_uuid("hook")
    reply = soap(url, "webhook", f"<Uri>demo-webhook</Uri><Payload>{json.dumps({'m': marker, 'via': 'soap'})}"
                                 "</Payload>", auth=False)
    # Queued: a plain Response with Code 202, not the "saved" Fault with code 201 of a stored webhook.
    result = reply.result()
    assert result["Code"] == "202" and result["Id"] == "accepted", result
    rest = requests.post(url + "/v1/webhook/demo-webhook", json={"m": marker, "via": "rest"}, timeout=10)
    assert rest.status_code == 202 and rest.json()["resource"]["outbox_id"], rest.text
    listed = requests.get(url + "/api/outbox", headers=API, timeout=10)
    assert "demo-webhook" not in listed.text   # the uri is the webhook's secret
    recover(sandbox_url, down)
    outbox_worker.start()

    def stored_hooks() -> list[dict]:
        return vendor_db.all("SELECT payload FROM fz_webhook_data WHERE payload LIKE ?", (f"%{marker}%",))

    wait_until(lambda: len(stored_hooks()) >= 2, what="both webhooks stored")
    stored = stored_hooks()
    assert sorted(json.loads(r["payload"])["via"] for r in stored) == ["rest", "soap"]
    time.sleep(1.0)   # nothing more arrives: each was delivered once
    assert len(stored_hooks()) == 2


def test_a_webhook_that_may_have_been_stored_is_not_queued(gateway_factory, sandbox_url, vendor_db):
    """No idempotency key for webhooks: after a timeout the gateway cannot know, so it says so."""
    from outbox.conftest import OUTBOX_SETTINGS

    gateway = gateway_factory(**{**OUTBOX_SETTINGS, "http_read_timeout": 0.3})
    add_fault(sandbox_url, path="/v1/webhook/*", method="POST", latency_ms=800, times=1)
    marker = new_uuid("late-hook")
    resp = requests.post(gateway.url + "/v1/webhook/demo-webhook", json={"m": marker}, timeout=10)
    assert resp.status_code == 504, resp.text
    assert requests.get(gateway.url + "/api/outbox", headers=API, timeout=10).json()["items"] == []
    wait_until(lambda: vendor_db.all("SELECT 1 FROM fz_webhook_data WHERE payload LIKE ?", (f"%{marker}%",)),
               what="the late webhook")


def test_a_webhook_whose_connection_was_refused_is_queued_and_delivered_once(gateway_factory, sandbox_url, vendor_db,
                                                                             tmp_path):
    """Refused: surely never sent, so safe to queue. The gateway points at a closed port; the worker
    at the real Flowize (as after a fix of the gateway's network, or Flowize back on its address)."""
    import socket

    from jobs.conftest import Worker
    from outbox.conftest import OUTBOX_SETTINGS, WORKER_ENV, services

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    gateway = gateway_factory(closed, **OUTBOX_SETTINGS)
    marker = new_uuid("refused-hook")
    resp = requests.post(gateway.url + "/v1/webhook/demo-webhook", json={"m": marker}, timeout=10)
    assert resp.status_code == 202, resp.text
    worker = Worker(services(gateway).settings.data_dir, sandbox_url, tmp_path / "w.log", **WORKER_ENV)
    worker.start()
    try:
        wait_until(lambda: entry(gateway.url, resp.json()["resource"]["outbox_id"])["state"] == "delivered",
                   what="delivery")
    finally:
        worker.stop()
    assert len(vendor_db.all("SELECT 1 FROM fz_webhook_data WHERE payload LIKE ?", (f"%{marker}%",))) == 1
