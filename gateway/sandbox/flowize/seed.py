"""Flowize sandbox tables and the demo data of DESIGN.md ("Embedded-mode demo data")."""

from __future__ import annotations

import json

from gateway.sandbox.state import SandboxDB, now_str

DEMO = {
    "customer": "Demo",
    "api_key": "demo-api-key",
    "app_key": "demo-app",
    "client_id": "demo-client-id",
    "client_secret": "demo-client-secret",
    "flow_name": "demo-flow",
    "flow_id": 1,
    "webhook_uri": "demo-webhook",
}

# A second app whose IP allowlist never matches loopback: calls with it get 403 / 437.
RESTRICTED_APP = "demo-app-restricted"

DDL = """
CREATE TABLE IF NOT EXISTS fz_customers (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL, api_key TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS fz_apps (
    app_key TEXT PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES fz_customers(id),
    client_id TEXT UNIQUE, client_secret TEXT, ip_allowlist TEXT NOT NULL DEFAULT '[]');
CREATE TABLE IF NOT EXISTS fz_tokens (
    access_token TEXT PRIMARY KEY, refresh_token TEXT NOT NULL, app_key TEXT NOT NULL,
    customer_id INTEGER NOT NULL, expires_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS fz_tokens_refresh ON fz_tokens(refresh_token);
CREATE TABLE IF NOT EXISTS fz_schemas (
    customer_id INTEGER PRIMARY KEY, url TEXT, schema TEXT NOT NULL, data_record TEXT NOT NULL,
    creation_date TEXT NOT NULL, modified_date TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fz_flows (
    id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, name TEXT NOT NULL, description TEXT,
    status TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 1, diagram TEXT NOT NULL DEFAULT '{}',
    UNIQUE(customer_id, name));
CREATE TABLE IF NOT EXISTS fz_records (
    id INTEGER PRIMARY KEY AUTOINCREMENT, customer_id INTEGER NOT NULL, uuid TEXT NOT NULL,
    flow_id INTEGER NOT NULL, flow_version INTEGER NOT NULL DEFAULT 1, data TEXT NOT NULL,
    date_created TEXT NOT NULL, date_started TEXT NOT NULL DEFAULT '', date_last_run TEXT NOT NULL DEFAULT '',
    date_next_run TEXT NOT NULL DEFAULT '', queue_status TEXT NOT NULL DEFAULT '',
    num_runs INTEGER NOT NULL DEFAULT 0, flow_status INTEGER NOT NULL DEFAULT 0,
    UNIQUE(customer_id, uuid));
CREATE TABLE IF NOT EXISTS fz_webhooks (
    uri TEXT PRIMARY KEY, customer_id INTEGER NOT NULL, flow_id INTEGER NOT NULL,
    plugin_id TEXT NOT NULL, application_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fz_webhook_data (
    id TEXT PRIMARY KEY, uri TEXT NOT NULL, payload TEXT NOT NULL, date_created TEXT NOT NULL);
"""

FLOWS = [
    (1, "demo-flow", "Demo flow: stores the record and finishes", "running"),
    (2, "demo-flow-2", "Second demo flow, target of movetoflow", "running"),
    (3, "demo-draft", "A draft flow, waiting to be published", "draft"),
]


def seed(db: SandboxDB) -> None:
    db.executescript(DDL)
    if db.one("SELECT 1 FROM fz_customers WHERE id = 1"):
        return
    with db.transaction() as conn:
        conn.execute("INSERT INTO fz_customers (id, name, api_key) VALUES (1, ?, ?)",
                     (DEMO["customer"], DEMO["api_key"]))
        conn.execute("INSERT INTO fz_apps (app_key, customer_id, client_id, client_secret) VALUES (?, 1, ?, ?)",
                     (DEMO["app_key"], DEMO["client_id"], DEMO["client_secret"]))
        conn.execute("INSERT INTO fz_apps (app_key, customer_id, ip_allowlist) VALUES (?, 1, ?)",
                     (RESTRICTED_APP, json.dumps(["203.0.113.7"])))
        for flow_id, name, description, status in FLOWS:
            diagram = {"steps": [{"type": "start", "text": "start"}, {"type": "store", "text": "store record"},
                                 {"type": "end", "text": "end"}]}
            conn.execute("INSERT INTO fz_flows (id, customer_id, name, description, status, diagram) "
                         "VALUES (?, 1, ?, ?, ?, ?)", (flow_id, name, description, status, json.dumps(diagram)))
        conn.execute("INSERT INTO fz_webhooks (uri, customer_id, flow_id, plugin_id, application_id) "
                     "VALUES (?, 1, 1, 'plugin-1', 'demo-app')", (DEMO["webhook_uri"],))
        stamp = now_str()
        conn.execute("INSERT INTO fz_records (customer_id, uuid, flow_id, data, date_created, date_started, "
                     "date_last_run, num_runs, flow_status, queue_status) VALUES (1, 'demo-record', 1, ?, ?, ?, ?, 1, 2, '2')",
                     (json.dumps({"client": [{"uuid": "demo-record", "name": "Demo Client", "age": 42}]}),
                      stamp, stamp, stamp))
