"""Logs: one JSON object per line on stderr, each with the request id it belongs to.

``GATEWAY_LOG_FORMAT=json`` (the default) or ``text`` for a terminal. Every line has ``time``
(UTC, ISO 8601), ``level``, ``logger``, ``message`` and ``request_id`` — the id of the client
request it was written for, also inside a job step or an outbox delivery, which carry the id of the
request that created them — plus the fields of its kind of event (``extra=`` on the call):

    event=request       one per request answered (logger gateway.access): protocol, operation,
                        consumer, vendor, status, duration_ms, upstream_calls, upstream_ms
    event=vendor_call   one per attempt at a vendor (gateway.http): vendor, method, status, duration_ms;
                        DEBUG inside a client request (its request line has the vendors), else INFO
    event=job           a job's state changed (gateway.jobs): job_id, status, vendor, rows
    event=outbox        an outbox entry was delivered, retried or given up on (gateway.outbox):
                        entry_id, operation, outcome, attempts

python-json-logger does the formatting; this module decides the fields and where they go, for
``flowgate serve`` (gunicorn's master and workers), ``flowgate worker`` and ``flowgate sandbox``.
Secrets never reach a line: messages are written with redacted URLs (gateway/redact.py), and the
exception text of a traceback is redacted the same way.
"""

from __future__ import annotations

import logging
import logging.config
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from gateway.observe import request_id_var
from gateway.redact import redact_text

__all__ = ["FORMATS", "JsonLines", "RequestIdFilter", "configure", "dict_config"]

FORMATS = ("json", "text")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
#: Libraries whose start-up chatter says nothing an operator needs.
QUIET = ("huey", "alembic", "urllib3", "spyne")


class RequestIdFilter(logging.Filter):
    """Every record gets ``request_id``: the one given in ``extra=``, else the context's, else "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id_var.get() or "-"
        return True


class JsonLines(JsonFormatter):
    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", False)
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s", *args, **kwargs)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        import datetime as dt

        return dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        # A library's line may hold a URL with its credentials in the query: masked, as everywhere.
        log_data["message"] = redact_text(str(log_data.get("message", "")))

    def formatException(self, ei: Any) -> str:
        return redact_text(str(super().formatException(ei)))


def dict_config(level: str = "INFO", fmt: str = "json") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for the root logger and gunicorn's (``logconfig_dict``)."""
    level = level.upper()
    formatter: dict[str, Any] = ({"()": JsonLines} if fmt == "json" else {"format": TEXT_FORMAT})
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "flowgate",
               "filters": ["request_id"]}
    quiet_level = max(logging.WARNING, logging.getLevelName(level) if isinstance(logging.getLevelName(level), int)
                      else logging.INFO)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"flowgate": formatter},
        "handlers": {"stderr": handler},
        "root": {"level": level, "handlers": ["stderr"]},
        "loggers": {
            # gunicorn's own loggers keep their names but write through ours; no access log of its
            # own (gateway.access writes one line per request, with more in it).
            "gunicorn.error": {"level": level, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
            **{name: {"level": logging.getLevelName(quiet_level)} for name in QUIET},
        },
    }


def configure(level: str = "INFO", fmt: str = "json") -> None:
    """Set up this process's logging (``flowgate worker``, ``sandbox``; gunicorn is given
    :func:`dict_config` as its ``logconfig_dict``)."""
    logging.config.dictConfig(dict_config(level, fmt))
    logging.captureWarnings(True)
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # one line, at once, in a pipe
