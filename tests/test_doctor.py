"""``flowgate doctor``, run as an operator runs it: a subprocess with the settings in its environment.

Every server it is pointed at is on loopback: the session's sandbox, closed ports, and a listener
whose accept queue is full, which drops connection attempts like a blackholed host.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from support import free_port, vendor_urls

SECRET_PASSWORD = "s3cret-db-pw"
SECRET_API_KEY = "very-secret-flowcode-key"


def doctor(tmp_path, *args: str, sandbox: str | None = None, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run ``flowgate doctor`` with only these GATEWAY_* settings (vendors at ``sandbox`` when given)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    if sandbox:
        env.update({f"GATEWAY_{k.upper()}": v for k, v in vendor_urls(sandbox).items()})
    env.update({"GATEWAY_DATA_DIR": str(tmp_path / "var"), **settings})
    return subprocess.run([sys.executable, "-m", "gateway.cli", "doctor", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)


def lines_of(done: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """The check lines by check name: {"database": "FAIL  database: ...", ...}."""
    out = {}
    for line in done.stdout.splitlines():
        status, _, rest = line.partition("  ")
        if status.strip() in ("ok", "warn", "FAIL"):
            out[rest.partition(":")[0].strip()] = line
    return out


@pytest.fixture
def migrated(tmp_path) -> str:
    from gateway.store import Store

    data_dir = tmp_path / "var"
    data_dir.mkdir()
    store = Store(f"sqlite:///{data_dir / 'flowgate.db'}")
    store.migrate()
    store.dispose()
    return str(data_dir)


@pytest.fixture
def blackholed_port() -> Iterator[int]:
    """A loopback port whose accept queue is full: the kernel drops new SYNs, so a connect hangs
    until its timeout, as with a firewalled host."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        fillers.append(s)
    time.sleep(0.2)
    probe = socket.socket()
    probe.settimeout(0.5)
    try:
        probe.connect(("127.0.0.1", port))
    except (TimeoutError, OSError):
        pass
    else:
        pytest.skip("this kernel accepts beyond a full listen queue; no blackhole to test against")
    finally:
        probe.close()
    yield port
    for s in (*fillers, listener):
        s.close()


def test_a_good_setup_is_all_ok_and_says_so(tmp_path, sandbox_url, migrated):
    done = doctor(tmp_path, sandbox=sandbox_url)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[-1].startswith("all is well"), done.stdout
    checks = lines_of(done)
    assert "FAIL" not in done.stdout
    for name in ("settings", "database", "task engine", "secret key", "vendor flowize", "vendor flowcode",
                 "vendor exaroutes", "vendor flowevents", "vendor flowbox"):
        assert checks[name].startswith("ok "), checks.get(name, done.stdout)
    assert "the latest" in checks["database"]
    assert "redis" not in checks  # not configured: not checked
    assert done.stderr == ""


def test_each_problem_is_named_on_its_own_line_and_nothing_secret_is_shown(tmp_path, sandbox_url, migrated):
    closed = free_port()
    done = doctor(tmp_path, sandbox=sandbox_url,
                  GATEWAY_DATABASE_URL=f"postgresql+psycopg://flowgate:{SECRET_PASSWORD}@127.0.0.1:1/nope",
                  GATEWAY_REDIS_URL="redis://127.0.0.1:1/0",
                  GATEWAY_FLOWIZE_BASE_URL=f"http://127.0.0.1:{closed}",
                  GATEWAY_FLOWCODE_API_KEY=SECRET_API_KEY)
    assert done.returncode == 1, done.stdout + done.stderr
    checks = lines_of(done)
    assert checks["database"].startswith("FAIL") and "127.0.0.1:1/nope" in checks["database"]
    assert checks["redis"].startswith("FAIL") and "127.0.0.1:1" in checks["redis"]
    assert "GATEWAY_REDIS_URL" in checks["redis"]
    assert checks["task engine"].startswith("FAIL")
    assert checks["vendor flowize"].startswith("FAIL") and f"127.0.0.1:{closed}" in checks["vendor flowize"]
    assert "GATEWAY_FLOWIZE_BASE_URL" in checks["vendor flowize"]
    assert checks["vendor flowcode"].startswith("ok ")  # the others are still checked, and fine
    assert "problems found" in done.stdout.splitlines()[-1]
    assert SECRET_PASSWORD not in done.stdout + done.stderr and "flowgate:***@" in checks["database"]
    assert SECRET_API_KEY not in done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_a_bad_setting_is_one_clear_line(tmp_path):
    done = doctor(tmp_path, GATEWAY_PORT="abc")
    assert done.returncode == 1
    failed = [line for line in done.stdout.splitlines() if line.startswith("FAIL")]
    assert len(failed) == 1 and "GATEWAY_PORT" in failed[0] and "'abc'" in failed[0], done.stdout
    assert done.stderr == ""


def test_a_schema_behind_the_code_asks_for_flowgate_migrate(tmp_path, sandbox_url):
    from gateway.store import Store

    (tmp_path / "var").mkdir()
    store = Store(f"sqlite:///{tmp_path / 'var' / 'flowgate.db'}")
    store.migrate("0006")
    store.dispose()
    done = doctor(tmp_path, sandbox=sandbox_url)
    assert done.returncode == 1
    assert lines_of(done)["database"].startswith("FAIL") and "run flowgate migrate" in lines_of(done)["database"]


def test_no_database_yet_asks_for_flowgate_migrate_and_creates_nothing(tmp_path, sandbox_url):
    done = doctor(tmp_path, sandbox=sandbox_url)
    assert done.returncode == 1
    assert "run flowgate migrate" in lines_of(done)["database"]
    assert not (tmp_path / "var").exists()  # a doctor looks; it does not make the files it finds missing


def test_a_blackholed_vendor_fails_after_the_connect_timeout_and_doctor_does_not_hang(
        tmp_path, sandbox_url, migrated, blackholed_port):
    started = time.monotonic()
    done = doctor(tmp_path, sandbox=sandbox_url,
                  GATEWAY_EXAROUTES_BASE_URL=f"http://127.0.0.1:{blackholed_port}",
                  GATEWAY_REST_RATE_LIMIT_STORAGE=f"redis://127.0.0.1:{blackholed_port}/0")
    elapsed = time.monotonic() - started
    assert done.returncode == 1
    checks = lines_of(done)
    assert checks["vendor exaroutes"].startswith("FAIL") and "connect timeout" in checks["vendor exaroutes"]
    assert checks["rate-limit storage"].startswith("FAIL")
    assert elapsed < 15, f"doctor took {elapsed:.1f} s"  # the checks run side by side, ~2 s connect timeouts


def test_the_embedded_sandbox_not_running_yet_is_a_warning(tmp_path, migrated):
    # Vendor URLs left at their default follow the sandbox's port, where `flowgate serve` starts it.
    done = doctor(tmp_path, GATEWAY_SANDBOX_PORT=str(free_port()))
    assert done.returncode == 0, done.stdout
    assert lines_of(done)["vendor flowize"].startswith("warn") and "flowgate serve" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("all is well")


def test_json_output_for_scripts(tmp_path, sandbox_url, migrated):
    done = doctor(tmp_path, "--json", sandbox=sandbox_url,
                  GATEWAY_FLOWBOX_BASE_URL=f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert report["ok"] is False
    by_check = {c["check"]: c for c in report["checks"]}
    assert by_check["vendor flowbox"]["status"] == "FAIL" and by_check["database"]["status"] == "ok"
    assert set(by_check["settings"]) == {"check", "status", "message"}


@pytest.mark.redis
def test_a_reachable_redis_is_ok_for_the_queue_and_the_rate_limits(tmp_path, sandbox_url, migrated, redis_url):
    done = doctor(tmp_path, sandbox=sandbox_url, GATEWAY_REDIS_URL=redis_url,
                  GATEWAY_REST_RATE_LIMIT_STORAGE=redis_url)
    checks = lines_of(done)
    assert done.returncode == 0, done.stdout
    for name in ("redis", "rate-limit storage", "task engine"):
        assert checks[name].startswith("ok "), checks[name]
