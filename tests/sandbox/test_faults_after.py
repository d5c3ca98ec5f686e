"""``after: true`` fault rules: the vendor does the work, then the answer is lost, late or an error."""

from __future__ import annotations

import pytest
import requests
from support import DEMO_HEADERS, add_fault

HEADERS = {**DEMO_HEADERS, "X-Flow": "demo-flow", "Content-Type": "application/json"}


@pytest.mark.parametrize("rule", [{"status": 500}, {"drop": True}])
def test_a_write_happens_although_its_answer_is_an_error_or_lost(sandbox_url, rule):
    add_fault(sandbox_url, path="/v1/record", method="POST", after=True, times=1, **rule)
    try:
        resp = requests.post(sandbox_url + "/v1/record", headers={**HEADERS, "X-Uuid": "ghost-1"},
                             data='{"a": 1}', timeout=5)
        assert resp.status_code == 500
    except requests.ConnectionError:
        assert rule.get("drop")
    check = requests.get(sandbox_url + "/v1/record", headers={**DEMO_HEADERS, "X-Uuid": "ghost-1"}, timeout=5)
    assert check.status_code == 200 and check.json()["resource"]["data_record"] == {"a": 1}


def test_without_after_the_write_does_not_happen(sandbox_url):
    add_fault(sandbox_url, path="/v1/record", method="POST", status=500, times=1)
    requests.post(sandbox_url + "/v1/record", headers={**HEADERS, "X-Uuid": "ghost-2"}, data='{"a": 1}', timeout=5)
    check = requests.get(sandbox_url + "/v1/record", headers={**DEMO_HEADERS, "X-Uuid": "ghost-2"}, timeout=5)
    assert check.status_code == 404


def test_after_must_be_a_boolean(sandbox_url):
    resp = requests.post(sandbox_url + "/_sandbox/faults", json={"path": "/x", "status": 500, "after": "yes"},
                         timeout=5)
    assert resp.status_code == 400
