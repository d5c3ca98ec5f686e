"""The gunicorn gevent worker that ``GATEWAY_WORKER_CLASS=gevent`` (the default) runs.

gunicorn's own, on SIGQUIT or SIGINT (the master's quick stop, or Ctrl-C reaching the whole process
group), spawns a greenlet that ends in ``sys.exit(0)``, and gevent prints that greenlet's SystemExit
as a traceback from every worker. Ending the worker's loop is all that exit was for: the worker then
closes its listener and finishes the requests in flight within ``graceful_timeout``, as on SIGTERM.
"""

from __future__ import annotations

from typing import Any

from gunicorn.workers.ggevent import GeventWorker as _GunicornGeventWorker

__all__ = ["GeventWorker"]


class GeventWorker(_GunicornGeventWorker):
    def handle_quit(self, sig: int, frame: Any) -> None:
        self.alive = False
