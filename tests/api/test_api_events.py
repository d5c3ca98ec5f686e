"""``/api/events/...`` over real HTTP in front of the Flow events sandbox: sessions, registrants,
surveys and reports as JSON lists paged by our own signed cursors, the CSV passed on byte for byte,
registration (201 then 200, 422 before any vendor call), and every vendor failure as a problem."""

from __future__ import annotations

import uuid

import pytest
from api.conftest import DEMO, assert_problem
from support import add_fault, gateway_with

SECRET = {"api-secret": "demo-events-secret"}
CSV_PATH = "/api/v1/reports/events/sessions/csv/"

# Every route, as (method, path template, JSON body); {t} is the session token.
ROUTES = [
    ("GET", "/events/sessions", None),
    ("GET", "/events/sessions/{t}", None),
    ("GET", "/events/sessions/{t}/registrants", None),
    ("POST", "/events/sessions/{t}/registrants", {"email": "new@example.com", "firstName": "New"}),
    ("GET", "/events/sessions/{t}/surveys", None),
    ("GET", "/events/sessions/{t}/reports/summary", None),
]
SESSION_ROUTES = [r for r in ROUTES if "{t}" in r[1]]


def _call(http, api_url, route, token="demo-session", headers=DEMO, **kw):
    method, path, body = route
    return http.request(method, api_url + path.format(t=token), json=body, headers=headers, timeout=15, **kw)


def _all_pages(http, url, limit, headers=DEMO, **params):
    """Every item of a list, following next_cursor; also returns how many pages it took."""
    items, cursor, pages = [], None, 0
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        resp = http.get(url, params=query, headers=headers, timeout=15)
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert set(body) == {"items", "next_cursor"}
        assert len(body["items"]) <= limit
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


@pytest.fixture(scope="module")
def down_api(tmp_path_factory):
    """A gateway whose vendors are a closed port: every vendor call is refused."""
    server = gateway_with(tmp_path_factory.mktemp("down"), "http://127.0.0.1:9", http_retries=0)
    yield server.url + "/api"
    server.shutdown()


# -- sessions ---------------------------------------------------------------------------------------
def test_sessions_list_with_the_demo_key_is_snake_case_with_utc_times(http, api_url):
    resp = http.get(api_url + "/events/sessions", headers=DEMO, timeout=15)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"] == "application/json"
    body = resp.json()
    assert body["next_cursor"] is None
    by_token = {s["token"]: s for s in body["items"]}
    assert {"demo-session", "demo-live", "demo-upcoming", "demo-session-bom", "demo-session-latin1"} <= set(by_token)
    demo = by_token["demo-session"]
    assert set(demo) == {"token", "event_id", "title", "description", "starts_at", "ends_at", "timezone", "status",
                         "registration_url", "analytics"}
    assert demo["status"] == "past" and demo["event_id"] == 1 and demo["analytics"] is None
    assert demo["starts_at"].endswith("Z") and demo["starts_at"] < demo["ends_at"]
    assert by_token["demo-upcoming"]["status"] == "upcoming"
    assert "demo-events-secret" not in resp.text


def test_sessions_with_a_scoped_consumer_key_and_a_period(http, api_url, consumer_key):
    key = {"Authorization": f"Bearer {consumer_key('events')}"}
    past = http.get(api_url + "/events/sessions", params={"period": "past"}, headers=key, timeout=15)
    assert past.status_code == 200, past.text
    tokens = {s["token"] for s in past.json()["items"]}
    assert "demo-session" in tokens and "demo-upcoming" not in tokens
    upcoming = http.get(api_url + "/events/sessions", params={"period": "upcoming"}, headers=key, timeout=15)
    assert [s["token"] for s in upcoming.json()["items"]] == ["demo-upcoming"]
    assert_problem(http.get(api_url + "/events/sessions", params={"period": "soon"}, headers=key, timeout=15),
                   400, "invalid_parameter")


def test_one_session_with_analytics(http, api_url):
    resp = http.get(api_url + "/events/sessions/demo-session", params={"analytics": "true"}, headers=DEMO, timeout=15)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token"] == "demo-session"
    assert body["analytics"]["registrants"] == 6 and body["analytics"]["attendees"] == 4
    assert {"attendance_rate", "average_minutes_watched", "attendee_chat_messages"} <= set(body["analytics"])


def test_paging_sessions_one_at_a_time_gives_each_once(http, api_url):
    whole = http.get(api_url + "/events/sessions", headers=DEMO, timeout=15).json()["items"]
    paged, pages = _all_pages(http, api_url + "/events/sessions", 1)
    assert paged == whole and pages == len(whole)
    paged, pages = _all_pages(http, api_url + "/events/sessions", 2)
    assert paged == whole and pages == (len(whole) + 1) // 2


# -- registrants ------------------------------------------------------------------------------------
def test_paging_registrants_gives_each_once(http, api_url, consumer_key):
    key = {"X-Apikey": consumer_key("events")}
    url = api_url + "/events/sessions/demo-session/registrants"
    whole = http.get(url, headers=key, timeout=15).json()
    assert len(whole["items"]) == 6 and whole["next_cursor"] is None
    first = whole["items"][0]
    assert set(first) == {"id", "email", "first_name", "last_name", "session_token", "registered_at", "join_url",
                          "attended", "minutes_watched"}
    assert first["first_name"] == "José" and first["registered_at"].endswith("Z")
    for limit in (1, 4, 6):
        paged, _ = _all_pages(http, url, limit, headers=key)
        assert [r["id"] for r in paged] == [r["id"] for r in whole["items"]]


def test_a_registrant_added_between_pages_is_not_seen_twice(http, api_url):
    url = api_url + "/events/sessions/demo-upcoming/registrants"
    for n in range(3):
        http.post(url, json={"email": f"p{n}@example.com", "firstName": f"P{n}"}, headers=DEMO, timeout=15)
    page = http.get(url, params={"limit": 2}, headers=DEMO, timeout=15).json()
    http.post(url, json={"email": "late@example.com", "firstName": "Late"}, headers=DEMO, timeout=15)
    rest = http.get(url, params={"limit": 10, "cursor": page["next_cursor"]}, headers=DEMO, timeout=15).json()
    emails = [r["email"] for r in page["items"] + rest["items"]]
    assert emails == ["p0@example.com", "p1@example.com", "p2@example.com", "late@example.com"]


def test_registering_twice_is_201_then_200_with_the_same_registration(http, api_url, consumer_key):
    url = api_url + "/events/sessions/demo-upcoming/registrants"
    body = {"email": f"{uuid.uuid4().hex[:8]}@example.com", "firstName": "Ada", "lastName": "Lovelace",
            "company": "Engines, Ltd."}
    first = http.post(url, json=body, headers={"X-Apikey": consumer_key("events")}, timeout=15)
    assert first.status_code == 201, first.text
    created = first.json()
    assert created["email"] == body["email"] and created["first_name"] == "Ada" and created["last_name"] == "Lovelace"
    assert created["session_token"] == "demo-upcoming" and created["join_url"]
    again = http.post(url, json={**body, "email": body["email"].upper()}, headers=DEMO, timeout=15)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == created["id"] and again.json()["join_url"] == created["join_url"]
    listed = http.get(url, headers=DEMO, timeout=15).json()["items"]
    assert [r["id"] for r in listed].count(created["id"]) == 1


def test_snake_case_names_are_accepted_too(http, api_url):
    resp = http.post(api_url + "/events/sessions/demo-upcoming/registrants",
                     json={"email": "snake@example.com", "first_name": "Sid", "last_name": "Snake"},
                     headers=DEMO, timeout=15)
    assert resp.status_code == 201, resp.text
    assert resp.json()["first_name"] == "Sid" and resp.json()["last_name"] == "Snake"


@pytest.mark.parametrize("body, fields", [
    ({}, ["email", "firstName"]),
    ({"email": "not-an-address", "firstName": "A"}, ["email"]),
    ({"email": "a@example.com"}, ["firstName"]),
    ({"email": "a@example.com", "firstName": "   "}, ["firstName"]),
    ({"email": 5, "firstName": ["A"]}, ["email", "firstName"]),
    ({"email": "a@example.com", "firstName": "A", "lastName": "x" * 201}, ["lastName"]),
    ({"email": "a@example.com", "firstName": "A", "company": {"name": "Acme"}}, ["company"]),
])
def test_bad_registrations_are_422_problems_before_any_vendor_call(http, api_url, sandbox_url, body, fields):
    add_fault(sandbox_url, path="/*", status=503)  # the vendor is down: a 422 proves nothing was sent
    resp = http.post(api_url + "/events/sessions/demo-upcoming/registrants", json=body, headers=DEMO, timeout=15)
    problem = assert_problem(resp, 422, "invalid_body")
    assert [e["field"] for e in problem["errors"]] == fields and all(e["reason"] for e in problem["errors"])


def test_registration_bodies_that_are_not_json_objects(http, api_url):
    url = api_url + "/events/sessions/demo-upcoming/registrants"
    assert_problem(http.post(url, data="{", headers={**DEMO, "Content-Type": "application/json"}, timeout=15),
                   400, "invalid_json")
    assert_problem(http.post(url, json=["a"], headers=DEMO, timeout=15), 422, "invalid_body")


def test_registering_for_a_session_that_is_over_is_a_conflict(http, api_url):
    resp = http.post(api_url + "/events/sessions/demo-session/registrants",
                     json={"email": "late@example.com", "firstName": "Late"}, headers=DEMO, timeout=15)
    assert_problem(resp, 409, "conflict")


# -- surveys and reports ----------------------------------------------------------------------------
def test_surveys(http, api_url):
    resp = http.get(api_url + "/events/sessions/demo-session/surveys", headers=DEMO, timeout=15)
    assert resp.status_code == 200, resp.text
    surveys = resp.json()["items"]
    assert [s["id"] for s in surveys] == [101, 102]
    assert surveys[0]["response_count"] == 3 and surveys[0]["questions"][0]["id"] == 1
    paged, pages = _all_pages(http, api_url + "/events/sessions/demo-session/surveys", 1)
    assert paged == surveys and pages == 2


@pytest.mark.parametrize("kind, count, field", [
    ("summary", 1, "session_token"),
    ("registrants", 6, "registrant_id"),
    ("attendee-chat", 5, "message"),
    ("operator-chat", 3, "operator_email"),
    ("survey-responses", 7, "answer"),
])
def test_reports_as_typed_json_items(http, api_url, kind, count, field):
    resp = http.get(api_url + f"/events/sessions/demo-session/reports/{kind}", headers=DEMO, timeout=15)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert len(body["items"]) == count and body["next_cursor"] is None
    assert all(field in item for item in body["items"])
    paged, _ = _all_pages(http, api_url + f"/events/sessions/demo-session/reports/{kind}", 2)
    assert paged == body["items"]


def test_report_values_are_typed(http, api_url):
    summary = http.get(api_url + "/events/sessions/demo-session/reports/summary", headers=DEMO,
                       timeout=15).json()["items"][0]
    assert summary["session_token"] == "demo-session" and summary["registrants"] == 6
    assert isinstance(summary["attendance_rate"], float) and summary["starts_at"].endswith("Z")
    rows = http.get(api_url + "/events/sessions/demo-session/reports/registrants", headers=DEMO,
                    timeout=15).json()["items"]
    assert rows[2]["company"] == "Kraków\nBranch office" and rows[2]["attended"] is False
    assert rows[2]["minutes_watched"] is None and rows[0]["attended"] is True
    one = http.get(api_url + "/events/sessions/demo-session/reports/survey-responses", params={"survey_id": 102},
                   headers=DEMO, timeout=15).json()["items"]
    assert [(r["survey_id"], r["answer"]) for r in one] == [(102, "Yes")]


@pytest.mark.parametrize("token, kind, slug", [
    ("demo-session", "summary", "summary"),
    ("demo-session", "registrants", "registrants"),
    ("demo-session", "attendee-chat", "attendee_chat"),
    ("demo-session", "operator-chat", "operator_chat"),
    ("demo-session", "survey-responses", "survey_responses"),
    ("demo-session-latin1", "registrants", "registrants"),
    ("demo-session-bom", "attendee-chat", "attendee_chat"),
])
def test_csv_is_passed_on_byte_for_byte(http, api_url, sandbox_url, token, kind, slug):
    direct = http.get(sandbox_url + CSV_PATH + f"{slug}/{token}", headers=SECRET, timeout=15)
    assert direct.status_code == 200
    resp = http.get(api_url + f"/events/sessions/{token}/reports/{kind}", headers={**DEMO, "Accept": "text/csv"},
                    timeout=15)
    assert resp.status_code == 200, resp.text
    assert resp.content == direct.content
    assert resp.headers["Content-Type"] == direct.headers["Content-Type"]
    assert resp.headers["Content-Disposition"] == f'attachment; filename="{kind}-{token}.csv"'


def test_csv_of_one_survey(http, api_url, sandbox_url):
    direct = http.get(sandbox_url + CSV_PATH + "survey_responses/demo-session/101", headers=SECRET, timeout=15)
    resp = http.get(api_url + "/events/sessions/demo-session/reports/survey-responses", params={"survey_id": "101"},
                    headers={**DEMO, "Accept": "text/csv"}, timeout=15)
    assert resp.status_code == 200 and resp.content == direct.content
    assert_problem(http.get(api_url + "/events/sessions/demo-session/reports/survey-responses",
                            params={"survey_id": "x"}, headers=DEMO, timeout=15), 400, "invalid_parameter")
    assert_problem(http.get(api_url + "/events/sessions/demo-session/reports/survey-responses",
                            params={"survey_id": "999"}, headers={**DEMO, "Accept": "text/csv"}, timeout=15), 404)


def test_json_wins_unless_csv_is_preferred(http, api_url):
    url = api_url + "/events/sessions/demo-session/reports/summary"
    for accept in ("*/*", "application/json", "application/json, text/csv", "text/csv;q=0.5, application/json"):
        resp = http.get(url, headers={**DEMO, "Accept": accept}, timeout=15)
        assert resp.headers["Content-Type"] == "application/json", accept
    assert http.get(url, headers={**DEMO, "Accept": "text/csv, application/json;q=0.9"},
                    timeout=15).headers["Content-Type"].startswith("text/csv")


def test_unknown_report_kind_is_404_before_any_vendor_call(http, api_url, sandbox_url):
    add_fault(sandbox_url, path="/*", status=503)
    for accept in ("application/json", "text/csv"):
        resp = http.get(api_url + "/events/sessions/demo-session/reports/attendee_chat",
                        headers={**DEMO, "Accept": accept}, timeout=15)
        assert_problem(resp, 404, "not_found")


def test_reports_of_a_session_not_over_yet_are_a_conflict(http, api_url):
    resp = http.get(api_url + "/events/sessions/demo-upcoming/reports/summary", headers=DEMO, timeout=15)
    assert_problem(resp, 409, "conflict")


# -- cursors ----------------------------------------------------------------------------------------
def test_tampered_and_foreign_cursors_are_400_invalid_cursor(http, api_url):
    first = http.get(api_url + "/events/sessions", params={"limit": 1}, headers=DEMO, timeout=15).json()
    cursor = first["next_cursor"]
    assert cursor and "demo" not in cursor
    tampered = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
    assert_problem(http.get(api_url + "/events/sessions", params={"cursor": tampered}, headers=DEMO, timeout=15),
                   400, "invalid_cursor")
    assert_problem(http.get(api_url + "/events/sessions", params={"cursor": "garbage"}, headers=DEMO, timeout=15),
                   400, "invalid_cursor")
    # A genuine cursor of another list: refused too.
    assert_problem(http.get(api_url + "/events/sessions/demo-session/registrants", params={"cursor": cursor},
                            headers=DEMO, timeout=15), 400, "invalid_cursor")
    assert_problem(http.get(api_url + "/events/sessions", params={"cursor": cursor, "period": "past"},
                            headers=DEMO, timeout=15), 400, "invalid_cursor")
    assert_problem(http.get(api_url + "/events/sessions", params={"limit": 0}, headers=DEMO, timeout=15),
                   400, "invalid_limit")


# -- auth, unknown sessions, vendor failures (every route) ------------------------------------------
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_every_route_needs_a_key_with_the_events_scope(http, api_url, consumer_key, route):
    assert_problem(_call(http, api_url, route, headers={}), 401, "unauthorized")
    assert_problem(_call(http, api_url, route, headers={"X-Apikey": "not-a-key"}), 401, "unauthorized")
    assert_problem(_call(http, api_url, route, headers={"X-Apikey": consumer_key("feeds,qr")}), 403, "forbidden")
    token = "demo-upcoming" if route[0] == "POST" else "demo-session"
    resp = _call(http, api_url, route, token=token, headers={"X-Apikey": consumer_key("events")})
    assert resp.status_code in (200, 201), resp.text
    resp = _call(http, api_url, route, token=token, headers={"X-Apikey": consumer_key("admin")})
    assert resp.status_code == 200, resp.text  # admin holds every scope; the POST is a repeat by now


@pytest.mark.parametrize("route", SESSION_ROUTES + [("GET", "/events/sessions/{t}/reports/registrants", None)],
                         ids=lambda r: f"{r[0]} {r[1]}")
def test_unknown_session_is_a_404_problem(http, api_url, route):
    assert_problem(_call(http, api_url, route, token="no-such-session"), 404, "not_found")


def test_unknown_session_csv_is_a_404_problem(http, api_url):
    resp = http.get(api_url + "/events/sessions/nope/reports/summary", headers={**DEMO, "Accept": "text/csv"},
                    timeout=15)
    assert_problem(resp, 404, "not_found")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_vendor_rate_limit_is_a_429_problem_with_retry_after(http, api_url, sandbox_url, route):
    add_fault(sandbox_url, path="/api/v1/*", status=429, retry_after=30)
    token = "demo-upcoming" if route[0] == "POST" else "demo-session"
    resp = _call(http, api_url, route, token=token)
    assert_problem(resp, 429, "rate_limited")
    assert resp.headers["Retry-After"] == "30"


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_vendor_dropping_connections_is_a_503_problem(http, api_url, sandbox_url, route):
    add_fault(sandbox_url, path="/api/v1/*", drop=True)
    token = "demo-upcoming" if route[0] == "POST" else "demo-session"
    assert_problem(_call(http, api_url, route, token=token), 503, "vendor_unavailable")


def test_vendor_timeout_is_a_504_problem(http, gateway_factory, sandbox_url):
    slow = gateway_factory(http_read_timeout=0.2)
    add_fault(sandbox_url, path="/api/v1/events/sessions", latency_ms=600)
    resp = http.get(slow.url + "/api/events/sessions", headers=DEMO, timeout=15)
    assert_problem(resp, 504, "vendor_timeout")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r[0]} {r[1]}")
def test_vendor_down_is_a_503_problem(http, down_api, route):
    token = "demo-upcoming" if route[0] == "POST" else "demo-session"
    problem = assert_problem(_call(http, down_api, route, token=token), 503, "vendor_unavailable")
    assert "demo-events-secret" not in problem["detail"]


def test_csv_with_the_vendor_down_is_a_503_problem(http, down_api):
    resp = http.get(down_api + "/events/sessions/demo-session/reports/summary",
                    headers={**DEMO, "Accept": "text/csv"}, timeout=15)
    assert_problem(resp, 503, "vendor_unavailable")

