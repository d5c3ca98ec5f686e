"""The SOAP door against bare Spyne, side by side in one run (issue 12; the target is >= 1.5x).

Starts, on free loopback ports and with the same gunicorn settings (``gateway.server.gunicorn_options``,
the gateway's worker class, threads and connections; one worker each unless ``--workers``):

* the gateway (``flowgate serve --no-sandbox --no-worker``), sent getRecord **without credentials**:
  the SOAP door reads, parses and dispatches the envelope, and the operation faults ("The
  credentials are not correct.") before any vendor call — the door's own cost, end to end;
* the bare Spyne anchor (``benchmarks/bare_spyne.py``), sent the demo getRecord, answered from memory.

Load comes from a separate process (``wrk``, when installed: ``apt-get install wrk``; else a bounded
Python driver), in interleaved rounds so machine noise hits both alike. Prints the median requests/s,
the server CPU per request (gunicorn master + workers, from /proc) and the ratio. ``make bench``
(``python -m benchmarks``) measures the same pair with the default number of workers, among the rest.

    python -m benchmarks.soap_door [--rounds 5] [--seconds 5] [--connections 8] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks.common import (
    ANCHOR_SPYNE,
    DRIVERS,
    FAULT_MARK,
    LOCAL_FAULT,
    SOAP_OK_MARK,
    Scenario,
    cpu_model,
    driver_name,
    free_port,
    rounds,
    start_anchor,
    start_gateway,
    stop_servers,
    use_driver,
    wait_all,
    warm_up,
    write_json,
)


def main(argv: list[str] | None = None) -> int:
    from gateway.config import Settings

    settings = Settings.load()
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soap_door")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5, help="length of each timed run")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--worker-class", default=settings.worker_class, choices=("gevent", "gthread"))
    parser.add_argument("--threads", type=int, default=settings.threads)
    parser.add_argument("--driver", default="auto", choices=DRIVERS,
                        help="load driver: wrk when installed (auto), or force wrk / the Python driver")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    use_driver(args.driver)

    workdir = Path(tempfile.mkdtemp(prefix="flowgate-soapbench-"))
    gw_port, bare_port = free_port(), free_port()
    gunicorn = {"workers": args.workers, "threads": args.threads, "worker_class": args.worker_class,
                "worker_connections": settings.worker_connections}
    servers = {
        # no vendor is called: the sandbox port is only where the vendors would be
        "gateway": start_gateway(workdir, gw_port, free_port(), **{k: str(v) for k, v in gunicorn.items()}),
        "bare_spyne": start_anchor("benchmarks.bare_spyne", workdir, bare_port, **gunicorn),
    }
    door = Scenario("soap_local_fault", "gateway SOAP local fault", "gateway", LOCAL_FAULT, 500, FAULT_MARK,
                    {"server": "gateway"})
    anchor = Scenario("bare_spyne", "bare Spyne getRecord", "bare_spyne", ANCHOR_SPYNE, 200, SOAP_OK_MARK,
                      {"server": "bare_spyne"})
    scenarios = [door, anchor]
    try:
        wait_all(servers.values())
        warm_up(scenarios, servers, min(2, args.seconds), args.connections)
        rounds(scenarios, servers, args.rounds, args.seconds, args.connections)
    finally:
        stop_servers(servers.values())
        shutil.rmtree(workdir, ignore_errors=True)

    driver = driver_name(args.connections)
    print(f"\nSOAP door vs bare Spyne: {args.rounds} interleaved rounds of {args.seconds:g} s, {driver}, "
          f"gunicorn {args.worker_class} x {args.workers} worker(s)"
          f"{f' x {args.threads} threads' if args.worker_class == 'gthread' else ''}, loopback")
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores\n")
    print(f"{'scenario':28} {'req/s':>8} {'CPU ms/req':>11}   rounds (req/s)")
    for s in scenarios:
        print(f"{s.label:28} {s.median_rps():8.0f} {s.median_cpu()['total']:11.3f}   "
              + " ".join(f"{v:.0f}" for v in s.rps))
    ratio = door.median_rps() / anchor.median_rps()
    per_round = [a / b for a, b in zip(door.rps, anchor.rps, strict=True)]
    print(f"\nlocal-fault path / bare Spyne: {ratio:.2f}x (target >= 1.5x; "
          f"per round {min(per_round):.2f}-{max(per_round):.2f}x)")
    if args.json:
        write_json(args.json, {
            "soap_local_fault_rps": round(door.median_rps(), 1), "bare_spyne_rps": round(anchor.median_rps(), 1),
            "soap_local_fault_vs_bare_spyne": round(ratio, 3),
            "cpu_ms_per_request": {"soap_local_fault": door.median_cpu()["total"],
                                   "bare_spyne": anchor.median_cpu()["total"]},
            "rounds": args.rounds, "seconds": args.seconds, "driver": driver, "worker_class": args.worker_class,
            "workers": args.workers, "cpu_model": cpu_model(), "cores": os.cpu_count()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
