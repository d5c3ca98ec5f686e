"""ExaRoutes sandbox over real HTTP: exaroutes-bulk-generate.txt — the JSON-encoded-string bodies,
processing -> completed -> resultDownloaded, the one-shot archive (then 410) mixing objects, bare
data-URI strings and failed rows in submission order, every row of the Errors table, and QR images
that a real decoder reads back to the row's data."""

from __future__ import annotations

import base64
import io
import json
import re
import time

import pytest
import requests
import zxingcpp
from PIL import Image

PATH = "/api/qr/bulk-generate"
AUTH = {"client-id": "demo-client", "api-key": "demo-exaroutes-key"}
OTHER = {"client-id": "demo-client-2", "api-key": "demo-exaroutes-key-2"}
SUSPENDED = {"client-id": "demo-client-suspended", "api-key": "demo-exaroutes-key-suspended"}
MAX_BODY = 25 * 1024 * 1024

# The doc's example request.
EXAMPLE = [
    {"uid": "row-001", "qrType": "dynamic", "dataType": "url", "data": "https://example.com/lp/a"},
    {"uid": "row-002", "qrType": "dynamic", "dataType": "url", "data": "https://example.com/lp/b"},
    {"uid": "row-003", "qrType": "dynamic", "dataType": "url", "data": "https://example.com/lp/c"},
]
# The doc's archive example: a dynamic row, a static row, a failed row.
MIXED = [
    {"uid": "row-001", "qrType": "dynamic", "dataType": "url", "data": "https://example.com/lp/a"},
    {"uid": "row-002", "qrType": "static", "dataType": "url", "data": "https://example.com/lp/b"},
    {"uid": "row-003", "qrType": "dynamic", "dataType": "url", "data": "not a url"},
]


def decode_data_uri(uri: str) -> list[str]:
    assert uri.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))) as image:
        assert image.format == "PNG"
        return [r.text for r in zxingcpp.read_barcodes(image.convert("L"))]


def knobs(url: str, **values) -> None:
    requests.patch(url + "/_sandbox/exaroutes", json=values, timeout=5).raise_for_status()


def submit(http, url: str, rows, headers=AUTH) -> requests.Response:
    return http.post(url + PATH, json=rows, headers=headers, timeout=10)


def bulk_id_of(resp: requests.Response) -> str:
    assert resp.status_code == 200, resp.text
    return resp.json()


def get_status(http, url: str, bulk_id: str, headers=AUTH) -> requests.Response:
    return http.get(f"{url}{PATH}/{bulk_id}", headers=headers, timeout=5)


def get_result(http, url: str, bulk_id: str, headers=AUTH) -> requests.Response:
    return http.get(f"{url}{PATH}/{bulk_id}/result", headers=headers, timeout=5)


def archive_of(resp: requests.Response) -> list:
    assert resp.status_code == 200, resp.text
    outer = resp.json()
    assert isinstance(outer, str)  # "JSON-encoded string body — the result archive is the contained string"
    return json.loads(outer)


def assert_error(resp: requests.Response, status: int, message: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert body["code"] == status and isinstance(body["message"], str)
    if message is not None:
        assert message in body["message"]
    return body


@pytest.fixture
def instant(sandbox_url):
    """The worker finishes at once."""
    knobs(sandbox_url, processing_seconds=0)
    return sandbox_url


# -- POST: the bulkId is a JSON-encoded string ------------------------------------------------------
def test_submit_the_docs_example_gives_200_and_a_json_string_bulk_id(http, sandbox_url):
    resp = submit(http, sandbox_url, EXAMPLE)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("application/json")
    assert re.fullmatch(r'"bulk_[0-9a-f]{12}"', resp.text)
    assert re.fullmatch(r"bulk_[0-9a-f]{12}", resp.json())


def test_status_reads_processing_first_with_empty_failed_features(http, sandbox_url):
    knobs(sandbox_url, processing_seconds=30)
    bulk_id = bulk_id_of(submit(http, sandbox_url, MIXED))
    body = get_status(http, sandbox_url, bulk_id).json()
    assert body["bulkId"] == bulk_id and body["status"] == "processing" and body["count"] == 3
    assert body["failedFeatures"] == {"dynamicQr": 0, "securedQr": 0, "sourceQr": 0}
    assert body["product"] == "qr" and body["updatedAt"] == body["createdAt"]
    assert list(body) == ["bulkId", "status", "count", "failedFeatures", "product", "createdAt", "updatedAt"]


def test_result_before_completion_gives_410_and_does_not_spend_the_download(http, sandbox_url):
    knobs(sandbox_url, processing_seconds=0.3)
    bulk_id = bulk_id_of(submit(http, sandbox_url, EXAMPLE))
    assert_error(get_result(http, sandbox_url, bulk_id), 410, "hasn't completed")
    time.sleep(0.35)
    assert get_status(http, sandbox_url, bulk_id).json()["status"] == "completed"
    assert len(archive_of(get_result(http, sandbox_url, bulk_id))) == 3


def test_completed_then_one_shot_download_then_result_downloaded_and_410(http, instant):
    bulk_id = bulk_id_of(submit(http, instant, MIXED))
    completed = get_status(http, instant, bulk_id).json()
    assert completed["status"] == "completed"
    assert completed["failedFeatures"] == {"dynamicQr": 1, "securedQr": 0, "sourceQr": 0}
    assert completed["updatedAt"] >= completed["createdAt"]
    archive = archive_of(get_result(http, instant, bulk_id))
    after = get_status(http, instant, bulk_id).json()
    assert after["status"] == "resultDownloaded" and after["updatedAt"] >= completed["updatedAt"]
    assert after["failedFeatures"] == completed["failedFeatures"]
    assert_error(get_result(http, instant, bulk_id), 410, "already downloaded")
    assert len(archive) == 3


def test_archive_mixes_objects_bare_strings_and_failed_rows_in_submission_order(http, instant):
    archive = archive_of(get_result(http, instant, bulk_id_of(submit(http, instant, MIXED))))
    dynamic, static, failed = archive
    assert set(dynamic) == {"id", "uid", "url", "QRs"} and dynamic["uid"] == "row-001"
    assert re.fullmatch(r"qr_[0-9a-f]{12}", dynamic["id"])
    assert dynamic["url"].startswith("https://qr.exaroutes.com/r/")
    assert isinstance(static, str) and static.startswith("data:image/png;base64,")
    assert failed == {"uid": "row-003", "status": "failed", "message": "Invalid URL provided for dataType: url",
                      "code": 400}


def test_qr_images_in_the_archive_decode_back_to_the_rows_data(http, instant):
    rows = [{"uid": "u1", "qrType": "dynamic", "data": "https://example.com/lp/a"},
            {"uid": "u2", "dataType": "text", "data": "hello, world"},
            {"uid": "u3", "dataType": "email", "data": "someone@example.com"},
            {"uid": "u4", "qrType": "dynamic", "dataType": "phone", "data": "+15551234567"},
            {"uid": "u5", "dataType": "sms", "data": "15551234567"}]
    archive = archive_of(get_result(http, instant, bulk_id_of(submit(http, instant, rows))))
    uris = [entry["QRs"] if isinstance(entry, dict) else entry for entry in archive]
    assert [decode_data_uri(u) for u in uris] == [["https://example.com/lp/a"], ["hello, world"],
                                                  ["mailto:someone@example.com"], ["tel:+15551234567"],
                                                  ["sms:15551234567"]]


def test_row_without_uid_is_recorded_failed_with_400_in_place(http, instant):
    rows = [EXAMPLE[0], {"qrType": "dynamic", "data": "https://example.com"}, {"uid": "", "data": "https://x.io"},
            EXAMPLE[2]]
    archive = archive_of(get_result(http, instant, bulk_id_of(submit(http, instant, rows))))
    assert archive[0]["uid"] == "row-001" and archive[3]["uid"] == "row-003"
    for entry in archive[1:3]:
        assert entry["status"] == "failed" and entry["code"] == 400 and "uid" not in entry


@pytest.mark.parametrize("row,message", [
    ({"dataType": "url", "data": "example.com"}, "Invalid URL provided for dataType: url"),
    ({"dataType": "barcode", "data": "x"}, "Invalid dataType"),
    ({"dataType": "url"}, "data is required"),
    ({"qrType": "sticker", "data": "https://x.io"}, "Invalid qrType"),
    ({"dataType": "email", "data": "nobody"}, "Invalid email provided for dataType: email"),
    ({"dataType": "phone", "data": "call me"}, "Invalid phone number provided for dataType: phone"),
    ({"data": "https://x.io", "secure": "pin"}, "secure must be an array"),
    ({"data": "https://x.io", "styling": []}, "styling must be an object"),
    ({"data": "https://x.io", "expiry": 1}, "expiry must be a future time"),
    ({"dataType": "text", "data": "x" * 3000}, "too long"),
])
def test_per_row_errors_land_in_the_archive_not_in_the_http_status(http, instant, row, message):
    resp = submit(http, instant, [EXAMPLE[0], {"uid": "bad", **row}])
    archive = archive_of(get_result(http, instant, bulk_id_of(resp)))
    assert archive[1]["uid"] == "bad" and archive[1]["status"] == "failed" and archive[1]["code"] == 400
    assert message in archive[1]["message"]


def test_a_failed_row_is_tallied_in_every_feature_bucket_it_had(http, instant):
    rows = [{"uid": "a", "qrType": "dynamic", "secure": ["pin"], "sources": ["s"], "data": "nope"},
            {"uid": "b", "secure": ["pin"], "data": "nope"},
            {"qrType": "dynamic", "sources": ["s"], "data": "https://x.io"},   # no uid
            {"uid": "c", "qrType": "dynamic", "secure": ["pin"], "sources": ["s"], "data": "https://ok.io"}]
    bulk_id = bulk_id_of(submit(http, instant, rows))
    assert get_status(http, instant, bulk_id).json()["failedFeatures"] == {"dynamicQr": 2, "securedQr": 2,
                                                                         "sourceQr": 2}


def test_a_repeated_uid_fails_the_later_row(http, instant):
    archive = archive_of(get_result(http, instant, bulk_id_of(submit(http, instant, [EXAMPLE[0], EXAMPLE[0]]))))
    assert archive[0]["uid"] == "row-001" and archive[1]["status"] == "failed" and "Duplicate uid" in archive[1]["message"]


# -- the Errors table --------------------------------------------------------------------------------
@pytest.mark.parametrize("body,message", [("[]", "empty"), ("{}", "JSON array"), ('"rows"', "JSON array"),
                                          ("[{nope", "JSON array"), ("", "JSON array"),
                                          ("[" * 100_000, "JSON array")])
def test_post_body_not_an_array_or_empty_gives_400(http, sandbox_url, body, message):
    resp = http.post(sandbox_url + PATH, data=body, headers={**AUTH, "Content-Type": "application/json"}, timeout=5)
    assert_error(resp, 400, message)


def test_post_with_a_non_json_content_type_gives_400(http, sandbox_url):
    resp = http.post(sandbox_url + PATH, data=json.dumps(EXAMPLE), headers={**AUTH, "Content-Type": "text/plain"},
                     timeout=5)
    assert_error(resp, 400)


def test_post_over_25_mb_gives_413_and_just_under_is_accepted(http, instant):
    big = ('[{"uid": "r", "data": "https://x.io", "pad": "' + "a" * MAX_BODY + '"}]').encode()
    assert_error(http.post(instant + PATH, data=big, headers={**AUTH, "Content-Type": "application/json"},
                           timeout=30), 413, "25 MB")
    head, tail = b'[{"uid": "r", "data": "https://x.io", "pad": "', b'"}]'
    fits = head + b"a" * (MAX_BODY - len(head) - len(tail)) + tail
    assert len(fits) == MAX_BODY
    resp = http.post(instant + PATH, data=fits, headers={**AUTH, "Content-Type": "application/json"}, timeout=30)
    assert decode_data_uri(archive_of(get_result(http, instant, bulk_id_of(resp)))[0]) == ["https://x.io"]


def test_plan_quota_gives_429_with_the_bulk_id_and_the_remaining_rows_failed(http, instant):
    knobs(instant, quota={"demo-client": 2})
    rows = [{"uid": f"r{i}", "data": f"https://x.io/{i}"} for i in range(4)]
    body = assert_error(submit(http, instant, rows), 429, "Plan QR-creation limit reached")
    archive = archive_of(get_result(http, instant, body["bulkId"]))
    assert [isinstance(e, str) for e in archive] == [True, True, False, False]
    assert archive[2] == {"uid": "r2", "status": "failed", "message": "Plan QR-creation limit reached.", "code": 429}
    assert http.get(instant + "/_sandbox/exaroutes", timeout=5).json()["quota"]["demo-client"] == 0
    # Rows that fail on their own do not spend quota.
    knobs(instant, quota={"demo-client": 1})
    resp = submit(http, instant, [{"uid": "bad", "data": "nope"}, {"uid": "ok", "data": "https://x.io"}])
    assert resp.status_code == 200


def test_spawn_failure_gives_500_and_queues_nothing(http, sandbox_url):
    before = http.get(sandbox_url + "/_sandbox/exaroutes", timeout=5).json()["quota"]["demo-client"]
    resp = submit(http, sandbox_url, [EXAMPLE[0], {"uid": "sandbox:spawn-failure"}])
    assert_error(resp, 500, "Worker failed to spawn. Retry.")
    assert http.get(sandbox_url + "/_sandbox/exaroutes", timeout=5).json()["quota"]["demo-client"] == before


def test_an_injected_500_uses_the_vendors_spawn_failure_body(http, sandbox_url):
    requests.post(sandbox_url + "/_sandbox/faults", json={"path": PATH, "method": "POST", "status": 500, "times": 1},
                  timeout=5).raise_for_status()
    assert_error(submit(http, sandbox_url, EXAMPLE), 500, "Worker failed to spawn")
    assert submit(http, sandbox_url, EXAMPLE).status_code == 200


def test_get_without_a_bulk_id_gives_400(http, sandbox_url):
    for path in (PATH, PATH + "/"):
        assert_error(http.get(sandbox_url + path, headers=AUTH, timeout=5), 400, "bulkId path param missing")


def test_unknown_bulk_id_gives_404_on_status_and_result(http, sandbox_url):
    assert_error(get_status(http, sandbox_url, "bulk_000000000000"), 404, "No bulk order with that id")
    assert_error(get_result(http, sandbox_url, "bulk_000000000000"), 404, "No bulk order with that id")


def test_another_subscriptions_bulk_id_gives_404_even_when_guessed(http, instant):
    bulk_id = bulk_id_of(submit(http, instant, EXAMPLE))
    assert_error(get_status(http, instant, bulk_id, headers=OTHER), 404)
    assert_error(get_result(http, instant, bulk_id, headers=OTHER), 404)
    assert len(archive_of(get_result(http, instant, bulk_id))) == 3  # still there for its owner


@pytest.mark.parametrize("headers,status", [
    ({}, 401), ({"client-id": "demo-client"}, 401), ({"api-key": "demo-exaroutes-key"}, 401),
    ({"client-id": "demo-client", "api-key": "wrong"}, 401),
    ({"client-id": "demo-client", "api-key": "demo-exaroutes-key-2"}, 401),
    (SUSPENDED, 403),
])
def test_auth_headers_are_required_on_every_endpoint(http, instant, headers, status):
    bulk_id = bulk_id_of(submit(http, instant, EXAMPLE))
    for resp in (submit(http, instant, EXAMPLE, headers=headers), get_status(http, instant, bulk_id, headers),
                 get_result(http, instant, bulk_id, headers)):
        body = assert_error(resp, status)
        assert "demo-exaroutes-key" not in json.dumps(body)
    assert len(archive_of(get_result(http, instant, bulk_id))) == 3


def test_unknown_routes_and_methods_answer_in_the_vendor_shape(http, sandbox_url):
    assert_error(http.delete(sandbox_url + PATH + "/bulk_x", headers=AUTH, timeout=5), 405)
    assert_error(http.get(sandbox_url + PATH + "/bulk_x/result/more", headers=AUTH, timeout=5), 404)


def test_knobs_are_validated_and_reset_restores_them(http, sandbox_url):
    for bad in ({"processing_seconds": -1}, {"quota": {"demo-client": -1}}, {"other": 1}, {"quota": []}):
        assert http.patch(sandbox_url + "/_sandbox/exaroutes", json=bad, timeout=5).status_code == 400
    assert http.patch(sandbox_url + "/_sandbox/exaroutes", json={"quota": {"nobody": 1}}, timeout=5).status_code == 404
    knobs(sandbox_url, processing_seconds=0.1, quota={"demo-client": 1})
    requests.post(sandbox_url + "/_sandbox/reset", timeout=5).raise_for_status()
    body = http.get(sandbox_url + "/_sandbox/exaroutes", timeout=5).json()
    assert body["processing_seconds"] == 3.0 and body["quota"]["demo-client"] == 100_000
