"""ExaRoutesConnector over real HTTP against the sandbox, and the archive store on SQLite and
PostgreSQL: submit -> poll with the doc's backoff -> the one-shot download saved durably before it
is used (and served from the store once the vendor says 410), vendor errors mapped to the exception
tree, retries only where safe, injected faults."""

from __future__ import annotations

import base64
import io
import json
import time

import pytest
import requests
import zxingcpp
from PIL import Image
from support import add_fault, migrated_store

import gateway.connectors.exaroutes as exaroutes_module
from gateway.config import Settings
from gateway.connectors.exaroutes import ExaRoutesConnector, parse_archive, parse_schedule
from gateway.errors import (
    AuthError,
    Forbidden,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.http import HttpClient
from gateway.store import Store
from gateway.store.archives import ArchiveRepository

PATH = "/api/qr/bulk-generate"
KEY = "demo-exaroutes-key"
FAST = (0.02, 0.05)
ROWS = [
    {"uid": "row-001", "qrType": "dynamic", "dataType": "url", "data": "https://example.com/lp/a"},
    {"uid": "row-002", "dataType": "url", "data": "https://example.com/lp/b"},
    {"uid": "row-003", "qrType": "dynamic", "dataType": "url", "data": "not a url"},
    {"qrType": "dynamic", "data": "https://example.com/lp/d"},
]


# -- the store, on both engines ---------------------------------------------------------------------
@pytest.fixture
def store(any_store):
    return any_store


@pytest.fixture
def sqlite_store(request, tmp_path):
    store, cleanup = migrated_store(request, tmp_path, "sqlite")
    yield store
    cleanup()


@pytest.fixture
def archives(sqlite_store) -> ArchiveRepository:
    return ArchiveRepository(sqlite_store)


def test_migrations_create_the_vendor_archives_table(store):
    assert {"upstream_tokens", "vendor_archives"} <= set(store.tables())
    store.migrate()  # repeatable
    assert "vendor_archives" in store.tables()


def test_archive_is_committed_first_copy_wins_and_another_process_reads_it(store):
    repo = ArchiveRepository(store)
    assert repo.get("exaroutes", "demo-client", "bulk_1") is None
    saved = repo.save("exaroutes", "demo-client", "bulk_1", b'"[1]"')
    assert saved.content == b'"[1]"' and len(saved.sha256) == 64
    assert repo.save("exaroutes", "demo-client", "bulk_1", b'"[2]"').content == b'"[1]"'
    other = Store(store.url)  # a second gateway process on the same database
    other.engine = store.engine
    other._sessions.configure(bind=store.engine)
    assert ArchiveRepository(other).get("exaroutes", "demo-client", "bulk_1").content == b'"[1]"'
    assert repo.get("exaroutes", "demo-client-2", "bulk_1") is None  # scoped per account
    assert repo.ids("exaroutes", "demo-client") == ["bulk_1"]
    assert repo.delete("exaroutes", "demo-client", "bulk_1") and not repo.delete("exaroutes", "demo-client", "bulk_1")


def test_archive_repr_leaves_the_content_out():
    from gateway.store.archives import StoredArchive
    assert "secret-payload" not in repr(StoredArchive("v", "a", "b", b"secret-payload", "x", "0" * 64, 0.0))


# -- the connector --------------------------------------------------------------------------------------


def make(http, sandbox_url, archives, slept=None, **kw) -> ExaRoutesConnector:
    kw.setdefault("poll_schedule", FAST)
    sleep = (lambda s: (slept.append(s), time.sleep(s))) if slept is not None else time.sleep
    return ExaRoutesConnector(http, sandbox_url, "demo-client", KEY, archives=archives, sleep=sleep, **kw)


@pytest.fixture
def connector(http, sandbox_url, archives, slept):
    return make(http, sandbox_url, archives, slept)


def knobs(sandbox_url: str, **values) -> None:
    requests.patch(sandbox_url + "/_sandbox/exaroutes", json=values, timeout=5).raise_for_status()



def hits(sandbox_url: str, rule_id: int) -> int:
    rules = requests.get(sandbox_url + "/_sandbox/faults", timeout=5).json()["faults"]
    return next((r["hits"] for r in rules if r["id"] == rule_id), -1)


def vendor_result(sandbox_url: str, bulk_id: str) -> requests.Response:
    return requests.get(f"{sandbox_url}{PATH}/{bulk_id}/result", headers={"client-id": "demo-client", "api-key": KEY},
                        timeout=5)


def decode(image: bytes) -> list[str]:
    with Image.open(io.BytesIO(image)) as img:
        return [r.text for r in zxingcpp.read_barcodes(img.convert("L"))]


def test_generate_end_to_end_saves_the_archive_before_returning(http, sandbox_url, store):
    knobs(sandbox_url, processing_seconds=0.05)
    repo = ArchiveRepository(store)
    result = make(http, sandbox_url, repo).generate(ROWS)
    assert [r.kind for r in result.rows] == ["dynamic", "static", "failed", "failed"]
    assert [r.uid for r in result.rows] == ["row-001", "row-002", "row-003", None]
    dynamic, static, failed, no_uid = result.rows
    assert dynamic.id.startswith("qr_") and dynamic.url.startswith("https://qr.exaroutes.com/r/")
    assert decode(dynamic.image()) == ["https://example.com/lp/a"] and decode(static.image()) == [
        "https://example.com/lp/b"]
    assert (failed.message, failed.code) == ("Invalid URL provided for dataType: url", 400)
    assert no_uid.code == 400 and len(result.succeeded) == 2 and len(result.failed) == 2
    stored = repo.get("exaroutes", "demo-client", result.bulk_id)
    assert stored is not None and isinstance(json.loads(stored.content), str)  # the vendor's bytes, as received
    assert vendor_result(sandbox_url, result.bulk_id).status_code == 410  # the vendor's copy is gone
    again = make(http, sandbox_url, ArchiveRepository(store)).download(result.bulk_id, ROWS)
    assert again.from_store and again.rows == result.rows


def test_the_poll_schedule_comes_from_settings_and_its_last_value_repeats(http, sandbox_url, archives, slept):
    knobs(sandbox_url, processing_seconds=600)
    connector = ExaRoutesConnector.from_settings(http, Settings(exaroutes_base_url=sandbox_url), archives,
                                                 sleep=slept.append, max_wait=100)
    assert connector.poll_schedule == (2.0, 5.0, 15.0, 30.0)
    bulk_id = connector.submit(ROWS).bulk_id
    with pytest.raises(UpstreamTimeout):
        connector.wait(bulk_id)
    assert slept == [2.0, 5.0, 15.0, 30.0, 30.0]


def test_wait_polls_until_completed(connector, sandbox_url, slept):
    knobs(sandbox_url, processing_seconds=0.15)
    bulk_id = connector.submit(ROWS).bulk_id
    status = connector.wait(bulk_id)
    assert status.status == "completed" and status.count == 4 and status.done
    assert status.failed_features == {"dynamicQr": 2, "securedQr": 0, "sourceQr": 0}
    assert slept[:2] == [0.02, 0.05] and set(slept[2:]) <= {0.05}


def test_download_before_completion_is_410_and_spends_nothing(connector, sandbox_url, archives):
    knobs(sandbox_url, processing_seconds=0.2)
    bulk_id = connector.submit(ROWS).bulk_id
    with pytest.raises(NotFound) as err:
        connector.download(bulk_id)
    assert err.value.code == 410 and "hasn't completed" in err.value.message
    assert archives.get("exaroutes", "demo-client", bulk_id) is None
    connector.wait(bulk_id)
    assert len(connector.download(bulk_id).rows) == 4


def test_a_410_falls_back_to_the_archive_another_worker_saved(http, sandbox_url, archives):
    knobs(sandbox_url, processing_seconds=0)
    first = make(http, sandbox_url, archives)
    bulk_id = first.submit(ROWS).bulk_id
    saved = first.download(bulk_id)

    class RacingRepository(ArchiveRepository):
        """The first look finds nothing: the other worker saves it while we ask the vendor."""
        looks = 0

        def get(self, *key):
            self.looks += 1
            return None if self.looks == 1 else super().get(*key)

    racer = RacingRepository(archives.store)
    result = make(http, sandbox_url, racer).download(bulk_id)
    assert racer.looks == 2 and result.from_store and result.rows == saved.rows


def test_a_410_with_nothing_saved_is_not_found_with_code_410(connector, sandbox_url):
    knobs(sandbox_url, processing_seconds=0)
    bulk_id = connector.submit(ROWS).bulk_id
    assert vendor_result(sandbox_url, bulk_id).status_code == 200  # someone else took it, unsaved
    with pytest.raises(NotFound) as err:
        connector.download(bulk_id)
    assert err.value.code == 410 and "already downloaded" in err.value.message


def test_the_archive_is_saved_even_when_it_does_not_parse(connector, sandbox_url, archives):
    knobs(sandbox_url, processing_seconds=0)
    bulk_id = connector.submit(ROWS).bulk_id
    with pytest.raises(UpstreamError):
        connector.download(bulk_id, rows=ROWS[:2])  # 4 entries for 2 rows
    assert archives.get("exaroutes", "demo-client", bulk_id) is not None
    assert len(connector.download(bulk_id).rows) == 4


def test_a_result_lost_in_transit_is_not_replayed(http, sandbox_url, archives):
    # The one-shot download is never retried: a replay would only read 410.
    knobs(sandbox_url, processing_seconds=0)
    client = HttpClient(Settings(http_retries=2, http_read_timeout=0.2))
    connector = make(client, sandbox_url, archives)
    bulk_id = connector.submit(ROWS).bulk_id
    rule = add_fault(sandbox_url, path=f"{PATH}/{bulk_id}/result", slow_body_ms=400, times=2)
    with pytest.raises(UpstreamTimeout):
        connector.download(bulk_id)
    assert hits(sandbox_url, rule) == 1
    requests.delete(f"{sandbox_url}/_sandbox/faults/{rule}", timeout=5)
    # The limit of any client: the vendor handed the archive out, and it never arrived.
    with pytest.raises(NotFound) as err:
        connector.download(bulk_id)
    assert err.value.code == 410
    client.close()


def test_static_rows_take_their_uid_from_submission_order(connector, sandbox_url):
    knobs(sandbox_url, processing_seconds=0)
    rows = [{"uid": f"s{i}", "dataType": "text", "data": f"text {i}"} for i in range(5)]
    result = connector.generate(rows)
    assert [(r.kind, r.uid) for r in result.rows] == [("static", f"s{i}") for i in range(5)]
    assert [decode(r.image()) for r in result.rows] == [[f"text {i}"] for i in range(5)]


def test_plan_quota_429_is_a_partial_submission_not_an_error(connector, sandbox_url):
    knobs(sandbox_url, processing_seconds=0, quota={"demo-client": 1})
    rows = [{"uid": f"q{i}", "data": f"https://x.io/{i}"} for i in range(3)]
    submission = connector.submit(rows)
    assert submission.quota_reached and submission.bulk_id.startswith("bulk_")
    result = connector.download(submission.bulk_id, rows)
    assert [r.code for r in result.rows] == [None, 429, 429] and result.rows[0].uid == "q0"


def test_generate_raises_the_plan_quota_as_rate_limited_after_saving_the_archive(connector, sandbox_url, archives):
    knobs(sandbox_url, processing_seconds=0, quota={"demo-client": 1})
    rows = [{"uid": f"g{i}", "data": f"https://x.io/{i}"} for i in range(3)]
    with pytest.raises(RateLimited) as err:
        connector.generate(rows)
    assert err.value.retry_after == connector.quota_retry_after and err.value.status == 429
    bulk_id = err.value.detail["bulk_id"]
    assert archives.get("exaroutes", "demo-client", bulk_id) is not None  # the row that was made is kept


def test_from_settings_takes_a_poll_schedule_override(http, archives):
    settings = Settings(exaroutes_poll_schedule="2,5")
    connector = ExaRoutesConnector.from_settings(http, settings, archives, poll_schedule=(0.01,))
    assert connector.poll_schedule == (0.01,)
    assert ExaRoutesConnector.from_settings(http, settings, archives).poll_schedule == (2.0, 5.0)


# -- errors and faults: retries only where safe ----------------------------------------------------------
def test_vendor_errors_become_the_exception_tree(http, sandbox_url, connector, archives):
    with pytest.raises(InvalidRequest):
        connector.submit([])
    with pytest.raises(NotFound):
        connector.status("bulk_000000000000")
    with pytest.raises(AuthError) as err:
        ExaRoutesConnector(http, sandbox_url, "demo-client", "wrong-secret", archives=archives).status("bulk_1")
    assert "wrong-secret" not in str(err.value)
    with pytest.raises(Forbidden):
        ExaRoutesConnector(http, sandbox_url, "demo-client-suspended", "demo-exaroutes-key-suspended",
                           archives=archives).submit(ROWS)
    other = ExaRoutesConnector(http, sandbox_url, "demo-client-2", "demo-exaroutes-key-2", archives=archives)
    with pytest.raises(NotFound):
        other.status(connector.submit(ROWS).bulk_id)
    assert KEY not in repr(connector)


def test_a_batch_over_25_mb_is_refused_before_sending(connector, sandbox_url, monkeypatch):
    monkeypatch.setattr(exaroutes_module, "MAX_BODY", 100)
    rule = add_fault(sandbox_url, path=PATH, latency_ms=1)
    with pytest.raises(PayloadTooLarge):
        connector.submit(ROWS)
    assert hits(sandbox_url, rule) == 0


def test_the_vendors_413_is_payload_too_large(connector, monkeypatch):
    monkeypatch.setattr(exaroutes_module, "MAX_BODY", 10 * exaroutes_module.MAX_BODY)
    with pytest.raises(PayloadTooLarge):
        connector.submit([{"uid": "big", "data": "https://x.io", "pad": "a" * (25 * 1024 * 1024)}])


def test_spawn_failure_is_retried_once_because_nothing_was_queued(connector, sandbox_url, slept):
    rule = add_fault(sandbox_url, path=PATH, method="POST", status=500, times=1)
    assert connector.submit(ROWS).bulk_id.startswith("bulk_")
    assert hits(sandbox_url, rule) == -1 and slept == [0.02]
    with pytest.raises(UpstreamError) as err:
        connector.submit([{"uid": "sandbox:spawn-failure"}])
    assert err.value.status == 502 and "Worker failed to spawn" in err.value.message


def test_429_with_retry_after_on_submit_is_rate_limited_and_not_replayed(connector, sandbox_url):
    rule = add_fault(sandbox_url, path=PATH, method="POST", status=429, retry_after=9)
    with pytest.raises(RateLimited) as err:
        connector.submit(ROWS)
    assert err.value.retry_after == 9.0 and hits(sandbox_url, rule) == 1


def test_dropped_connection_on_submit_is_unavailable_and_not_replayed(connector, sandbox_url):
    rule = add_fault(sandbox_url, path=PATH, method="POST", drop=True)
    with pytest.raises(UpstreamUnavailable):
        connector.submit(ROWS)
    assert hits(sandbox_url, rule) == 1


def test_polling_waits_out_timeouts_drops_and_5xx(http, sandbox_url, archives, slept):
    knobs(sandbox_url, processing_seconds=0)
    client = HttpClient(Settings(http_retries=0, http_read_timeout=0.2))
    connector = make(client, sandbox_url, archives, slept)
    bulk_id = connector.submit(ROWS).bulk_id
    status_path = f"{PATH}/{bulk_id}"
    add_fault(sandbox_url, path=status_path, status=503, times=1)
    add_fault(sandbox_url, path=status_path, drop=True, times=1)
    add_fault(sandbox_url, path=status_path, latency_ms=300, times=1)
    assert connector.wait(bulk_id).status == "completed" and len(slept) == 4
    client.close()


# -- the archive format ---------------------------------------------------------------------------------
def test_parse_archive_reads_the_docs_shape_and_a_plain_array():
    entries = [{"id": "qr_abc", "uid": "row-001", "url": "https://qr.exaroutes.com/r/h4k2x9",
                "QRs": "data:image/png;base64," + base64.b64encode(b"png").decode()},
               "data:image/png;base64,AAAA",
               {"uid": "row-003", "status": "failed", "message": "Invalid URL provided for dataType: url", "code": 400}]
    double = json.dumps(json.dumps(entries)).encode()
    rows = parse_archive(double, [{"uid": "row-001"}, {"uid": "row-002"}, {"uid": "row-003"}])
    assert [(r.kind, r.uid, r.ok) for r in rows] == [("dynamic", "row-001", True), ("static", "row-002", True),
                                                      ("failed", "row-003", False)]
    assert rows[0].image() == b"png" and rows[2].image() is None
    assert parse_archive(json.dumps(entries).encode()) == parse_archive(double)


@pytest.mark.parametrize("body", [b"not json", b'"not an array"', json.dumps(json.dumps([42])).encode(),
                                  json.dumps(json.dumps({"a": 1})).encode()])
def test_parse_archive_rejects_what_it_cannot_read(body):
    with pytest.raises(UpstreamError):
        parse_archive(body)


def test_parse_schedule():
    assert parse_schedule("2,5,15,30") == (2.0, 5.0, 15.0, 30.0)
    assert parse_schedule("0.5") == (0.5,)
    with pytest.raises(ValueError):
        parse_schedule(",")
