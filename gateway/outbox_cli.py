"""``flowgate outbox list|show|retry|drop``: the store-and-forward outbox from a terminal (docs/outbox.md).

Like ``flowgate consumer``, it works on the settings' database directly (an operator on a machine of
the deployment, where the gateway's settings are), not through the HTTP API: it still works when the
gateway does not answer. Changes are audited as ``cli:<user>`` (the operating-system user), and a
retried or dropped entry wakes the deliverer through the task queue (else the worker's minute sweep
finds it).

    flowgate outbox list [--state dead] [--limit 50] [--json]
    flowgate outbox show ID [--json]
    flowgate outbox retry ID        a dead letter back to pending, due now
    flowgate outbox drop ID         a pending or dead entry is given up, never delivered
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gateway.config import Settings

if TYPE_CHECKING:  # the store is imported when a command runs: `flowgate serve` parses its line too
    from gateway.store.outbox import Entry, OutboxRepository

__all__ = ["add_parser", "cmd_outbox"]


def _actor() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name (a container's anonymous uid)
        user = "unknown"
    return f"cli:{user}"


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _as_dict(entry: Entry) -> dict[str, Any]:
    from gateway.operations.outbox import write_summary
    from gateway.store.outbox import PARKED

    return {"id": entry.id, "operation": entry.operation, "vendor": entry.vendor, "key": entry.ordering_key,
            "state": entry.state, "attempts": entry.attempts,
            "next_attempt_at": (_iso(entry.next_attempt_at)
                                if entry.state == "pending" and entry.next_attempt_at < PARKED else None),
            "last_error": entry.last_error, "idempotency_key": entry.idempotency_key,
            "request_id": entry.request_id, "created_at": _iso(entry.created_at),
            "delivered_at": _iso(entry.delivered_at), "write": write_summary(entry.operation, entry.payload)}


def _wake(settings: Settings) -> None:
    try:
        from gateway.jobs.engine import JobEngine

        JobEngine(settings).wake_outbox()
    except Exception as exc:  # noqa: BLE001 - the change is committed; the sweep finds it within a minute
        print(f"flowgate: could not wake the worker ({type(exc).__name__}); it will find the entry within a minute",
              file=sys.stderr)


def cmd_outbox(args: argparse.Namespace) -> int:
    from gateway.store import Store
    from gateway.store.outbox import OutboxRepository

    settings = Settings.load()
    store = Store(settings.effective_database_url)
    try:
        store.migrate()
        repo = OutboxRepository(store)
        if args.action == "list":
            return _list(repo, args)
        if args.id is None:
            print(f"flowgate: outbox {args.action} needs an entry id", file=sys.stderr)
            return 2
        entry = repo.get(args.id)
        if entry is None:
            print(f"flowgate: no outbox entry {args.id}", file=sys.stderr)
            return 1
        if args.action == "show":
            return _show(repo, entry, args)
        done = repo.retry(entry.id, _actor()) if args.action == "retry" else repo.drop(entry.id, _actor())
        if not done:
            allowed = "a dead letter" if args.action == "retry" else "a pending or dead entry"
            print(f"flowgate: outbox entry {entry.id} is {entry.state}: only {allowed} can be "
                  f"{'retried' if args.action == 'retry' else 'dropped'}", file=sys.stderr)
            return 1
        _wake(settings)
        after = repo.get(entry.id)
        print(f"outbox entry {entry.id}: {entry.state} -> {after.state if after else '?'}")
        return 0
    finally:
        store.dispose()


def _list(repo: OutboxRepository, args: argparse.Namespace) -> int:
    from gateway.store.outbox import STATES, UNDELIVERED

    states = tuple(s.strip() for s in (args.state or ",".join(UNDELIVERED)).split(",") if s.strip())
    unknown = [s for s in states if s not in STATES]
    if unknown or not states:
        print(f"flowgate: --state takes {', '.join(STATES)} (comma-separated)", file=sys.stderr)
        return 2
    entries = repo.page(states, args.limit)
    if args.json:
        print(json.dumps({"items": [_as_dict(e) for e in entries], "counts": repo.counts()}, indent=2))
        return 0
    print("ID\tOPERATION\tSTATE\tATTEMPTS\tKEY\tLAST ERROR")
    for e in entries:
        print(f"{e.id}\t{e.operation}\t{e.state}\t{e.attempts}\t{e.ordering_key}\t{(e.last_error or '')[:120]}")
    counts = repo.counts()
    print("\n" + ", ".join(f"{state} {counts.get(state, 0)}" for state in STATES), file=sys.stderr)
    return 0


def _show(repo: OutboxRepository, entry: Entry, args: argparse.Namespace) -> int:
    events = [{"at": _iso(ev.at), "action": ev.action, "actor": ev.actor, "detail": ev.detail}
              for ev in repo.events(entry.id)]
    if args.json:
        print(json.dumps({**_as_dict(entry), "events": events}, indent=2))
        return 0
    for name, value in _as_dict(entry).items():
        print(f"{name:16} {json.dumps(value) if isinstance(value, dict) else value}")
    print("events:")
    for ev in events:
        print(f"  {ev['at']}  {ev['action']:15} {ev['actor']}: {ev['detail']}")
    return 0


def add_parser(sub: Any) -> None:
    """Add ``outbox`` to ``flowgate``'s subparsers."""
    outbox = sub.add_parser("outbox", help="the store-and-forward outbox: list, show, retry or drop entries",
                            description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    outbox.add_argument("action", choices=("list", "show", "retry", "drop"))
    outbox.add_argument("id", nargs="?", type=int, help="the entry's id (show, retry, drop)")
    outbox.add_argument("--state", help="list: states to show, comma-separated (pending, delivering, delivered, "
                                        "dead, dropped); default pending,delivering,dead")
    outbox.add_argument("--limit", type=int, default=100, help="list: at most this many entries (default 100)")
    outbox.add_argument("--json", action="store_true", help="JSON instead of a table")
    outbox.set_defaults(func=cmd_outbox)
