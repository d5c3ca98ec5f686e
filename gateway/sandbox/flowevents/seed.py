"""Flow events sandbox tables and the demo data of DESIGN.md (``demo-events-secret``, ``demo-session``).

Times are relative to the moment of seeding so ``period=past|current|upcoming`` keep their meaning.
The content is CSV-hostile on purpose: commas, double quotes, embedded ``\\n`` and ``\\r\\n``,
non-ASCII and non-BMP characters, a spreadsheet formula. Two more past sessions store their reports
in other encodings: ``demo-session-bom`` (UTF-8 with BOM) and ``demo-session-latin1`` (ISO-8859-1).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from gateway.sandbox.flowevents.wire import iso, utcnow
from gateway.sandbox.state import SandboxDB

DEMO_SECRET = "demo-events-secret"
DEMO_SESSION = "demo-session"

DDL = """
CREATE TABLE IF NOT EXISTS fe_account (id INTEGER PRIMARY KEY, secret TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fe_events (id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS fe_sessions (token TEXT PRIMARY KEY, event_id INTEGER NOT NULL REFERENCES fe_events(id),
    starts_at TEXT NOT NULL, ends_at TEXT NOT NULL, timezone TEXT NOT NULL,
    csv_encoding TEXT NOT NULL DEFAULT 'utf-8');
CREATE TABLE IF NOT EXISTS fe_registrants (id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_token TEXT NOT NULL REFERENCES fe_sessions(token), email TEXT NOT NULL COLLATE NOCASE,
    first_name TEXT NOT NULL, last_name TEXT NOT NULL DEFAULT '', company TEXT NOT NULL DEFAULT '',
    registered_at TEXT NOT NULL, join_key TEXT NOT NULL, joined_at TEXT, left_at TEXT,
    minutes_watched INTEGER NOT NULL DEFAULT 0, UNIQUE(session_token, email));
CREATE TABLE IF NOT EXISTS fe_operators (id INTEGER PRIMARY KEY AUTOINCREMENT, session_token TEXT NOT NULL,
    name TEXT NOT NULL, email TEXT NOT NULL, role TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fe_chat (id INTEGER PRIMARY KEY AUTOINCREMENT, session_token TEXT NOT NULL,
    kind TEXT NOT NULL, sent_at TEXT NOT NULL, sender_name TEXT NOT NULL, sender_email TEXT NOT NULL,
    recipient TEXT NOT NULL DEFAULT '', message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fe_surveys (id INTEGER PRIMARY KEY, session_token TEXT NOT NULL, title TEXT NOT NULL,
    questions TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fe_survey_answers (id INTEGER PRIMARY KEY AUTOINCREMENT,
    survey_id INTEGER NOT NULL REFERENCES fe_surveys(id), question_id INTEGER NOT NULL,
    registrant_id INTEGER NOT NULL REFERENCES fe_registrants(id), answer TEXT NOT NULL, answered_at TEXT NOT NULL);
"""

# (first, last, email, company, minutes watched or None when absent)
HOSTILE_REGISTRANTS = [
    ("José", "García-Núñez", "jose.garcia@example.com", "Acme, Inc.", 55),
    ("Zoë", "O'Brien", "zoe.obrien@example.com", 'The "Quoted" Co.', 60),
    ("Łukasz", "Żółć", "lukasz@example.pl", "Kraków\nBranch office", None),
    ("李", "小龙", "li@example.cn", "北京, 中国", 12),
    ("Jesse", "Pinkman", "jessepinkman@breakingbad.com", "", 30),
    ("Ana", "Smith, Jr.", "ana@example.com", "=SUM(A1:A2)", None),
]
LATIN1_REGISTRANTS = [
    ("François", "Müller", "francois@example.fr", "Café Crème, S.A.", 42),
    ("Zoë", "Ångström", "zoe@example.se", 'Smörgås "AB"', 15),
    ("Íñigo", "Peña", "inigo@example.es", "Línea\r\nDos", None),
]
OPERATORS = [("Walter White", "walter@flowapp.example", "host"), ("Skyler White", "skyler@flowapp.example", "moderator")]


def _key(*parts: Any) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:16]


def seed(db: SandboxDB) -> None:
    db.executescript(DDL)
    if db.one("SELECT 1 FROM fe_account"):
        return
    now = utcnow()
    with db.transaction() as conn:
        conn.execute("INSERT INTO fe_account (id, secret) VALUES (1, ?)", (DEMO_SECRET,))
        conn.execute("INSERT INTO fe_events (id, title, description) VALUES (1, ?, ?)",
                     ('Flow Summit: pipes, flows, and "you"', "The yearly summit, in three sessions."))
        conn.execute("INSERT INTO fe_events (id, title, description) VALUES (2, ?, ?)",
                     ("Encoding clinic", "Reports in the encodings older exports use."))
        start = now - timedelta(days=7)
        _session(conn, DEMO_SESSION, 1, start, 60, "Europe/Amsterdam", "utf-8")
        _session(conn, "demo-live", 1, now - timedelta(minutes=10), 60, "America/New_York", "utf-8")
        _session(conn, "demo-upcoming", 1, now + timedelta(days=7), 45, "UTC", "utf-8")
        _session(conn, "demo-session-bom", 2, now - timedelta(days=3), 30, "Europe/Stockholm", "utf-8-sig")
        _session(conn, "demo-session-latin1", 2, now - timedelta(days=2), 30, "Europe/Paris", "latin-1")

        ids = _registrants(conn, DEMO_SESSION, start, HOSTILE_REGISTRANTS)
        for token in ("demo-session-bom", "demo-session-latin1"):
            _registrants(conn, token, now - timedelta(days=3), LATIN1_REGISTRANTS)
        for token in (DEMO_SESSION, "demo-live", "demo-upcoming", "demo-session-bom", "demo-session-latin1"):
            for name, email, role in OPERATORS:
                conn.execute("INSERT INTO fe_operators (session_token, name, email, role) VALUES (?, ?, ?, ?)",
                             (token, name, email, role))
        _chat(conn, DEMO_SESSION, start, [
            ("attendee", 2, "José García-Núñez", "jose.garcia@example.com", "", "Hello, everyone!"),
            ("attendee", 4, "Zoë O'Brien", "zoe.obrien@example.com", "", 'Can you share the slides? "Pretty please"'),
            ("attendee", 7, "李 小龙", "li@example.cn", "", "你好 👋"),
            ("attendee", 9, "José García-Núñez", "jose.garcia@example.com", "", "Line one\nLine two, with a comma"),
            ("attendee", 15, "Jesse Pinkman", "jessepinkman@breakingbad.com", "", 'Yo,\r\n"Mr. White"'),
            ("operator", 1, "Walter White", "walter@flowapp.example", "All attendees",
             "Welcome! Slides: https://example.com/s?a=1&b=2"),
            ("operator", 5, "Skyler White", "skyler@flowapp.example", "Zoë O'Brien", 'Sent, "check your inbox"'),
            ("operator", 40, "Walter White", "walter@flowapp.example", "All attendees", "Q&A in 5 min;\nstay tuned"),
        ])
        _survey(conn, 101, DEMO_SESSION, "Post-event survey", [
            {"id": 1, "text": "How would you rate the session? (1-5)", "type": "rating"},
            {"id": 2, "text": 'What should we cover next, "and why"?', "type": "text"},
        ], start + timedelta(minutes=60), [
            (ids["jose.garcia@example.com"], 1, "5"), (ids["jose.garcia@example.com"], 2, 'More on pipelines,\nand "flows"'),
            (ids["zoe.obrien@example.com"], 1, "4"), (ids["zoe.obrien@example.com"], 2, "Ça va, merci"),
            (ids["li@example.cn"], 1, "5"), (ids["li@example.cn"], 2, "更多内容"),
        ])
        _survey(conn, 102, DEMO_SESSION, "Quick poll", [
            {"id": 1, "text": "Did you attend live?", "type": "choice", "choices": ["Yes", "No"]},
        ], start + timedelta(minutes=30), [(ids["jessepinkman@breakingbad.com"], 1, "Yes")])
        for token, survey_id, delay in (("demo-session-bom", 201, 3), ("demo-session-latin1", 202, 2)):
            first = conn.execute("SELECT id FROM fe_registrants WHERE session_token = ? ORDER BY id LIMIT 1",
                                 (token,)).fetchone()[0]
            _chat(conn, token, now - timedelta(days=delay), [
                ("attendee", 3, "François Müller", "francois@example.fr", "", "Très bien, merci !\nÀ bientôt"),
                ("operator", 4, "Walter White", "walter@flowapp.example", "All attendees", 'Voilà: "naïve" café'),
            ])
            _survey(conn, survey_id, token, "Évaluation", [{"id": 1, "text": "Qualité ?", "type": "text"}],
                    now - timedelta(days=delay) + timedelta(minutes=30), [(first, 1, "Très «bien»")])


def _session(conn, token: str, event_id: int, starts: datetime, minutes: int, tz: str, encoding: str) -> None:
    conn.execute("INSERT INTO fe_sessions (token, event_id, starts_at, ends_at, timezone, csv_encoding) "
                 "VALUES (?, ?, ?, ?, ?, ?)",
                 (token, event_id, iso(starts), iso(starts + timedelta(minutes=minutes)), tz, encoding))


def _registrants(conn, token: str, start: datetime, people: list[tuple]) -> dict[str, int]:
    ids = {}
    for n, (first, last, email, company, watched) in enumerate(people):
        joined = iso(start + timedelta(minutes=1 + n)) if watched is not None else None
        left = iso(start + timedelta(minutes=1 + n + watched)) if watched is not None else None
        cur = conn.execute(
            "INSERT INTO fe_registrants (session_token, email, first_name, last_name, company, registered_at, "
            "join_key, joined_at, left_at, minutes_watched) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (token, email, first, last, company, iso(start - timedelta(days=5, hours=n)), join_key(token, email),
             joined, left, watched or 0))
        ids[email] = cur.lastrowid
    return ids


def _chat(conn, token: str, start: datetime, lines: list[tuple]) -> None:
    for kind, minute, name, email, recipient, message in lines:
        conn.execute("INSERT INTO fe_chat (session_token, kind, sent_at, sender_name, sender_email, recipient, "
                     "message) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (token, kind, iso(start + timedelta(minutes=minute)), name, email, recipient, message))


def _survey(conn, survey_id: int, token: str, title: str, questions: list[dict], answered: datetime,
            answers: list[tuple[int, int, str]]) -> None:
    conn.execute("INSERT INTO fe_surveys (id, session_token, title, questions) VALUES (?, ?, ?, ?)",
                 (survey_id, token, title, json.dumps(questions, ensure_ascii=False)))
    for n, (registrant_id, question_id, answer) in enumerate(answers):
        conn.execute("INSERT INTO fe_survey_answers (survey_id, question_id, registrant_id, answer, answered_at) "
                     "VALUES (?, ?, ?, ?, ?)", (survey_id, question_id, registrant_id, answer,
                                                iso(answered + timedelta(minutes=n))))


def join_key(token: str, email: str) -> str:
    return _key(token, email.lower())
