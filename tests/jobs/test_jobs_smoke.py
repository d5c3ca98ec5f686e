"""A bulk job end to end, small: submit, progress, results, images."""

from __future__ import annotations

import pytest
from jobs.conftest import DEMO, rows, wait_for


@pytest.mark.parametrize("vendor", ["flowcode", "exaroutes"])
def test_small_job_completes(http, jobs_url, vendor):
    resp = http.post(jobs_url, json={"vendor": vendor, "rows": rows(120, f"s-{vendor}-")}, headers=DEMO, timeout=30)
    assert resp.status_code == 202, resp.text
    body = resp.json()
    assert body["status"] == "queued" and body["total"] == 120
    job = wait_for(http, jobs_url + "/" + body["id"], timeout=60)
    assert job["status"] == "succeeded", job
    assert job["done"] == 120 and job["failed"] == 0
