"""Flow events sandbox over real HTTP: every endpoint of flow-events-api.txt, every error row, the CSV
reports byte for byte where it matters (quoting, embedded newlines, BOM, latin-1)."""

from __future__ import annotations

import csv
import io

import pytest

SECRET = {"api-secret": "demo-events-secret"}
REPORTS = "/api/v1/reports/events/sessions"
CSV = REPORTS + "/csv"


def _get(http, sandbox_url, path, headers=SECRET, **params):
    return http.get(sandbox_url + path, headers=headers, params=params or None, timeout=5)


def _register(http, sandbox_url, headers=SECRET, **body):
    payload = {"email": "new@example.com", "firstName": "New", "lastName": "Person",
               "eventSessionToken": "demo-upcoming", **body}
    return http.post(sandbox_url + "/api/v1/registrants", json=payload, headers=headers, timeout=5)


def _assert_error(resp, status: int, error: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"status", "error", "message"} and body["status"] == status
    if error:
        assert body["error"] == error
    return body


def _rows(resp, encoding="utf-8") -> list[list[str]]:
    return list(csv.reader(io.StringIO(resp.content.decode(encoding), newline="")))


# -- authentication -------------------------------------------------------------------------------
def test_missing_api_secret_is_401(http, sandbox_url):
    _assert_error(_get(http, sandbox_url, "/api/v1/events/sessions", headers={}), 401, "missing_api_secret")


def test_wrong_api_secret_is_401_without_echoing_it(http, sandbox_url):
    resp = _get(http, sandbox_url, "/api/v1/events/sessions", headers={"api-secret": "guess-me-123"})
    body = _assert_error(resp, 401, "invalid_api_secret")
    assert "guess-me-123" not in resp.text and "demo-events-secret" not in body["message"]


def test_reports_need_the_secret_too(http, sandbox_url):
    _assert_error(_get(http, sandbox_url, CSV + "/summary/demo-session", headers={}), 401)


# -- GET Events List / Info -----------------------------------------------------------------------
@pytest.mark.parametrize("period, tokens", [
    ("current", {"demo-live", "demo-upcoming"}),
    ("upcoming", {"demo-upcoming"}),
    ("past", {"demo-session", "demo-session-bom", "demo-session-latin1"}),
    ("all", {"demo-session", "demo-live", "demo-upcoming", "demo-session-bom", "demo-session-latin1"}),
])
def test_sessions_list_filters_by_period(http, sandbox_url, period, tokens):
    resp = _get(http, sandbox_url, "/api/v1/events/sessions", period=period)
    assert resp.status_code == 200
    assert {s["eventSessionToken"] for s in resp.json()["data"]} == tokens


def test_sessions_list_as_in_the_doc_example_has_simple_analytics(http, sandbox_url):
    data = _get(http, sandbox_url, "/api/v1/events/sessions", period="current", simple_analytics="1").json()["data"]
    assert all("analytics" in s for s in data)
    assert "analytics" not in _get(http, sandbox_url, "/api/v1/events/sessions").json()["data"][0]


@pytest.mark.parametrize("params", [{"period": "yesterday"}, {"simple_analytics": "maybe"}])
def test_sessions_list_bad_parameters_are_400(http, sandbox_url, params):
    _assert_error(_get(http, sandbox_url, "/api/v1/events/sessions", **params), 400, "invalid_parameter")


def test_session_info_with_analytics(http, sandbox_url):
    data = _get(http, sandbox_url, "/api/v1/events/sessions/demo-session", simple_analytics=1).json()["data"]
    assert data["eventSessionToken"] == "demo-session" and data["status"] == "past"
    assert data["analytics"]["registrants"] == 6 and data["analytics"]["attendees"] == 4
    assert data["analytics"]["surveyResponses"] == 4


def test_unknown_session_is_404(http, sandbox_url):
    _assert_error(_get(http, sandbox_url, "/api/v1/events/sessions/T35tT0K3n"), 404, "session_not_found")


# -- POST Event Creation ----------------------------------------------------------------------------
def test_event_creation_makes_an_upcoming_session(http, sandbox_url):
    resp = http.post(sandbox_url + "/api/v1/events", headers=SECRET, timeout=5,
                     json={"title": "Barebones, \"quoted\"", "startsAt": "2099-01-01T10:00:00+01:00", "duration": 30})
    assert resp.status_code == 201, resp.text
    data = resp.json()["data"]
    assert len(data["eventSessionToken"]) == 11 and data["startsAt"] == "2099-01-01T09:00:00Z"
    assert data["endsAt"] == "2099-01-01T09:30:00Z"
    upcoming = _get(http, sandbox_url, "/api/v1/events/sessions", period="upcoming").json()["data"]
    assert data["eventSessionToken"] in {s["eventSessionToken"] for s in upcoming}


@pytest.mark.parametrize("body", [{"startsAt": "2099-01-01T10:00:00Z"}, {"title": "x", "startsAt": "soon"},
                                  {"title": "x", "startsAt": "2099-01-01T10:00:00Z", "duration": "60"},
                                  {"title": "x", "startsAt": "2099-01-01T10:00:00Z", "duration": 0},
                                  {"title": "x", "startsAt": "0001-01-01T00:00:00+01:00"}])
def test_event_creation_rejects_bad_bodies(http, sandbox_url, body):
    _assert_error(http.post(sandbox_url + "/api/v1/events", headers=SECRET, json=body, timeout=5), 400)


# -- POST Registration ------------------------------------------------------------------------------
def test_registration_as_in_the_doc_example_needs_no_secret(http, sandbox_url):
    resp = _register(http, sandbox_url, headers={}, email="jessepinkman@breakingbad.com", firstName="Jesse",
                     lastName="Pinkman")
    assert resp.status_code == 201, resp.text
    data = resp.json()["data"]
    assert data["eventSessionToken"] == "demo-upcoming" and data["joinUrl"].startswith(sandbox_url)


def test_registration_with_a_wrong_secret_is_refused(http, sandbox_url):
    _assert_error(_register(http, sandbox_url, headers={"api-secret": "nope"}), 401)


def test_registering_the_same_email_again_returns_the_first_registration(http, sandbox_url):
    first = _register(http, sandbox_url)
    again = _register(http, sandbox_url, email="NEW@example.com", firstName="Other")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["data"]["id"] == first.json()["data"]["id"]
    assert again.json()["data"]["firstName"] == "New"


@pytest.mark.parametrize("change, status, error", [
    ({"email": "not-an-email"}, 400, "invalid_field"),
    ({"email": None}, 400, "missing_field"),
    ({"firstName": ""}, 400, "missing_field"),
    ({"eventSessionToken": 42}, 400, "invalid_field"),
    ({"eventSessionToken": "T35tT0K3n"}, 404, "session_not_found"),
    ({"eventSessionToken": "demo-session"}, 409, "registration_closed"),
])
def test_registration_errors(http, sandbox_url, change, status, error):
    _assert_error(_register(http, sandbox_url, **change), status, error)


def test_registration_body_must_be_a_json_object(http, sandbox_url):
    url = sandbox_url + "/api/v1/registrants"
    _assert_error(http.post(url, data="email=x", headers={**SECRET, "Content-Type": "application/x-www-form-urlencoded"},
                            timeout=5), 415)
    _assert_error(http.post(url, json=["x"], headers=SECRET, timeout=5), 400, "invalid_body")
    _assert_error(http.post(url, data="{nope", headers={**SECRET, "Content-Type": "application/json"},
                            timeout=5), 400, "invalid_body")
    _assert_error(http.post(url, data="[" * 5000 + "]" * 5000, headers={**SECRET, "Content-Type": "application/json"},
                            timeout=5), 400, "invalid_body")


# -- GET Registrant List, Operator List, Event Session Surveys --------------------------------------
def test_registrant_list(http, sandbox_url):
    data = _get(http, sandbox_url, REPORTS + "/registrants/demo-session").json()["data"]
    assert len(data) == 6
    zoe = next(r for r in data if r["email"] == "zoe.obrien@example.com")
    assert zoe["company"] == 'The "Quoted" Co.' and zoe["attended"] is True
    _assert_error(_get(http, sandbox_url, REPORTS + "/registrants/T35tT0K3n"), 404)


def test_operator_list(http, sandbox_url):
    data = _get(http, sandbox_url, REPORTS + "/operators/demo-session").json()["data"]
    assert [o["role"] for o in data] == ["host", "moderator"]


def test_surveys_list_the_ids_used_for_response_reports(http, sandbox_url):
    data = _get(http, sandbox_url, REPORTS + "/surveys/demo-session").json()["data"]
    assert [(s["id"], s["responseCount"]) for s in data] == [(101, 3), (102, 1)]
    assert data[0]["questions"][1]["text"] == 'What should we cover next, "and why"?'
    _assert_error(_get(http, sandbox_url, REPORTS + "/surveys/T35tT0K3n"), 404)


# -- GET CSV Reports ----------------------------------------------------------------------------------
def test_summary_csv_is_utf8_rfc4180(http, sandbox_url):
    resp = _get(http, sandbox_url, CSV + "/summary/demo-session")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="summary-demo-session.csv"' in resp.headers["Content-Disposition"]
    assert resp.content.count(b"\r\n") == 2 and not resp.content.startswith(b"\xef\xbb\xbf")
    header, row = _rows(resp)
    assert header[0] == "Session Token" and row[2] == 'Flow Summit: pipes, flows, and "you"'
    assert dict(zip(header, row))["Attendance Rate (%)"] == "66.7"


def test_registrants_csv_keeps_commas_quotes_and_newlines_inside_fields(http, sandbox_url):
    resp = _get(http, sandbox_url, CSV + "/registrants/demo-session")
    assert b'"Krak\xc3\xb3w\nBranch office"' in resp.content
    rows = _rows(resp)
    assert len(rows) == 7
    by_email = {r[3]: r for r in rows[1:]}
    assert by_email["lukasz@example.pl"][4] == "Kraków\nBranch office"
    assert by_email["lukasz@example.pl"][6:] == ["No", "", "", ""]
    assert by_email["li@example.cn"][1:5] == ["李", "小龙", "li@example.cn", "北京, 中国"]
    assert by_email["ana@example.com"][2] == "Smith, Jr."


def test_attendee_chat_csv_keeps_crlf_and_non_bmp_characters(http, sandbox_url):
    rows = _rows(_get(http, sandbox_url, CSV + "/attendee_chat/demo-session"))
    assert rows[0] == ["Sent At", "Name", "Email", "Message"]
    messages = [r[3] for r in rows[1:]]
    assert 'Yo,\r\n"Mr. White"' in messages and "你好 👋" in messages
    assert "Line one\nLine two, with a comma" in messages


def test_operator_chat_csv(http, sandbox_url):
    rows = _rows(_get(http, sandbox_url, CSV + "/operator_chat/demo-session"))
    assert rows[0] == ["Sent At", "Operator", "Operator Email", "To", "Message"]
    assert [r[3] for r in rows[1:]] == ["All attendees", "Zoë O'Brien", "All attendees"]


def test_survey_responses_csv_for_all_surveys_or_one(http, sandbox_url):
    every = _rows(_get(http, sandbox_url, CSV + "/survey_responses/demo-session"))
    assert {r[0] for r in every[1:]} == {"101", "102"} and len(every) == 8
    one = _rows(_get(http, sandbox_url, CSV + "/survey_responses/demo-session/102"))
    assert len(one) == 2 and one[1][7] == "Yes"
    _assert_error(_get(http, sandbox_url, CSV + "/survey_responses/demo-session/999"), 404, "survey_not_found")
    _assert_error(_get(http, sandbox_url, CSV + "/survey_responses/demo-session/abc"), 400, "invalid_parameter")


def test_bom_session_serves_utf8_with_bom_and_no_charset(http, sandbox_url):
    resp = _get(http, sandbox_url, CSV + "/registrants/demo-session-bom")
    assert resp.content.startswith(b"\xef\xbb\xbfRegistrant ID,")
    assert resp.headers["Content-Type"] == "text/csv"
    assert _rows(resp, "utf-8-sig")[1][1] == "François"


def test_latin1_session_serves_latin1_bytes(http, sandbox_url):
    resp = _get(http, sandbox_url, CSV + "/registrants/demo-session-latin1")
    assert b"Fran\xe7ois" in resp.content
    with pytest.raises(UnicodeDecodeError):
        resp.content.decode("utf-8")
    assert _rows(resp, "latin-1")[3][4] == "Línea\r\nDos"


@pytest.mark.parametrize("encoding, marker", [("utf-8-sig", b"\xef\xbb\xbf"), ("cp1252", b"Jos\xe9"),
                                              ("latin-1", b"Jos\xe9")])
def test_encoding_knob_overrides_the_session_default(http, sandbox_url, encoding, marker):
    resp = _get(http, sandbox_url, CSV + "/registrants/demo-session", _encoding=encoding)
    assert marker in resp.content
    if encoding != "utf-8-sig":
        assert b"?, ?" in resp.content  # 北京, 中国 has no place in a legacy code page


def test_encoding_knob_rejects_unknown_encodings(http, sandbox_url):
    _assert_error(_get(http, sandbox_url, CSV + "/summary/demo-session", _encoding="ebcdic"), 400)


def test_reports_other_than_registrants_wait_for_the_session_to_end(http, sandbox_url):
    _assert_error(_get(http, sandbox_url, CSV + "/summary/demo-live"), 409, "session_not_ended")
    assert _get(http, sandbox_url, CSV + "/registrants/demo-upcoming").status_code == 200


def test_unknown_report_and_unknown_session_are_404(http, sandbox_url):
    _assert_error(_get(http, sandbox_url, CSV + "/attendance/demo-session"), 404, "report_not_found")
    _assert_error(_get(http, sandbox_url, CSV + "/summary/T35tT0K3n"), 404, "session_not_found")


# -- generic behaviour ------------------------------------------------------------------------------
def test_unknown_route_and_wrong_method_answer_in_the_vendor_shape(http, sandbox_url):
    _assert_error(_get(http, sandbox_url, "/api/v1/nothing/here"), 404, "not_found")
    resp = http.delete(sandbox_url + "/api/v1/registrants", headers=SECRET, timeout=5)
    _assert_error(resp, 405, "method_not_allowed")
    assert "POST" in resp.headers["Allow"]


def test_injected_fault_uses_the_vendor_error_shape(http, sandbox_url):
    http.post(sandbox_url + "/_sandbox/faults", json={"path": "/api/v1/*", "status": 503, "times": 1},
              timeout=5).raise_for_status()
    _assert_error(_get(http, sandbox_url, "/api/v1/events/sessions"), 503, "service_unavailable")


def test_rate_limit_gives_429_with_retry_after(http, sandbox_url):
    http.patch(sandbox_url + "/_sandbox/config", json={"rate_limit": 2, "rate_window": 60}, timeout=5).raise_for_status()
    for _ in range(2):
        assert _get(http, sandbox_url, "/api/v1/events/sessions").status_code == 200
    resp = _get(http, sandbox_url, "/api/v1/events/sessions")
    _assert_error(resp, 429, "too_many_requests")
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
