"""A 10,000-row job per vendor completes against the sandbox; results downloaded twice are
identical; images decode to the requested destinations."""

from __future__ import annotations

import random

import pytest
from jobs.conftest import DEMO, wait_for
from qrdecode import decode


@pytest.mark.parametrize("vendor", ["exaroutes", "flowcode"])
def test_ten_thousand_rows(http, jobs_url, sandbox_url, vendor):
    import requests

    requests.patch(sandbox_url + "/_sandbox/flowcode", json={"task_seconds": 0.5}, timeout=5)
    prefix = f"tenk-{vendor}-"
    lines = ["uid,type,url"] + [f"{prefix}{i},url,https://example.com/{vendor}/{i}" for i in range(10_000)]
    resp = http.post(jobs_url + f"?vendor={vendor}", data="\n".join(lines).encode(),
                     headers={**DEMO, "Content-Type": "text/csv"}, timeout=120)
    assert resp.status_code == 202, resp.text
    job_url = jobs_url + "/" + resp.json()["id"]
    seen = []
    job = wait_for(http, job_url, timeout=420, until=lambda j: seen.append(j["done"]) or j["status"] in (
        "succeeded", "partial", "failed", "cancelled"))
    assert job["status"] == "succeeded" and job["done"] == 10_000 and job["failed"] == 0, job
    assert len(set(seen)) > 2, "progress moved while the job ran"
    first = http.get(job_url + "/results", headers=DEMO, timeout=120).content
    second = http.get(job_url + "/results", headers=DEMO, timeout=120).content
    assert first == second
    results = http.get(job_url + "/results", headers=DEMO, timeout=120).json()
    assert [r["uid"] for r in results] == [f"{prefix}{i}" for i in range(10_000)]
    for i in random.Random(7).sample(range(10_000), 15):
        image = http.get(job_url + f"/images/{prefix}{i}", headers=DEMO, timeout=10)
        assert decode(image.content) == [f"https://example.com/{vendor}/{i}"]
