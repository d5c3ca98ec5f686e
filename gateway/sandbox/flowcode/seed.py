"""Flowcode sandbox tables and the demo data of DESIGN.md: apikey ``demo-flowcode-key``, studio config
``00000000-0000-0000-0000-000000000001``, folder ``1``. A second account (``demo-flowcode-key-2``)
owns folder 2 and its own studio config, to show that accounts do not see each other's codes."""

from __future__ import annotations

from gateway.sandbox.state import SandboxDB

__all__ = ["DEMO", "KNOB_DEFAULTS", "OTHER", "seed"]

DEMO = {"api_key": "demo-flowcode-key", "studio_config_id": "00000000-0000-0000-0000-000000000001",
        "folder_id": 1}
OTHER = {"api_key": "demo-flowcode-key-2", "studio_config_id": "00000000-0000-0000-0000-000000000002",
         "folder_id": 2}

# Seconds an asynchronous bulk task takes (PENDING for the first third, then STARTED): long enough to
# see the states in a demo, and PATCH /_sandbox/flowcode makes it shorter (or 0) for tests.
KNOB_DEFAULTS = {"task_seconds": 3.0}

DDL = """
CREATE TABLE IF NOT EXISTS fc_accounts (id INTEGER PRIMARY KEY, api_key TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS fc_studio_configs (
    id TEXT PRIMARY KEY, account_id INTEGER NOT NULL REFERENCES fc_accounts(id), name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fc_folders (
    id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL REFERENCES fc_accounts(id), name TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fc_tasks (
    id TEXT PRIMARY KEY, account_id INTEGER NOT NULL, total INTEGER NOT NULL, outcome TEXT NOT NULL,
    message TEXT NOT NULL, created_at REAL NOT NULL, seconds REAL NOT NULL);
CREATE TABLE IF NOT EXISTS fc_codes (
    id TEXT PRIMARY KEY, account_id INTEGER NOT NULL, folder_id INTEGER, studio_config_id TEXT NOT NULL,
    code_name TEXT NOT NULL, destination TEXT NOT NULL, scan_destination TEXT NOT NULL, file_type TEXT NOT NULL,
    task_id TEXT REFERENCES fc_tasks(id), position INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    UNIQUE (account_id, folder_id, code_name));
CREATE INDEX IF NOT EXISTS fc_codes_task ON fc_codes(task_id, position);
CREATE TABLE IF NOT EXISTS fc_knobs (name TEXT PRIMARY KEY, value REAL NOT NULL);
"""


def seed(db: SandboxDB) -> None:
    db.executescript(DDL)
    if db.one("SELECT 1 FROM fc_accounts WHERE id = 1"):
        return
    with db.transaction() as conn:
        for account_id, demo in ((1, DEMO), (2, OTHER)):
            conn.execute("INSERT INTO fc_accounts (id, api_key) VALUES (?, ?)", (account_id, demo["api_key"]))
            conn.execute("INSERT INTO fc_studio_configs (id, account_id, name) VALUES (?, ?, 'Demo design')",
                         (demo["studio_config_id"], account_id))
            conn.execute("INSERT INTO fc_folders (id, account_id, name) VALUES (?, ?, 'Demo folder')",
                         (demo["folder_id"], account_id))
        conn.executemany("INSERT INTO fc_knobs (name, value) VALUES (?, ?)", KNOB_DEFAULTS.items())
