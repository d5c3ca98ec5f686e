"""``flowgate``: the command line.

    flowgate serve      the gateway under gunicorn on GATEWAY_HOST:GATEWAY_PORT (127.0.0.1:8080);
                        in embedded mode (the default) the sandbox starts beside it on :8081
    flowgate sandbox    the vendor sandbox alone
    flowgate worker     run bulk-job steps (embedded: `serve` starts one; at scale run many, anywhere)
    flowgate doctor     check settings, database, Redis, the task queue and the vendors (gateway/doctor.py)
    flowgate migrate    bring the database schema up to date
    flowgate config     print the effective settings, secrets masked; --reference: every setting, as
                        Markdown generated from the Settings class (gateway/settings_doc.py)
    flowgate secret-key print a new key for GATEWAY_SECRET_KEY (seals the secrets kept in the store)
    flowgate consumer   add / list / revoke REST consumers (gateway-held mode, docs/rest.md)
    flowgate outbox     list / show / retry / drop store-and-forward entries (docs/outbox.md)
    flowgate qr | jobs | events | feed
                        the REST facade /api/ from a terminal, as an HTTP client of a running
                        gateway (--url, --key, --json; see gateway/terminal.py)

Why gunicorn: a pre-fork server, graceful SIGTERM handling and a settings knob for the Flowize
underscore headers (see gateway/server.py). The sandbox runs one worker process with threads
(gthread), so its fault rules and rate counters, kept in memory, are consistent.

Why gevent for the gateway (GATEWAY_WORKER_CLASS, docs/serving.md): a client that stalls mid-body
holds a greenlet, not one of a worker's few threads, so /healthz and other callers are still served.
gevent must monkey-patch a process before anything imports requests/urllib3: they bind
``ssl.SSLContext`` at import, and patching ssl afterwards gives MonkeyPatchWarning and can end in
RecursionError on https calls to vendors. gunicorn's gevent worker patches only after the fork, too
late, so ``main()`` patches first thing for ``serve`` and the workers inherit it (their own
``patch_all()`` is then a no-op). Hence this module imports nothing at its top that imports ssl
users: requests, the app and the terminal commands are imported where they are used.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from gateway.config import Settings, SettingsError

if TYPE_CHECKING:
    from flask import Flask

    from gateway.store import Store

DEMO_BANNER = """\
Flowgate is up.
  gateway  {gateway}   (health: {gateway}/healthz, WSDL: {gateway}/v1/soap?wsdl)
  sandbox  {sandbox}   (emulated vendor APIs, seeded with demo data)

Demo credentials:
  Flowize      api key demo-api-key, app key demo-app; OAuth demo-client-id / demo-client-secret
               flow demo-flow (id 1), webhook demo-webhook, record demo-record
  Flowcode     apikey demo-flowcode-key
  ExaRoutes    client-id demo-client, api-key demo-exaroutes-key
  Flow events  api-secret demo-events-secret, session demo-session
  Flowbox      feed demo-feed

Try (a SOAP getRecord through the gateway, as a legacy client sends it):
  curl -s {gateway}/v1/soap -H 'Content-Type: text/xml' -d '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:mym="Flowize"><soapenv:Body><mym:getRecord><input><AuthenticationObject><Apikey>demo-api-key</Apikey><Appkey>demo-app</Appkey></AuthenticationObject><DataRecordObject><Uuid>demo-record</Uuid></DataRecordObject></input></mym:getRecord></soapenv:Body></soapenv:Envelope>'

The unified REST facade (consumer key demo-api-key), e.g. one QR code, then a bulk job from a CSV:
  curl -s {gateway}/api/qr/codes -H 'X-Apikey: demo-api-key' -H 'Content-Type: application/json' -d '{{"vendor": "flowcode", "row": {{"uid": "hello-1", "destination": {{"type": "url", "url": "https://example.com"}}}}}}'
  .venv/bin/flowgate qr submit rows.csv --vendor exaroutes --wait --out results.csv   (rows.csv: uid,type,url)

Ctrl-C stops everything.
"""


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {k: v for k, v in {"host": getattr(args, "host", None), "port": getattr(args, "port", None),
                                   "workers": getattr(args, "workers", None)}.items() if v is not None}
    return Settings.load(**overrides)


def _wait_until_up(url: str, timeout: float = 30.0) -> bool:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.1)
    return False


def _die_with_parent() -> None:
    """Child processes get SIGTERM if `flowgate serve` dies, so none is left behind (Linux)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


#: What the sandbox needs beyond a production install (setup.cfg, the ``sandbox`` extra): it draws QR
#: images. Module -> the package that provides it.
SANDBOX_MODULES = {"segno": "segno", "PIL": "Pillow"}
NO_SANDBOX_EXTRA = "flowgate: the sandbox needs {missing}, which is not installed: pip install 'flowgate[sandbox]'"


def _missing_sandbox_extra() -> str | None:
    """The first package of the sandbox extra that cannot be imported here, else None."""
    import importlib.util

    for module, package in SANDBOX_MODULES.items():
        try:
            if importlib.util.find_spec(module) is None:
                return package
        except (ImportError, ValueError):
            return package
    return None


def cmd_sandbox(args: argparse.Namespace) -> int:
    missing = _missing_sandbox_extra()
    if missing:
        print(NO_SANDBOX_EXTRA.format(missing=missing), file=sys.stderr)
        return 2
    from gateway.sandbox import create_sandbox_app
    from gateway.server import gunicorn_options, run_gunicorn

    settings = Settings.load(**({"sandbox_port": args.port} if args.port else {}))
    bind = f"{settings.sandbox_host}:{settings.sandbox_port}"
    run_gunicorn(lambda: create_sandbox_app(settings),
                 gunicorn_options(bind, workers=1, threads=max(settings.threads, 8), trust_proxy=False,
                                  log_level=settings.log_level, log_format=settings.log_format))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from gateway.jobs.worker import run_worker

    run_worker(_settings(args))   # its logging: gateway/logs.py
    return 0


def _metrics_folder(settings: Settings) -> None:
    """Gunicorn workers are processes: prometheus_client adds their numbers up from files in this
    folder, emptied at each start. The one place it is chosen: before gunicorn starts the workers,
    which record the first metric (gateway/metrics.py loads prometheus_client then, not at import)."""
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.path.abspath(os.path.join(settings.data_dir, "metrics"))
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings(args)
    missing = _missing_sandbox_extra() if settings.embedded and not args.no_sandbox else None
    if missing:
        print(NO_SANDBOX_EXTRA.format(missing=missing) + " (or serve without it: GATEWAY_EMBEDDED=0 or --no-sandbox)",
              file=sys.stderr)
        return 2
    _metrics_folder(settings)
    from gateway.server import gateway_options, run_gunicorn

    # Once, before the workers start, and in a child process: the master then never loads the
    # store, Alembic or the app — each worker loads the app itself — and stays small (docs/serving.md).
    migrated = subprocess.run([sys.executable, "-m", "gateway.cli", "migrate"], capture_output=True, text=True,
                              check=False)
    if migrated.returncode != 0:
        print(migrated.stderr or migrated.stdout, end="", file=sys.stderr)
        return migrated.returncode
    if settings.rest_rate_limit_storage.startswith("memory") and settings.workers > 1:
        print(f"flowgate: rate limits are counted per worker ({settings.workers} workers, in memory); "
              "set GATEWAY_REST_RATE_LIMIT_STORAGE=redis://... for one exact limit", file=sys.stderr)
    sandbox: subprocess.Popen[bytes] | None = None
    if settings.embedded and not args.no_sandbox:
        sandbox = subprocess.Popen([sys.executable, "-m", "gateway.cli", "sandbox"], preexec_fn=_die_with_parent)  # noqa: PLW1509 - no threads yet
        if not _wait_until_up(settings.sandbox_url + "/_sandbox/health"):
            sandbox.terminate()
            print("flowgate: the sandbox did not start; see its log above", file=sys.stderr)
            return 1

    worker: subprocess.Popen[bytes] | None = None
    if settings.embedded and not args.no_worker:
        # Bulk jobs need a worker; embedded mode runs one beside the gateway (`flowgate worker`).
        worker = subprocess.Popen([sys.executable, "-m", "gateway.cli", "worker"], preexec_fn=_die_with_parent)  # noqa: PLW1509 - no threads yet
    banner = DEMO_BANNER.format(gateway=f"http://{settings.host}:{settings.port}", sandbox=settings.sandbox_url)

    def when_ready(_server: object) -> None:
        if sandbox is not None:
            print(banner, flush=True)

    options = gateway_options(settings)
    built: list[Flask] = []  # the app, loaded once in the master and inherited by every worker

    def load() -> Flask:
        # preload_app: the master loads the app before it forks, so the workers share its pages
        # (idle, measured: 127 MB PSS for the master and two workers, against 184 MB when each worker
        # loads its own; docs/serving.md). Nothing is connected yet: the pools are emptied anyway.
        gc.disable()  # no collection while loading leaves freed holes in the pages the workers share
        try:
            from gateway.app import create_app

            app = create_app(settings, migrate=False)
            app.extensions["flowgate"].close()   # pools and connections start empty in every worker
            built.append(app)
            share_with_workers()
        finally:
            gc.enable()
        return app

    def share_with_workers() -> None:
        # What the master holds now goes in the collector's permanent generation: a worker's
        # collections then never write to those objects, and their pages stay shared instead of
        # being copied into every worker (master + 2 workers after some traffic: PSS 211 -> 151 MB,
        # docs/serving.md).
        gc.freeze()

    def post_fork(_server: object, _worker: object) -> None:
        # A span exporter's thread does not survive a fork: each worker starts its own (the app,
        # loaded in the master, configures none).
        if settings.tracing:
            from gateway import tracing

            tracing.configure(settings.tracing)

    def worker_exit(_server: object, _worker: object) -> None:
        # In the worker, once it has stopped serving: its vendor connections and database pool.
        for app in built:
            app.extensions["flowgate"].close()

    options["when_ready"] = when_ready
    options["preload_app"] = True
    options["post_fork"] = post_fork
    options["pre_fork"] = lambda _server, _worker: share_with_workers()  # a worker replaced later too
    options["worker_exit"] = worker_exit
    options["child_exit"] = lambda _server, worker: _mark_dead(worker.pid)
    owner = os.getpid()
    try:
        run_gunicorn(load, options)
    finally:
        # gunicorn's workers are forks of this process that leave through sys.exit(), unwinding this
        # frame in them too: only the process that started the children may stop them.
        for child in ((worker, sandbox) if os.getpid() == owner else ()):
            if child is not None:
                _stop_child(child)
    return 0


def _stop_child(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 8 s. Ctrl-C signals the whole process group, so the child may be
    gone already, and reaped (gevent reaps on SIGCHLD) before ``poll()`` has heard of it."""
    try:
        if child.poll() is not None:
            return
        child.terminate()
        try:
            child.wait(timeout=8)
        except subprocess.TimeoutExpired:
            child.kill()
    except ProcessLookupError:
        pass


def _mark_dead(pid: int) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)


def _migrate(settings: Settings) -> Store:
    """Bring the schema up to date and seal the secrets stored before sealing existed."""
    from gateway.store import Store, TokenRepository
    from gateway.store.consumers import ConsumerRepository
    from gateway.store.crypto import SecretBox

    store = Store(settings.effective_database_url)
    store.migrate()
    box = SecretBox.from_settings(settings)
    ConsumerRepository(store, box).seal_legacy()
    TokenRepository(store, box).seal_legacy()
    return store


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings(args)
    store = _migrate(settings)
    print("database schema is up to date:", ", ".join(store.tables()))
    store.dispose()
    return 0


def cmd_secret_key(args: argparse.Namespace) -> int:
    from gateway.store.crypto import SecretBox

    print(SecretBox.generate_key())
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    if args.reference:  # from the code alone: it must work while a setting is bad
        from gateway.settings_doc import settings_reference

        print(settings_reference(), end="")
        return 0
    print(json.dumps(_settings(args).redacted(), indent=2))
    return 0


def add_consumer(settings: Settings, name: str, **fields: str) -> tuple[str, str]:
    """Create a REST consumer in the settings' database; returns (name, key). The key is shown once."""
    from gateway.store import Store
    from gateway.store.consumers import ConsumerRepository
    from gateway.store.crypto import SecretBox

    store = Store(settings.effective_database_url)
    try:
        store.migrate()
        created = ConsumerRepository(store, SecretBox.from_settings(settings)).add(name, **fields)
    finally:
        store.dispose()
    return created.consumer.name, created.key


# Secrets never come from argv, where `ps` and the shell history show them (issue 11).
SECRET_OPTIONS = (("upstream_api_key", "--upstream-api-key", "upstream api key"),
                  ("upstream_client_secret", "--upstream-client-secret", "upstream client secret"))


def _strip_newline(text: str) -> str:
    return text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")


def _read_secret(flag: str, label: str, path: str | None) -> str:
    """One secret from ``path``, else from standard input: typed at a hidden prompt on a terminal,
    else the next line (several secrets piped in: one per line, in the order of SECRET_OPTIONS)."""
    import getpass

    if path:
        try:
            with open(path, "rb") as fh:
                secret = _strip_newline(fh.read().decode("utf-8"))
        except OSError as exc:
            raise ValueError(f"{flag}-file: cannot read {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ValueError(f"{flag}-file: {path} is not UTF-8 text") from None
    elif sys.stdin is not None and sys.stdin.isatty():
        secret = getpass.getpass(f"{label}: ")
    else:
        secret = _strip_newline(sys.stdin.readline() if sys.stdin is not None else "")
    if not secret:
        raise ValueError(f"{flag}: the {label} is empty")
    return secret


def consumer_secrets(args: argparse.Namespace) -> dict[str, str]:
    """The upstream secrets asked for with ``--upstream-api-key -`` (standard input) or
    ``--upstream-api-key-file PATH`` (likewise the client secret); a literal value is refused."""
    secrets: dict[str, str] = {}
    for dest, flag, label in SECRET_OPTIONS:
        value, path = getattr(args, dest), getattr(args, dest + "_file")
        if value not in (None, "-"):
            raise ValueError(f"{flag} does not take the secret itself on the command line, where ps and the "
                             f"shell history would show it: give {flag} - and type or pipe it on standard "
                             f"input, or {flag}-file PATH")
        if value == "-" and path:
            raise ValueError(f"give {flag} - or {flag}-file, not both")
        if value == "-" or path:
            secrets[dest] = _read_secret(flag, label, path)
    return secrets


def cmd_consumer(args: argparse.Namespace) -> int:
    from gateway.store import Store
    from gateway.store.consumers import ConsumerRepository
    from gateway.store.crypto import SecretBox

    settings = _settings(args)
    if args.action == "add":
        try:
            secrets = consumer_secrets(args)
            name, key = add_consumer(settings, args.name, upstream_style=args.upstream_style or "",
                                     upstream_api_key=secrets.get("upstream_api_key", ""),
                                     upstream_app_key=args.upstream_app_key or "",
                                     upstream_client_id=args.upstream_client_id or "",
                                     upstream_client_secret=secrets.get("upstream_client_secret", ""),
                                     ip_allowlist=args.ip_allowlist or "", rate_limit=args.rate_limit or "",
                                     **({"scopes": args.scopes} if args.scopes else {}))
        except ValueError as exc:
            print(f"flowgate: {exc}", file=sys.stderr)
            return 2
        except Exception as exc:  # noqa: BLE001 - e.g. the name is taken (unique constraint)
            print(f"flowgate: cannot add consumer {args.name!r}: {type(exc).__name__}", file=sys.stderr)
            return 1
        print(f"consumer {name} added. Its key (shown only now; Flowgate keeps only a hash):\n{key}")
        return 0
    store = Store(settings.effective_database_url)
    try:
        store.migrate()
        repo = ConsumerRepository(store, SecretBox.from_settings(settings))
        if args.action == "revoke":
            if not args.name or not repo.revoke(args.name):
                print(f"flowgate: no consumer named {args.name!r}", file=sys.stderr)
                return 1
            print(f"consumer {args.name} revoked")
            return 0
        for c in repo.all():
            print(f"{c.name}\t{c.key_prefix}...\tupstream={c.upstream_style or 'settings'}\t"
                  f"{'active' if c.active else 'revoked'}\tips={','.join(c.ip_allowlist) or 'any'}\t"
                  f"limit={c.rate_limit or settings.rest_rate_limit}\tscopes={','.join(c.scopes)}")
        return 0
    finally:
        store.dispose()


def _consumer_parser(sub: Any) -> None:
    consumer = sub.add_parser(
        "consumer", help="add, list or revoke REST consumers and their keys", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Add, list or revoke the consumers of the REST doors (/v1/ in gateway-held mode, and /api/),\n"
                    "in the settings' database; keys are stored hashed and shown once, at `add`. Upstream\n"
                    "secrets are never taken from the command line: give --upstream-api-key - (standard\n"
                    "input) or --upstream-api-key-file PATH (docs/rest.md).")
    consumer.add_argument("action", choices=("add", "list", "revoke"))
    consumer.add_argument("name", nargs="?", default="")
    consumer.add_argument("--upstream-style", choices=("apikey", "url", "oauth"),
                          help="how Flowgate authenticates upstream for this consumer (default: from the keys given)")
    consumer.add_argument("--upstream-api-key", metavar="-",
                          help="read the upstream api key from standard input (prompted on a terminal; "
                               "never given on the command line)")
    consumer.add_argument("--upstream-api-key-file", metavar="PATH", help="read the upstream api key from PATH")
    consumer.add_argument("--upstream-app-key")
    consumer.add_argument("--upstream-client-id")
    consumer.add_argument("--upstream-client-secret", metavar="-",
                          help="read the upstream client secret from standard input (after the api key if "
                               "both are read there: one per line)")
    consumer.add_argument("--upstream-client-secret-file", metavar="PATH",
                          help="read the upstream client secret from PATH")
    consumer.add_argument("--ip-allowlist", help="comma-separated IPs/CIDRs this consumer may call from")
    consumer.add_argument("--rate-limit", help="this consumer's limit, e.g. 100/minute (default GATEWAY_REST_RATE_LIMIT)")
    consumer.add_argument("--scopes", help="what the key reaches on /api/: comma-separated records, qr, events, "
                                            "feeds, admin (default: all but admin)")
    consumer.set_defaults(func=cmd_consumer)


def _prepare_serve() -> None:
    """What ``serve`` needs before main() imports anything else: with the gevent worker, monkey-patching
    before ssl users are imported (see the module docstring). A bad setting is left for main() to report."""
    try:
        settings = Settings.load()
    except SettingsError:
        return
    if settings.worker_class == "gevent":
        from gevent import monkey

        monkey.patch_all()  # the same arguments as gunicorn's worker, so its call adds nothing


DESCRIPTION = """\
Flowgate is a SOAP/REST integration gateway. Legacy systems that speak the Flowize SOAP envelopes
(PHP SoapClient, JAX-WS, .NET, SoapUI...) and REST consumers call it; it turns every call into
requests to the vendors' REST APIs (Flowize, Flowcode, ExaRoutes, Flow events, Flowbox), with
timeouts, retries, rate-limit awareness and one error model. A sandbox of each vendor API ships with
it, so everything also runs offline. `flowgate COMMAND --help` tells a command's options."""

#: The commands as `flowgate --help` lists them: (heading, ((command, what it does), ...)).
COMMAND_GROUPS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Run", (
        ("serve", "the gateway under gunicorn; embedded mode also starts the sandbox and a worker"),
        ("worker", "run bulk-job and outbox steps (as many as needed, on any machine of the deployment)"),
        ("sandbox", "the vendor sandbox alone (emulated vendor APIs, seeded with demo data)"),
    )),
    ("Set up and check", (
        ("doctor", "check settings, database, Redis, the task queue and the vendors; exit 1 on a problem"),
        ("migrate", "bring the database schema up to date"),
        ("config", "print the effective settings, secrets masked (--reference: every setting)"),
        ("secret-key", "print a new key for GATEWAY_SECRET_KEY"),
    )),
    ("Administer (on the settings' database; works while the gateway is down)", (
        ("consumer", "add, list or revoke REST consumers and their keys"),
        ("outbox", "list, show, retry or drop store-and-forward entries"),
    )),
    ("The /api/ facade from a terminal (HTTP client of a running gateway: --url, --key, --json)", (
        ("qr", "create one QR code, or submit a bulk job from a CSV or NDJSON file"),
        ("jobs", "list, show, cancel bulk QR jobs; fetch their results"),
        ("events", "Flow events sessions: list, registrants, register, reports"),
        ("feed", "a Flowbox feed's posts"),
    )),
)
SUMMARY = {name: what for _, commands in COMMAND_GROUPS for name, what in commands}

EPILOG = """\
ENVIRONMENT
  GATEWAY_*        every setting, e.g. GATEWAY_PORT=8080, GATEWAY_EMBEDDED=0,
                   GATEWAY_DATABASE_URL=postgresql+psycopg://..., GATEWAY_REDIS_URL=redis://...,
                   GATEWAY_FLOWIZE_BASE_URL=https://cloud-api.flowize.com. Validated at start: a bad
                   value is named in one line (exit 2). `flowgate config` prints the effective ones.
  GATEWAY_CONFIG   a YAML file of settings by lower-case name (port: 8080); the environment wins.
  GATEWAY_*_FILE   a secret setting read from a file, as container and systemd secrets are mounted:
                   GATEWAY_FLOWIZE_CLIENT_SECRET_FILE=/run/secrets/flowize (one trailing newline dropped).
  FLOWGATE_URL, FLOWGATE_API_KEY
                   the gateway and consumer key of qr, jobs, events and feed (default
                   http://127.0.0.1:8080 and the demo key).
  Every setting, its default and what it does: docs/operations.md (flowgate config --reference).

FILES
  var/             GATEWAY_DATA_DIR, relative to the working directory: flowgate.db (the SQLite store,
                   unless GATEWAY_DATABASE_URL), tasks.db (the job queue, unless GATEWAY_REDIS_URL),
                   sandbox.db, metrics/. Database files are created 0600.
  var/secret.key   the key sealing the secrets kept in the store when GATEWAY_SECRET_KEY is unset;
                   made 0600 on first use. Back it up with the database: without it they are unreadable.

EXAMPLES
  flowgate serve                     what `make run` runs: the gateway on 127.0.0.1:8080, the sandbox
                                     on :8081 and a worker; prints demo credentials and calls to paste
  GATEWAY_EMBEDDED=0 flowgate serve  production: the gateway alone, vendors at GATEWAY_*_BASE_URL
  flowgate worker                    run bulk jobs; start more, on any machine sharing the store
  flowgate doctor                    before starting, or when something is wrong: one line per check
  flowgate migrate                   upgrade the schema after installing a new Flowgate
  flowgate jobs list                 the bulk QR jobs of the gateway at FLOWGATE_URL

EXIT STATUS
  0   success; doctor: no check failed (warnings allowed)
  1   the command failed: the gateway or the store answered an error, doctor found a problem,
      a waited-for job failed
  2   a usage error or a bad setting (one line on stderr names it)
  3   qr submit --wait: the job finished with some rows failed
  130 interrupted (Ctrl-C) before the command had started; serve and worker stop cleanly on it: 0

SEE ALSO
  README.md; docs/operations.md (settings reference, metrics, runbooks), docs/deploy.md,
  docs/serving.md, docs/jobs.md, docs/outbox.md, docs/rest.md, docs/api.md, docs/sandbox.md,
  docs/reliability.md"""

MANPAGE = argparse.RawDescriptionHelpFormatter


def _commands_text(parsers: dict[str, argparse.ArgumentParser]) -> str:
    """The COMMANDS section, one line a command under its heading. A command added without a place
    in COMMAND_GROUPS still appears, under "Other", with its description's first line."""
    unplaced = tuple((name, ((parser.description or "").strip().splitlines() or [""])[0])
                     for name, parser in parsers.items() if name not in SUMMARY)
    width = max(map(len, parsers)) + 2
    lines = ["COMMANDS"]
    for heading, commands in (*COMMAND_GROUPS, ("Other", unplaced)):
        present = [(name, what) for name, what in commands if name in parsers]
        if present:
            lines.append(f"  {heading}")
            lines += [f"    {name:<{width}}{what}" for name, what in present]
    return "\n".join(lines)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """``flowgate``'s parser, and each command's parser by name."""
    parser = argparse.ArgumentParser(prog="flowgate", usage="%(prog)s [-h] COMMAND [OPTIONS...]",
                                     epilog=EPILOG, formatter_class=MANPAGE)
    # The commands are listed by hand, grouped, in the description; argparse's flat list is hidden.
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", help=argparse.SUPPRESS,
                                prog="flowgate")

    def command(name: str, description: str, **kw: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=SUMMARY[name], description=description, formatter_class=MANPAGE, **kw)

    serve = command("serve", "Run the gateway under gunicorn on GATEWAY_HOST:GATEWAY_PORT (127.0.0.1:8080).\n\n"
                             "It migrates the database first. In embedded mode (GATEWAY_EMBEDDED=1, the default)\n"
                             "it also starts the vendor sandbox on GATEWAY_SANDBOX_PORT (8081) and one job\n"
                             "worker, and prints demo credentials. SIGTERM or Ctrl-C stops all of them.")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--no-sandbox", action="store_true", help="do not start the embedded sandbox")
    serve.add_argument("--no-worker", action="store_true", help="do not start the embedded job worker")
    serve.set_defaults(func=cmd_serve)
    command("worker", "Run bulk-job and outbox steps with Huey: its queue is SQLite in GATEWAY_DATA_DIR, or\n"
                      "Redis with GATEWAY_REDIS_URL (then run workers on as many machines as needed). A job's\n"
                      "state is in the database, so a killed worker's jobs are resumed by the next one\n"
                      "(docs/jobs.md). Runs until SIGTERM or Ctrl-C.").set_defaults(func=cmd_worker)
    sandbox = command("sandbox", "Run the vendor sandbox alone: Flowize /v1, Flowcode /v4, ExaRoutes /api/qr, Flow\n"
                                 "events /api/v1, Flowbox /public/feed and its control API /_sandbox\n"
                                 "(docs/sandbox.md). Needs the sandbox extra: pip install 'flowgate[sandbox]'.")
    sandbox.add_argument("--port", type=int)
    sandbox.set_defaults(func=cmd_sandbox)
    doctor = command("doctor", "Check that this machine's setup can serve, with the settings the gateway would\n"
                               "load: the settings, the database and its schema revision, Redis (when set), the\n"
                               "task queue, the secret key, and each vendor's base URL (TCP, then one HTTP request;\n"
                               "any HTTP answer counts). One line per check, `ok`, `warn` or `FAIL`, with what to\n"
                               "do; every check times out within seconds. Exit 0 when no check failed, else 1.")
    doctor.add_argument("--json", action="store_true", help="the results as JSON")
    doctor.set_defaults(func=cmd_doctor)
    command("migrate", "Bring the database schema to the latest revision (GATEWAY_DATABASE_URL, else the\n"
                       "SQLite file in GATEWAY_DATA_DIR) and seal secrets stored before sealing existed.\n"
                       "`flowgate serve` does it at start too.").set_defaults(func=cmd_migrate)
    config = command("config", "Print the effective settings (defaults, GATEWAY_CONFIG, then the environment) as\n"
                               "JSON, secrets masked. With --reference: every setting, its default and what it\n"
                               "does, as the Markdown of docs/operations.md.")
    config.add_argument("--reference", action="store_true",
                        help="print the reference of all settings (Markdown) instead")
    config.set_defaults(func=cmd_config)
    command("secret-key", "Print a new Fernet key for GATEWAY_SECRET_KEY, which seals the secrets kept in the\n"
                          "store. Machines sharing a database must share the key.").set_defaults(func=cmd_secret_key)
    _consumer_parser(sub)
    from gateway import outbox_cli  # the store-and-forward outbox, on the settings' database

    outbox_cli.add_parser(sub)
    from gateway import terminal  # qr, jobs, events, feed: the REST facade from a terminal
    terminal.add_parsers(sub)
    parsers: dict[str, argparse.ArgumentParser] = dict(sub.choices)
    for name, command_parser in parsers.items():
        if not command_parser.description:  # a command group of gateway/terminal.py: its summary
            command_parser.description = SUMMARY.get(name, "")
    parser.description = DESCRIPTION + "\n\n" + _commands_text(parsers)
    return parser, parsers


def cmd_doctor(args: argparse.Namespace) -> int:
    from gateway.doctor import cmd_doctor as doctor

    return doctor(args)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        _prepare_serve()
    parser, _ = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:
        print(f"flowgate: bad setting: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C before a command's own handling of it (still starting up)
        return 130


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
