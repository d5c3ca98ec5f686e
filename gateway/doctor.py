"""``flowgate doctor``: is this machine's setup able to serve? One line per check, then a verdict.

    ok    database: sqlite:////srv/flowgate/var/flowgate.db, schema at 0007 (the latest)
    FAIL  redis: cannot connect to 127.0.0.1:6379 (connection refused): start Redis or fix GATEWAY_REDIS_URL
    warn  rate limits: counted per gunicorn worker (2 workers, memory://): ...

It asks what the gateway will need, with the settings the gateway would load (environment and
``GATEWAY_CONFIG``): the settings themselves, the database and its schema revision, Redis (when
configured), the task queue, the secret key, and each vendor's base URL. Exit 0 when nothing
failed (warnings allowed), 1 otherwise; ``--json`` for scripts.

A doctor must not hang on what it diagnoses: every network step has a short timeout (connect ~2 s),
the checks run side by side, and one that still has not answered by the deadline is reported as a
failure. It changes nothing it finds missing: no database file, key file or queue file is created.
Secrets never reach the output: URLs are shown with passwords and secret parameters masked, vendors
by host and port, and any setting's secret value is scrubbed from error texts.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from gateway.config import ENV_PREFIX, VENDOR_URLS, Settings, SettingsError
from gateway.redact import MASK, redact_text

__all__ = ["Result", "cmd_doctor", "run_checks"]

CONNECT_TIMEOUT = 2.0     # seconds: a blackholed host is declared unreachable after this
HTTP_TIMEOUT = (CONNECT_TIMEOUT, 5.0)
DEADLINE = 15.0           # seconds for every check together: past it, what has not answered fails
OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass(frozen=True)
class Result:
    check: str
    status: str
    message: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.check}: {self.message}"


Check = Callable[[], list[Result]]


def _env(name: str) -> str:
    return ENV_PREFIX + name.upper()


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:  # a malformed port: no password to find either
        return None


def masked_url(url: str) -> str:
    """``url`` with a password and secret query parameters masked, as ``flowgate config`` shows it."""
    password = _password(url)
    if password:
        url = url.replace(":" + password + "@", ":" + MASK + "@", 1)
    return redact_text(url)


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 6379 if parts.scheme.startswith("redis") else 80)
    except ValueError:
        return parts.hostname or parts.netloc.rpartition("@")[2]
    host = parts.hostname or ""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Scrubber:
    """Masks the settings' secret values and URL passwords in texts that libraries wrote."""

    def __init__(self, settings: Settings):
        values = {getattr(settings, f.name) for f in fields(Settings) if f.metadata.get("secret")}
        values |= {_password(url) for url in (settings.effective_database_url, settings.redis_url,
                                              settings.rest_rate_limit_storage)}
        # Masking a one- or two-character value everywhere would garble the text and protect nothing.
        self.secrets = sorted((v for v in values if v and len(v) >= 3), key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return redact_text(text)


def _reason(exc: BaseException, scrub: Callable[[str], str]) -> str:
    """An exception as a short phrase: its first line, or its type when it says nothing."""
    inner = getattr(exc, "orig", None) or exc   # SQLAlchemy wraps the driver's exception
    text = next((ln.strip() for ln in str(inner).splitlines() if ln.strip()), "")
    text = scrub(text)
    if len(text) > 200:
        text = text[:197] + "..."
    return text or type(inner).__name__


def _socket_reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT:g} s, a connect timeout (a firewall drops the packets, " \
               "or the address is wrong)"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused, nothing listens there"
    if isinstance(exc, socket.gaierror):
        return f"the host name does not resolve ({exc.strerror or exc})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return type(exc).__name__


# -- the checks --------------------------------------------------------------------------------------
def check_settings(settings: Settings) -> list[Result]:
    source = os.environ.get(ENV_PREFIX + "CONFIG")
    results = [Result("settings", OK, "loaded and valid" + (f" (environment and {source})" if source
                                                            else " (environment)"))]
    if settings.rest_rate_limit_storage.startswith("memory") and settings.workers > 1:
        results.append(Result("rate limits", WARN,
                              f"counted per gunicorn worker ({settings.workers} workers, memory://), so a consumer "
                              f"gets up to {settings.workers} times its limit: set {_env('rest_rate_limit_storage')}"
                              "=redis://... for one exact limit"))
    return results


def check_database(settings: Settings, scrub: Callable[[str], str]) -> list[Result]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError
    from sqlalchemy.pool import NullPool

    from gateway.store.db import MIGRATIONS

    url = settings.effective_database_url
    shown = masked_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        return [Result("database", FAIL, f"{_env('database_url')} is not a SQLAlchemy URL ({shown}); "
                                         "e.g. postgresql+psycopg://user:password@host/db")]
    backend = parsed.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "sqlite":
        path = parsed.database or ""
        if path and path != ":memory:" and not path.startswith("file:") and not Path(path).is_file():
            return [Result("database", FAIL, f"no database at {path} yet: run flowgate migrate "
                                             "(flowgate serve also does at start)")]
        connect_args["timeout"] = CONNECT_TIMEOUT
    elif backend in ("postgresql", "mysql", "mariadb"):
        connect_args["connect_timeout"] = int(CONNECT_TIMEOUT)
    try:
        engine = create_engine(url, poolclass=NullPool, connect_args=connect_args)
    except NoSuchModuleError:
        return [Result("database", FAIL, f"{shown}: SQLAlchemy knows no database {parsed.drivername!r}; "
                                         f"check {_env('database_url')}")]
    except ImportError as exc:
        extra = " (pip install 'flowgate[postgres]')" if backend == "postgresql" else ""
        return [Result("database", FAIL, f"{shown}: its driver is not installed: {exc.name or exc}{extra}")]
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    except Exception as exc:  # noqa: BLE001 - whatever the driver raises, the answer is "cannot connect"
        return [Result("database", FAIL, f"cannot connect to {shown}: {_reason(exc, scrub)}; "
                                         f"check {_env('database_url')} and that the server is up")]
    finally:
        engine.dispose()

    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    heads = set(script.get_heads())
    if current == heads:
        return [Result("database", OK, f"{shown}, schema at {', '.join(sorted(heads))} (the latest)")]
    if not current:
        return [Result("database", FAIL, f"{shown} has no Flowgate schema yet: run flowgate migrate")]
    known = {rev.revision for rev in script.walk_revisions()}
    unknown = sorted(current - known)
    if unknown:
        return [Result("database", FAIL, f"{shown} is at revision {', '.join(unknown)}, which this Flowgate does "
                                         "not know: a newer Flowgate migrated it; upgrade this one")]
    return [Result("database", FAIL, f"{shown}: schema at {', '.join(sorted(current))}, this Flowgate needs "
                                     f"{', '.join(sorted(heads))}: run flowgate migrate")]


def _redis_ping(check: str, setting: str, url: str, scrub: Callable[[str], str]) -> Result:
    try:
        import redis
    except ImportError:
        return Result(check, FAIL, f"{_env(setting)} is set but the redis package is not installed: "
                                   "pip install 'flowgate[redis]'")
    shown = masked_url(url)
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT)
        try:
            client.ping()
        finally:
            client.close()
    except redis.AuthenticationError:
        return Result(check, FAIL, f"{shown} refused the credentials: fix the password in {_env(setting)}")
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        cause = exc.__cause__ or exc.__context__
        why = _socket_reason(cause) if isinstance(cause, OSError) else _reason(exc, scrub)
        return Result(check, FAIL, f"cannot reach {shown} at {_host_port(url)}: {why}; start Redis or fix "
                                   f"{_env(setting)}")
    except Exception as exc:  # noqa: BLE001 - a bad URL or an unexpected answer: still one line
        return Result(check, FAIL, f"{shown}: {_reason(exc, scrub)}; check {_env(setting)}")
    return Result(check, OK, f"{shown} answers PING")


def check_redis(settings: Settings, scrub: Callable[[str], str]) -> list[Result]:
    return [_redis_ping("redis", "redis_url", settings.redis_url, scrub)] if settings.redis_url else []


def check_rate_limit_storage(settings: Settings, scrub: Callable[[str], str]) -> list[Result]:
    storage = settings.rest_rate_limit_storage
    scheme = storage.split("://", 1)[0]
    if scheme in ("redis", "rediss"):
        return [_redis_ping("rate-limit storage", "rest_rate_limit_storage", storage, scrub)]
    if scheme.startswith("redis+"):
        return [Result("rate-limit storage", WARN, f"{masked_url(storage)}: {scheme} is not checked by doctor")]
    return []


def check_task_engine(settings: Settings, scrub: Callable[[str], str]) -> list[Result]:
    """The question JobEngine.ping asks for /readyz (does the queue answer?), keeping the reason."""
    from gateway.jobs.engine import make_huey, queue_path

    if settings.redis_url:
        where = f"the queue in Redis ({masked_url(settings.redis_url)})"
        try:
            import redis  # noqa: F401 - without it Huey's answer would not say what to install

            pending = make_huey(settings, timeout=CONNECT_TIMEOUT, create=False).pending_count()
        except ImportError:
            return [Result("task engine", FAIL, f"{_env('redis_url')} is set but the redis package is not "
                                                "installed: pip install 'flowgate[redis]'")]
        except Exception as exc:  # noqa: BLE001 - the queue's answer is yes or no, with the reason shown
            cause = exc.__cause__ or exc.__context__
            why = _socket_reason(cause) if isinstance(cause, OSError) else _reason(exc, scrub)
            return [Result("task engine", FAIL, f"{where} does not answer: {why}; bulk jobs and the outbox "
                                                f"cannot be queued (fix {_env('redis_url')})")]
        return [Result("task engine", OK, f"{where} answers, {pending} task(s) waiting")]
    path = queue_path(settings)
    if not path.exists():
        folder = next((p for p in (path.parent, *path.parent.parents) if p.exists()), None)
        if folder is None or not os.access(folder, os.W_OK | os.X_OK):
            return [Result("task engine", FAIL, f"the SQLite queue {path} cannot be created: {folder} is not "
                                                f"writable; fix {_env('data_dir')} or the folder's permissions")]
        return [Result("task engine", OK, f"the SQLite queue {path} is made on first use (the folder is writable)")]
    try:
        pending = make_huey(settings, timeout=CONNECT_TIMEOUT, create=False).pending_count()
    except Exception as exc:  # noqa: BLE001 - as above
        return [Result("task engine", FAIL, f"the SQLite queue {path} does not answer: {_reason(exc, scrub)}")]
    return [Result("task engine", OK, f"the SQLite queue {path} answers, {pending} task(s) waiting")]


def check_secret_key(settings: Settings, scrub: Callable[[str], str]) -> list[Result]:
    from gateway.store.crypto import SecretBox, SecretBoxError, key_file_for

    shared = not settings.effective_database_url.startswith("sqlite")
    if settings.secret_key:
        return [Result("secret key", OK, f"{_env('secret_key')} is set")]
    path = key_file_for(settings.data_dir).absolute()
    advice = (f"; machines sharing this database must share one key: set {_env('secret_key')} (flowgate "
              "secret-key makes one)") if shared else ""
    if not path.exists():
        return [Result("secret key", WARN if shared else OK, f"{path} is made on first use{advice}")]
    try:
        SecretBox(path.read_bytes().strip())
    except OSError as exc:
        return [Result("secret key", FAIL, f"cannot read {path}: {exc.strerror}")]
    except SecretBoxError:
        return [Result("secret key", FAIL, f"{path} does not hold a key (32 url-safe base64 bytes): restore it "
                                           "from a backup; secrets sealed with it are unreadable without it")]
    if path.stat().st_mode & 0o077:
        return [Result("secret key", WARN, f"{path} is readable by other users: chmod 600 {path}")]
    return [Result("secret key", WARN if shared else OK, f"{path}{advice}")]


def check_vendor(settings: Settings, name: str, scrub: Callable[[str], str]) -> list[Result]:
    import requests

    vendor = name.removesuffix("_base_url")
    check, setting = f"vendor {vendor}", _env(name)
    url = getattr(settings, name)
    parts = urlsplit(url)
    where = _host_port(url)
    shown = f"{parts.scheme}://{where}{parts.path}"
    sandbox_here = settings.embedded and where == _host_port(settings.sandbox_url)
    try:
        proxied = bool(requests.utils.get_environ_proxies(url))
    except Exception:  # noqa: BLE001 - odd proxy settings: connect directly, as most setups do
        proxied = False

    def down(why: str) -> list[Result]:
        if sandbox_here:  # the default setup before `flowgate serve`: expected, not broken
            return [Result(check, WARN, f"the embedded sandbox at {where} does not answer ({why}); "
                                        "flowgate serve starts it")]
        return [Result(check, FAIL, f"cannot reach {where}: {why}; check {setting} and that the vendor is up")]

    if not proxied:  # through a proxy only the proxy is reachable directly: the HTTP request tells
        try:
            socket.create_connection((parts.hostname or "", int(where.rpartition(":")[2])),
                                     timeout=CONNECT_TIMEOUT).close()
        except (OSError, ValueError) as exc:
            return down(_socket_reason(exc) if isinstance(exc, OSError) else "not a valid address")
    started = time.monotonic()
    try:
        with requests.get(url, timeout=HTTP_TIMEOUT, allow_redirects=False, stream=True,
                          headers={"User-Agent": "flowgate-doctor"}) as resp:
            status = resp.status_code
    except requests.exceptions.SSLError as exc:
        return [Result(check, FAIL, f"{where} accepts connections but TLS fails ({_reason(exc, scrub)}); check "
                                    f"{setting} (http vs https) and the machine's CA certificates")]
    except requests.exceptions.ConnectTimeout:
        return down(f"no answer within {CONNECT_TIMEOUT:g} s, a connect timeout")
    except requests.exceptions.ReadTimeout:
        return [Result(check, FAIL, f"{where} accepts connections but sent no HTTP answer within "
                                    f"{HTTP_TIMEOUT[1]:g} s; check {setting}")]
    except requests.RequestException as exc:
        cause = exc.args[0] if exc.args else exc
        reason = getattr(cause, "reason", cause)
        return down(_socket_reason(reason) if isinstance(reason, OSError) else _reason(exc, scrub))
    elapsed = (time.monotonic() - started) * 1000
    return [Result(check, OK, f"{shown} answers (HTTP {status} in {elapsed:.0f} ms)")]


# -- running them ------------------------------------------------------------------------------------
def _run_all(checks: Iterable[tuple[str, Check]], deadline: float) -> list[Result]:
    """Run the checks side by side; each yields its results in the given order, or a failure when it
    has not answered by ``deadline`` (threads are daemons: a hung one does not hold the exit)."""
    slots: list[tuple[str, threading.Thread, list[list[Result]]]] = []
    for label, check in checks:
        box: list[list[Result]] = []

        def run(check: Check = check, box: list[list[Result]] = box, label: str = label) -> None:
            try:
                box.append(check())
            except Exception as exc:  # noqa: BLE001 - a doctor reports, it does not crash
                box.append([Result(label, FAIL, f"the check itself failed: {type(exc).__name__}: {exc}")])

        thread = threading.Thread(target=run, name=f"doctor-{label}", daemon=True)
        thread.start()
        slots.append((label, thread, box))
    results: list[Result] = []
    for label, thread, box in slots:
        thread.join(max(0.0, deadline - time.monotonic()))
        if box:
            results.extend(box[0])
        else:
            results.append(Result(label, FAIL, f"no answer within {DEADLINE:g} s"))
    return results


PRELOADED = ("alembic.runtime.migration", "alembic.script", "huey", "requests", "sqlalchemy",
             "gateway.store.crypto", "gateway.store.db")


def _preload() -> None:
    """Import in this thread what the checks import in theirs: concurrent first imports of one
    package can see it half-initialised."""
    import importlib

    for name in PRELOADED:
        importlib.import_module(name)
    try:
        importlib.import_module("redis")
    except ImportError:  # only needed when configured; its check says so
        pass


def run_checks(environ: dict[str, str] | None = None) -> list[Result]:
    try:
        settings = Settings.load(environ)
    except SettingsError as exc:
        return [Result("settings", FAIL, f"{exc}: fix that environment variable (or its key in the "
                                         f"{ENV_PREFIX}CONFIG file)")]
    scrub = _Scrubber(settings)
    _preload()
    deadline = time.monotonic() + DEADLINE
    checks: list[tuple[str, Check]] = [
        ("settings", partial(check_settings, settings)),
        ("database", partial(check_database, settings, scrub)),
        ("redis", partial(check_redis, settings, scrub)),
        ("rate-limit storage", partial(check_rate_limit_storage, settings, scrub)),
        ("task engine", partial(check_task_engine, settings, scrub)),
        ("secret key", partial(check_secret_key, settings, scrub)),
        *((f"vendor {name.removesuffix('_base_url')}", partial(check_vendor, settings, name, scrub))
          for name in VENDOR_URLS),
    ]
    return _run_all(checks, deadline)


def verdict(results: list[Result]) -> str:
    failed = sum(r.status == FAIL for r in results)
    warned = sum(r.status == WARN for r in results)
    if failed:
        return f"{failed} problem{'s' if failed > 1 else ''} found"
    return "all is well" + (f" ({warned} warning{'s' if warned > 1 else ''})" if warned else "")


def cmd_doctor(args: argparse.Namespace) -> int:
    # Libraries' own warnings (with tracebacks) would repeat, worse, what the lines below say.
    logging.getLogger().addHandler(logging.NullHandler())
    results = run_checks()
    failed = any(r.status == FAIL for r in results)
    if args.json:
        print(json.dumps({"ok": not failed, "verdict": verdict(results),
                          "checks": [asdict(r) for r in results]}, indent=2))
    else:
        for result in results:
            print(result.line())
        print(verdict(results) + (": see the FAIL lines above" if failed else ""))
    sys.stdout.flush()
    return 1 if failed else 0
