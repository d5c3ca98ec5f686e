"""``/api/qr/codes`` over real HTTP: one code now at Flowcode or ExaRoutes, behind one shape; every
destination type decodes (zxing-cpp) to what was asked; errors are problems, before any vendor call
where the body is at fault."""

from __future__ import annotations

import uuid

import pytest
import requests
from api.conftest import DEMO, assert_problem
from qrdecode import decode
from support import add_fault

DESTINATIONS = {
    "url": ({"url": "https://example.com/lp/a"}, "https://example.com/lp/a"),
    "sms": ({"phone": "1234567890", "body": "hello world"}, "sms:1234567890;?&body=hello%20world"),
    "sms-plain": ({"phone": "+4412345678"}, "sms:+4412345678"),
    "phone": ({"phone": "1234567890"}, "tel:1234567890"),
    "email": ({"email": "example@email.com", "subject": "test", "body": "hello world"},
              "mailto:example@email.com?subject=test&body=hello%20world"),
    "email-plain": ({"email": "someone@example.com"}, "mailto:someone@example.com"),
    "venmo": ({"recipient": "john-doe", "amount": "10", "note": "testing"},
              "venmo://paycharge?txn=pay&recipient=john-doe&amount=10&note=testing"),
    "wifi": ({"ssid": "my-network", "security": "WPA", "password": "p@ssw0rd", "hidden": True},
             "WIFI:T:WPA;S:my-network;P:p@ssw0rd;H:true;"),
}


def _row(kind: str) -> dict:
    fields, _ = DESTINATIONS[kind]
    return {"uid": f"{kind}-{uuid.uuid4().hex[:8]}", "destination": {"type": kind.split("-")[0], **fields}}


@pytest.mark.parametrize("vendor", ["flowcode", "exaroutes"])
@pytest.mark.parametrize("kind", list(DESTINATIONS))
def test_every_destination_decodes_to_what_was_asked(http, api_url, vendor, kind):
    row = _row(kind)
    resp = http.post(api_url + "/qr/codes", json={"vendor": vendor, "row": row}, headers=DEMO, timeout=30)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["uid"] == row["uid"] and body["vendor"] == vendor and body["vendor_id"]
    assert body["image"]["media_type"] == "image/png"
    assert resp.headers["Location"].endswith(f"/api/qr/codes/{vendor}/{body['vendor_id']}")
    again = http.get(api_url.rsplit("/api", 1)[0] + resp.headers["Location"], headers=DEMO, timeout=10)
    assert again.status_code == 200 and again.json() == body
    image = http.get(api_url.rsplit("/api", 1)[0] + body["image"]["href"], headers=DEMO, timeout=10)
    assert image.status_code == 200 and image.headers["Content-Type"] == "image/png"
    assert decode(image.content) == [DESTINATIONS[kind][1]]


def test_exaroutes_dynamic_codes_carry_the_vendor_id_and_short_url(http, api_url):
    row = _row("url")
    resp = http.post(api_url + "/qr/codes", json={"vendor": "exaroutes", "row": row,
                                                  "options": {"qrType": "dynamic"}}, headers=DEMO, timeout=30)
    assert resp.status_code == 201, resp.text
    assert resp.json()["vendor_id"].startswith("qr_") and resp.json()["url"].startswith("https://qr.exaroutes.com/r/")


def test_flowcode_images_in_another_file_type(http, api_url):
    resp = http.post(api_url + "/qr/codes", json={"vendor": "flowcode", "row": _row("url"),
                                                  "options": {"file_type": "SVG"}}, headers=DEMO, timeout=30)
    assert resp.status_code == 201, resp.text
    assert resp.json()["image"]["media_type"] == "image/svg+xml"
    href = api_url.rsplit("/api", 1)[0] + resp.json()["image"]["href"]
    svg = http.get(href, headers=DEMO, timeout=10)
    assert svg.headers["Content-Type"].startswith("image/svg+xml") and b"<svg" in svg.content
    jpg = http.get(href, params={"file_type": "JPG"}, headers=DEMO, timeout=10)
    assert jpg.headers["Content-Type"] == "image/jpeg"
    assert decode(jpg.content) == ["https://example.com/lp/a"]


def test_a_repeated_flowcode_uid_is_a_conflict_not_a_second_code(http, api_url):
    row = _row("url")
    first = http.post(api_url + "/qr/codes", json={"vendor": "flowcode", "row": row}, headers=DEMO, timeout=30)
    assert first.status_code == 201
    again = http.post(api_url + "/qr/codes", json={"vendor": "flowcode", "row": row}, headers=DEMO, timeout=30)
    assert_problem(again, 409, "conflict")


@pytest.mark.parametrize("body, fields", [
    ({"vendor": "acme", "row": {"uid": "a", "destination": {"type": "url", "url": "https://x.io"}}}, ["vendor"]),
    ({"vendor": "flowcode", "row": {"destination": {"type": "url", "url": "https://x.io"}}}, ["row"]),
    ({"vendor": "flowcode", "row": {"uid": "a", "destination": {"type": "url", "url": "ftp://x"}}}, ["row"]),
    ({"vendor": "flowcode", "row": {"uid": "a", "destination": {"type": "wifi", "ssid": "n", "security": "WPA",
                                                                 "password": "short"}}}, ["row"]),
    ({"vendor": "exaroutes", "row": {"uid": "a", "destination": {"type": "fax", "number": "1"}}}, ["row"]),
    ({"vendor": "exaroutes", "row": {"uid": "a", "destination": {"type": "url", "url": "https://x.io"}},
      "options": {"file_type": "SVG"}}, ["options.file_type"]),
])
def test_bad_bodies_are_422_problems_naming_the_field(http, api_url, sandbox_url, body, fields):
    # The vendors are down: a 422 proves nothing was sent.
    add_fault(sandbox_url, path="/*", status=503)
    resp = http.post(api_url + "/qr/codes", json=body, headers=DEMO, timeout=10)
    problem = assert_problem(resp, 422, "invalid_body")
    assert [e["field"] for e in problem["errors"]] == fields and all(e["reason"] for e in problem["errors"])


def test_broken_json_and_wrong_media_type(http, api_url):
    assert_problem(http.post(api_url + "/qr/codes", data="{", headers={**DEMO, "Content-Type": "application/json"},
                             timeout=10), 400, "invalid_json")
    assert_problem(http.post(api_url + "/qr/codes", data="a=b", headers={**DEMO, "Content-Type": "text/plain"},
                             timeout=10), 415, "unsupported_media_type")


def test_auth_and_scopes(http, api_url, consumer_key):
    body = {"vendor": "flowcode", "row": _row("url")}
    assert_problem(http.post(api_url + "/qr/codes", json=body, timeout=10), 401, "unauthorized")
    assert_problem(http.post(api_url + "/qr/codes", json=body, headers={"X-Apikey": "nope"}, timeout=10), 401)
    events_only = consumer_key("events")
    assert_problem(http.post(api_url + "/qr/codes", json=body, headers={"X-Apikey": events_only}, timeout=10),
                   403, "forbidden")
    qr_key = consumer_key("qr")
    resp = http.post(api_url + "/qr/codes", json=body, headers={"Authorization": f"Bearer {qr_key}"}, timeout=30)
    assert resp.status_code == 201, resp.text
    assert "demo-flowcode-key" not in resp.text


def test_vendor_rate_limit_quota_and_outage_become_problems(http, api_url, sandbox_url):
    add_fault(sandbox_url, path="/v4/codes", method="POST", status=429, retry_after=7)
    resp = http.post(api_url + "/qr/codes", json={"vendor": "flowcode", "row": _row("url")}, headers=DEMO, timeout=30)
    assert_problem(resp, 429, "rate_limited")
    assert resp.headers["Retry-After"] == "7"
    requests.patch(sandbox_url + "/_sandbox/exaroutes", json={"quota": {"demo-client": 0}}, timeout=5)
    resp = http.post(api_url + "/qr/codes", json={"vendor": "exaroutes", "row": _row("url")}, headers=DEMO, timeout=30)
    assert_problem(resp, 429, "quota_exceeded")
    assert int(resp.headers["Retry-After"]) > 0
    add_fault(sandbox_url, path="/api/qr/bulk-generate", method="POST", status=503)
    resp = http.post(api_url + "/qr/codes", json={"vendor": "exaroutes", "row": _row("url")}, headers=DEMO, timeout=30)
    assert resp.status_code in (502, 503) and resp.headers["Content-Type"] == "application/problem+json"


def test_vendor_down_is_a_503_problem(http, gateway_factory, consumer_key):
    down = gateway_factory(upstream="http://127.0.0.1:9")
    resp = http.post(down.url + "/api/qr/codes", json={"vendor": "flowcode", "row": _row("url")}, headers=DEMO,
                     timeout=30)
    problem = assert_problem(resp, 503, "vendor_unavailable")
    assert "127.0.0.1:9" not in problem["detail"] or "demo" not in problem["detail"]


def test_unknown_image_is_404(http, api_url):
    assert_problem(http.get(api_url + "/qr/codes/exaroutes/qr_nope/image", headers=DEMO, timeout=10), 404)
    assert_problem(http.get(api_url + "/qr/codes/acme/1/image", headers=DEMO, timeout=10), 422)
