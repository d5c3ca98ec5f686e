"""The terminal user's path against the real gateway and worker: submit a CSV, watch it, save results."""

from __future__ import annotations

import csv

from gateway.cli import main


def test_qr_submit_wait_out(jobs_url, tmp_path, capsys):
    rows = tmp_path / "rows.csv"
    rows.write_text("uid,type,url,phone\ncli-1,url,https://example.com/cli/1,\ncli-2,phone,,1234567890\n")
    out = tmp_path / "results.csv"
    base = jobs_url.rsplit("/api/", 1)[0]
    code = main(["qr", "submit", str(rows), "--vendor", "exaroutes", "--wait", "--out", str(out),
                 "--url", base, "--key", "demo-api-key"])
    assert code == 0, capsys.readouterr()
    table = list(csv.DictReader(out.open()))
    assert [(r["uid"], r["status"]) for r in table] == [("cli-1", "ok"), ("cli-2", "ok")]
    assert main(["jobs", "list", "--url", base, "--json"]) == 0
