"""Flowize sandbox, "Environments": the tables and the doc's demo data (environments 1 and 2)."""

from __future__ import annotations

import json

from gateway.sandbox.flowize.environments import CERTIFICATE, FIRST_VERSION, _host_token

__all__ = ["DDL", "seed"]


DDL = """
CREATE TABLE IF NOT EXISTS fz_env_environments (
    id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '', region TEXT NOT NULL, timezone TEXT NOT NULL,
    host_token TEXT NOT NULL, package TEXT NOT NULL, storage_addons TEXT NOT NULL DEFAULT '[]',
    version TEXT NOT NULL, stats TEXT NOT NULL, ssl_certificate TEXT, status TEXT NOT NULL,
    ready_at REAL, pending TEXT, date_created TEXT NOT NULL, date_updated TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fz_env_projects (
    id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, name TEXT NOT NULL, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS fz_env_hosted (
    environment_id INTEGER NOT NULL, project_id INTEGER NOT NULL, version INTEGER NOT NULL,
    date_created TEXT NOT NULL, date_updated TEXT NOT NULL, PRIMARY KEY (environment_id, project_id));
CREATE TABLE IF NOT EXISTS fz_env_urls (
    environment_id INTEGER NOT NULL, url TEXT NOT NULL, project_id INTEGER NOT NULL, name TEXT NOT NULL,
    type TEXT NOT NULL, date_created TEXT NOT NULL, date_updated TEXT NOT NULL,
    PRIMARY KEY (environment_id, url));
"""

_DOC_STATS = {"status": "OBSERVE", "current_storage": 5.3978, "visits": 0, "records": 11, "batches": 0,
              "webhooks": 0, "tasks": 32, "avg_performance": 70.3117, "peak_performance": 72.67}
# The Organization's projects (the Designer's catalogue): the doc's ids 12, 15 (projects example),
# 55, 113 (hosted by environments 1 and 2) and 54, 1231 (url mapping example).
_PROJECTS = [(12, "Project 1", 1), (15, "Project 3", 2), (54, "Landing pages", 1), (55, "Project 55", 3),
             (113, "Project 113", 2), (1231, "Websites", 4)]
_URLS = [("/my_website/", 1231, "my_website1", "website", "2024-05-22 15:29:12", "2024-07-10 19:45:07"),
         ("/landing/", 54, "My landing page", "hostedpage", "2023-05-03 11:29:54", "2023-06-10 08:12:22")]


def seed(db) -> None:
    db.executescript(DDL)
    if db.one("SELECT 1 FROM fz_env_environments LIMIT 1"):
        return
    with db.transaction() as conn:
        for env_id, package, certificate in ((1, "SS-A", CERTIFICATE), (2, "SS-B", None)):
            conn.execute(
                "INSERT INTO fz_env_environments (id, customer_id, name, region, timezone, host_token, "
                "package, version, stats, ssl_certificate, status, date_created, date_updated) "
                "VALUES (?, 1, ?, 'amsterdam', 'Europe/Amsterdam', ?, ?, ?, ?, ?, 'ready', "
                "'2022-01-01 00:00:00', '2022-05-16 00:00:00')",
                (env_id, f"Environment {env_id}", _host_token(1, env_id), package, FIRST_VERSION,
                 json.dumps(_DOC_STATS), certificate and json.dumps(certificate)))
            for project_id in (55, 113):
                conn.execute("INSERT INTO fz_env_hosted VALUES (?, ?, ?, '2022-11-05 14:07:42', "
                             "'2022-11-05 14:07:42')", (env_id, project_id, 2 if project_id == 55 else 1))
        conn.executemany("INSERT INTO fz_env_projects (id, customer_id, name, version) VALUES (?, 1, ?, ?)",
                         _PROJECTS)
        conn.executemany("INSERT INTO fz_env_urls VALUES (1, ?, ?, ?, ?, ?, ?)", _URLS)
