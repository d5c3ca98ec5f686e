"""Shared fixtures: real servers on loopback, real databases, no network beyond loopback."""

from __future__ import annotations

import ipaddress
import os
import socket
import uuid

import pytest
import requests

from gateway.config import Settings
from gateway.sandbox.app import create_sandbox_app
from gateway.server import serve_in_thread

REQUIRE_SERVICES = os.environ.get("GATEWAY_REQUIRE_SERVICES", "") not in ("", "0", "false")
POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

from support import DEMO_HEADERS, DEMO_OAUTH, DEMO_PARAMS, SoapReply, gateway_with, vendor_urls  # noqa: F401 - re-exported

# -- no network beyond loopback -----------------------------------------------------------------
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _check_address(address) -> None:
    if isinstance(address, (str, bytes)):  # unix socket
        return
    host = address[0]
    if host in ("localhost",):
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise OSError(f"tests may only connect to loopback, not {host!r}")


def _guarded_connect(self, address):
    _check_address(address)
    return _real_connect(self, address)


def _guarded_connect_ex(self, address):
    _check_address(address)
    return _real_connect_ex(self, address)


@pytest.fixture(autouse=True, scope="session")
def _loopback_only():
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]


# -- the sandbox, a real HTTP server ------------------------------------------------------------
@pytest.fixture(scope="session")
def _sandbox_server():
    app = create_sandbox_app(Settings(sandbox_rate_limit=100000), database=":memory:")
    server = serve_in_thread(app)
    server.app = app
    yield server
    server.shutdown()


@pytest.fixture
def sandbox_url(_sandbox_server) -> str:
    """The sandbox's base URL, reset to the seeded demo data, no faults, fresh rate counters."""
    requests.post(_sandbox_server.url + "/_sandbox/reset", timeout=5).raise_for_status()
    return _sandbox_server.url


@pytest.fixture(scope="session")
def _gateway_server(_sandbox_server, tmp_path_factory):
    from gateway.app import create_app

    # The session's gateway meets every test's injected faults: its circuit breakers stay closed
    # (tests of the breaker build their own gateway).
    settings = Settings(data_dir=str(tmp_path_factory.mktemp("gateway")), http_retries=1, http_backoff=0.05,
                        breaker_fail_max=100_000,
                        exaroutes_poll_schedule="0.05,0.1,0.2", **vendor_urls(_sandbox_server.url))
    server = serve_in_thread(create_app(settings))
    server.settings = settings
    yield server
    server.shutdown()


@pytest.fixture
def gateway_url(_gateway_server, sandbox_url) -> str:
    """The gateway (pass-through mode) in front of the freshly reset sandbox, both real HTTP servers."""
    return _gateway_server.url



@pytest.fixture
def gateway_factory(tmp_path, sandbox_url):
    """Build extra gateways with their own settings; all are shut down after the test."""
    servers = []

    def make(upstream: str | None = None, **settings):
        settings.setdefault("http_retries", 0)
        server = gateway_with(tmp_path / f"gw{len(servers)}", upstream or sandbox_url, **settings)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.shutdown()


@pytest.fixture
def api_url(_gateway_server, sandbox_url) -> str:
    """``http://…/api`` of the session's gateway, with fresh facade rate-limit counters and a freshly
    reset sandbox (no faults; ExaRoutes answers without the 3 s processing delay)."""
    _gateway_server.server.app.extensions["flowgate.api"].limiter.reset()
    requests.patch(sandbox_url + "/_sandbox/exaroutes", json={"processing_seconds": 0}, timeout=5).raise_for_status()
    return _gateway_server.url + "/api"


@pytest.fixture
def consumer_key(_gateway_server):
    """``consumer_key("qr,events")`` -> a new consumer key with those scopes, in the gateway's store."""
    services = _gateway_server.server.app.extensions["flowgate"]
    made = []

    def make(scopes: str, **fields) -> str:
        created = services.consumers.add(f"test-{uuid.uuid4().hex[:12]}", scopes=scopes, **fields)
        made.append(created.consumer.name)
        return created.key

    yield make
    repo = services.consumers
    for name in made:
        repo.revoke(name)


@pytest.fixture
def http():
    """A plain requests session for talking to servers under test."""
    with requests.Session() as session:
        yield session


# -- real services ---------------------------------------------------------------------------
def _service_or_skip(name: str, probe) -> None:
    try:
        probe()
    except Exception as exc:  # noqa: BLE001 - any failure means "not here"
        if REQUIRE_SERVICES:
            pytest.fail(f"{name} is required (GATEWAY_REQUIRE_SERVICES is set) but unusable: {exc}")
        pytest.skip(f"{name} is not reachable here ({exc}); set GATEWAY_REQUIRE_SERVICES=1 to make this a failure")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_store(request, tmp_path):
    """A migrated store, once on SQLite and once on PostgreSQL: the same store tests run on both."""
    from support import migrated_store

    store, cleanup = migrated_store(request, tmp_path, request.param)
    yield store
    cleanup()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    def probe():
        import sqlalchemy as sa
        engine = sa.create_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
    _service_or_skip("PostgreSQL", probe)
    return POSTGRES_URL


@pytest.fixture
def fresh_postgres_database(postgres_url):
    """The URL of a PostgreSQL database of this test alone (reruns and parallel runs never meet),
    dropped after."""
    import sqlalchemy as sa

    name = f"flowgate_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield sa.make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture(scope="session")
def redis_url() -> str:
    def probe():
        import redis
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    _service_or_skip("Redis", probe)
    return REDIS_URL


@pytest.fixture
def post_soap(gateway_url):
    def post(envelope: str | bytes, *, version: str = "1.1", soap_action: str | None = '""',
             headers: dict | None = None, url: str | None = None) -> SoapReply:
        data = envelope.encode("utf-8") if isinstance(envelope, str) else envelope
        hdrs = {"Content-Type": "text/xml; charset=utf-8" if version == "1.1" else "application/soap+xml; charset=utf-8"}
        if soap_action is not None and version == "1.1":
            hdrs["SOAPAction"] = soap_action
        hdrs.update(headers or {})
        resp = requests.post((url or gateway_url) + "/v1/soap", data=data, headers=hdrs, timeout=15)
        return SoapReply(resp)

    return post
