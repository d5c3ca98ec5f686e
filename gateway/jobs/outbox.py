"""The outbox deliverer: what ``flowgate worker`` runs on the "flowgate.outbox.deliver" wake-up call.

A run takes the due entries one at a time — each the earliest undelivered write of its record, so
writes of one record reach the vendor in the order they were accepted — sends each as the live call
would have, and writes the outcome (docs/outbox.md):

    answer                                         entry
    2xx                                            delivered
    409 to an insert, for its own uuid             delivered: an earlier attempt made it (the vendor
                                                   keeps one record per uuid); a uuid the client chose
                                                   is read back, and must hold this very data
    vendor unavailable (5xx, timeout, refused,     pending again, after a capped exponential backoff;
      circuit open, 429)                           dead after outbox_max_attempts / outbox_max_age
    a webhook that may have been stored            dead, "unconfirmed": no idempotency key to check,
      (timeout, connection lost mid-request)       so an operator decides (retry or drop)
    any other refusal (4xx)                        dead, with the vendor's reason

Crash safety: an entry is ``delivering`` under a lease before the vendor is called. A worker killed
at any point leaves the lease; at the next start (same machine) or once it runs out (another
machine) the entry is sent again — a second insert with the same X-Uuid is a 409, a second PUT of
the same data the same update, and later writes of the record wait behind it all along. A run holds
the lease for at most 80 % of its length per vendor call (the request deadline), so a slow call
never outlives it and two workers never send one record's writes side by side.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from gateway.config import Settings
from gateway.connectors.flowize import FlowizeConnector
from gateway.errors import CircuitOpen, Conflict, GatewayError, RateLimited, UpstreamError, VendorBusy
from gateway.http import deadline_var
from gateway.jobs.engine import OutboxRunner, owner_is_dead_here, worker_owner
from gateway.observe import request_id_var
from gateway.operations.outbox import Delivery, backoff, open_delivery, queueable, safe_error
from gateway.store.crypto import SecretBox, SecretBoxError
from gateway.store.outbox import Entry, OutboxRepository

__all__ = ["OutboxDeliverer"]

log = logging.getLogger("gateway.outbox")

#: A run stops after this many vendor failures in a row: the vendor is likely down, and the other
#: due entries wait for the next wake-up instead of each paying for a failing call now.
STOP_AFTER_FAILURES = 3


@dataclass(frozen=True)
class _Failure:
    """The vendor failed (not the write): the entry is tried again in ``delay`` seconds."""

    delay: float
    circuit_open: bool = False


class OutboxDeliverer(OutboxRunner):
    def __init__(self, settings: Settings, repo: OutboxRepository, connector: FlowizeConnector, box: SecretBox,
                 *, owner: str | None = None):
        self.settings = settings
        self.repo = repo
        self.connector = connector
        self.box = box
        self.owner = owner or worker_owner()
        # Longer than any one vendor call can take (each is held to 80 % of it, below).
        self.lease = max(settings.jobs_lease_seconds,
                         2 * (settings.http_connect_timeout + settings.http_read_timeout))

    # -- the engine's hooks -------------------------------------------------------------------------
    def run(self, fan: bool, spawn: Callable[[int], None]) -> tuple[bool, float | None]:
        deadline = time.monotonic() + self.settings.jobs_step_seconds
        if fan:
            due = len(self.repo.due(self.settings.jobs_workers))
            if due > 1:
                spawn(due - 1)
        holder = f"{self.owner}:{uuid.uuid4().hex[:8]}"   # one per run: two threads never share an entry
        failures = 0
        while time.monotonic() < deadline:
            entry = self.repo.claim_next(holder, self.lease)
            if entry is None:
                return False, self.repo.next_due_in()
            outcome = self.deliver(entry, holder)
            if not isinstance(outcome, _Failure):
                failures = 0
                continue
            failures += 1
            if failures >= STOP_AFTER_FAILURES or outcome.circuit_open:
                return False, outcome.delay
        return True, None

    def sweep(self) -> bool:
        self.repo.unpark_heads()
        freed = self.repo.release_dead(owner_is_dead_here)
        if freed:
            log.info("outbox: %d entr%s of a dead worker taken back", freed, "y" if freed == 1 else "ies")
        return self.repo.next_due_in() is not None

    # -- one entry --------------------------------------------------------------------------------
    def deliver(self, entry: Entry, holder: str) -> _Failure | None:
        """Send one claimed entry and write its outcome; a :class:`_Failure` when the vendor failed."""
        request_id_var.set(entry.request_id)
        token = deadline_var.set(time.monotonic() + 0.8 * self.lease)
        try:
            try:
                delivery = open_delivery(self.box, entry.operation, entry.payload, entry.credentials)
                if delivery.credentials is None and entry.operation != "webhook":
                    raise ValueError("the entry has no credentials")
            except (SecretBoxError, ValueError, TypeError, KeyError) as exc:
                self.repo.dead(entry.id, holder, f"the entry cannot be read back: {exc}", counted=False)
                return None
            try:
                detail = self._send(delivery)
            except GatewayError as exc:
                return self._failed(entry, holder, delivery, exc)
            except Exception as exc:  # a bug of ours must not lose the write: try again later
                log.exception("outbox entry %d: unexpected error", entry.id)
                delay = backoff(self.settings, entry.attempts + 1)
                self.repo.retry_later(entry.id, holder, f"unexpected gateway error ({type(exc).__name__}); "
                                      "trying again", delay)
                return None
            if self.repo.delivered(entry.id, holder, detail):
                log.info("outbox entry %d (%s) delivered: %s", entry.id, entry.operation, detail,
                         extra={"event": "outbox", "entry_id": entry.id, "operation": entry.operation,
                                "outcome": "delivered", "attempts": entry.attempts + 1})
            return None
        finally:
            deadline_var.reset(token)
            request_id_var.set(None)

    def _send(self, delivery: Delivery) -> str:
        """The vendor call the live one would have made; what happened, for the audit trail."""
        p = delivery.payload
        if delivery.operation == "webhook":
            assert delivery.uri is not None
            self.connector.webhook(delivery.uri, delivery.webhook_body(), p.get("content_type") or "application/json")
            return "Flowize stored the webhook"
        creds = delivery.credentials
        assert creds is not None
        if delivery.operation == "updateRecord":
            self.connector.update_record(creds, p["uuid"], p["data"])
            return "Flowize updated the record"
        try:
            self.connector.insert_record(creds, p.get("flow") or "", p["data"], uuid=p["uuid"],
                                         execution_time=p.get("execution_time"), flow_id=p.get("flow_id"))
            return "Flowize made the record"
        except Conflict:
            if p.get("generated_uuid"):
                # Only we knew this uuid: an earlier attempt (live or ours) made the record.
                return "Flowize already had the record: an earlier attempt made it (409 for its own Uuid)"
        # The client chose this uuid: the record Flowize holds must be this write, not another one.
        found = self.connector.get_record(creds, p["uuid"]).resource
        if isinstance(found, dict) and found.get("data_record") == p["data"]:
            return "Flowize already had the record with this data: an earlier attempt made it"
        raise Conflict(f"Flowize already holds another record with Uuid {p['uuid']} (different data).")

    def _failed(self, entry: Entry, holder: str, delivery: Delivery, exc: GatewayError) -> _Failure | None:
        error = safe_error(exc, delivery.uri)
        if not isinstance(exc, (UpstreamError, RateLimited)):
            self.repo.dead(entry.id, holder, f"Flowize refused it: {error}")
            log.warning("outbox entry %d (%s) is a dead letter: %s", entry.id, entry.operation, error,
                        extra={"event": "outbox", "entry_id": entry.id, "operation": entry.operation,
                               "outcome": "dead", "attempts": entry.attempts + 1})
            return None
        # Not counted: the gateway did not call the vendor at all (its circuit is open, or busy).
        counted = not isinstance(exc, (CircuitOpen, VendorBusy))
        attempts = entry.attempts + (1 if counted else 0)
        delay = max(backoff(self.settings, max(attempts, 1)), float(getattr(exc, "retry_after", None) or 0.0))
        failure = _Failure(delay, isinstance(exc, CircuitOpen))
        reason = self._give_up(entry, delivery, exc, attempts)
        if reason is not None:
            self.repo.dead(entry.id, holder, f"{reason}: {error}", counted=counted)
            log.warning("outbox entry %d (%s) is a dead letter: %s: %s", entry.id, entry.operation, reason, error,
                        extra={"event": "outbox", "entry_id": entry.id, "operation": entry.operation,
                               "outcome": "dead", "attempts": attempts})
        else:
            self.repo.retry_later(entry.id, holder, error, delay, counted=counted)
            log.info("outbox entry %d (%s) not delivered: %s; next try in %.1f s", entry.id, entry.operation, error,
                     delay, extra={"event": "outbox", "entry_id": entry.id, "operation": entry.operation,
                                   "outcome": "retry", "attempts": attempts})
        return failure

    def _give_up(self, entry: Entry, delivery: Delivery, exc: GatewayError, attempts: int) -> str | None:
        if delivery.operation == "webhook" and not queueable("webhook", exc):
            return ("unconfirmed: Flowize may have stored this webhook, and webhooks have no idempotency key; "
                    "retry to send it again (it may then be stored twice) or drop it")
        limit = self.settings.outbox_max_attempts
        if limit and attempts >= limit:
            return f"gave up after {attempts} attempts"
        age = time.time() - entry.created_at
        if self.settings.outbox_max_age and age >= self.settings.outbox_max_age:
            return f"gave up after {age:.0f} s (GATEWAY_OUTBOX_MAX_AGE)"
        return None

