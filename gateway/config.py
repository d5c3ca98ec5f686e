"""Settings: one object, read once from ``GATEWAY_*`` environment variables and an optional YAML file.

Precedence, lowest first: the defaults below, the YAML file named by ``GATEWAY_CONFIG`` (keys are the
field names, e.g. ``flowize_base_url: https://cloud-api.flowize.com``), then the environment
(``GATEWAY_FLOWIZE_BASE_URL``). Every value is validated at start; a bad one raises
:class:`SettingsError` naming the setting, so ``flowgate serve`` fails with one clear line instead
of a traceback later. Secrets are never echoed back in those messages.

Secrets (the fields marked ``_secret()`` below: API keys, client secrets, ``secret_key``...) and the
URLs that may hold a password (``_url_with_password()``: ``database_url``, ``redis_url``,
``rest_rate_limit_storage``) can be read from files instead, as container and systemd secrets are
mounted: ``GATEWAY_X_FILE=/run/secrets/x`` (or ``x_file: /run/secrets/x`` in the YAML file) reads
setting ``X`` from that file, one trailing newline stripped. Giving both ``X`` and ``X_FILE`` in the same place is an error; so is a file that cannot be
read, and the message names the setting and the path, never the content. A later source still wins
over an earlier one: ``GATEWAY_X_FILE`` in the environment overrides ``x`` in the YAML file.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

__all__ = ["ENV_PREFIX", "Settings", "SettingsError"]

ENV_PREFIX = "GATEWAY_"
FLOWIZE_AUTH_STYLES = ("apikey", "url", "oauth", "passthrough")
REST_AUTH_MODES = ("passthrough", "gateway")
VENDORS = ("flowize", "flowcode", "exaroutes", "flowevents", "flowbox")
VENDOR_POLICY_KEYS = ("retries", "backoff", "connect_timeout", "read_timeout", "max_inflight", "fail_max",
                      "reset_timeout")
OUTBOX_OPERATIONS = frozenset({"insertRecord", "updateRecord", "webhook"})
WORKER_CLASSES = ("gevent", "gthread")
VENDOR_URLS = ("flowize_base_url", "flowcode_base_url", "exaroutes_base_url", "flowevents_base_url", "flowbox_base_url")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names it."""


def _secret(default: str = "") -> Any:
    return field(default=default, metadata={"secret": True, "file": True}, repr=False)


def _url_with_password(default: str = "") -> Any:
    """A URL that may hold a password (database, Redis): readable from a file like a secret, and
    shown with the password masked rather than hidden whole (the host is what one checks)."""
    return field(default=default, metadata={"file": True}, repr=False)


@dataclass(frozen=True)
class Settings:
    # -- the gateway's own server -------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 2
    threads: int = 8                  # per worker, gthread only
    worker_class: str = "gevent"      # gevent: a stalled client holds a greenlet; gthread: a thread (docs/serving.md)
    worker_connections: int = 200     # in-flight connections per gevent worker; more wait in the listen queue
    body_read_timeout: float = 15.0   # seconds for a whole request body to arrive, else 408
    body_min_rate: int = 65536        # bytes/s: each such amount received adds a second (big uploads); 0 = off
    public_url: str = ""              # fixes soap:address and links; else taken from the request
    trust_proxy: bool = False         # honour X-Forwarded-Proto/-Host/-For
    log_level: str = "INFO"
    log_format: str = "json"          # json: one object per line, with the request id (gateway/logs.py); text
    tracing: str = ""                 # otlp | console: OpenTelemetry spans (the otel extra); empty: off
    data_dir: str = "var"             # where embedded-mode SQLite files live

    # -- SOAP front door ---------------------------------------------------------------------------
    soap_max_body_bytes: int = 10 * 1024 * 1024
    soap_max_depth: int = 64
    soap_max_elements: int = 100_000
    soap_webhook_success_as_fault: bool = True   # the vendor's quirk, kept by default (docs/soap-decisions.md)

    # -- request bodies (JSON on REST and the facade; gateway/safejson.py) ----------------------------
    json_max_depth: int = 64          # nesting of arrays/objects; deeper is a 400, never a RecursionError
    json_max_body_bytes: int = 10 * 1024 * 1024  # larger JSON bodies are a 413

    # -- REST front door (/v1/..., docs/rest.md) ------------------------------------------------
    rest_auth: str = "passthrough"    # passthrough | gateway (consumers' own keys, hashed in the store)
    rest_rate_limit: str = "1000/hour"  # per consumer, `limits` syntax: "100/minute", "10 per second"
    rest_rate_limit_storage: str = _url_with_password("memory://")  # redis://127.0.0.1:6379/0 to share counters between processes
    rest_ip_allowlist: str = ""       # comma-separated IPs/CIDRs allowed to call /v1/...; empty = any

    # -- store ---------------------------------------------------------------------------------
    database_url: str = _url_with_password()  # default: sqlite file in data_dir
    # Fernet key sealing the secrets kept in the store (gateway/store/crypto.py; `flowgate secret-key`
    # makes one); empty: data_dir/secret.key, created 0600 on first use. Machines sharing a database share it.
    secret_key: str = _secret()

    # -- outbound HTTP (one client for every vendor) --------------------------------------------
    http_connect_timeout: float = 3.05
    http_read_timeout: float = 30.0
    http_retries: int = 2             # idempotent requests only
    http_backoff: float = 0.2         # seconds, doubled per retry
    http_max_retry_after: float = 10.0  # never sleep longer than this on a vendor's Retry-After
    http_pool_size: int = 20
    request_deadline: float = 40.0    # one client request, every vendor call and retry included
    vendor_max_inflight: int = 32     # calls in flight to one vendor per process (bulkhead)
    vendor_busy_wait: float = 0.5     # wait this long for a bulkhead slot, then 503 + Retry-After
    breaker_fail_max: int = 5         # consecutive failed attempts that open a vendor's circuit
    breaker_reset_timeout: float = 30.0  # seconds open before one probe call may go through
    # Per-vendor overrides of the values above, e.g. "flowcode.retries=3, exaroutes.read_timeout=60"
    # (retries, backoff, connect_timeout, read_timeout, max_inflight, fail_max, reset_timeout).
    vendor_policies: str = ""

    # -- Flowize upstream ----------------------------------------------------------------------
    flowize_base_url: str = "http://127.0.0.1:8081"
    flowize_auth: str = "passthrough"  # passthrough | apikey | url | oauth  (gateway-held creds)
    flowize_api_key: str = _secret()
    flowize_app_key: str = ""
    flowize_client_id: str = ""
    flowize_client_secret: str = _secret()
    flowize_token_margin: float = 60.0  # refresh an OAuth token this many seconds before expiry

    # -- the other vendors (embedded default: the sandbox) ----------------------------------------
    flowcode_base_url: str = "http://127.0.0.1:8081"
    flowcode_api_key: str = _secret("demo-flowcode-key")
    exaroutes_base_url: str = "http://127.0.0.1:8081"
    exaroutes_client_id: str = "demo-client"
    exaroutes_api_key: str = _secret("demo-exaroutes-key")
    exaroutes_poll_schedule: str = "2,5,15,30"   # seconds between status polls; the last repeats
    flowevents_base_url: str = "http://127.0.0.1:8081"
    flowevents_api_secret: str = _secret("demo-events-secret")
    flowbox_base_url: str = "http://127.0.0.1:8081"  # production https://gateway.getflowbox.com
    flowcode_folder_id: str = "1"     # where the facade creates codes (code_name is unique per folder)
    flowcode_studio_config_id: str = "00000000-0000-0000-0000-000000000001"
    # Each vendor's request budget (`limits` syntax), spent by every call from every process: shared
    # through Redis when redis_url is set, else per process (gateway/budget.py).
    flowcode_rate_limit: str = "1200/minute"
    exaroutes_rate_limit: str = "600/minute"
    exaroutes_quota_retry_after: int = 3600   # Retry-After sent when ExaRoutes' plan quota is spent

    # -- durable jobs (docs/jobs.md) ------------------------------------------------------------
    redis_url: str = _url_with_password()  # set: Huey queue and vendor budgets in Redis (scale-out); else SQLite
    jobs_workers: int = 4             # worker threads per `flowgate worker`
    jobs_step_seconds: float = 3.0    # one task runs a job this long, then hands it back to the queue
    # A job held longer than this by a silent worker is taken over: it must outlast a step and the
    # vendor call that step may start last (step + connect + read timeout, checked at start), or a
    # live worker's batch may be sent twice.
    jobs_lease_seconds: float = 90.0
    jobs_sweep_seconds: float = 60.0  # how often a worker looks for jobs to resume (a dead worker's, on this machine at once)
    jobs_max_inflight: int = 4        # vendor batches of one job in flight at once
    jobs_max_attempts: int = 5        # tries of one vendor batch before its rows are failed
    flowcode_batch_size: int = 1000   # rows per asynchronous Flowcode bulk call (<= 50 goes synchronous)
    flowcode_poll_interval: float = 10.0   # the doc's "sleep for some time between checks"
    exaroutes_batch_rows: int = 2000  # rows per ExaRoutes call (also kept under its 25 MB body limit)

    # -- store-and-forward outbox (docs/outbox.md) ------------------------------------------------
    outbox: str = ""                  # writes queued while Flowize is unavailable: insertRecord,updateRecord,webhook | all
    outbox_max_attempts: int = 50     # failed sendings before an entry is a dead letter (0: no limit); calls
    #                                   the circuit breaker refused do not count: an outage is bounded by age
    outbox_max_age: float = 86400.0   # seconds since queued before an entry is a dead letter (0: no limit)
    outbox_backoff: float = 0.5       # seconds before the first retry, doubled per attempt ...
    outbox_backoff_max: float = 15.0  # ... up to this: the longest wait once the vendor is back

    # -- unified facade (/api/..., docs/api.md) --------------------------------------------------
    api_demo_key: str = _secret("demo-api-key")  # embedded mode only: a consumer key with every scope
    api_rate_limit: str = "6000/hour"  # per consumer
    api_secret_key: str = _secret()   # signs list cursors; default: derived per data_dir

    # -- embedded sandbox ----------------------------------------------------------------------
    embedded: bool = True             # `flowgate serve` also starts the sandbox
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8081
    sandbox_database: str = ""        # file path, or ":memory:"; default: data_dir/sandbox.db
    sandbox_token_ttl: int = 3600
    sandbox_rate_limit: int = 1000    # requests per window per credential
    sandbox_rate_window: int = 3600
    sandbox_faults: str = ""          # JSON list of fault rules applied at start (see sandbox/faults.py)

    # ------------------------------------------------------------------------------------------
    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read the YAML file (if ``GATEWAY_CONFIG`` names one), then the environment, then ``overrides``."""
        environ = os.environ if environ is None else environ
        raw: dict[str, Any] = {}
        config_path = environ.get(ENV_PREFIX + "CONFIG")
        if config_path:
            raw.update(_secret_files(_read_yaml(config_path)))
        known = {f.name for f in fields(cls)} | {name + FILE_SUFFIX for name in _file_names()}
        from_env: dict[str, Any] = {}
        for key, value in environ.items():
            if key.startswith(ENV_PREFIX):
                name = key[len(ENV_PREFIX):].lower()
                if name in known:
                    from_env[name] = value
        raw.update(_secret_files(from_env))
        raw.update(overrides)
        return cls.from_mapping(raw)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Settings:
        by_name = {f.name: f for f in fields(cls)}
        unknown = sorted(set(raw) - set(by_name))
        if unknown:
            raise SettingsError(f"unknown setting(s): {', '.join(unknown)}")
        values = {name: _coerce(by_name[name], value) for name, value in raw.items()}
        # Vendor base URLs default to the embedded sandbox, wherever GATEWAY_SANDBOX_HOST/PORT put it.
        sandbox_url = f"http://{values.get('sandbox_host', cls.sandbox_host)}:{values.get('sandbox_port', cls.sandbox_port)}"
        for name in VENDOR_URLS:
            values.setdefault(name, sandbox_url)
        settings = cls(**values)
        settings.validate()
        return settings

    def replace(self, **changes: Any) -> Settings:
        merged = {f.name: getattr(self, f.name) for f in fields(self)}
        merged.update(changes)
        return type(self).from_mapping(merged)

    def validate(self) -> None:
        for name in ("rest_rate_limit", "api_rate_limit", "flowcode_rate_limit", "exaroutes_rate_limit"):
            try:
                from limits import parse as parse_limit
                parse_limit(getattr(self, name))
            except ValueError:
                raise SettingsError(f"{_env(name)}: expected e.g. 1000/hour, got {getattr(self, name)!r}") from None
        for name in ("port", "sandbox_port"):
            value = getattr(self, name)
            if not 0 <= value <= 65535:
                raise SettingsError(f"{_env(name)}: expected a port 0-65535, got {value}")
        if self.worker_class not in WORKER_CLASSES:
            raise SettingsError(f"{_env('worker_class')}: expected one of {', '.join(WORKER_CLASSES)}, "
                                f"got {self.worker_class!r}")
        if self.worker_connections < 1:
            raise SettingsError(f"{_env('worker_connections')}: must be at least 1")
        if self.body_read_timeout <= 0:
            raise SettingsError(f"{_env('body_read_timeout')}: timeouts are always on; give a positive number of seconds")
        if self.body_min_rate < 0:
            raise SettingsError(f"{_env('body_min_rate')}: must be 0 (off) or more bytes per second")
        for name in ("workers", "threads", "http_pool_size", "soap_max_body_bytes", "soap_max_depth",
                     "soap_max_elements", "json_max_depth", "json_max_body_bytes",
                     "jobs_workers", "jobs_max_inflight", "jobs_max_attempts",
                     "flowcode_batch_size", "exaroutes_batch_rows"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{_env(name)}: must be at least 1")
        for name in ("http_connect_timeout", "http_read_timeout"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{_env(name)}: timeouts are always on; give a positive number of seconds")
        if self.request_deadline <= 0 or self.vendor_busy_wait < 0 or self.breaker_reset_timeout <= 0:
            raise SettingsError(f"{_env('request_deadline')}, {_env('vendor_busy_wait')} and "
                                f"{_env('breaker_reset_timeout')}: expected positive seconds")
        for name in ("jobs_step_seconds", "jobs_lease_seconds", "jobs_sweep_seconds"):
            if getattr(self, name) <= 0:
                raise SettingsError(f"{_env(name)}: expected positive seconds")
        # A step may start a vendor write just before its time is up; if the lease ran out while that
        # write was still being answered, another worker would take the job over and send it again.
        longest_hold = self.jobs_step_seconds + self.http_connect_timeout + self.http_read_timeout
        if self.jobs_lease_seconds <= longest_hold:
            raise SettingsError(
                f"{_env('jobs_lease_seconds')}={self.jobs_lease_seconds:g} must be more than a step and its last "
                f"vendor call can take ({_env('jobs_step_seconds')} + {_env('http_connect_timeout')} + "
                f"{_env('http_read_timeout')} = {longest_hold:g} s), or a live worker's batch may be sent twice")
        for name in ("vendor_max_inflight", "breaker_fail_max"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{_env(name)}: must be at least 1")
        try:
            self.vendor_overrides()
        except ValueError as exc:
            raise SettingsError(f"{_env('vendor_policies')}: {exc}") from None
        if self.http_retries < 0:
            raise SettingsError(f"{_env('http_retries')}: must be 0 or more")
        if self.flowize_auth not in FLOWIZE_AUTH_STYLES:
            raise SettingsError(
                f"{_env('flowize_auth')}: expected one of {', '.join(FLOWIZE_AUTH_STYLES)}, got {self.flowize_auth!r}")
        if self.flowize_auth in ("apikey", "url") and not (self.flowize_api_key and self.flowize_app_key):
            raise SettingsError(
                f"{_env('flowize_auth')}={self.flowize_auth} needs {_env('flowize_api_key')} and {_env('flowize_app_key')}")
        if self.flowize_auth == "oauth" and not (self.flowize_client_id and self.flowize_client_secret):
            raise SettingsError(
                f"{_env('flowize_auth')}=oauth needs {_env('flowize_client_id')} and {_env('flowize_client_secret')}")
        if not all(p.strip().replace(".", "", 1).isdigit() for p in self.exaroutes_poll_schedule.split(",")):
            raise SettingsError(f"{_env('exaroutes_poll_schedule')}: expected seconds separated by commas, e.g. 2,5,15,30")
        for name in VENDOR_URLS + (("public_url",) if self.public_url else ()):
            parts = urlsplit(getattr(self, name))
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise SettingsError(f"{_env(name)}: expected an http(s) URL, got {getattr(self, name)!r}")
        if self.database_url and "://" not in self.database_url:
            raise SettingsError(f"{_env('database_url')}: expected a SQLAlchemy URL such as sqlite:///path.db")
        if self.rest_auth not in REST_AUTH_MODES:
            raise SettingsError(f"{_env('rest_auth')}: expected one of {', '.join(REST_AUTH_MODES)}, got {self.rest_auth!r}")
        if self.redis_url and self.redis_url.split("://", 1)[0] not in ("redis", "rediss"):
            raise SettingsError(f"{_env('redis_url')}: expected a redis:// URL")
        if self.rest_rate_limit_storage.split("://", 1)[0] not in ("memory", "redis", "rediss", "redis+sentinel",
                                                                   "redis+cluster"):
            raise SettingsError(f"{_env('rest_rate_limit_storage')}: expected memory:// or a redis:// URL")
        try:
            import ipaddress
            for entry in filter(None, (e.strip() for e in self.rest_ip_allowlist.split(","))):
                ipaddress.ip_network(entry, strict=False)
        except ValueError as exc:
            raise SettingsError(f"{_env('rest_ip_allowlist')}: {exc}") from None
        if self.secret_key and not _is_fernet_key(self.secret_key):
            raise SettingsError(f"{_env('secret_key')}: expected 32 url-safe base64-encoded bytes "
                                "(make a key with: flowgate secret-key)")
        try:
            self.outbox_operations()
        except ValueError as exc:
            raise SettingsError(f"{_env('outbox')}: {exc}") from None
        if self.outbox_max_attempts < 0 or self.outbox_max_age < 0:
            raise SettingsError(f"{_env('outbox_max_attempts')} and {_env('outbox_max_age')}: 0 (no limit) or more")
        if not 0 < self.outbox_backoff <= self.outbox_backoff_max:
            raise SettingsError(f"{_env('outbox_backoff')} and {_env('outbox_backoff_max')}: expected positive "
                                "seconds, the first no larger than the second")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise SettingsError(f"{_env('log_level')}: expected DEBUG, INFO, WARNING, ERROR or CRITICAL")
        if self.log_format not in ("json", "text"):
            raise SettingsError(f"{_env('log_format')}: expected json or text")
        if self.tracing not in ("", "otlp", "console"):
            raise SettingsError(f"{_env('tracing')}: expected otlp, console or empty (off)")

    # -- derived values ------------------------------------------------------------------------
    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return "sqlite:///" + str(Path(self.data_dir).absolute() / "flowgate.db")

    @property
    def effective_sandbox_database(self) -> str:
        return self.sandbox_database or str(Path(self.data_dir) / "sandbox.db")

    def outbox_operations(self) -> frozenset[str]:
        """``outbox`` parsed: the write operations queued while Flowize is unavailable (empty: off)."""
        names = {e.strip() for e in self.outbox.split(",") if e.strip()}
        if names == {"all"}:
            return OUTBOX_OPERATIONS
        unknown = sorted(names - OUTBOX_OPERATIONS)
        if unknown:
            raise ValueError(f"expected all, or some of {', '.join(sorted(OUTBOX_OPERATIONS))}; "
                             f"got {', '.join(unknown)}")
        return frozenset(names)

    def vendor_overrides(self) -> dict[str, dict[str, float]]:
        """``vendor_policies`` parsed: ``{"flowcode": {"retries": 3.0}}``; ValueError names a bad entry."""
        out: dict[str, dict[str, float]] = {}
        for entry in filter(None, (e.strip() for e in self.vendor_policies.split(","))):
            name, _, value = entry.partition("=")
            vendor, _, key = name.strip().partition(".")
            if vendor not in VENDORS or key not in VENDOR_POLICY_KEYS:
                raise ValueError(f"expected vendor.key=value with a vendor of {', '.join(VENDORS)} and a key of "
                                 f"{', '.join(VENDOR_POLICY_KEYS)}, got {entry!r}")
            try:
                number = float(value)
            except ValueError:
                raise ValueError(f"{entry!r}: the value must be a number") from None
            if number < 0 or (key in ("read_timeout", "connect_timeout", "max_inflight", "fail_max",
                                      "reset_timeout") and number <= 0):
                raise ValueError(f"{entry!r}: the value is out of range")
            out.setdefault(vendor, {})[key] = number
        return out

    @property
    def sandbox_url(self) -> str:
        return f"http://{self.sandbox_host}:{self.sandbox_port}"

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict, secrets masked: safe to log."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = "***" if f.metadata.get("secret") and value else value
        out["database_url"] = _mask_url_password(self.effective_database_url)
        out["rest_rate_limit_storage"] = _mask_url_password(self.rest_rate_limit_storage)
        out["redis_url"] = _mask_url_password(self.redis_url)
        return out


def _env(name: str) -> str:
    return ENV_PREFIX + name.upper()


FILE_SUFFIX = "_file"


def _file_names() -> list[str]:
    """The settings that can be read from a file: the secrets and the URLs with passwords."""
    return [f.name for f in fields(Settings) if f.metadata.get("file")]


def _secret_files(layer: dict[str, Any]) -> dict[str, Any]:
    """One source's ``x_file`` entries replaced by ``x`` read from the file (secrets and URLs with
    passwords only)."""
    for name in _file_names():
        path = layer.pop(name + FILE_SUFFIX, None)
        if path in (None, ""):
            continue
        if name in layer:
            raise SettingsError(f"{_env(name)} and {_env(name + FILE_SUFFIX)} are both given: give one")
        layer[name] = _read_secret_file(name, str(path))
    return layer


def _read_secret_file(name: str, path: str) -> str:
    setting = _env(name + FILE_SUFFIX)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise SettingsError(f"{setting}: cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise SettingsError(f"{setting}: {path} is not UTF-8 text") from None
    # Editors and `echo` end files with a newline that is not part of the secret; only one is removed.
    return text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")


def _is_fernet_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode("ascii"))) == 32
    except (binascii.Error, ValueError):
        return False


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    kind = f.type if isinstance(f.type, type) else {"int": int, "float": float, "bool": bool, "str": str}[f.type]
    shown = "***" if f.metadata.get("secret") else repr(value)
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off", ""):
                return False
            raise ValueError
        if kind is int:
            if isinstance(value, bool):
                raise ValueError
            return int(str(value).strip())
        if kind is float:
            return float(str(value).strip())
        return "" if value is None else str(value)
    except ValueError:
        raise SettingsError(f"{_env(f.name)}: expected {kind.__name__}, got {shown}") from None


def _read_yaml(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except OSError as exc:
        raise SettingsError(f"{ENV_PREFIX}CONFIG: cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise SettingsError(f"{ENV_PREFIX}CONFIG: {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{ENV_PREFIX}CONFIG: {path} must hold a mapping of setting: value")
    return {str(k).lower(): v for k, v in data.items()}


def _mask_url_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(":" + parts.password + "@", ":***@", 1)
    return url
