"""Gateways that start together migrate together: `flowgate migrate` run by several processes at once
on a new database (two containers, two systemd hosts, a rolling deploy) brings it to the latest
revision once, and every one of them exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from gateway.store.crypto import SecretBox
from gateway.store.models import Base

ROOT = Path(__file__).resolve().parents[2]
PROCESSES = 4


def _head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from gateway.store.db import MIGRATIONS

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head() or ""


def _migrate_at_once(url: str, workdir: Path) -> list[subprocess.CompletedProcess[str]]:
    env = {**os.environ, "GATEWAY_DATABASE_URL": url, "GATEWAY_DATA_DIR": str(workdir),
           "GATEWAY_SECRET_KEY": SecretBox.generate_key(), "GATEWAY_LOG_FORMAT": "text"}
    env.pop("GATEWAY_CONFIG", None)
    procs = [subprocess.Popen([sys.executable, "-m", "gateway.cli", "migrate"], cwd=ROOT, env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(PROCESSES)]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_database(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gateway.db'}"
    return request.getfixturevalue("fresh_postgres_database")


def test_processes_migrating_a_new_database_at_once_all_succeed(new_database, tmp_path):
    results = _migrate_at_once(new_database, tmp_path)
    for result in results:
        assert result.returncode == 0, result.stderr[-3000:]
        assert "database schema is up to date" in result.stdout
    engine = sa.create_engine(new_database)
    try:
        with engine.connect() as conn:
            versions = [row[0] for row in conn.exec_driver_sql("SELECT version_num FROM alembic_version")]
            tables = set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()
    assert versions == [_head()]
    assert set(Base.metadata.tables) <= tables, tables
