"""A worker killed with SIGKILL mid-job: restarted, it resumes the job from the database, and every
row exists exactly once at the vendor.

The kill lands at chosen points (batches being polled, some rows done), held open by
a slow sandbox; the one point no client can guard — inside ExaRoutes' POST, before its bulkId is
committed — is documented in docs/jobs.md and not killed here.
"""

from __future__ import annotations

import time

import pytest
import requests
from jobs.conftest import DEMO, Worker, rows, sandbox_db, wait_for
from support import add_fault

SMALL_BATCHES = {"GATEWAY_EXAROUTES_BATCH_ROWS": "100", "GATEWAY_FLOWCODE_BATCH_SIZE": "100",
                 "GATEWAY_JOBS_MAX_INFLIGHT": "2"}


@pytest.fixture
def own_worker(worker, _gateway_server, _sandbox_server, tmp_path):
    """A worker of this test alone (the session's is stopped meanwhile, and restarts after)."""
    worker.stop()
    mine = Worker(_gateway_server.settings.data_dir, _sandbox_server.url, tmp_path / "worker.log", **SMALL_BATCHES)
    mine.start()
    yield mine
    mine.stop()


def _wait_until(check, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_killed_while_polling_exaroutes_resumes_and_makes_every_row_once(http, api_url, sandbox_url,
                                                                        _sandbox_server, own_worker):
    jobs_url = api_url + "/qr/jobs"
    prefix = f"kill-er-{time.monotonic_ns()}-"
    body = {"vendor": "exaroutes", "rows": rows(300, prefix), "options": {"qrType": "dynamic"}}
    slow = add_fault(sandbox_url, path="/api/qr/bulk-generate/*", method="GET", latency_ms=1500)
    job_id = http.post(jobs_url, json=body, headers=DEMO, timeout=30).json()["id"]
    db = sandbox_db(_sandbox_server)
    # Both first batches are at the vendor (bulkIds committed) and being polled slowly: kill now.
    _wait_until(lambda: db.one("SELECT COUNT(*) AS n FROM er_qrs WHERE uid LIKE ?", (prefix + "%",))["n"] >= 200)
    time.sleep(0.3)
    own_worker.kill()
    assert http.get(jobs_url + "/" + job_id, headers=DEMO, timeout=10).json()["status"] == "running"
    requests.delete(f"{sandbox_url}/_sandbox/faults/{slow}", timeout=5).raise_for_status()
    own_worker.start()
    job = wait_for(http, jobs_url + "/" + job_id, timeout=120)
    assert job["status"] == "succeeded" and job["done"] == 300, job
    made = db.all("SELECT uid, COUNT(*) AS n FROM er_qrs WHERE uid LIKE ? GROUP BY uid", (prefix + "%",))
    assert len(made) == 300 and all(r["n"] == 1 for r in made)
    results = http.get(jobs_url + f"/{job_id}/results", headers=DEMO, timeout=30).json()
    assert [r["uid"] for r in results] == [f"{prefix}{i}" for i in range(300)]
    assert all(r["status"] == "ok" and r["vendor_id"].startswith("qr_") for r in results)


def test_killed_mid_flowcode_job_resumes_and_makes_every_code_once(http, api_url, sandbox_url,
                                                                                _sandbox_server, own_worker):
    jobs_url = api_url + "/qr/jobs"
    requests.patch(sandbox_url + "/_sandbox/flowcode", json={"task_seconds": 0.2}, timeout=5)
    slow = add_fault(sandbox_url, path="/v4/codes/bulk/*/status", method="GET", latency_ms=300)
    job_id = http.post(jobs_url, json={"vendor": "flowcode", "rows": rows(250, "kill-fc-")}, headers=DEMO,
                       timeout=30).json()["id"]
    _wait_until(lambda: 0 < http.get(jobs_url + "/" + job_id, headers=DEMO, timeout=10).json()["done"] < 250)
    own_worker.kill()
    requests.delete(f"{sandbox_url}/_sandbox/faults/{slow}", timeout=5).raise_for_status()
    own_worker.start()
    job = wait_for(http, jobs_url + "/" + job_id, timeout=120)
    assert job["status"] == "succeeded" and job["done"] == 250, job
    db = sandbox_db(_sandbox_server)
    made = db.all("SELECT code_name, COUNT(*) AS n FROM fc_codes WHERE code_name LIKE ? GROUP BY code_name",
                  (f"fg-{job_id}-%",))
    assert len(made) == 250 and all(r["n"] == 1 for r in made)
