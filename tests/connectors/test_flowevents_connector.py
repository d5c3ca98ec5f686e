"""FlowEventsConnector over real HTTP against the sandbox: every endpoint, typed CSV records (quoting,
embedded newlines, BOM, latin-1/cp1252), vendor errors mapped to the exception tree, faults and retries."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
import requests
from support import add_fault, fast_http_client

from gateway.config import Settings, SettingsError
from gateway.connectors.flowevents import FlowEventsConnector
from gateway.connectors.flowevents_csv import RegistrantRow, decode_csv, parse_report, read_csv
from gateway.errors import (
    AuthError,
    Conflict,
    InvalidRequest,
    NotFound,
    RateLimited,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

SECRET = "demo-events-secret"


@pytest.fixture
def http():
    client = fast_http_client(http_read_timeout=0.4)
    yield client
    client.close()


@pytest.fixture
def events(http, sandbox_url):
    return FlowEventsConnector(http, sandbox_url, SECRET)



# -- JSON endpoints ---------------------------------------------------------------------------------
def test_list_sessions_by_period_with_analytics(events):
    sessions = events.list_sessions("current", simple_analytics=True)
    assert {s.token for s in sessions} == {"demo-live", "demo-upcoming"}
    assert all(s.analytics is not None and s.starts_at.tzinfo for s in sessions)
    assert {s.token for s in events.list_sessions("past")} >= {"demo-session"}


def test_unknown_period_is_refused_before_any_call(http):
    connector = FlowEventsConnector(http, "http://127.0.0.1:9", SECRET)  # nothing listens there
    with pytest.raises(InvalidRequest):
        connector.list_sessions("yesterday")


def test_session_info_and_not_found(events):
    info = events.session_info("demo-session", simple_analytics=True)
    assert info.status == "past" and info.analytics["registrants"] == 6
    with pytest.raises(NotFound):
        events.session_info("T35tT0K3n")


def test_wrong_secret_is_auth_error_and_the_secret_is_never_shown(http, sandbox_url, caplog):
    caplog.set_level(logging.DEBUG)
    connector = FlowEventsConnector(http, sandbox_url, "s3cr3t-value-123")
    with pytest.raises(AuthError) as info:
        connector.list_sessions()
    assert "s3cr3t-value-123" not in str(info.value) and "s3cr3t-value-123" not in caplog.text


def test_create_registrant_is_deduplicated_by_email(events):
    first = events.create_registrant("demo-upcoming", "walt@example.com", "Walter", "White")
    again = events.create_registrant("demo-upcoming", "Walt@Example.com", "Heisenberg")
    assert first.created and not again.created
    assert again.id == first.id and again.first_name == "Walter"
    assert first.join_url and first.registered_at.tzinfo is not None


def test_create_registrant_errors_map_to_the_tree(events):
    with pytest.raises(Conflict) as info:
        events.create_registrant("demo-session", "late@example.com", "Late")
    assert info.value.detail == "registration_closed"
    with pytest.raises(InvalidRequest):
        events.create_registrant("demo-upcoming", "not-an-email", "X")
    with pytest.raises(NotFound):
        events.create_registrant("T35tT0K3n", "x@example.com", "X")


def test_create_registrant_is_retried_after_a_dropped_connection(events, sandbox_url):
    add_fault(sandbox_url, path="/api/v1/registrants", method="POST", drop=True, times=1)
    registrant = events.create_registrant("demo-upcoming", "retry@example.com", "Re", "Try")
    assert registrant.created
    emails = [r.email for r in events.list_registrants("demo-upcoming")]
    assert emails.count("retry@example.com") == 1


def test_create_event_is_never_retried(events, sandbox_url):
    before = len(events.list_sessions())
    add_fault(sandbox_url, path="/api/v1/events", method="POST", drop=True, times=1)
    with pytest.raises(UpstreamUnavailable):
        events.create_event("Once only", datetime(2099, 1, 1, 10, tzinfo=UTC))
    assert len(events.list_sessions()) == before
    created = events.create_event("Once only", datetime(2099, 1, 1, 10, tzinfo=UTC), duration_minutes=15)
    assert created.status == "upcoming" and (created.ends_at - created.starts_at).seconds == 900


def test_registrants_operators_and_surveys(events):
    registrants = events.list_registrants("demo-session")
    assert len(registrants) == 6 and sum(r.attended for r in registrants) == 4
    assert [o.role for o in events.list_operators("demo-session")] == ["host", "moderator"]
    surveys = events.list_surveys("demo-session")
    assert [(s.id, s.response_count) for s in surveys] == [(101, 3), (102, 1)]


# -- CSV reports as typed records ------------------------------------------------------------------
def test_summary_report_is_typed(events):
    (summary,) = events.summary_report("demo-session")
    assert summary.session_token == "demo-session" and summary.title == 'Flow Summit: pipes, flows, and "you"'
    assert (summary.registrants, summary.attendees, summary.duration_min) == (6, 4, 60)
    assert summary.attendance_rate == 66.7 and isinstance(summary.average_minutes_watched, float)
    assert summary.starts_at.tzinfo is UTC and summary.ends_at > summary.starts_at


def test_registrants_report_survives_hostile_content(events):
    rows = {r.email: r for r in events.registrants_report("demo-session")}
    assert len(rows) == 6
    lukasz = rows["lukasz@example.pl"]
    assert lukasz.company == "Kraków\nBranch office" and lukasz.attended is False
    assert lukasz.join_time is None and lukasz.minutes_watched is None
    assert rows["zoe.obrien@example.com"].company == 'The "Quoted" Co.'
    assert rows["li@example.cn"].first_name == "李" and rows["li@example.cn"].company == "北京, 中国"
    assert rows["jose.garcia@example.com"].minutes_watched == 55
    assert isinstance(rows["jose.garcia@example.com"].registrant_id, int)


def test_chat_reports_keep_embedded_newlines(events):
    messages = [m.message for m in events.attendee_chat_report("demo-session")]
    assert 'Yo,\r\n"Mr. White"' in messages and "你好 👋" in messages
    operator = events.operator_chat_report("demo-session")
    assert operator[-1].message == "Q&A in 5 min;\nstay tuned" and operator[1].to == "Zoë O'Brien"
    assert all(isinstance(m.sent_at, datetime) for m in operator)


def test_survey_responses_report_all_or_one_survey(events):
    every = events.survey_responses_report("demo-session")
    assert len(every) == 7 and {r.survey_id for r in every} == {101, 102}
    assert any(r.answer == 'More on pipelines,\nand "flows"' for r in every)
    (poll,) = events.survey_responses_report("demo-session", 102)
    assert (poll.question_id, poll.answer, poll.email) == (1, "Yes", "jessepinkman@breakingbad.com")
    with pytest.raises(NotFound):
        events.survey_responses_report("demo-session", 999)


def test_report_of_a_session_not_over_is_conflict(events):
    with pytest.raises(Conflict):
        events.summary_report("demo-live")


@pytest.mark.parametrize("token", ["demo-session-bom", "demo-session-latin1"])
def test_bom_and_latin1_sessions_decode_the_same(events, token):
    rows = events.registrants_report(token)
    assert [r.first_name for r in rows] == ["François", "Zoë", "Íñigo"]
    assert rows[0].registrant_id is not None  # the BOM did not stick to the first header
    assert rows[2].company == "Línea\r\nDos" and rows[1].company == 'Smörgås "AB"'
    chat = events.attendee_chat_report(token)
    assert chat[0].message == "Très bien, merci !\nÀ bientôt"
    assert events.survey_responses_report(token)[0].answer == "Très «bien»"


def test_cp1252_bytes_from_the_sandbox_decode_as_cp1252(http, sandbox_url):
    resp = requests.get(sandbox_url + "/api/v1/reports/events/sessions/csv/registrants/demo-session",
                        params={"_encoding": "cp1252"}, headers={"api-secret": SECRET}, timeout=5)
    rows = parse_report(resp.content, RegistrantRow)
    assert rows[0].first_name == "José" and rows[0].last_name == "García-Núñez"


def test_decode_csv_order_of_guesses():
    assert decode_csv("O’Brien €5".encode("cp1252")) == "O’Brien €5"
    assert decode_csv("\ufeffa,b".encode("utf-8")) == "a,b"
    assert decode_csv("a,ü".encode("utf-16")) == "a,ü"
    assert decode_csv("ü".encode(), "latin-1") == "ü"  # valid UTF-8 wins over a wrong declaration
    assert decode_csv(b"\x81\x8d", "no-such-charset") == "\x81\x8d"  # latin-1 takes any byte


def test_read_csv_pads_short_rows_skips_blank_lines_and_ignores_new_columns():
    rows = read_csv('Registrant ID,First Name,Brand New\r\n1,"A\nB"\r\n\r\n2,C,x\r\n')
    assert rows == [{"registrant_id": "1", "first_name": "A\nB", "brand_new": ""},
                    {"registrant_id": "2", "first_name": "C", "brand_new": "x"}]
    assert parse_report(b"Registrant ID\r\n", RegistrantRow) == []
    assert parse_report(b"", RegistrantRow) == []


def test_an_untyped_value_in_a_typed_column_is_an_upstream_error():
    with pytest.raises(UpstreamError, match="registrant_id"):
        parse_report(b"Registrant ID,Attended\r\nabc,Yes\r\n", RegistrantRow, report="registrants")
    with pytest.raises(UpstreamError, match="attended"):
        parse_report(b"Registrant ID,Attended\r\n1,Perhaps\r\n", RegistrantRow)


# -- faults through the connector ------------------------------------------------------------------
def test_read_timeout_is_upstream_timeout(events, sandbox_url):
    add_fault(sandbox_url, path="/api/v1/events/sessions", latency_ms=700)
    with pytest.raises(UpstreamTimeout):
        events.list_sessions()


def test_429_with_short_retry_after_is_retried(events, sandbox_url):
    add_fault(sandbox_url, path="/api/v1/events/sessions/*", status=429, retry_after=0, times=1)
    assert events.session_info("demo-session").token == "demo-session"


def test_429_with_long_retry_after_is_rate_limited(events, sandbox_url):
    add_fault(sandbox_url, path="/api/v1/reports/*", status=429, retry_after=30)
    with pytest.raises(RateLimited) as info:
        events.summary_report("demo-session")
    assert info.value.retry_after == 30


def test_dropped_connection_on_a_read_is_retried_then_reported(events, sandbox_url):
    add_fault(sandbox_url, path="/api/v1/reports/*", drop=True, times=1)
    assert len(events.list_operators("demo-session")) == 2
    add_fault(sandbox_url, path="/api/v1/reports/*", drop=True)
    with pytest.raises(UpstreamUnavailable):
        events.list_operators("demo-session")


def test_vendor_5xx_is_upstream_error(events, sandbox_url):
    add_fault(sandbox_url, path="/api/v1/*", status=500)
    with pytest.raises(UpstreamError, match="500"):
        events.list_sessions()


# -- base URL -------------------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["http://prod.flowapp.com", "http://10.0.0.8:8081", "ftp://prod.flowapp.com"])
def test_plain_http_to_a_real_host_is_refused(http, url):
    with pytest.raises(SettingsError, match="FLOWEVENTS"):
        FlowEventsConnector(http, url, SECRET)


def test_from_settings_uses_the_embedded_sandbox_and_https_hosts_are_fine(http):
    connector = FlowEventsConnector.from_settings(http, Settings())
    assert connector.base_url == "http://127.0.0.1:8081"
    assert FlowEventsConnector(http, "https://prod.flowapp.com/", SECRET).base_url == "https://prod.flowapp.com"
