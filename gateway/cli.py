"""``flowgate``: the command line.

    flowgate serve      the gateway under gunicorn on GATEWAY_HOST:GATEWAY_PORT (127.0.0.1:8080);
                        in embedded mode (the default) the sandbox starts beside it on :8081
    flowgate sandbox    the vendor sandbox alone
    flowgate worker     run bulk-job steps (embedded: `serve` starts one; at scale run many, anywhere)
    flowgate migrate    bring the database schema up to date
    flowgate config     print the effective settings, secrets masked
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
                                  log_level=settings.log_level))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    import logging

    from gateway.jobs.worker import run_worker

    settings = _settings(args)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("huey", "alembic"):  # their start-up chatter says nothing an operator needs
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    run_worker(settings)
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
    from flask import Flask

    from gateway.app import create_app
    from gateway.server import gunicorn_options, run_gunicorn

    _migrate(settings).dispose()  # once, before the workers fork
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

    options = gunicorn_options(f"{settings.host}:{settings.port}", workers=settings.workers,
                               threads=settings.threads, trust_proxy=settings.trust_proxy,
                               log_level=settings.log_level, worker_class=settings.worker_class,
                               worker_connections=settings.worker_connections)
    built: list[Flask] = []  # in a worker process: the app it loaded

    def load() -> Flask:
        app = create_app(settings)
        built.append(app)
        return app

    def worker_exit(_server: object, _worker: object) -> None:
        # In the worker, once it has stopped serving: its vendor connections and database pool.
        for app in built:
            app.extensions["flowgate"].close()

    options["when_ready"] = when_ready
    options["worker_exit"] = worker_exit
    options["child_exit"] = lambda _server, worker: _mark_dead(worker.pid)
    owner = os.getpid()
    try:
        run_gunicorn(load, options)
    finally:
        # gunicorn's workers are forks of this process that leave through sys.exit(), unwinding this
        # frame in them too: only the process that started the children may stop them.
        for child in ((worker, sandbox) if os.getpid() == owner else ()):
            if child is not None and child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=8)
                except subprocess.TimeoutExpired:
                    child.kill()
    return 0


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
    consumer = sub.add_parser("consumer", help="manage REST consumers (gateway-held mode)")
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


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        _prepare_serve()
    parser = argparse.ArgumentParser(prog="flowgate", description="SOAP/REST integration gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway (and, in embedded mode, the sandbox)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    serve.add_argument("--no-sandbox", action="store_true", help="do not start the embedded sandbox")
    serve.add_argument("--no-worker", action="store_true", help="do not start the embedded job worker")
    serve.set_defaults(func=cmd_serve)
    worker = sub.add_parser("worker", help="run bulk-job workers (Huey: SQLite embedded, Redis with GATEWAY_REDIS_URL)")
    worker.set_defaults(func=cmd_worker)
    sandbox = sub.add_parser("sandbox", help="run the vendor sandbox alone")
    sandbox.add_argument("--port", type=int)
    sandbox.set_defaults(func=cmd_sandbox)
    sub.add_parser("migrate", help="upgrade the database schema").set_defaults(func=cmd_migrate)
    sub.add_parser("config", help="print the effective settings, secrets masked").set_defaults(func=cmd_config)
    sub.add_parser("secret-key", help="print a new key for GATEWAY_SECRET_KEY").set_defaults(func=cmd_secret_key)
    _consumer_parser(sub)
    from gateway import outbox_cli  # the store-and-forward outbox, on the settings' database

    outbox_cli.add_parser(sub)
    from gateway import terminal  # qr, jobs, events, feed: the REST facade from a terminal
    terminal.add_parsers(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except SettingsError as exc:
        print(f"flowgate: bad setting: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
