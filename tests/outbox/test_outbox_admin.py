"""Dead letters and what operators do with them: the admin API (scope ``admin``) and ``flowgate outbox``,
every change audited with who made it."""

from __future__ import annotations

import getpass
import json

import pytest
import requests
from api.conftest import assert_problem
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
    services,
    wait_until,
)
from support import DEMO_HEADERS

from gateway.cli import main
from gateway.store.consumers import ConsumerRepository


def _dead_update(url: str, sandbox_url: str, outbox_worker) -> tuple[str, int]:
    """An update of a record Flowize does not have, queued during an outage: delivered, it is a 404."""
    uuid = new_uuid("dead")
    down = outage(sandbox_url, method="PUT")
    resp = rest_update(url, uuid, {"v": "late"})
    assert resp.status_code == 202, resp.text
    recover(sandbox_url, down)
    entry_id = resp.json()["resource"]["outbox_id"]
    if outbox_worker.proc is None or outbox_worker.proc.poll() is not None:
        outbox_worker.start()
    wait_until(lambda: entry(url, entry_id)["state"] == "dead", what="the dead letter")
    return uuid, entry_id


def test_a_refused_write_is_a_dead_letter_that_holds_back_its_record_until_retried(
        outbox_gateway, outbox_worker, sandbox_url, vendor_db):
    url = outbox_gateway.url
    uuid, dead_id = _dead_update(url, sandbox_url, outbox_worker)
    dead = entry(url, dead_id)
    assert dead["last_error"].startswith("Flowize refused it: NotFound") and dead["attempts"] == 1, dead
    listed = requests.get(url + "/api/outbox", params={"state": "dead"}, headers=API, timeout=10).json()
    assert [e["id"] for e in listed["items"]] == [dead_id] and listed["counts"]["dead"] == 1
    assert dead["links"]["retry"] == f"/api/outbox/{dead_id}/retry"
    # Later writes of the record wait behind the dead letter: they would otherwise overtake it.
    behind = rest_update(url, uuid, {"v": "later"})
    assert behind.status_code == 202 and "waiting" in behind.json()["message"], behind.text
    # The record is made at Flowize by other means; the operator sends the dead letter back.
    requests.post(f"{sandbox_url}/v1/record", json={"v": 0}, timeout=10,
                  headers={**DEMO_HEADERS, "X-Flow": "demo-flow", "X-Uuid": uuid}).raise_for_status()
    retried = requests.post(f"{url}/api/outbox/{dead_id}/retry", headers=API, timeout=10)
    assert retried.status_code == 200 and retried.json()["state"] in ("pending", "delivering", "delivered"), retried.text
    later_id = behind.json()["resource"]["outbox_id"]
    wait_until(lambda: entry(url, later_id)["state"] == "delivered", what="both delivered, in order")
    assert json.loads(records_with(vendor_db, uuid)[0]["data"]) == {"v": "later"}
    trail = [(e["action"], e["actor"]) for e in entry(url, dead_id)["events"]]
    assert [a for a, _ in trail] == ["queued", "dead", "retried", "delivered"], trail
    assert trail[2][1] == "api:demo (demo)"
    again = requests.post(f"{url}/api/outbox/{dead_id}/retry", headers=API, timeout=10)
    assert_problem(again, 409, "conflict")


def test_a_dropped_entry_is_never_delivered_and_frees_its_record(outbox_gateway, outbox_worker, sandbox_url,
                                                                 vendor_db):
    url = outbox_gateway.url
    uuid = new_uuid("drop")
    down = outage(sandbox_url)
    first = rest_insert(url, {"v": "dropped"}, uuid).json()["resource"]["outbox_id"]
    second = rest_insert(url, {"v": "kept"}, new_uuid("drop-other")).json()["resource"]
    dropped = requests.delete(f"{url}/api/outbox/{first}", headers=API, timeout=10)
    assert dropped.status_code == 200 and dropped.json()["state"] == "dropped", dropped.text
    assert_problem(requests.delete(f"{url}/api/outbox/{first}", headers=API, timeout=10), 409)
    assert_problem(requests.post(f"{url}/api/outbox/{first}/retry", headers=API, timeout=10), 409)
    recover(sandbox_url, down)
    # The record is free again: a new write goes live, not behind the dropped one.
    assert rest_insert(url, {"v": "live"}, uuid).status_code == 201
    outbox_worker.start()
    wait_until(lambda: entry(url, second["outbox_id"])["state"] == "delivered", what="the other entry")
    assert json.loads(records_with(vendor_db, uuid)[0]["data"]) == {"v": "live"}
    events = entry(url, first)["events"]
    assert [e["action"] for e in events] == ["queued", "dropped"] and events[1]["actor"] == "api:demo (demo)"
    assert record_count(vendor_db, second["uuid"]) == 1


def test_the_outbox_api_needs_the_admin_scope_and_shows_no_secret(outbox_gateway, sandbox_url):
    url = outbox_gateway.url
    down = outage(sandbox_url)
    queued = rest_insert(url, {"secret-ish": "record data"}, new_uuid("scope")).json()["resource"]["outbox_id"]
    recover(sandbox_url, down)
    repo = ConsumerRepository(services(outbox_gateway).store, services(outbox_gateway).box)
    plain = repo.add(new_uuid("plain"), scopes="records,qr,events,feeds").key
    admin = repo.add(new_uuid("admin"), scopes="admin").key
    for method, path in (("GET", "/api/outbox"), ("GET", f"/api/outbox/{queued}"),
                         ("POST", f"/api/outbox/{queued}/retry"), ("DELETE", f"/api/outbox/{queued}")):
        assert_problem(requests.request(method, url + path, headers={"X-Apikey": plain}, timeout=10), 403, "forbidden")
        assert_problem(requests.request(method, url + path, timeout=10), 401, "unauthorized")
    shown = requests.get(f"{url}/api/outbox/{queued}", headers={"Authorization": f"Bearer {admin}"}, timeout=10)
    assert shown.status_code == 200, shown.text
    assert shown.json()["write"]["data_bytes"] > 0 and shown.json()["idempotency_key"].startswith("scope-")
    for secret in ("demo-api-key", "demo-app", "record data", "fernet:"):
        assert secret not in shown.text
    assert_problem(requests.get(url + "/api/outbox/999999", headers=API, timeout=10), 404, "not_found")
    assert_problem(requests.get(url + "/api/outbox", params={"state": "lost"}, headers=API, timeout=10), 400,
                   "invalid_parameter")
    page = requests.get(url + "/api/outbox", params={"limit": 1, "state": "pending,dead"}, headers=API,
                        timeout=10).json()
    assert [e["id"] for e in page["items"]] == [queued] and page["next_cursor"] is None


@pytest.fixture
def cli_env(outbox_gateway, monkeypatch):
    monkeypatch.setenv("GATEWAY_DATA_DIR", services(outbox_gateway).settings.data_dir)


def test_flowgate_outbox_lists_shows_retries_and_drops(outbox_gateway, outbox_worker, sandbox_url, vendor_db,
                                                       cli_env, capsys):
    url = outbox_gateway.url
    uuid, dead_id = _dead_update(url, sandbox_url, outbox_worker)
    capsys.readouterr()
    assert main(["outbox", "list", "--state", "dead", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["id"] for e in listed["items"]] == [dead_id] and listed["items"][0]["state"] == "dead"
    assert main(["outbox", "show", str(dead_id)]) == 0
    shown = capsys.readouterr().out
    assert "dead" in shown and "Flowize refused it" in shown and "demo-app" not in shown
    requests.post(f"{sandbox_url}/v1/record", json={"v": 0}, timeout=10,
                  headers={**DEMO_HEADERS, "X-Flow": "demo-flow", "X-Uuid": uuid}).raise_for_status()
    assert main(["outbox", "retry", str(dead_id)]) == 0
    wait_until(lambda: entry(url, dead_id)["state"] == "delivered", what="the retried entry")
    assert json.loads(records_with(vendor_db, uuid)[0]["data"]) == {"v": "late"}
    assert main(["outbox", "retry", str(dead_id)]) == 1     # delivered: nothing to retry
    assert "only a dead letter" in capsys.readouterr().err

    _other, other_id = _dead_update(url, sandbox_url, outbox_worker)
    assert main(["outbox", "drop", str(other_id)]) == 0
    assert capsys.readouterr().out == f"outbox entry {other_id}: dead -> dropped\n"
    assert entry(url, other_id)["state"] == "dropped"
    actor = f"cli:{getpass.getuser()}"
    assert main(["outbox", "show", str(other_id), "--json"]) == 0
    events = json.loads(capsys.readouterr().out)["events"]
    assert [(e["action"], e["actor"]) for e in events][-1] == ("dropped", actor)
    assert [e["actor"] for e in entry(url, dead_id)["events"] if e["action"] == "retried"] == [actor]
    assert main(["outbox", "show", "424242"]) == 1
