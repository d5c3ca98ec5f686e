"""Store-and-forward for Flowize writes: what :class:`~gateway.operations.flowize.FlowizeOperations`
does when the outbox is on for an operation (``GATEWAY_OUTBOX``; docs/outbox.md).

    earlier writes of the record still undelivered  ->  queue behind them (order per record)
    otherwise                                        ->  the live call
        the vendor answered (2xx, or a 4xx refusal)  ->  that answer, as without the outbox
        the vendor was unavailable (UpstreamError)   ->  commit an entry, wake the deliverer, answer 202

Protocol-neutral like the operations: the answer is an :class:`Outcome` with status 202 and the
outbox id; each front door renders it. What goes into the store (the payload as JSON, the upstream
credentials and a webhook's uri sealed) is written and read back here, in one place, so the
worker (``gateway/jobs/outbox.py``) sends exactly what the live call would have sent.

Webhooks have no idempotency key at Flowize (the doc's webhook section takes only the uri and the
payload), so a webhook is queued only when Flowize surely did not take it: the call was never made
(circuit open, bulkhead full, connection refused) or Flowize answered 5xx. After a timeout or a
connection dropped mid-request it may have been stored: the client is told so (504/503), and
re-sending is its decision, not ours.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from gateway.config import Settings
from gateway.credentials import FlowizeCredentials
from gateway.errors import GatewayError, UpstreamError
from gateway.observe import request_id_var
from gateway.operations.outcome import Outcome
from gateway.store.crypto import SecretBox
from gateway.store.outbox import OutboxRepository

__all__ = ["Delivery", "Outbox", "backoff", "never_sent", "open_delivery", "queueable", "queued_outcome", "safe_error",
           "write_summary"]

log = logging.getLogger("gateway.outbox")

VENDOR = "flowize"


@dataclass(frozen=True)
class Delivery:
    """One queued write, read back from the store: everything the vendor call needs."""

    operation: str
    payload: dict[str, Any]
    credentials: FlowizeCredentials | None
    uri: str | None = None   # webhooks: the uri is the secret, kept sealed

    @property
    def uuid(self) -> str | None:
        return self.payload.get("uuid")

    def webhook_body(self) -> bytes:
        return base64.b64decode(self.payload["body_b64"])


def never_sent(exc: BaseException) -> bool:
    """True when the vendor surely never received the request: the gateway did not call it (circuit
    open, bulkhead full) or the connection was never made (refused, connect timeout)."""
    return isinstance(exc, UpstreamError) and exc.never_sent


def vendor_refused_with_5xx(exc: GatewayError) -> bool:
    """The vendor answered, with a server error: it says it did not do the write."""
    return type(exc) is UpstreamError


def queueable(operation: str, exc: BaseException) -> bool:
    """Whether a live call that raised ``exc`` is queued (docs/outbox.md, "What is queued")."""
    if not isinstance(exc, UpstreamError):
        return False   # 4xx answers (RateLimited included) are the vendor's answer, never queued
    if operation != "webhook":
        return True    # the record's uuid makes a second sending harmless
    return never_sent(exc) or vendor_refused_with_5xx(exc)


def safe_error(exc: BaseException, secret: str | None = None) -> str:
    """One line for the audit trail and the admin API: the error's class and its message (which the
    exception tree keeps free of credentials), a webhook's uri masked."""
    message = exc.message if isinstance(exc, GatewayError) else "unexpected error"
    text = f"{type(exc).__name__}: {message}"
    if secret:
        text = text.replace(quote(secret, safe=""), "***").replace(secret, "***")
    return text


def backoff(settings: Settings, attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones: doubled each time, capped."""
    return min(settings.outbox_backoff_max, settings.outbox_backoff * (2 ** max(0, attempts - 1)))


def _record_key(uuid: str) -> str:
    return f"record:{uuid}"


def _webhook_key(uri: str) -> str:
    # The uri is the webhook's secret: the key (shown to operators) is a digest of it.
    return "webhook:" + hashlib.sha256(uri.encode("utf-8")).hexdigest()[:32]


class Outbox:
    def __init__(self, settings: Settings, repo: OutboxRepository, box: SecretBox,
                 wake: Callable[[float], None] | None = None):
        self.settings = settings
        self.repo = repo
        self.box = box
        self.operations = settings.outbox_operations()
        self._wake = wake

    def enabled(self, operation: str) -> bool:
        return operation in self.operations

    # -- the three writes ------------------------------------------------------------------------
    def insert(self, creds: FlowizeCredentials, payload: dict[str, Any], live: Callable[[], Outcome]) -> Outcome:
        uuid = payload["uuid"]
        return self._submit("insertRecord", _record_key(uuid), payload, creds, None, uuid, live)

    def update(self, creds: FlowizeCredentials, uuid: str, data: Any, live: Callable[[], Outcome]) -> Outcome:
        return self._submit("updateRecord", _record_key(uuid), {"uuid": uuid, "data": data}, creds, None, uuid, live)

    def webhook(self, uri: str, body: bytes, content_type: str, live: Callable[[], Outcome]) -> Outcome:
        payload = {"body_b64": base64.b64encode(body).decode("ascii"), "content_type": content_type}
        return self._submit("webhook", _webhook_key(uri), payload, None, uri, None, live)

    def _submit(self, operation: str, key: str, payload: dict[str, Any], creds: FlowizeCredentials | None,
                uri: str | None, uuid: str | None, live: Callable[[], Outcome]) -> Outcome:
        if not self.enabled(operation):
            return live()
        if self.repo.has_undelivered(key):
            # Sent now, it could overtake them: a queued insert would come after this update.
            return self._queue(operation, key, payload, creds, uri, uuid, None)
        try:
            return live()
        except UpstreamError as exc:
            if not queueable(operation, exc):
                raise
            try:
                return self._queue(operation, key, payload, creds, uri, uuid, exc)
            except Exception:
                # Not queued: the client must hear the vendor's failure, not a 202.
                log.exception("%s could not be queued; answering the vendor's failure", operation)
                raise exc from None

    def _queue(self, operation: str, key: str, payload: dict[str, Any], creds: FlowizeCredentials | None,
               uri: str | None, uuid: str | None, exc: UpstreamError | None) -> Outcome:
        sealed = self.box.seal(json.dumps({"credentials": dataclasses.asdict(creds) if creds else None, "uri": uri}))
        if exc is None:
            due, error = time.time(), None
            detail = "queued behind earlier undelivered writes of the same record"
        else:
            due, error = time.time() + self.settings.outbox_backoff, safe_error(exc, uri)
            detail = f"Flowize unavailable on the live call: {error}"
        entry_id = self.repo.add(operation=operation, vendor=VENDOR, ordering_key=key,
                                 payload=json.dumps(payload, separators=(",", ":")), credentials=sealed,
                                 idempotency_key=uuid, next_attempt_at=due, last_error=error,
                                 request_id=request_id_var.get(), actor="gateway", detail=detail)
        self.wake(max(0.0, due - time.time()))
        log.info("%s queued as outbox entry %d (%s)", operation, entry_id, "behind earlier writes" if exc is None
                 else type(exc).__name__, extra={"event": "outbox", "entry_id": entry_id, "operation": operation,
                                                 "outcome": "queued", "attempts": 0})
        return queued_outcome(entry_id, operation, uuid, behind=exc is None)

    def wake(self, delay: float = 0.0) -> None:
        """Tell the deliverer; a lost wake-up only delays delivery until the worker's sweep."""
        if self._wake is None:
            return
        try:
            self._wake(delay)
        except Exception:  # the entry is committed: the worker's sweep finds it
            log.warning("could not wake the outbox deliverer; the worker's sweep will", exc_info=True)


def open_delivery(box: SecretBox, operation: str, payload: str, sealed: str | None) -> Delivery:
    """An entry's payload and sealed secrets as a :class:`Delivery` (raises SecretBoxError when the
    store was written with another key)."""
    secrets = json.loads(box.open(sealed) or "{}") if sealed else {}
    creds = secrets.get("credentials")
    return Delivery(operation, json.loads(payload), FlowizeCredentials(**creds) if creds else None, secrets.get("uri"))


def write_summary(operation: str, payload: str) -> dict[str, Any]:
    """What a queued write is, for operators: never its data, credentials or a webhook's uri."""
    try:
        values = json.loads(payload)
    except ValueError:
        return {}
    if operation == "webhook":
        return {"content_type": values.get("content_type"),
                "body_bytes": len(base64.b64decode(values.get("body_b64") or ""))}
    out: dict[str, Any] = {"uuid": values.get("uuid"),
                           "data_bytes": len(json.dumps(values.get("data"), separators=(",", ":")).encode("utf-8"))}
    if operation == "insertRecord":
        out.update(flow=values.get("flow"), flow_id=values.get("flow_id"), execution_time=values.get("execution_time"),
                   uuid_made_by_gateway=bool(values.get("generated_uuid")))
    return out


def queued_outcome(entry_id: int, operation: str, uuid: str | None, *, behind: bool) -> Outcome:
    if behind:
        message = ("Accepted: earlier writes of this record are waiting for delivery; this one is queued behind "
                   f"them (outbox entry {entry_id}")
    else:
        message = f"Accepted: Flowize is unavailable; the write is queued for delivery (outbox entry {entry_id}"
    message += f", record Uuid {uuid})." if operation == "insertRecord" and uuid else ")."
    resource: dict[str, Any] = {"outbox_id": entry_id, "state": "pending", "operation": operation}
    if uuid is not None:
        resource["uuid"] = uuid
    return Outcome(202, message, resource, {"resource": resource, "message": message})

