"""Flowize inserts carry an idempotency key (X-Uuid) made by the gateway when the client sent none: the
answer tells it, a retried POST cannot make a second record, and a lost answer is read back."""

from __future__ import annotations

import json
import re
import uuid as uuidlib

from outbox.conftest import new_uuid, record_count, records_with, rest_insert, soap_insert
from support import add_fault, free_port


def test_rest_insert_without_uuid_gets_one_from_the_gateway(gateway_url, vendor_db):
    resp = rest_insert(gateway_url, {"n": 1})
    assert resp.status_code == 201, resp.text
    made = resp.json()["resource"]["uuid"]
    assert uuidlib.UUID(made).version == 4
    assert record_count(vendor_db, made) == 1


def test_soap_insert_without_uuid_names_it_in_the_message(gateway_url, vendor_db):
    result = soap_insert(gateway_url, {"n": 2}).result()
    assert result["Code"] == "201" and result["Id"] == "created", result
    made = re.search(r"\(Uuid ([0-9a-f-]{36})\)$", result["Message"])
    assert made, result["Message"]
    assert json.loads(records_with(vendor_db, made.group(1))[0]["data"]) == {"n": 2}


def test_soap_insert_with_own_uuid_keeps_the_vendor_message(gateway_url):
    result = soap_insert(gateway_url, {"n": 3}, new_uuid("own")).result()
    assert result["Code"] == "201" and "Uuid" not in result["Message"], result


def _lossy(gateway_factory, sandbox_url):
    """A gateway that waits 0.4 s for an answer and retries once 0.6 s later, in front of a Flowize that
    writes the next record after 0.7 s: the first attempt's answer is lost, its write is not."""
    gateway = gateway_factory(http_read_timeout=0.4, vendor_policies="flowize.retries=1, flowize.backoff=0.6")
    add_fault(sandbox_url, path="/v1/record", method="POST", latency_ms=700, times=1)
    return gateway


def test_a_lost_answer_to_a_gateway_uuid_is_read_back_as_created(gateway_factory, sandbox_url, vendor_db):
    gateway = _lossy(gateway_factory, sandbox_url)
    resp = rest_insert(gateway.url, {"n": "lost answer"})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    made = body["resource"]["uuid"]
    assert body["resource"]["data_record"] == {"n": "lost answer"} and body["resource"]["flow_name"] == "demo-flow"
    assert record_count(vendor_db, made) == 1


def test_a_conflict_on_the_clients_own_uuid_stays_a_conflict(gateway_factory, sandbox_url, vendor_db):
    """The client chose the uuid: a 409 may be its own older record, so the gateway does not guess."""
    gateway = _lossy(gateway_factory, sandbox_url)
    own = new_uuid("own-conflict")
    resp = rest_insert(gateway.url, {"n": "own"}, own)
    assert resp.status_code == 409, resp.text
    assert record_count(vendor_db, own) == 1


def _uuid_in(message: str) -> str:
    found = re.search(r"Uuid (?:is )?([0-9a-f-]{36})", message)
    assert found, message
    return found.group(1)


def test_with_the_outbox_off_an_insert_that_never_left_says_nothing_was_written(gateway_factory, vendor_db):
    gateway = gateway_factory(upstream=f"http://127.0.0.1:{free_port()}")   # outbox off, nobody listens
    resp = rest_insert(gateway.url, {"n": "down"})
    assert resp.status_code == 503, resp.text
    message = resp.json()["error"]["message"]
    assert "Nothing was written." in message
    assert record_count(vendor_db, _uuid_in(message)) == 0


def test_with_the_outbox_off_a_refused_insert_says_it_may_have_been_made(gateway_factory, sandbox_url, vendor_db):
    """A 5xx answer does not prove nothing was written (an earlier attempt may still be carried out)."""
    gateway = gateway_factory()
    add_fault(sandbox_url, path="/v1/record", method="POST", status=503)
    resp = rest_insert(gateway.url, {"n": "refused"})
    assert resp.status_code == 502, resp.text
    message = resp.json()["error"]["message"]
    assert "may have been made" in message
    assert record_count(vendor_db, _uuid_in(message)) == 0


def test_with_the_outbox_off_a_write_that_failed_after_it_was_made_is_answered_as_made(
        gateway_factory, sandbox_url, vendor_db):
    gateway = gateway_factory()   # outbox off, no retries: the one attempt's answer is a 500
    add_fault(sandbox_url, path="/v1/record", method="POST", status=500, after=True)
    resp = rest_insert(gateway.url, {"n": "ghost"})
    assert resp.status_code == 201, resp.text
    assert record_count(vendor_db, resp.json()["resource"]["uuid"]) == 1


def test_with_the_outbox_off_an_unanswered_insert_says_it_may_still_be_made(gateway_factory, sandbox_url,
                                                                              vendor_db):
    gateway = gateway_factory(http_read_timeout=0.3)
    add_fault(sandbox_url, path="/v1/record", method="POST", latency_ms=1500, times=1)
    resp = rest_insert(gateway.url, {"n": "late"})
    assert resp.status_code == 504, resp.text
    message = resp.json()["error"]["message"]
    assert "may have been made" in message and "send the insert again with this Uuid" in message
    made = _uuid_in(message)
    # ... and it was: the vendor finishes the write after the gateway stopped waiting. Resending with
    # the uuid, as the message says, gives one record, not two.
    import time

    time.sleep(1.5)
    assert record_count(vendor_db, made) == 1
    again = rest_insert(gateway.url, {"n": "late"}, made)
    assert again.status_code == 409
    assert record_count(vendor_db, made) == 1


def test_a_lost_answer_is_answered_as_made_even_when_reading_it_back_fails(gateway_factory, sandbox_url, vendor_db):
    """Our retry's 409 for our own uuid proves the write: a failed read-back does not turn it into an error."""
    gateway = gateway_factory(http_read_timeout=0.3, http_retries=1, http_backoff=0.6)
    add_fault(sandbox_url, path="/v1/record", method="POST", latency_ms=500, times=1)   # written at 0.5 s
    add_fault(sandbox_url, path="/v1/record", method="GET", status=503)                 # read-back fails
    resp = rest_insert(gateway.url, {"n": "proved"})
    assert resp.status_code == 201, resp.text
    made = resp.json()["resource"]["uuid"]
    assert resp.json()["resource"]["data_record"] == {"n": "proved"}
    assert record_count(vendor_db, made) == 1
