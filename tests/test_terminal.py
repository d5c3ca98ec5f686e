"""``flowgate qr | jobs | events | feed``: the real CLI against a small fake of the /api/ contract on
loopback (the real facade has its own tests; the lead's end-to-end test runs these verbs against it)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask, Response, request
from support import free_port

from gateway.cli import main
from gateway.server import serve_in_thread

KEY = "test-consumer-key"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
REPORT_CSV = "\ufeffSession,Name,Message\r\ndemo,Zoë,\"hi, there\"\r\ndemo,Ann,[bold]x[/bold]\r\n".encode()
SESSIONS = [{"token": f"s{i}", "title": f"Session {i}", "starts_at": f"2030-01-0{i}T10:00:00Z", "status": "upcoming"}
            for i in range(1, 6)]
POSTS = [{"key": f"p{i}", "published_at": f"2024-05-0{i}T08:00:00+00:00", "type": "text",
          "text": f"post number {i}", "author": {"name": f"Author {i}"}} for i in range(1, 4)]


def problem(status: int, code: str, detail: str, **extra) -> Response:
    body = {"type": f"https://flowgate.dev/problems/{code}", "title": code.replace("_", " ").capitalize(),
            "status": status, "detail": detail, "code": code, "request_id": "req-123", **extra}
    return Response(json.dumps(body), status=status, content_type="application/problem+json")


def answer(body, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def fake_facade() -> Flask:
    """Just enough of the facade: every request is recorded in ``app.config["seen"]``."""
    app = Flask(__name__)
    seen: list[dict] = []
    jobs: dict[str, dict] = {}
    registered: set[tuple[str, str]] = set()
    app.config.update(seen=seen, jobs=jobs)

    @app.before_request
    def record_and_authenticate():
        seen.append({"method": request.method, "path": request.path, "args": request.args.to_dict(),
                     "headers": dict(request.headers), "body": request.get_data()})
        if request.headers.get("X-Apikey") != KEY:
            return problem(401, "unauthorized", "The consumer key is not valid.")
        return None

    @app.post("/api/qr/codes")
    def create_code():
        body = request.get_json()
        return answer({"uid": body["row"]["uid"], "vendor": body["vendor"], "vendor_id": "fc-77",
                       "url": "https://flowcode.example/fc-77",
                       "image": {"href": f"/api/qr/codes/{body['vendor']}/fc-77/image", "media_type": "image/png"}},
                      201)

    @app.get("/api/qr/codes/<vendor>/<vendor_id>/image")
    def code_image(vendor, vendor_id):
        return Response(PNG, content_type="image/png")

    @app.post("/api/qr/jobs")
    def submit_job():
        text = request.get_data().decode()
        if request.mimetype == "text/csv":
            rows = list(csv.DictReader(io.StringIO(text)))
        else:
            rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        errors = [{"uid": r["uid"], "reason": "destination.url must be an http(s) URL"} if r.get("uid")
                  else {"index": i, "reason": "uid is required"}
                  for i, r in enumerate(rows) if not r.get("uid") or r["uid"].startswith("bad")]
        if errors:
            return problem(422, "validation_failed", f"{len(errors)} of {len(rows)} rows are not valid.",
                           errors=errors)
        job_id = f"job-{len(jobs) + 1}"
        jobs[job_id] = {"id": job_id, "vendor": request.args["vendor"], "status": "queued", "total": len(rows),
                        "done": 0, "failed": 0, "created_at": "2024-05-01T00:00:00Z",
                        "updated_at": "2024-05-01T00:00:00Z", "errors": [],
                        "_outcome": request.args.get("outcome", "succeeded"), "_rows": rows,
                        "_throttle": int(request.args.get("throttle", 0))}
        return answer({"id": job_id, "status": "queued", "total": len(rows),
                       "links": {"self": f"/api/qr/jobs/{job_id}", "results": f"/api/qr/jobs/{job_id}/results"}}, 202)

    def public(job: dict) -> dict:
        return {k: v for k, v in job.items() if not k.startswith("_")}

    @app.get("/api/qr/jobs")
    def list_jobs():
        items = [public(j) for j in jobs.values()]
        limit = int(request.args.get("limit", 50))
        return answer({"items": items[:limit], "next_cursor": "more-jobs" if len(items) > limit else None})

    @app.get("/api/qr/jobs/<job_id>")
    def show_job(job_id):
        job = jobs.get(job_id)
        if job is None:
            return problem(404, "not_found", f"No job {job_id}.")
        if job["_throttle"]:
            job["_throttle"] -= 1
            resp = problem(429, "rate_limited", "Too many requests for this key.")
            resp.headers["Retry-After"] = "0"
            return resp
        if job["status"] in ("queued", "running"):  # one row per poll; the last fails in a partial job
            position = job["done"] + job["failed"]
            fails = job["_outcome"] == "failed" or (job["_outcome"] == "partial" and position == job["total"] - 1)
            job["failed" if fails else "done"] += 1
            if fails:
                job["errors"].append({"uid": job["_rows"][position]["uid"], "reason": "vendor refused the row"})
            job["status"] = job["_outcome"] if job["done"] + job["failed"] == job["total"] else "running"
        return answer(public(job))

    @app.delete("/api/qr/jobs/<job_id>")
    def cancel_job(job_id):
        jobs[job_id]["status"] = "cancelled"
        return answer(public(jobs[job_id]))

    @app.get("/api/qr/jobs/<job_id>/results")
    def job_results(job_id):
        rows = jobs[job_id]["_rows"]
        if request.accept_mimetypes.best == "text/csv":
            lines = ["uid,status,url"] + [f"{r['uid']},ok,https://q.example/{r['uid']}" for r in rows]
            return Response("\r\n".join(lines) + "\r\n", content_type="text/csv; charset=utf-8")
        return answer({"items": [{"uid": r["uid"], "status": "ok"} for r in rows], "next_cursor": None})

    @app.get("/api/events/sessions")
    def sessions():
        start = int(request.args.get("cursor", 0))
        end = start + 2
        return answer({"items": SESSIONS[start:end], "next_cursor": str(end) if end < len(SESSIONS) else None})

    @app.post("/api/events/sessions/<token>/registrants")
    def register(token):
        body = request.get_json()
        new = (token, body["email"]) not in registered
        registered.add((token, body["email"]))
        return answer({"id": 9, "email": body["email"], "first_name": body["first_name"],
                       "join_url": f"https://events.example/join/{token}/9"}, 201 if new else 200)

    @app.get("/api/events/sessions/<token>/reports/<kind>")
    def report(token, kind):
        if request.accept_mimetypes.best == "text/csv":
            return Response(REPORT_CSV, content_type="text/csv; charset=utf-8")
        return answer({"items": [{"session": token, "name": "Zoë", "message": "hi, there"}]})

    @app.get("/api/feeds/<flow_key>")
    def feed(flow_key):
        if request.args.get("all") == "true":
            return Response((json.dumps(p) + "\n" for p in POSTS), content_type="application/x-ndjson")
        return answer({"posts": POSTS[:2], "next_cursor": "feed-2"})

    return app


@pytest.fixture
def facade(monkeypatch):
    app = fake_facade()
    server = serve_in_thread(app)
    monkeypatch.setenv("FLOWGATE_URL", server.url)
    monkeypatch.setenv("FLOWGATE_API_KEY", KEY)
    yield app
    server.shutdown()


def requests_to(app: Flask, method: str, path: str) -> list[dict]:
    return [r for r in app.config["seen"] if r["method"] == method and r["path"] == path]


def write_rows(tmp_path: Path, *uids: str, name: str = "rows.csv") -> Path:
    path = tmp_path / name
    path.write_text("uid,type,url\n" + "".join(f"{u},url,https://example.com/{u}\n" for u in uids))
    return path


# -- qr create ------------------------------------------------------------------------------------
def test_qr_create_sends_the_row_and_saves_the_image(facade, tmp_path, capsys):
    image = tmp_path / "wifi.png"
    code = main(["qr", "create", "--vendor", "flowcode", "--uid", "w1", "--type", "wifi",
                 "--field", "ssid=Guest Net", "--field", "security=WPA", "--field", "password=s3cret=x!",
                 "--field", "hidden=true", "--option", "file_type=PNG", "--option", "folder_id=12",
                 "--save-image", str(image)])
    out, err = capsys.readouterr()
    assert code == 0, err
    [sent] = requests_to(facade, "POST", "/api/qr/codes")
    assert json.loads(sent["body"]) == {
        "vendor": "flowcode",
        "row": {"uid": "w1", "destination": {"type": "wifi", "ssid": "Guest Net", "security": "WPA",
                                             "password": "s3cret=x!", "hidden": True}},
        "options": {"file_type": "PNG", "folder_id": "12"}}
    assert sent["headers"]["X-Apikey"] == KEY
    assert image.read_bytes() == PNG
    assert "fc-77" in out and "https://flowcode.example/fc-77" in out


def test_qr_create_url_shortcut_and_json_output(facade, capsys):
    assert main(["qr", "create", "--vendor", "exaroutes", "--uid", "u1", "--url-dest", "https://a.example/x",
                 "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["image"]["href"] == "/api/qr/codes/exaroutes/fc-77/image"
    [sent] = requests_to(facade, "POST", "/api/qr/codes")
    assert json.loads(sent["body"])["row"]["destination"] == {"type": "url", "url": "https://a.example/x"}
    assert "options" not in json.loads(sent["body"])


def test_bad_field_syntax_is_a_usage_error(facade, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["qr", "create", "--vendor", "flowcode", "--uid", "x", "--type", "url", "--field", "nonsense"])
    assert exc.value.code == 2
    assert "expected name=value" in capsys.readouterr().err


# -- qr submit ------------------------------------------------------------------------------------
def test_submit_without_wait_prints_the_job_id_and_streams_csv(facade, tmp_path, capsys):
    rows = write_rows(tmp_path, "a", "b", "c")
    assert main(["qr", "submit", str(rows), "--vendor", "flowcode", "--option", "file_type=SVG",
                 "--option", "folder_id=1", "--idempotency-key", "k-1"]) == 0
    assert capsys.readouterr().out.strip() == "job-1"
    [sent] = requests_to(facade, "POST", "/api/qr/jobs")
    assert sent["headers"]["Content-Type"] == "text/csv"
    assert sent["headers"]["Content-Length"] == str(rows.stat().st_size)  # the file itself, sent as it is
    assert sent["body"] == rows.read_bytes()
    assert sent["args"] == {"vendor": "flowcode", "file_type": "SVG", "folder_id": "1"}
    assert sent["headers"]["Idempotency-Key"] == "k-1"


@pytest.mark.parametrize(("outcome", "exit_code"), [("succeeded", 0), ("partial", 3), ("failed", 1)])
def test_submit_wait_follows_the_job_and_writes_the_results(facade, tmp_path, capsys, outcome, exit_code):
    rows, out = write_rows(tmp_path, "a", "b", "c"), tmp_path / "results.csv"
    code = main(["qr", "submit", str(rows), "--vendor", "exaroutes", "--option", f"outcome={outcome}",
                 "--wait", "--interval", "0.01", "--out", str(out)])
    stdout, stderr = capsys.readouterr()
    assert code == exit_code, stderr
    assert len(requests_to(facade, "GET", "/api/qr/jobs/job-1")) == 3  # one row per poll, to the end
    assert f"job job-1 {outcome}" in stdout
    if outcome != "succeeded":
        assert "row uid=c: vendor refused the row" in stderr
    [download] = requests_to(facade, "GET", "/api/qr/jobs/job-1/results")
    assert download["headers"]["Accept"] == "text/csv"
    assert out.read_bytes() == (b"uid,status,url\r\na,ok,https://q.example/a\r\nb,ok,https://q.example/b\r\n"
                                b"c,ok,https://q.example/c\r\n")
    assert not (tmp_path / "results.csv.part").exists()


def test_submit_wait_rides_out_rate_limited_polls(facade, tmp_path, capsys):
    rows = write_rows(tmp_path, "a")
    assert main(["qr", "submit", str(rows), "--vendor", "flowcode", "--option", "throttle=2",
                 "--wait", "--interval", "0.01"]) == 0
    assert "job job-1 succeeded: 1 done, 0 failed of 1" in capsys.readouterr().out
    assert len(requests_to(facade, "GET", "/api/qr/jobs/job-1")) == 3


def test_out_without_wait_is_a_usage_error(facade, tmp_path, capsys):
    assert main(["qr", "submit", str(write_rows(tmp_path, "a")), "--vendor", "flowcode", "--out", "r.csv"]) == 2
    assert capsys.readouterr().err.startswith("flowgate: --out needs --wait")
    assert not requests_to(facade, "POST", "/api/qr/jobs")


def test_submit_ndjson_is_sent_as_ndjson(facade, tmp_path, capsys):
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"uid": "n1", "destination": {"type": "url", "url": "https://e.example"}}) + "\n")
    assert main(["qr", "submit", str(rows), "--vendor", "flowcode", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "queued"
    [sent] = requests_to(facade, "POST", "/api/qr/jobs")
    assert sent["headers"]["Content-Type"] == "application/x-ndjson"


def test_invalid_rows_give_one_line_per_row(facade, tmp_path, capsys):
    rows = tmp_path / "rows.csv"
    rows.write_text("uid,type,url\nok1,url,https://e.example\nbad2,url,ftp://x\n,url,https://e.example\n")
    assert main(["qr", "submit", str(rows), "--vendor", "flowcode", "--wait"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == ["flowgate: 422 validation_failed: 2 of 3 rows are not valid.",
                                "  row uid=bad2: destination.url must be an http(s) URL",
                                "  row index=2: uid is required"]


def test_a_missing_rows_file_is_one_line(facade, tmp_path, capsys):
    assert main(["qr", "submit", str(tmp_path / "nope.csv"), "--vendor", "flowcode"]) == 1
    assert capsys.readouterr().err == f"flowgate: {tmp_path / 'nope.csv'}: No such file or directory\n"


# -- errors ---------------------------------------------------------------------------------------
def test_wrong_key_gives_one_problem_line_and_exit_1(facade, capsys):
    assert main(["jobs", "list", "--key", "wrong"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "flowgate: 401 unauthorized: The consumer key is not valid.\n"


def test_connection_refused_names_the_url(capsys):
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["events", "sessions", "--url", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"flowgate: cannot reach the gateway at {url}: connection refused")
    assert err.count("\n") == 1


def test_console_script_prints_no_traceback(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run([str(Path(sys.executable).parent / "flowgate"), "feed", "demo-feed", "--url", url],
                          check=False, capture_output=True, text=True, timeout=20)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(f"flowgate: cannot reach the gateway at {url}")
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1


# -- jobs -----------------------------------------------------------------------------------------
def test_jobs_list_show_cancel_and_results(facade, tmp_path, capsys):
    for _ in range(2):
        main(["qr", "submit", str(write_rows(tmp_path, "a", "b")), "--vendor", "flowcode"])
    capsys.readouterr()

    assert main(["jobs", "list", "--limit", "1"]) == 0
    out, err = capsys.readouterr()
    assert "job-1" in out and "job-2" not in out and "queued" in out
    assert "--cursor more-jobs" in err
    assert main(["jobs", "list", "--json"]) == 0
    assert [j["id"] for j in json.loads(capsys.readouterr().out)["items"]] == ["job-1", "job-2"]

    assert main(["jobs", "show", "job-2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["vendor"] == "flowcode"
    assert main(["jobs", "cancel", "job-2"]) == 0
    assert capsys.readouterr().out == "job job-2: cancelled\n"
    assert requests_to(facade, "DELETE", "/api/qr/jobs/job-2")

    assert main(["jobs", "show", "job-9"]) == 1
    assert capsys.readouterr().err == "flowgate: 404 not_found: No job job-9.\n"

    assert main(["jobs", "results", "job-1"]) == 0
    assert "ok" in capsys.readouterr().out
    out_file = tmp_path / "r.csv"
    assert main(["jobs", "results", "job-1", "--csv", "--out", str(out_file)]) == 0
    assert out_file.read_bytes().startswith(b"uid,status,url\r\na,ok,")


# -- events ---------------------------------------------------------------------------------------
def test_sessions_follow_next_cursor_to_the_end(facade, capsys):
    assert main(["events", "sessions", "--period", "upcoming", "--json"]) == 0
    items = json.loads(capsys.readouterr().out)["items"]
    assert [s["token"] for s in items] == ["s1", "s2", "s3", "s4", "s5"]
    calls = requests_to(facade, "GET", "/api/events/sessions")
    assert [c["args"] for c in calls] == [{"period": "upcoming"}, {"period": "upcoming", "cursor": "2"},
                                          {"period": "upcoming", "cursor": "4"}]
    assert main(["events", "sessions"]) == 0
    table = capsys.readouterr().out
    assert all(f"Session {i}" in table for i in range(1, 6))


def test_register_says_new_or_already_registered(facade, capsys):
    argv = ["events", "register", "demo-session", "--email", "ann@example.com", "--first-name", "Ann",
            "--company", "Acme"]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines() == ["registered ann@example.com for demo-session",
                                                    "join: https://events.example/join/demo-session/9"]
    assert main(argv) == 0
    assert capsys.readouterr().out.splitlines()[0] == "ann@example.com was already registered for demo-session"
    sent = requests_to(facade, "POST", "/api/events/sessions/demo-session/registrants")[0]
    assert json.loads(sent["body"]) == {"email": "ann@example.com", "first_name": "Ann", "company": "Acme"}


def test_report_csv_is_written_byte_for_byte(facade, tmp_path, capsys):
    out = tmp_path / "chat.csv"
    assert main(["events", "report", "demo-session", "attendee-chat", "--csv", "--out", str(out)]) == 0
    assert out.read_bytes() == REPORT_CSV
    [sent] = requests_to(facade, "GET", "/api/events/sessions/demo-session/reports/attendee-chat")
    assert sent["headers"]["Accept"] == "text/csv"
    assert main(["events", "report", "demo-session", "attendee-chat", "--csv"]) == 0
    assert capsys.readouterr().out.encode() == REPORT_CSV  # onto stdout, as is
    assert main(["events", "report", "demo-session", "summary"]) == 0
    assert "Zoë" in capsys.readouterr().out


# -- feed -----------------------------------------------------------------------------------------
def test_feed_all_reads_the_ndjson_stream(facade, capsys):
    assert main(["feed", "demo-feed", "--all"]) == 0
    out, err = capsys.readouterr()
    assert [line.split("  ")[-1] for line in out.splitlines()] == ["post number 1", "post number 2", "post number 3"]
    assert "Author 2" in out and err == "3 posts\n"
    [sent] = requests_to(facade, "GET", "/api/feeds/demo-feed")
    assert sent["args"] == {"all": "true"}
    assert main(["feed", "demo-feed", "--all", "--json"]) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == POSTS


def test_feed_page_shows_a_table_and_the_next_cursor(facade, capsys):
    assert main(["feed", "demo-feed", "--limit", "2"]) == 0
    out, err = capsys.readouterr()
    assert "post number 1" in out and "post number 3" not in out
    assert "--cursor feed-2" in err
