"""Serving WSGI apps: gunicorn in production, a threaded Werkzeug server for tests and tools.

The underscore trap: Flowize's OAuth calls send ``client_id``, ``client_secret``, ``grant_type`` and
``refresh_token`` as HTTP headers *with underscores*. Werkzeug's server and gunicorn >= 22 drop
every such header, because ``client_id`` and ``client-id`` both become ``HTTP_CLIENT_ID`` in WSGI and
could be used to spoof proxy headers. We let exactly these four through, and no other:

* gunicorn: ``forwarder_headers`` lists them, ``forwarded_allow_ips = "*"`` lets any peer send
  them; ``secure_scheme_headers`` is emptied unless ``GATEWAY_TRUST_PROXY`` is set, so trusting
  every peer for these names does not let them spoof ``X-Forwarded-Proto``;
* Werkzeug: :class:`UnderscoreHeadersHandler` adds them to the environ.
See docs/flowize-decisions.md, "Headers with underscores".
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from gateway.logs import dict_config

__all__ = ["UNDERSCORE_HEADERS", "ServerThread", "gateway_options", "gunicorn_options", "run_gunicorn",
           "serve_in_thread"]

UNDERSCORE_HEADERS = ("client_id", "client_secret", "grant_type", "refresh_token")


class UnderscoreHeadersHandler(WSGIRequestHandler):
    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        for key, value in self.headers.items():
            if key.lower() in UNDERSCORE_HEADERS:
                environ["HTTP_" + key.upper()] = value
        return environ

    def log_request(self, *args: Any, **kwargs: Any) -> None:  # tests stay quiet
        pass


class ServerThread:
    """A real HTTP server on loopback, in a daemon thread."""

    def __init__(self, server: BaseWSGIServer):
        self.server = server
        self.host, self.port = str(server.host), int(server.port)
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"wsgi:{self.port}", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


def serve_in_thread(app: Callable[..., Any], host: str = "127.0.0.1", port: int = 0) -> ServerThread:
    server = make_server(host, port, app, threaded=True, request_handler=UnderscoreHeadersHandler)
    server.daemon_threads = True  # type: ignore[attr-defined]  # ThreadedWSGIServer: handler threads never block exit
    return ServerThread(server)


def gunicorn_options(bind: str, *, workers: int, threads: int, trust_proxy: bool,
                     log_level: str = "info", timeout: int = 60, worker_class: str = "gthread",
                     worker_connections: int = 1000, log_format: str = "json",
                     graceful_timeout: int = 5) -> dict[str, Any]:
    """gunicorn's settings for one of our servers. ``worker_class`` "gevent" needs the process
    monkey-patched before it imported requests (see ``gateway.cli``, "Why gevent")."""
    options: dict[str, Any] = {
        "bind": bind,
        "workers": workers,
        "threads": threads,          # gthread only
        # gevent: gunicorn's gevent worker, quiet on Ctrl-C (gateway/gevent_worker.py)
        "worker_class": "gateway.gevent_worker.GeventWorker" if worker_class == "gevent" else worker_class,
        # gevent: connections served at once by one worker (its greenlet pool); when all are taken the
        # worker stops accepting and new ones wait in the listen queue, so memory stays bounded.
        "worker_connections": worker_connections,
        "timeout": timeout,
        # SIGTERM: in-flight requests get this long to finish; an idle server stops at once.
        "graceful_timeout": graceful_timeout,
        # Also the time a client gets to send a request's headers on the gevent worker (its parser
        # runs under a keepalive-long gevent.Timeout); the body's time is gateway.guard's.
        "keepalive": 5,
        "loglevel": log_level.lower(),
        "accesslog": None,
        "errorlog": "-",
        # gunicorn's lines in the same shape as ours (gateway/logs.py), for the master and workers
        "logconfig_dict": dict_config(log_level, log_format),
        "forwarder_headers": ",".join(h.upper() for h in UNDERSCORE_HEADERS),
        "forwarded_allow_ips": "*",
        "limit_request_field_size": 16384,
        # gunicorn 23+ opens a control socket at one fixed path; gateway and sandbox would share it.
        "control_socket_disable": True,
    }
    if not trust_proxy:
        options["secure_scheme_headers"] = {}
    return options


def gateway_options(settings: Any) -> dict[str, Any]:
    """gunicorn's settings for the gateway, from its Settings (docs/deploy.md explains each).

    ``graceful_timeout`` outlasts the request deadline: a restart lets a request that is waiting on
    a slow vendor finish instead of cutting it (an idle gateway still stops at once)."""
    return gunicorn_options(f"{settings.host}:{settings.port}", workers=settings.workers, threads=settings.threads,
                            trust_proxy=settings.trust_proxy, log_level=settings.log_level,
                            worker_class=settings.worker_class, worker_connections=settings.worker_connections,
                            log_format=settings.log_format, graceful_timeout=math.ceil(settings.request_deadline) + 5)


def run_gunicorn(app_factory: Callable[[], Any], options: dict[str, Any]) -> None:
    """Run ``app_factory()`` under gunicorn in this process (blocks until stopped)."""
    from gunicorn.app.base import BaseApplication

    class _App(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return app_factory()

    _App().run()
