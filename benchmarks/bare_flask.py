"""The bare Flask anchor: one JSON endpoint, answered from memory, under the gateway's gunicorn settings.

What a Flask JSON answer costs when it is only Flask and gunicorn: routing, ``jsonify``, the WSGI
round trip; no middleware, no logging, no vendor call. ``GET /v1/record`` answers the body the
sandbox answers for the demo record (the same size on the wire), so ``benchmarks/__main__.py`` can put
the gateway's cheapest routes (``/healthz``) and its REST door beside it in one run.

    python -m benchmarks.bare_flask --port 8098 [--workers 2] [--worker-class gevent] [--threads 8]

Like ``benchmarks/bare_spyne.py``, it imports nothing from the gateway but the gunicorn settings and
runner (``gateway.server.gunicorn_options``).
"""

from __future__ import annotations

import sys
from typing import Any

RECORD = {
    "resource": {
        "info": {"uuid": "demo-record", "customer_id": "1", "flow_id": "1", "date_created": "2026-01-01 00:00:00",
                 "status": "Finished"},
        "data_record": {"client": [{"uuid": "demo-record", "name": "Demo Client", "age": 42}]},
        "flow_process": {"date_started": "2026-01-01 00:00:00", "date_last_run": "2026-01-01 00:00:00"},
        "flow_objects_info": [],
    },
    "message": "Data Record structure was retrieving successfully",
}


def create_app() -> Any:
    from flask import Flask, jsonify

    app = Flask("bare_flask")

    @app.get("/v1/record")
    def record() -> Any:
        return jsonify(RECORD)

    return app


def main(argv: list[str] | None = None) -> int:
    from benchmarks.common import serve_anchor

    return serve_anchor("python -m benchmarks.bare_flask", create_app, argv)


if __name__ == "__main__":
    sys.exit(main())
