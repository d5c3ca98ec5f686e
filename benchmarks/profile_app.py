"""Where one gateway request spends its CPU: cProfile around the gateway's WSGI app, in this process.

Starts the sandbox (``flowgate sandbox``) on a free port, builds the gateway app as a gunicorn worker
does (``gateway.app.create_app`` on the effective settings, its vendors pointed at that sandbox, the
log level at WARNING unless ``--log-level``), sends it ``-n`` requests of one scenario through
Werkzeug's test client (no server: the WSGI app alone, with its real vendor calls over loopback),
and prints the functions that took the most time. Not part of ``make bench``: a tool for finding
what to optimise. The profile covers the app and its vendor client, not gunicorn or gevent.

    python -m benchmarks.profile_app [--scenario soap|rest|fault|healthz] [-n 2000] [--sort tottime]
                                     [--limit 40] [--timer wall|cpu] [--filter gateway/] [--out FILE.prof]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SCENARIOS = ("soap", "rest", "fault", "healthz")
#: (bucket, substrings of a function's file or name), first match wins.
PACKAGES = [
    ("socket waits (sandbox)", ("sendall", "recv_into", "'connect'")),
    ("gateway/", ("/gateway/",)),
    ("spyne", ("/spyne/",)),
    ("lxml", ("lxml",)),
    ("urllib3/requests/http.client", ("/urllib3/", "/requests/", "http/client.py", "/email/", "socket.py")),
    ("werkzeug/flask", ("/werkzeug/", "/flask/")),
    ("tenacity/pybreaker", ("/tenacity/", "/pybreaker/")),
    ("logging", ("logging/", "pythonjsonlogger")),
    ("prometheus_client", ("prometheus_client",)),
    ("limits", ("/limits/",)),
    ("benchmark harness", ("/benchmarks/",)),
]


def by_package(stats: pstats.Stats) -> list[tuple[str, float, int]]:
    """(bucket, own time, calls) summed per package bucket, largest time first."""
    totals: dict[str, tuple[float, int]] = {}
    for (filename, _line, func), (_cc, calls, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = f"{filename}:{func}"
        bucket = next((name for name, keys in PACKAGES if any(k in where for k in keys)), "other (stdlib, builtins)")
        seconds, n = totals.get(bucket, (0.0, 0))
        totals[bucket] = (seconds + tottime, n + calls)
    return sorted(((name, t, n) for name, (t, n) in totals.items()), key=lambda row: -row[1])


def wsgi_caller(app: Any, request: Any, expected: int) -> Any:
    """A function that calls ``app`` as a WSGI server would with ``request`` (a benchmarks.common
    Request), reads and closes the body and checks the status: the app's own cost, nothing else."""
    from werkzeug.test import EnvironBuilder

    headers = dict(request.headers)
    base = EnvironBuilder(path=request.path, method=request.method, headers=headers,
                          data=request.body or None).get_environ()
    body = request.body
    status: list[str] = []

    def start_response(line: str, _headers: Any, _exc_info: Any = None) -> Any:
        status.append(line)
        return lambda _data: None

    def call() -> None:
        environ = dict(base)
        environ["wsgi.input"] = io.BytesIO(body)
        status.clear()
        result = app(environ, start_response)
        try:
            data = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        assert status and int(status[0][:3]) == expected, (status, data[:300])

    return call


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_app")
    parser.add_argument("--scenario", default="soap", choices=SCENARIOS)
    parser.add_argument("-n", type=int, default=2000, help="requests timed, then profiled (after 200 to warm up)")
    parser.add_argument("--sort", default="tottime", help="pstats sort key: tottime, cumulative...")
    parser.add_argument("--limit", type=int, default=40)
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--timer", default="wall", choices=("wall", "cpu"))
    parser.add_argument("--filter", help="only functions whose path matches this regex, e.g. gateway/")
    parser.add_argument("--out", help="also save the raw profile (for snakeviz, pstats)")
    args = parser.parse_args(argv)

    from benchmarks.common import (
        GET_RECORD,
        HEALTHZ,
        LOCAL_FAULT,
        NO_RATE_LIMIT,
        SOAP,
        free_port,
        start_sandbox,
        stop_servers,
    )

    workdir = Path(tempfile.mkdtemp(prefix="flowgate-profile-"))
    sandbox_port = free_port()
    sandbox = start_sandbox(workdir, sandbox_port)
    try:
        sandbox.wait_up()
        os.environ.update({"GATEWAY_SANDBOX_PORT": str(sandbox_port), "GATEWAY_DATA_DIR": str(workdir),
                           "GATEWAY_LOG_LEVEL": args.log_level, "GATEWAY_REST_RATE_LIMIT": NO_RATE_LIMIT,
                           "PROMETHEUS_MULTIPROC_DIR": str(workdir / "metrics")})
        (workdir / "metrics").mkdir()
        import logging.config

        from gateway.app import create_app
        from gateway.cli import _migrate
        from gateway.config import Settings
        from gateway.logs import dict_config

        settings = Settings.load()
        logging.config.dictConfig(dict_config(settings.log_level, settings.log_format))
        _migrate(settings).dispose()
        app = create_app(settings)
        kinds = {"soap": (SOAP, 200), "fault": (LOCAL_FAULT, 500), "rest": (GET_RECORD, 200),
                 "healthz": (HEALTHZ, 200)}
        request, expected = kinds[args.scenario]
        call = wsgi_caller(app, request, expected)

        for _ in range(200):
            call()
        cpu0 = time.process_time()
        for _ in range(args.n):
            call()
        plain_ms = 1000 * (time.process_time() - cpu0) / args.n  # this process: the app alone
        # wall time by default: cheap per call, so the proportions hold; the waits for the sandbox show
        # as socket sendall/recv_into. process time leaves them out but costs much more per call.
        profile = cProfile.Profile(time.process_time) if args.timer == "cpu" else cProfile.Profile()
        profile.enable()
        for _ in range(args.n):
            call()
        profile.disable()
    finally:
        stop_servers([sandbox])
        shutil.rmtree(workdir, ignore_errors=True)
    if args.out:
        profile.dump_stats(args.out)
    stats = pstats.Stats(profile)
    total = stats.total_tt  # type: ignore[attr-defined]
    calls = stats.total_calls  # type: ignore[attr-defined]
    print(f"{args.scenario}: {plain_ms:.3f} ms of CPU per request without the profiler (the WSGI app called "
          f"directly: no server, no HTTP parsing)")
    print(f"profiled: {args.n} requests, {1000 * total / args.n:.3f} ms ({args.timer}) and "
          f"{calls / args.n:.0f} Python function calls per request (cProfile's overhead included)\n")
    print("own time by package: ms per request, share, function calls per request")
    for name, seconds, n in by_package(stats):
        print(f"  {name:28} {1000 * seconds / args.n:7.3f}  {100 * seconds / total:5.1f}%  {n / args.n:6.0f}")
    print()
    stats.sort_stats(args.sort).print_stats(*([args.filter] if args.filter else []), args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
