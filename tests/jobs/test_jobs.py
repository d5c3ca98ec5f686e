"""Bulk QR jobs over real HTTP, with a real worker process: submit as JSON, CSV or NDJSON; rows
checked before anything is sent; idempotent submission; progress; results downloaded any number
of times; images decode to the requested destinations; cancel; a worker killed mid-job."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
import zipfile

import pytest
import requests
from api.conftest import assert_problem
from jobs.conftest import DEMO, rows, wait_for
from qrdecode import decode
from support import add_fault


def _submit(http, jobs_url, body=None, **kw):
    resp = http.post(jobs_url, json=body, headers={**DEMO, **kw.pop("headers", {})}, timeout=60, **kw) \
        if body is not None else http.post(jobs_url, headers={**DEMO, **kw.pop("headers", {})}, timeout=60, **kw)
    assert resp.status_code == 202, resp.text
    return resp


def test_answer_shape_location_and_listing(http, jobs_url):
    resp = _submit(http, jobs_url, {"vendor": "exaroutes", "rows": rows(3, "shape-")})
    body = resp.json()
    assert set(body) == {"id", "status", "total", "links"} and body["status"] == "queued" and body["total"] == 3
    assert resp.headers["Location"] == f"/api/qr/jobs/{body['id']}" == body["links"]["self"]
    assert body["links"]["results"] == f"/api/qr/jobs/{body['id']}/results"
    job = wait_for(http, jobs_url + "/" + body["id"])
    assert {"id", "vendor", "status", "total", "done", "failed", "created_at", "updated_at", "errors"} <= set(job)
    listed = http.get(jobs_url, params={"limit": 1}, headers=DEMO, timeout=10).json()
    assert set(listed) == {"items", "next_cursor"} and len(listed["items"]) == 1
    assert listed["items"][0]["id"] == body["id"]


def test_invalid_rows_are_listed_and_nothing_is_queued(http, jobs_url, sandbox_url):
    add_fault(sandbox_url, path="/*", status=503)  # the vendors are down: a 422 shows nothing was sent
    bad = rows(5, "v-") + [
        {"uid": "bad-url", "destination": {"type": "url", "url": "notaurl"}},
        {"destination": {"type": "url", "url": "https://x.io"}},
        {"uid": "v-1", "destination": {"type": "url", "url": "https://x.io"}},
        {"uid": "bad-wifi", "destination": {"type": "wifi", "ssid": "n", "security": "WPA", "password": "1"}},
    ]
    before = http.get(jobs_url, params={"limit": 500}, headers=DEMO, timeout=10).json()["items"]
    resp = http.post(jobs_url, json={"vendor": "flowcode", "rows": bad}, headers=DEMO, timeout=30)
    problem = assert_problem(resp, 422, "invalid_rows")
    assert [(e.get("uid"), e.get("index")) for e in problem["errors"]] == [
        ("bad-url", None), (None, 6), ("v-1", None), ("bad-wifi", None)]
    assert all(e["reason"] for e in problem["errors"])
    after = http.get(jobs_url, params={"limit": 500}, headers=DEMO, timeout=10).json()["items"]
    assert len(after) == len(before)


@pytest.mark.parametrize("body, field", [
    ({"vendor": "acme", "rows": [{"uid": "a", "destination": {"type": "url", "url": "https://x.io"}}]}, "vendor"),
    ({"vendor": "flowcode", "rows": []}, "rows"),
    ({"vendor": "exaroutes", "rows": [{"uid": "a", "destination": {"type": "url", "url": "https://x.io"}}],
      "options": {"file_type": "PDF"}}, "options.file_type"),
])
def test_bad_job_bodies(http, jobs_url, body, field):
    problem = assert_problem(http.post(jobs_url, json=body, headers=DEMO, timeout=10), 422)
    assert field in [e.get("field") for e in problem["errors"]]


def test_broken_uploads_are_400_problems(http, jobs_url):
    assert_problem(http.post(jobs_url, data=b'{"vendor": "flowcode", "rows": [{"uid": ', headers={
        **DEMO, "Content-Type": "application/json"}, timeout=10), 400)
    assert_problem(http.post(jobs_url + "?vendor=flowcode", data=b"name,url\nx,y\n", headers={
        **DEMO, "Content-Type": "text/csv"}, timeout=10), 400, "invalid_csv")
    assert_problem(http.post(jobs_url + "?vendor=flowcode", data=b'{"uid": "a"}\nnot json\n', headers={
        **DEMO, "Content-Type": "application/x-ndjson"}, timeout=10), 400, "invalid_json")
    assert_problem(http.post(jobs_url, data=b"x", headers={**DEMO, "Content-Type": "text/plain"}, timeout=10), 415)


def test_idempotency_key_returns_the_same_job(http, jobs_url):
    key = uuid.uuid4().hex
    body = {"vendor": "exaroutes", "rows": rows(4, "idem-")}
    first = _submit(http, jobs_url, body, headers={"Idempotency-Key": key}).json()
    again = _submit(http, jobs_url, body, headers={"Idempotency-Key": key})
    assert again.json()["id"] == first["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert _submit(http, jobs_url, body).json()["id"] != first["id"]


def test_csv_and_ndjson_uploads_with_every_destination_type(http, jobs_url):
    header = "uid,type,url,phone,body,email,subject,recipient,amount,note,ssid,security,password,hidden\n"
    lines = [
        "c-url,url,https://example.com/csv,,,,,,,,,,,",
        "c-sms,sms,,1234567890,hello world,,,,,,,,,",
        "c-phone,phone,,1234567890,,,,,,,,,,",
        "c-email,email,,,hi there,someone@example.com,test,,,,,,,",
        "c-venmo,venmo,,,,,,john-doe,10,testing,,,,",
        "c-wifi,wifi,,,,,,,,,my-network,WPA,p@ssw0rd,true",
    ]
    expected = {
        "c-url": "https://example.com/csv", "c-sms": "sms:1234567890;?&body=hello%20world",
        "c-phone": "tel:1234567890", "c-email": "mailto:someone@example.com?subject=test&body=hi%20there",
        "c-venmo": "venmo://paycharge?txn=pay&recipient=john-doe&amount=10&note=testing",
        "c-wifi": "WIFI:T:WPA;S:my-network;P:p@ssw0rd;H:true;",
    }
    for vendor in ("flowcode", "exaroutes"):
        resp = _submit(http, jobs_url + f"?vendor={vendor}", data=(header + "\n".join(lines)).encode(),
                       headers={"Content-Type": "text/csv"})
        job = wait_for(http, jobs_url + "/" + resp.json()["id"])
        assert job["status"] == "succeeded", job
        for uid, text in expected.items():
            image = http.get(jobs_url + f"/{job['id']}/images/{uid}", headers=DEMO, timeout=10)
            assert image.status_code == 200 and decode(image.content) == [text], (vendor, uid)
    ndjson = "\n".join(json.dumps(r) for r in rows(7, "nd-")) + "\n"
    resp = _submit(http, jobs_url + "?vendor=exaroutes", data=ndjson.encode(),
                   headers={"Content-Type": "application/x-ndjson"})
    assert wait_for(http, jobs_url + "/" + resp.json()["id"])["done"] == 7


def test_results_json_csv_and_zip_are_complete_and_repeatable(http, jobs_url):
    body = {"vendor": "flowcode", "rows": rows(60, "res-"), "options": {"file_type": "PNG"}}
    job_id = _submit(http, jobs_url, body).json()["id"]
    wait_for(http, jobs_url + "/" + job_id)
    first = http.get(jobs_url + f"/{job_id}/results", headers=DEMO, timeout=30)
    second = http.get(jobs_url + f"/{job_id}/results", headers=DEMO, timeout=30)
    assert first.status_code == 200 and first.content == second.content
    results = first.json()
    assert [r["uid"] for r in results] == [f"res-{i}" for i in range(60)]
    assert all(r["status"] == "ok" and r["vendor_id"] and r["error"] is None for r in results)
    assert results[0]["image"]["media_type"] == "image/png"
    as_csv = http.get(jobs_url + f"/{job_id}/results", headers={**DEMO, "Accept": "text/csv"}, timeout=30)
    assert as_csv.headers["Content-Type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [r["uid"] for r in table] == [f"res-{i}" for i in range(60)] and table[5]["status"] == "ok"
    archive = zipfile.ZipFile(io.BytesIO(http.get(jobs_url + f"/{job_id}/images.zip", headers=DEMO, timeout=60).content))
    assert len(archive.namelist()) == 60
    assert decode(archive.read("res-7.png")) == ["https://example.com/res-/7"]


def test_vendor_failures_make_rows_failed_with_the_reason(http, jobs_url, sandbox_url):
    add_fault(sandbox_url, path="/api/qr/bulk-generate", method="POST", status=401)
    job_id = _submit(http, jobs_url, {"vendor": "exaroutes", "rows": rows(3, "auth-")}).json()["id"]
    job = wait_for(http, jobs_url + "/" + job_id)
    assert job["status"] == "failed" and job["failed"] == 3 and job["errors"][0]["rows"] == 3
    results = http.get(jobs_url + f"/{job_id}/results", headers=DEMO, timeout=10).json()
    assert results[0]["status"] == "failed" and results[0]["error"]["code"] and results[0]["error"]["message"]


def test_quota_makes_a_partial_job(http, jobs_url, sandbox_url):
    requests.patch(sandbox_url + "/_sandbox/exaroutes", json={"quota": {"demo-client": 2}}, timeout=5)
    job_id = _submit(http, jobs_url, {"vendor": "exaroutes", "rows": rows(5, "quota-")}).json()["id"]
    job = wait_for(http, jobs_url + "/" + job_id)
    assert job["status"] == "partial" and (job["done"], job["failed"]) == (2, 3)
    assert [e["code"] for e in job["errors"]] == ["quota_exceeded"]


def test_a_passing_vendor_outage_is_waited_out(http, jobs_url, sandbox_url):
    fault = add_fault(sandbox_url, path="/api/qr/bulk-generate", method="POST", status=503)
    job_id = _submit(http, jobs_url, {"vendor": "exaroutes", "rows": rows(3, "outage-")}).json()["id"]
    time.sleep(1.0)
    requests.delete(f"{sandbox_url}/_sandbox/faults/{fault}", timeout=5).raise_for_status()
    job = wait_for(http, jobs_url + "/" + job_id, timeout=60)
    assert job["status"] == "succeeded", job


def test_cancel_stops_what_was_not_sent(http, jobs_url, sandbox_url):
    requests.patch(sandbox_url + "/_sandbox/exaroutes", json={"processing_seconds": 2}, timeout=5)
    body = {"vendor": "exaroutes", "rows": rows(50, "cancel-")}
    resp = http.post(jobs_url.replace("/api/qr/jobs", "/api/qr/jobs"), json=body, headers=DEMO, timeout=30)
    job_id = resp.json()["id"]
    cancelled = http.delete(jobs_url + "/" + job_id, headers=DEMO, timeout=10)
    assert cancelled.status_code == 202 and cancelled.json()["cancel_requested"] is True
    job = wait_for(http, jobs_url + "/" + job_id, timeout=60)
    assert job["status"] == "cancelled" and job["done"] + job["failed"] <= 50
    assert_problem(http.delete(jobs_url + "/" + job_id, headers=DEMO, timeout=10), 409)


def test_jobs_are_private_to_their_consumer(http, jobs_url, consumer_key):
    job_id = _submit(http, jobs_url, {"vendor": "exaroutes", "rows": rows(1, "priv-")}).json()["id"]
    other = {"X-Apikey": consumer_key("qr")}
    assert_problem(http.get(jobs_url + "/" + job_id, headers=other, timeout=10), 404)
    assert http.get(jobs_url, headers=other, timeout=10).json()["items"] == []
    assert_problem(http.get(jobs_url, headers={"X-Apikey": consumer_key("events")}, timeout=10), 403)
    admin = {"X-Apikey": consumer_key("admin")}
    assert http.get(jobs_url + "/" + job_id, headers=admin, timeout=10).status_code == 200
