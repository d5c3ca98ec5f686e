"""``make bench``: what the gateway costs, as ratios to direct calls and bare anchors, in one run.

Starts, on free loopback ports, each as its own process tree:

* the sandbox (``flowgate sandbox``: one gunicorn gthread worker), the emulated vendor;
* the gateway as production runs it (``flowgate serve --no-sandbox --no-worker``), its vendors pointed
  at that sandbox, with the default server settings (worker class, workers, threads, connections:
  whatever ``gateway.config.Settings`` gives, not overridden) and ``GATEWAY_LOG_LEVEL=WARNING``;
* a second such gateway at the default ``INFO`` level (one JSON access line per request, written to a
  file), to show what the default logging costs;
* the anchors ``benchmarks/bare_spyne.py`` (a bare Spyne getRecord) and ``benchmarks/bare_flask.py``
  (a bare Flask JSON endpoint), under the gateway's gunicorn settings.

Then, with load from this process (``wrk`` when installed, ``apt-get install wrk``; else a bounded
Python driver): every scenario once as a warm-up; the idle memory of the gateway; ``--rounds``
interleaved rounds of ``--seconds`` each (the order reversed every other round, so machine noise hits
all alike), keeping the median requests/s and the server CPU per request (/proc, per process tree);
the single-connection latency of direct vs REST vs SOAP calls (sequential, interleaved); and last,
with everything above stopped, the bulk jobs (``benchmarks/bulk.py``). Writes the figures, the
targets and whether each is met to ``benchmarks/results/latest.json`` and prints a table.

    python -m benchmarks [--quick] [--rounds 5] [--seconds 3] [--connections 16] [--latency-requests 2000]
                         [--driver auto|wrk|python] [--bulk-sizes 10000,100000] [--bulk-vendor flowcode]
                         [--no-bulk] [--only KEY,...] [--json PATH]
    python -m benchmarks --markdown [PATH]     the README tables of a results file, nothing run

``--quick`` (about a minute: 2 rounds of 1 s, 300 latency calls, 1,000- and 5,000-row jobs) writes to
``results/quick.json`` (not committed), so a development run never replaces the last full one.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

from benchmarks import bulk
from benchmarks.common import (
    ANCHOR_SPYNE,
    DRIVERS,
    FAULT_MARK,
    GET_RECORD,
    HEALTHZ,
    LOCAL_FAULT,
    RECORD_MARK,
    SOAP,
    SOAP_OK_MARK,
    HttpClient,
    Request,
    Scenario,
    Server,
    driver_name,
    free_port,
    machine_info,
    percentile,
    rounds,
    start_anchor,
    start_gateway,
    start_sandbox,
    stop_servers,
    tree_memory,
    use_driver,
    wait_all,
    warm_up,
    write_json,
)

RESULTS = Path(__file__).resolve().parent / "results"


def scenarios() -> list[Scenario]:
    gw, gw_sb = {"gateway": "gateway"}, {"gateway": "gateway", "sandbox": "sandbox"}
    info, info_sb = {"gateway": "gateway_info"}, {"gateway": "gateway_info", "sandbox": "sandbox"}
    return [
        Scenario("direct", "direct GET /v1/record (sandbox)", "sandbox", GET_RECORD, 200, RECORD_MARK,
                 {"sandbox": "sandbox"}),
        Scenario("rest_via_gateway", "REST GET /v1/record via gateway", "gateway", GET_RECORD, 200, RECORD_MARK,
                 gw_sb, "direct"),
        Scenario("soap_via_gateway", "SOAP getRecord via gateway", "gateway", SOAP, 200, SOAP_OK_MARK,
                 gw_sb, "direct"),
        Scenario("soap_local_fault", "SOAP local fault via gateway", "gateway", LOCAL_FAULT, 500, FAULT_MARK, gw,
                 "bare_spyne"),
        Scenario("bare_spyne", "bare Spyne getRecord (anchor)", "bare_spyne", ANCHOR_SPYNE, 200, SOAP_OK_MARK,
                 {"server": "bare_spyne"}),
        Scenario("bare_flask", "bare Flask JSON (anchor)", "bare_flask", GET_RECORD, 200, RECORD_MARK,
                 {"server": "bare_flask"}),
        Scenario("healthz", "gateway GET /healthz", "gateway", HEALTHZ, 200, b"ok", gw, "bare_flask"),
        Scenario("rest_via_gateway_info", "REST via gateway, INFO logs", "gateway_info", GET_RECORD, 200,
                 RECORD_MARK, info_sb, "direct"),
        Scenario("soap_via_gateway_info", "SOAP via gateway, INFO logs", "gateway_info", SOAP, 200,
                 SOAP_OK_MARK, info_sb, "direct"),
        Scenario("soap_local_fault_info", "SOAP local fault, INFO logs", "gateway_info", LOCAL_FAULT, 500, FAULT_MARK,
                 info, "bare_spyne"),
    ]


#: (figure, comparison, target): the issue's acceptance figures.
TARGETS = [
    ("soap_vs_direct", ">=", 0.5),
    ("rest_vs_direct", ">=", 0.7),
    ("local_fault_vs_bare_spyne", ">=", 1.5),
    ("soap_overhead_p50_ms", "<=", 1.5),
    ("soap_overhead_p99_ms", "<=", 5.0),
    ("idle_rss_mb", "<=", 150),
    ("idle_pss_mb", "<=", 150),
]


def _say(text: str = "") -> None:
    print(text, flush=True)


# -- servers -----------------------------------------------------------------------------------------
def start_all(workdir: Path, settings: Any) -> dict[str, Server]:
    ports = {name: free_port() for name in ("sandbox", "gateway", "gateway_info", "bare_spyne", "bare_flask")}
    gunicorn = {"workers": settings.workers, "threads": settings.threads, "worker_class": settings.worker_class,
                "worker_connections": settings.worker_connections}
    servers = {
        "sandbox": start_sandbox(workdir, ports["sandbox"]),
        "gateway": start_gateway(workdir, ports["gateway"], ports["sandbox"]),
        "gateway_info": start_gateway(workdir, ports["gateway_info"], ports["sandbox"], "gateway_info", "INFO"),
        "bare_spyne": start_anchor("benchmarks.bare_spyne", workdir, ports["bare_spyne"], **gunicorn),
        "bare_flask": start_anchor("benchmarks.bare_flask", workdir, ports["bare_flask"], **gunicorn),
    }
    wait_all(servers.values())
    return servers


# -- the measurements ----------------------------------------------------------------------------------
def latency(servers: dict[str, Server], requests: int) -> dict[str, dict[str, float]]:
    """Single connection, sequential requests, the three scenarios interleaved: ms per call."""
    plan: list[tuple[str, Server, Request, int]] = [
        ("direct", servers["sandbox"], GET_RECORD, 200),
        ("rest_via_gateway", servers["gateway"], GET_RECORD, 200),
        ("soap_via_gateway", servers["gateway"], SOAP, 200),
    ]
    calls: list[tuple[str, HttpClient, bytes, int]] = []
    for key, server, request, status in plan:
        host, port = server.url.split("//")[1].split(":")
        calls.append((key, HttpClient(host, int(port)), request.raw(host, int(port)), status))
    timings: dict[str, list[float]] = {key: [] for key, *_ in plan}
    try:
        for n in range(-50, requests):  # the first 50 of each: warm-up, not kept
            for key, client, raw, expect in calls if n % 2 == 0 else calls[::-1]:
                started = time.perf_counter()
                status, _ = client.call(raw)
                took = (time.perf_counter() - started) * 1000
                if status != expect:
                    raise SystemExit(f"latency {key}: status {status}")
                if n >= 0:
                    timings[key].append(took)
    finally:
        for _, client, *_ in calls:
            client.close()
    return {key: {"p50_ms": round(percentile(v, 50), 3), "p90_ms": round(percentile(v, 90), 3),
                  "p99_ms": round(percentile(v, 99), 3), "mean_ms": round(statistics.fmean(v), 3),
                  "requests": len(v)} for key, v in timings.items()}


# -- the report ------------------------------------------------------------------------------------
def _met(value: float | None, op: str, target: float) -> bool | None:
    if value is None:
        return None
    return value >= target if op == ">=" else value <= target


def summarize(items: list[Scenario], lat: dict[str, dict[str, float]], idle: dict[str, Any],
              after: dict[str, Any], bulk_figures: dict[str, Any] | None, meta: dict[str, Any]) -> dict[str, Any]:
    by_key = {s.key: s for s in items}
    rps = {s.key: statistics.median(s.rps) for s in items}
    table = {}
    for s in items:
        entry: dict[str, Any] = {"label": s.label, "rps": round(rps[s.key], 1),
                                 "rps_rounds": [round(v, 1) for v in s.rps], "cpu_ms_per_request": s.median_cpu()}
        if s.baseline:
            base = by_key[s.baseline]
            entry["ratio"] = round(rps[s.key] / rps[s.baseline], 3)
            entry["ratio_to"] = s.baseline
            per_round = [a / b for a, b in zip(s.rps, base.rps, strict=True)]
            entry["ratio_rounds_min_max"] = [round(min(per_round), 3), round(max(per_round), 3)]
            # What the ratio would be if the servers had the CPU to themselves: the baseline's CPU per
            # request over this one's (a machine shared with other work mostly moves req/s, not this).
            entry["cpu_ratio"] = round(base.median_cpu()["total"] / s.median_cpu()["total"], 3)
        if s.unexpected:
            entry["unexpected_answers"] = s.unexpected
        table[s.key] = entry
    out: dict[str, Any] = {**meta, "scenarios": table,
                           "cpu_ms_per_request": {k: v["cpu_ms_per_request"] for k, v in table.items()}}
    out["soap_vs_direct"] = table["soap_via_gateway"]["ratio"]
    out["rest_vs_direct"] = table["rest_via_gateway"]["ratio"]
    out["local_fault_vs_bare_spyne"] = table["soap_local_fault"]["ratio"]
    out["healthz_vs_bare_flask"] = table["healthz"]["ratio"]
    out["cpu_ratios"] = {"note": "baseline CPU ms/request over the scenario's (gateway + sandbox)",
                         "soap_vs_direct": table["soap_via_gateway"]["cpu_ratio"],
                         "rest_vs_direct": table["rest_via_gateway"]["cpu_ratio"],
                         "local_fault_vs_bare_spyne": table["soap_local_fault"]["cpu_ratio"],
                         "healthz_vs_bare_flask": table["healthz"]["cpu_ratio"]}
    out["info_logs"] = {k.removesuffix("_info") + "_ratio": table[k]["ratio"] for k in table if k.endswith("_info")}
    out["info_logs"]["note"] = ("the same ratios with the gateway at GATEWAY_LOG_LEVEL=INFO (the default: one JSON "
                                "access line per request, and one per vendor call, to a file)")
    out["latency"] = lat
    for kind in ("soap", "rest"):
        for pct in ("p50", "p99"):
            out[f"{kind}_overhead_{pct}_ms"] = round(lat[f"{kind}_via_gateway"][f"{pct}_ms"]
                                                     - lat["direct"][f"{pct}_ms"], 3)
    out["idle_rss_mb"], out["idle_pss_mb"], out["idle_uss_mb"] = idle["rss_mb"], idle["pss_mb"], idle["uss_mb"]
    out["idle_memory"] = {"what": "gateway gunicorn master + its workers, sandbox excluded, after start-up and "
                                  "the warm-up; rss: sum of each process's resident set (shared pages counted "
                                  "in every process); pss: shared pages divided among the processes sharing "
                                  "them; uss: private pages (smaps_rollup)", **idle, "after_load": after}
    targets = list(TARGETS)
    if bulk_figures:
        sizes = sorted(int(s) for s in bulk_figures["sizes"])
        out["bulk"] = bulk_figures
        def tag(size: int) -> str:
            return f"{size // 1000}k" if size % 1000 == 0 else str(size)

        for size in sizes:
            out[f"bulk_{tag(size)}_seconds"] = bulk_figures["sizes"][str(size)]["seconds"]
            out[f"bulk_{tag(size)}_peak_rss_mb"] = bulk_figures["sizes"][str(size)]["worker_peak_rss_mb"]
        if len(sizes) >= 2:
            small, large = sizes[0], sizes[-1]
            name = f"bulk_{tag(large)}_vs_{tag(small)}_peak_rss"
            out[name] = round(bulk_figures["sizes"][str(large)]["worker_peak_rss_mb"]
                              / bulk_figures["sizes"][str(small)]["worker_peak_rss_mb"], 3)
            targets.append((name, "<=", 1.10))
    out["targets"] = {name: {"value": out.get(name), "target": f"{op} {target:g}",
                             "met": _met(out.get(name), op, target)} for name, op, target in targets}
    return out


def _fmt_cpu(cpu: dict[str, float], role: str) -> str:
    return f"{cpu[role]:.2f}" if role in cpu else "-"


def table_lines(results: dict[str, Any], markdown: bool = False) -> list[str]:
    rows = []
    for s in results["scenarios"].values():
        cpu = s["cpu_ms_per_request"]
        ratio = f"{s['ratio']:.2f} vs {s['ratio_to']}" if "ratio" in s else "-"
        cpu_ratio = f"{s['cpu_ratio']:.2f}" if "cpu_ratio" in s else "-"
        rows.append((s["label"], f"{s['rps']:.0f}", ratio, cpu_ratio, _fmt_cpu(cpu, "gateway"),
                     _fmt_cpu(cpu, "sandbox"), f"{cpu['total']:.2f}"))
    head = ("scenario", "req/s", "ratio", "CPU ratio", "CPU ms/req gateway", "sandbox", "total")
    if markdown:
        return ["| " + " | ".join(head) + " |", "|---|---:|---|---:|---:|---:|---:|"] + [
            "| " + " | ".join(r) + " |" for r in rows]
    fmt = "{:32} {:>6} {:>22} {:>9} {:>18} {:>7} {:>6}"
    return [fmt.format(*head)] + [fmt.format(*r) for r in rows]


def target_lines(results: dict[str, Any], markdown: bool = False) -> list[str]:
    lines = ["| figure | value | target | met |", "|---|---:|---|---|"] if markdown else []
    for name, t in results["targets"].items():
        met = {True: "yes", False: "NO", None: "-"}[t["met"]]
        value = "-" if t["value"] is None else f"{t['value']:g}"
        lines.append(f"| `{name}` | {value} | {t['target']} | {met} |" if markdown
                     else f"  {name:32} {value:>10}   target {t['target']:<8} met: {met}")
    return lines


def print_report(results: dict[str, Any]) -> None:
    m = results["machine"]
    _say(f"\nFlowgate benchmark, {m['date']}, commit {m['git_commit'][:12]}{' (dirty)' if m['git_dirty'] else ''}")
    _say(f"machine: {m['cpu_model']}, {m['cores']} cores, Python {m['python']}; load average at start "
         f"{m['load_average_at_start']}")
    cfg = results["config"]
    _say(f"load: {results['driver']}, {cfg['rounds']} interleaved rounds of {cfg['seconds']:g} s, medians; gunicorn "
         f"{results['server_settings']}\n")
    for line in table_lines(results):
        _say(line)
    lat = results["latency"]
    _say(f"\nsingle connection, {lat['direct']['requests']} sequential calls each, interleaved (ms):")
    for key, v in lat.items():
        _say(f"  {key:20} p50 {v['p50_ms']:7.2f}  p90 {v['p90_ms']:7.2f}  p99 {v['p99_ms']:7.2f}  "
             f"mean {v['mean_ms']:7.2f}")
    _say(f"  added by the gateway: SOAP p50 {results['soap_overhead_p50_ms']:+.2f} p99 "
         f"{results['soap_overhead_p99_ms']:+.2f}; REST p50 {results['rest_overhead_p50_ms']:+.2f} p99 "
         f"{results['rest_overhead_p99_ms']:+.2f}")
    _say(f"\nidle gateway (master + {len(results['idle_memory']['processes']) - 1} workers): RSS "
         f"{results['idle_rss_mb']:.0f} MB, PSS {results['idle_pss_mb']:.0f} MB, USS {results['idle_uss_mb']:.0f} MB")
    if "bulk" in results:
        _say(f"bulk ({results['bulk']['vendor']}; peak RSS of {results['bulk']['peak_rss_process']}):")
        for size, v in results["bulk"]["sizes"].items():
            _say(f"  {int(size):>7} rows: {v['seconds']:6.1f} s, worker peak {v['worker_peak_rss_mb']:.0f} MB, "
                 f"worker CPU {v['worker_cpu_ms_per_row']:.2f} ms/row")
    _say("\ntargets:")
    for line in target_lines(results):
        _say(line)
    _say(f"\n{results['duration_seconds']:.0f} s in all")


def markdown(results: dict[str, Any]) -> str:
    """The README's "Performance" tables for a results file."""
    m, cfg = results["machine"], results["config"]
    lat = results["latency"]
    machine = (f"Last full run: {m['date'][:10]}, {m['cpu_model']}, {m['cores']} cores (shared), Python "
               f"{m['python']}; {results['driver']}, {cfg['rounds']} rounds of {cfg['seconds']:g} s, medians; "
               f"{results['duration_seconds'] / 60:.1f} minutes in all.")
    latencies = ", ".join(f"{label} {lat[key]['p50_ms']:.2f} / {lat[key]['p99_ms']:.2f}" for key, label in
                          (("direct", "direct"), ("rest_via_gateway", "REST via gateway"),
                           ("soap_via_gateway", "SOAP via gateway")))
    lines = [machine, "", *table_lines(results, markdown=True), "",
             (f"Single connection, sequential calls (p50 / p99 ms): {latencies}. Idle gateway (master + "
              f"{len(results['idle_memory']['processes']) - 1} workers): RSS {results['idle_rss_mb']:.0f} MB, PSS "
              f"{results['idle_pss_mb']:.0f} MB, USS {results['idle_uss_mb']:.0f} MB.")]
    if "bulk" in results:
        jobs = ", ".join(f"{int(size):,} rows {v['seconds']:.0f} s, peak {v['worker_peak_rss_mb']:.0f} MB"
                         for size, v in results["bulk"]["sizes"].items())
        lines[-1] += (f" Bulk {results['bulk']['vendor'].capitalize()} jobs (peak: RSS of the job worker process, "
                      f"`flowgate worker`): {jobs}.")
    lines = [line if line.startswith("|") else textwrap.fill(line, 105, break_on_hyphens=False) for line in lines]
    lines.append("")
    lines += target_lines(results, markdown=True)
    return "\n".join(lines) + "\n"


# -- main ------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a short run for development: 2 rounds of 1 s, 300 latency calls, bulk 1000/5000 rows; "
                             "written to results/quick.json")
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--seconds", type=float, help="length of each timed run")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections")
    parser.add_argument("--latency-requests", type=int, help="sequential calls per latency scenario")
    parser.add_argument("--bulk-sizes", help="rows per bulk job, comma-separated (default 10000,100000)")
    parser.add_argument("--bulk-vendor", default="flowcode", choices=bulk.VENDORS)
    parser.add_argument("--no-bulk", action="store_true")
    parser.add_argument("--only", help="comma-separated scenario keys to run (the ratios need their baselines)")
    parser.add_argument("--driver", default="auto", choices=DRIVERS,
                        help="load driver: wrk when installed (auto), or force wrk / the Python driver")
    parser.add_argument("--json", help="where to write the results (default results/latest.json)")
    parser.add_argument("--markdown", nargs="?", const=str(RESULTS / "latest.json"), metavar="PATH",
                        help="print the README tables of a results file and stop")
    args = parser.parse_args(argv)
    use_driver(args.driver)
    if args.markdown:
        print(markdown(json.loads(Path(args.markdown).read_text())), end="")
        return 0
    quick = args.quick
    n_rounds = args.rounds or (2 if quick else 5)
    seconds = args.seconds or (1.0 if quick else 3.0)
    lat_n = args.latency_requests or (300 if quick else 2000)
    sizes = [int(s) for s in (args.bulk_sizes or ("1000,5000" if quick else "10000,100000")).split(",")]
    out_path = Path(args.json) if args.json else RESULTS / ("quick.json" if quick else "latest.json")

    from gateway.config import Settings

    settings = Settings.load()
    started = time.monotonic()
    meta: dict[str, Any] = {"machine": machine_info(), "driver": driver_name(args.connections),
                            "config": {"rounds": n_rounds, "seconds": seconds, "connections": args.connections,
                                       "latency_requests": lat_n, "quick": quick},
                            "server_settings": {"worker_class": settings.worker_class, "workers": settings.workers,
                                                "threads": settings.threads,
                                                "worker_connections": settings.worker_connections,
                                                "sandbox": "flowgate sandbox: gunicorn gthread, 1 worker"}}
    items = scenarios()
    if args.only:
        keep = set(args.only.split(","))
        items = [s for s in items if s.key in keep]
    _say(f"starting sandbox, gateways and anchors ({meta['driver']}; gunicorn {settings.worker_class} x "
         f"{settings.workers})")
    workdir = Path(tempfile.mkdtemp(prefix="flowgate-bench-"))
    servers = start_all(workdir, settings)
    try:
        t0 = time.monotonic()
        warm_up(items, servers, min(1.0, seconds), args.connections)
        time.sleep(1)
        idle = tree_memory(servers["gateway"].pid)
        _say(f"warm-up done ({time.monotonic() - t0:.0f} s); idle gateway RSS {idle['rss_mb']:.0f} MB, "
             f"PSS {idle['pss_mb']:.0f} MB")
        rounds(items, servers, n_rounds, seconds, args.connections, say=_say)
        t0 = time.monotonic()
        lat = latency(servers, lat_n)
        _say(f"  latency done ({time.monotonic() - t0:.0f} s)")
        after = {k: v for k, v in tree_memory(servers["gateway"].pid).items() if k != "processes"}
        info_log = workdir / "gateway_info.log"
        meta["info_log_bytes"] = info_log.stat().st_size if info_log.exists() else 0
    finally:
        stop_servers(servers.values())
    shutil.rmtree(workdir, ignore_errors=True)
    bulk_figures = None
    if not args.no_bulk:
        _say(f"bulk jobs: {args.bulk_vendor}, {', '.join(map(str, sizes))} rows")
        bulk_figures = {"vendor": args.bulk_vendor, "peak_rss_process": bulk.WORKER_PROCESS,
                        "sizes": bulk.measure(sizes, args.bulk_vendor, say=_say)}
    meta["duration_seconds"] = round(time.monotonic() - started, 1)
    if args.only:
        _say("--only: partial run, no summary written")
        for s in items:
            _say(f"  {s.key}: {statistics.median(s.rps):.0f} req/s, CPU {s.median_cpu()}")
        return 0
    results = summarize(items, lat, idle, after, bulk_figures, meta)
    write_json(out_path, results)
    print_report(results)
    _say(f"written to {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
