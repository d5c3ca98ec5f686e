"""GET /metrics (DESIGN.md's Prometheus endpoint) and the package's public surface."""

from __future__ import annotations

import re

import requests
from support import DEMO_HEADERS

import gateway


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[len(name):line.rindex("}") + 1]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_per_door_and_vendor_calls_per_outcome(gateway_url, sandbox_url, http):
    before = http.get(gateway_url + "/metrics", timeout=5).text
    assert http.get(gateway_url + "/v1/record/demo-record", headers=DEMO_HEADERS, timeout=10).status_code == 200
    http.post(sandbox_url + "/_sandbox/faults", json={"path": "/v1/record", "drop": True}, timeout=5)
    assert http.get(gateway_url + "/v1/record/demo-record", headers=DEMO_HEADERS, timeout=10).status_code == 503
    resp = http.get(gateway_url + "/metrics", timeout=5)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    after = resp.text

    def grew(name: str, **labels: str) -> float:
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    record = "GET /v1/record/<path_uuid>"
    assert grew("flowgate_requests_total", protocol="rest", operation=record, status="200") == 1
    assert grew("flowgate_requests_total", protocol="rest", operation=record, status="503") == 1
    assert grew("flowgate_upstream_requests_total", vendor="flowize", method="GET", outcome="200") == 1
    # Every attempt counts: the session's gateway tries a GET twice (one retry).
    assert grew("flowgate_upstream_requests_total", vendor="flowize", method="GET",
                outcome="UpstreamUnavailable") == 2
    assert "flowgate_upstream_duration_seconds_bucket" in after
    assert 'flowgate_circuit_state{vendor="flowize"} 0.0' in after  # closed


def test_unknown_methods_and_paths_do_not_grow_the_label_set(gateway_url):
    before = requests.get(gateway_url + "/metrics", timeout=5).text
    requests.request("BREW", gateway_url + "/healthz", timeout=5)
    requests.get(gateway_url + "/v1/no-such-thing-4711", timeout=5)
    text = requests.get(gateway_url + "/metrics", timeout=5).text
    labels = [line.split("{", 1)[1].rsplit("}", 1)[0] for line in text.splitlines()
              if line.startswith("flowgate_requests_total{")]
    assert labels and not [lb for lb in labels if "BREW" in lb or "no-such-thing" in lb], labels
    unmatched = {"protocol": "rest", "operation": "unmatched", "status": "404"}
    assert _sample(text, "flowgate_requests_total", **unmatched) - _sample(before, "flowgate_requests_total",
                                                                            **unmatched) == 1


def test_public_surface_is_small_and_importable():
    assert set(gateway.__all__) == {"create_app", "Settings", "SettingsError", "HttpClient", "__version__"}
    for name in gateway.__all__:
        assert getattr(gateway, name) is not None
