"""Flowcode sandbox over real HTTP: flowcode-bulk-codes.txt — create, bulk (the <= 50 / > 50
switch and the task status), every destination type of the doc's table, the five file types as
real QR images read back by a real decoder, the update of a destination, errors in the vendor's shape."""

from __future__ import annotations

import io
import time

import pytest
import requests
import zxingcpp
from defusedxml import ElementTree
from PIL import Image

KEY = {"apikey": "demo-flowcode-key"}
OTHER_KEY = {"apikey": "demo-flowcode-key-2"}
STUDIO = "00000000-0000-0000-0000-000000000001"

# The doc's table, "Example" column, and the structured params that build each example.
DESTINATIONS = [
    ("URL", {"url": "https://mysite.com"}, "https://mysite.com"),
    ("SMS", {"phone_number": "1234567890", "body": "hello world"}, "sms:1234567890;?&body=hello%20world"),
    ("PHONE", {"phone_number": "1234567890"}, "tel:1234567890"),
    ("EMAIL", {"email_address": "example@email.com", "subject": "test", "body": "hello world"},
     "mailto:example@email.com?subject=test&body=hello%20world"),
    ("VENMO", {"recipient": "john-doe", "amount": "10", "note": "testing"},
     "venmo://paycharge?txn=pay&recipient=john-doe&amount=10&note=testing"),
    ("WIFI", {"ssid": "my-network", "security": "WPA", "hidden": True, "password": "p@ssw0rd"},
     "WIFI:T:WPA;S:my-network;P:p@ssw0rd;H:true;"),
]


def decode(data: bytes) -> list[str]:
    with Image.open(io.BytesIO(data)) as image:
        return [r.text for r in zxingcpp.read_barcodes(image.convert("L"))]


def payload(kind: str = "URL", value: dict | None = None, **extra) -> dict:
    body = {"destination": {"destination_type": kind, "redirect_value": value or {"url": "https://mysite.com"}},
            "studio_config_id": STUDIO, "folder_id": 1}
    body.update(extra)
    return body


def create(http, url: str, body, headers=KEY) -> requests.Response:
    return http.post(url + "/v4/codes", json=body, headers=headers, timeout=5)


def knob(url: str, seconds: float) -> None:
    requests.patch(url + "/_sandbox/flowcode", json={"task_seconds": seconds}, timeout=5).raise_for_status()


def assert_error(resp: requests.Response, status: int, *fields: str) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert isinstance(body["message"], str) and body["message"]
    assert [e["field"] for e in body.get("errors", [])][:len(fields)] == list(fields)
    assert "Traceback" not in resp.text
    return body


# -- create one code ------------------------------------------------------------------------------
def test_create_code_gives_201_with_the_code_and_fetch_returns_it(http, sandbox_url):
    resp = create(http, sandbox_url, payload(code_name="code_1"))
    assert resp.status_code == 201, resp.text
    code = resp.json()
    assert code["code_name"] == "code_1" and code["folder_id"] == 1 and code["studio_config_id"] == STUDIO
    assert code["destination"] == {"destination_type": "URL", "redirect_value": {"url": "https://mysite.com"}}
    assert code["scan_destination"] == "https://mysite.com" and code["file_type"] == "PNG"
    assert code["image_url"] == f"{sandbox_url}/v4/codes/{code['id']}/image"
    fetched = http.get(f"{sandbox_url}/v4/codes/{code['id']}", headers=KEY, timeout=5)
    assert fetched.status_code == 200 and fetched.json() == code


@pytest.mark.parametrize("kind,params,example", DESTINATIONS, ids=[d[0] for d in DESTINATIONS])
def test_every_destination_type_is_encoded_as_the_docs_example_and_scans_back(http, sandbox_url, kind, params,
                                                                              example):
    code = create(http, sandbox_url, payload(kind, params)).json()
    assert code["scan_destination"] == example
    image = http.get(code["image_url"], headers=KEY, timeout=5)
    assert image.headers["Content-Type"] == "image/png"
    assert decode(image.content) == [example]


@pytest.mark.parametrize("kind,params,example", DESTINATIONS, ids=[d[0] for d in DESTINATIONS])
def test_a_destination_given_as_its_protocol_string_is_parsed_to_the_same_params(http, sandbox_url, kind, params,
                                                                                  example):
    code = create(http, sandbox_url, payload(kind, {"value": example})).json()
    assert code["scan_destination"] == example
    expected = {"txn": "pay", **params} if kind == "VENMO" else params
    assert code["destination"]["redirect_value"] == expected


@pytest.mark.parametrize("kind,params,field", [
    ("URL", {"url": "mysite.com"}, "url"),
    ("URL", {"url": "ftp://mysite.com/x"}, "url"),
    ("SMS", {"phone_number": "12-34"}, "phone_number"),
    ("SMS", {"body": "no number"}, "phone_number"),
    ("PHONE", {"phone_number": "call me"}, "phone_number"),
    ("EMAIL", {"email_address": "not-an-email"}, "email_address"),
    ("VENMO", {"recipient": "john doe!"}, "recipient"),
    ("VENMO", {"recipient": "john-doe", "amount": "-3"}, "amount"),
    ("VENMO", {"recipient": "john-doe", "amount": "1.234"}, "amount"),
    ("WIFI", {"ssid": "net", "hidden": False}, "security"),
    ("WIFI", {"ssid": "net", "security": "WPA"}, "hidden"),
    ("WIFI", {"security": "WPA", "hidden": False}, "ssid"),
    ("WIFI", {"ssid": "net", "security": "nopass", "hidden": False, "password": "secret99"}, "password"),
    ("SMS", {"value": "tel:1234567890"}, "value"),
    ("WIFI", {"value": "WIFI:X:1;"}, "value"),
])
def test_a_bad_destination_gives_400_naming_the_field(http, sandbox_url, kind, params, field):
    assert_error(create(http, sandbox_url, payload(kind, params)), 400, f"destination.redirect_value.{field}")


def test_an_unknown_destination_type_or_a_missing_destination_gives_400(http, sandbox_url):
    assert_error(create(http, sandbox_url, payload("FAX", {"number": "1"})), 400, "destination.destination_type")
    body = payload()
    del body["destination"]
    assert_error(create(http, sandbox_url, body), 400, "destination")


def test_a_destination_too_long_for_a_qr_code_gives_400(http, sandbox_url):
    resp = create(http, sandbox_url, payload("SMS", {"phone_number": "1234567890", "body": "\u00e9" * 1000}))
    assert_error(resp, 400, "destination")


def test_missing_or_wrong_apikey_gives_401(http, sandbox_url):
    assert_error(create(http, sandbox_url, payload(), headers={}), 401)
    resp = assert_error(create(http, sandbox_url, payload(), headers={"apikey": "wrong"}), 401)
    assert "wrong" not in resp["message"]


def test_unknown_or_foreign_studio_config_and_folder_give_400(http, sandbox_url):
    assert_error(create(http, sandbox_url, payload(studio_config_id="aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa")), 400,
                 "studio_config_id")
    assert_error(create(http, sandbox_url, payload(folder_id=12345)), 400, "folder_id")
    # The second account's folder exists, but not for the demo key.
    assert_error(create(http, sandbox_url, payload(folder_id=2)), 400, "folder_id")
    assert_error(create(http, sandbox_url, payload(folder_id="1")), 400, "folder_id")
    assert_error(create(http, sandbox_url, payload(folder_id=10**30)), 400, "folder_id")
    assert_error(create(http, sandbox_url, {"destination": payload()["destination"]}), 400, "studio_config_id")


def test_every_problem_of_a_payload_is_listed(http, sandbox_url):
    body = assert_error(create(http, sandbox_url, {"destination": {"destination_type": "PHONE",
                                                                   "redirect_value": {}},
                                                   "folder_id": True, "file_type": "GIF", "code_name": ""}), 400)
    assert {e["field"] for e in body["errors"]} == {"destination.redirect_value.phone_number", "studio_config_id",
                                                   "folder_id", "code_name", "file_type"}


def test_code_name_is_unique_within_a_folder_only(http, sandbox_url):
    assert create(http, sandbox_url, payload(code_name="dup")).status_code == 201
    assert_error(create(http, sandbox_url, payload(code_name="dup")), 409)
    without_folder = payload(code_name="dup")
    del without_folder["folder_id"]
    assert create(http, sandbox_url, without_folder).status_code == 201
    assert create(http, sandbox_url, without_folder).status_code == 201


def test_bad_json_and_empty_body_give_400(http, sandbox_url):
    headers = {**KEY, "Content-Type": "application/json"}
    assert_error(http.post(sandbox_url + "/v4/codes", data="{nope", headers=headers, timeout=5), 400)
    assert_error(http.post(sandbox_url + "/v4/codes", data="", headers=headers, timeout=5), 400)
    assert_error(create(http, sandbox_url, [payload()]), 400, "body")
    assert_error(http.post(sandbox_url + "/v4/codes", data="[" * 100_000, headers=headers, timeout=5), 400)


# -- file types: real images of real QR codes --------------------------------------------------------
@pytest.mark.parametrize("file_type,mimetype", [("PNG", "image/png"), ("JPG", "image/jpeg"), ("TIFF", "image/tiff")])
def test_raster_file_types_are_real_qr_codes_a_decoder_reads_back(http, sandbox_url, file_type, mimetype):
    wifi = DESTINATIONS[-1]
    code = create(http, sandbox_url, payload(wifi[0], wifi[1], file_type=file_type.lower())).json()
    assert code["file_type"] == file_type
    image = http.get(code["image_url"], headers=KEY, timeout=5)
    assert image.status_code == 200 and image.headers["Content-Type"] == mimetype
    assert Image.open(io.BytesIO(image.content)).format == {"JPG": "JPEG"}.get(file_type, file_type)
    assert decode(image.content) == [wifi[2]]


def test_svg_is_a_valid_svg_document(http, sandbox_url):
    code = create(http, sandbox_url, payload(file_type="SVG")).json()
    image = http.get(code["image_url"], headers=KEY, timeout=5)
    assert image.headers["Content-Type"] == "image/svg+xml"
    root = ElementTree.fromstring(image.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert int(root.get("width")) == int(root.get("height")) > 100
    assert root.find("{http://www.w3.org/2000/svg}path") is not None


def test_pdf_is_a_valid_pdf_file(http, sandbox_url):
    code = create(http, sandbox_url, payload(file_type="PDF")).json()
    image = http.get(code["image_url"], headers=KEY, timeout=5)
    assert image.headers["Content-Type"] == "application/pdf"
    assert image.content.startswith(b"%PDF-1.") and image.content.rstrip().endswith(b"%%EOF")
    assert b"/MediaBox" in image.content


def test_image_in_another_file_type_on_request_and_a_bad_one_gives_400(http, sandbox_url):
    code = create(http, sandbox_url, payload()).json()
    jpg = http.get(code["image_url"], params={"file_type": "jpg"}, headers=KEY, timeout=5)
    assert jpg.headers["Content-Type"] == "image/jpeg" and decode(jpg.content) == ["https://mysite.com"]
    assert_error(http.get(code["image_url"], params={"file_type": "BMP"}, headers=KEY, timeout=5), 400)
    assert_error(http.get(code["image_url"], timeout=5), 401)


# -- update the scan destination -------------------------------------------------------------------
def test_update_destination_changes_what_the_code_scans_to(http, sandbox_url):
    code = create(http, sandbox_url, payload()).json()
    new = {"destination_type": "PHONE", "redirect_value": {"phone_number": "+15551234567"}}
    resp = http.patch(f"{sandbox_url}/v4/codes/{code['id']}", json={"destination": new}, headers=KEY, timeout=5)
    assert resp.status_code == 200, resp.text
    assert resp.json()["destination"] == new and resp.json()["scan_destination"] == "tel:+15551234567"
    assert resp.json()["id"] == code["id"] and resp.json()["code_name"] == code["code_name"]
    image = http.get(code["image_url"], headers=KEY, timeout=5)
    assert decode(image.content) == ["tel:+15551234567"]


def test_update_errors_bad_destination_missing_destination_unknown_and_foreign_code(http, sandbox_url):
    code = create(http, sandbox_url, payload()).json()
    path = f"{sandbox_url}/v4/codes/{code['id']}"
    bad = {"destination": {"destination_type": "EMAIL", "redirect_value": {"email_address": "nope"}}}
    assert_error(http.patch(path, json=bad, headers=KEY, timeout=5), 400, "destination.redirect_value.email_address")
    assert_error(http.patch(path, json={"code_name": "x"}, headers=KEY, timeout=5), 400)
    assert_error(http.patch(path, json=bad, headers=OTHER_KEY, timeout=5), 404)
    assert_error(http.get(path, headers=OTHER_KEY, timeout=5), 404)
    assert_error(http.patch(f"{sandbox_url}/v4/codes/nope", json=bad, headers=KEY, timeout=5), 404)


# -- bulk: the <= 50 / > 50 switch -----------------------------------------------------------------
def bulk(http, url: str, body, headers=KEY) -> requests.Response:
    return http.post(url + "/v4/codes/bulk", json=body, headers=headers, timeout=10)


def batch(n: int, prefix: str = "code") -> list[dict]:
    return [payload("URL", {"url": f"https://mysite.com/{i}"}, code_name=f"{prefix}_{i + 1}") for i in range(n)]


def test_bulk_of_50_is_synchronous_201_with_the_codes_in_order(http, sandbox_url):
    resp = bulk(http, sandbox_url, batch(50))
    assert resp.status_code == 201, resp.text
    codes = resp.json()
    assert [c["code_name"] for c in codes] == [f"code_{i + 1}" for i in range(50)]
    assert codes[7]["scan_destination"] == "https://mysite.com/7"


def test_bulk_of_51_is_asynchronous_202_with_a_task_id(http, sandbox_url):
    resp = bulk(http, sandbox_url, batch(51))
    assert resp.status_code == 202, resp.text
    assert isinstance(resp.json()["task_id"], str) and "codes" not in resp.json()


def test_synchronous_bulk_with_a_bad_code_gives_400_and_creates_none(http, sandbox_url):
    codes = batch(5)
    codes[3]["destination"]["redirect_value"] = {"url": "nope"}
    body = assert_error(bulk(http, sandbox_url, codes), 400, "[3].destination.redirect_value.url")
    assert "[3]" in body["message"]
    codes[3]["destination"]["redirect_value"] = {"url": "https://ok.example"}
    assert bulk(http, sandbox_url, codes).status_code == 201  # the names were not taken


def test_synchronous_bulk_with_a_name_used_twice_gives_409(http, sandbox_url):
    codes = batch(3)
    codes[2]["code_name"] = codes[0]["code_name"]
    assert_error(bulk(http, sandbox_url, codes), 409)


def test_bulk_body_must_be_a_non_empty_array_of_objects(http, sandbox_url):
    assert_error(bulk(http, sandbox_url, []), 400)
    assert_error(bulk(http, sandbox_url, "codes"), 400)
    assert_error(bulk(http, sandbox_url, [1, payload()]), 400, "[0]")
    assert_error(bulk(http, sandbox_url, batch(5001)), 400)


def test_the_docs_snippet_posting_a_single_payload_to_bulk_creates_one_code(http, sandbox_url):
    # flowcode-bulk-codes.txt posts ``payload`` (one code) instead of ``bulk_payload``.
    resp = bulk(http, sandbox_url, payload(code_name="code_2000"))
    assert resp.status_code == 201 and [c["code_name"] for c in resp.json()] == ["code_2000"]


def status(http, url: str, task_id: str, headers=KEY) -> requests.Response:
    return http.get(f"{url}/v4/codes/bulk/{task_id}/status", headers=headers, timeout=5)


def test_bulk_task_goes_pending_started_success_and_then_lists_its_codes(http, sandbox_url):
    knob(sandbox_url, 0.9)  # PENDING for 0.3 s, STARTED until 0.9 s
    task_id = bulk(http, sandbox_url, batch(60)).json()["task_id"]
    accepted = time.monotonic()  # the task's clock started a little before this
    first = status(http, sandbox_url, task_id).json()
    assert first["status"] == "PENDING" and first["total"] == 60 and "codes" not in first
    time.sleep(max(0.0, 0.5 - (time.monotonic() - accepted)))
    middle = status(http, sandbox_url, task_id).json()
    assert middle["status"] == "STARTED" and "of 60 done" in middle["message"]
    time.sleep(max(0.0, 0.95 - (time.monotonic() - accepted)))
    done = status(http, sandbox_url, task_id).json()
    assert done["status"] == "SUCCESS" and done["message"] == "Created 60 codes."
    assert [c["code_name"] for c in done["codes"]] == [f"code_{i + 1}" for i in range(60)]
    assert http.get(done["codes"][59]["image_url"], headers=KEY, timeout=5).status_code == 200


def test_codes_of_an_unfinished_task_are_not_visible_yet(http, sandbox_url):
    knob(sandbox_url, 0.4)
    task_id = bulk(http, sandbox_url, batch(51)).json()["task_id"]
    time.sleep(0.45)
    code_id = status(http, sandbox_url, task_id).json()["codes"][0]["id"]
    assert http.get(f"{sandbox_url}/v4/codes/{code_id}", headers=KEY, timeout=5).status_code == 200
    knob(sandbox_url, 30)
    task_id = bulk(http, sandbox_url, batch(51, "later")).json()["task_id"]
    assert status(http, sandbox_url, task_id).json()["status"] == "PENDING"
    # Reserved names already collide, as the worker would hold them.
    assert_error(create(http, sandbox_url, payload(code_name="later_1")), 409)


def test_asynchronous_bulk_with_a_bad_code_ends_in_failure_with_a_message(http, sandbox_url):
    knob(sandbox_url, 0)
    codes = batch(55)
    codes[52]["destination"] = {"destination_type": "SMS", "redirect_value": {"phone_number": "x"}}
    resp = bulk(http, sandbox_url, codes)
    assert resp.status_code == 202  # the worker finds the problem, not the API
    body = status(http, sandbox_url, resp.json()["task_id"]).json()
    assert body["status"] == "FAILURE" and "[52].destination.redirect_value.phone_number" in body["message"]
    assert "codes" not in body
    assert bulk(http, sandbox_url, batch(3)).status_code == 201  # none of the 55 was created


def test_asynchronous_bulk_with_a_taken_name_ends_in_failure(http, sandbox_url):
    knob(sandbox_url, 0)
    create(http, sandbox_url, payload(code_name="code_51"))
    body = status(http, sandbox_url, bulk(http, sandbox_url, batch(51)).json()["task_id"]).json()
    assert body["status"] == "FAILURE" and "code_51" in body["message"]


def test_status_of_an_unknown_or_foreign_task_gives_404(http, sandbox_url):
    task_id = bulk(http, sandbox_url, batch(51)).json()["task_id"]
    assert_error(status(http, sandbox_url, task_id, headers=OTHER_KEY), 404)
    assert_error(status(http, sandbox_url, "no-such-task"), 404)
    assert_error(status(http, sandbox_url, task_id, headers={}), 401)


def test_the_docs_status_poll_on_the_bulk_url_gives_405_in_the_vendor_shape(http, sandbox_url):
    # The doc's loop calls requests.get(url) with the bulk URL, not status_endpoint.
    resp = http.get(sandbox_url + "/v4/codes/bulk", headers=KEY, timeout=5)
    assert_error(resp, 405)
    assert "POST" in resp.headers["Allow"]
    assert_error(http.get(sandbox_url + "/v4/nothing-here", headers=KEY, timeout=5), 404)


def test_injected_faults_answer_in_the_vendor_shape(http, sandbox_url):
    requests.post(sandbox_url + "/_sandbox/faults", json={"path": "/v4/codes", "status": 503, "times": 1},
                  timeout=5).raise_for_status()
    assert assert_error(create(http, sandbox_url, payload()), 503)["message"] == "Service Unavailable"


def test_task_seconds_knob_is_validated_and_reset_restores_it(http, sandbox_url):
    assert http.get(sandbox_url + "/_sandbox/flowcode", timeout=5).json() == {"task_seconds": 3.0}
    assert http.patch(sandbox_url + "/_sandbox/flowcode", json={"task_seconds": -1}, timeout=5).status_code == 400
    assert http.patch(sandbox_url + "/_sandbox/flowcode", json={"other": 1}, timeout=5).status_code == 400
    knob(sandbox_url, 0.5)
    requests.post(sandbox_url + "/_sandbox/reset", timeout=5).raise_for_status()
    assert http.get(sandbox_url + "/_sandbox/flowcode", timeout=5).json() == {"task_seconds": 3.0}
