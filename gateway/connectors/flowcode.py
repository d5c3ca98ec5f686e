"""The Flowcode connector: flowcode-bulk-codes.txt ("Option 1" and "Option 2") plus the code
endpoints it points to (fetch, update destination, image).

Retries, per call (the HttpClient does them; see ``retry=`` below):

* reads (GET a code, its image, a bulk task's status) are retried: idempotent;
* ``update_destination`` (PATCH) is retried: setting the same destination twice is the same state;
* ``create_code`` and ``bulk_create`` (POST) are not: Flowcode does not deduplicate them. With
  ``folder_id`` + ``code_name`` a replay would come back 409 for a code that was in fact created,
  so a caller needing exactly-once should treat :class:`Conflict` as "look it up".

Vendor errors (``{"message", "errors"}``, see the sandbox's ``wire.py``) become the exception tree
here, once; a bulk task that ends in FAILURE is :class:`RequestFailed` with the vendor's message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from gateway.config import Settings
from gateway.connectors.common import body_message, json_or_none, segment, vendor_error
from gateway.errors import (
    GatewayError,
    RateLimited,
    RequestFailed,
    UpstreamError,
    UpstreamTimeout,
)
from gateway.http import HttpClient

__all__ = ["FILE_TYPES", "SYNC_LIMIT", "BulkCreation", "FlowcodeConnector", "destination"]

FILE_TYPES = ("JPG", "PNG", "SVG", "PDF", "TIFF")
SYNC_LIMIT = 50   # "If creating 50 codes or less in bulk, you will receive a 201 status code"


def destination(destination_type: str, **redirect_value: Any) -> dict[str, Any]:
    """``destination("SMS", phone_number="1234567890", body="hi")`` -> the doc's destination object."""
    return {"destination_type": destination_type, "redirect_value": redirect_value}


@dataclass
class BulkCreation:
    """The answer to POST /v4/codes/bulk: the codes (201, <= 50) or a task to poll (202, > 50)."""

    status: int
    codes: list[dict[str, Any]] = field(default_factory=list)
    task_id: str | None = None

    @property
    def is_async(self) -> bool:
        return self.task_id is not None


class FlowcodeConnector:
    def __init__(self, http: HttpClient, base_url: str, api_key: str, *,
                 sleep: Callable[[float], None] = time.sleep):
        self.http = http
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._sleep = sleep

    @classmethod
    def from_settings(cls, http: HttpClient, settings: Settings) -> FlowcodeConnector:
        return cls(http, settings.flowcode_base_url, settings.flowcode_api_key)

    def __repr__(self) -> str:
        return f"FlowcodeConnector({self.base_url})"  # never the api key

    # -- plumbing --------------------------------------------------------------------------------
    def _send(self, method: str, path: str, *, body: Any = None, params: Mapping[str, Any] | None = None,
              retry: bool | None = None) -> requests.Response:
        headers = {"apikey": self._api_key, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        response = self.http.send(method, self.base_url + path, headers=headers, params=params, json=body,
                                  retry=retry, vendor="flowcode")
        if response.status_code >= 400:
            raise _error(response)
        return response

    @staticmethod
    def _json(response: requests.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise UpstreamError(f"Flowcode answered {response.status_code} with a body that is not JSON.") from None

    # -- Option 1: one code per call ----------------------------------------------------------------
    def create_code(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST /v4/codes -> the created code (201). Not retried (see the module docstring)."""
        return self._json(self._send("POST", "/v4/codes", body=dict(payload), retry=False))

    def get_code(self, code_id: str) -> dict[str, Any]:
        """GET /v4/codes/{code_id}."""
        return self._json(self._send("GET", f"/v4/codes/{segment(code_id, 'The code id')}"))

    def update_destination(self, code_id: str, new_destination: Mapping[str, Any]) -> dict[str, Any]:
        """PATCH /v4/codes/{code_id} with a new scan destination; retried, as it is idempotent."""
        return self._json(self._send("PATCH", f"/v4/codes/{segment(code_id, 'The code id')}",
                                     body={"destination": dict(new_destination)}, retry=True))

    def code_image(self, code_id: str, file_type: str | None = None) -> tuple[bytes, str]:
        """GET /v4/codes/{code_id}/image: (the file, its content type), in the code's file type or another."""
        params = {"file_type": file_type} if file_type else None
        response = self._send("GET", f"/v4/codes/{segment(code_id, 'The code id')}/image", params=params)
        return response.content, response.headers.get("Content-Type", "application/octet-stream")

    # -- Option 2: bulk -----------------------------------------------------------------------------
    def bulk_create(self, payloads: Sequence[Mapping[str, Any]]) -> BulkCreation:
        """POST /v4/codes/bulk with the whole array (the doc's snippet posts ``payload`` by mistake).
        <= 50 codes: 201 and the codes; > 50: 202 and a task_id. Not retried."""
        response = self._send("POST", "/v4/codes/bulk", body=[dict(p) for p in payloads], retry=False)
        body = self._json(response)
        if response.status_code == 202:
            if not isinstance(body, dict) or not isinstance(body.get("task_id"), str):
                raise UpstreamError("Flowcode accepted the bulk request but sent no task_id.")
            return BulkCreation(202, task_id=body["task_id"])
        if not isinstance(body, list):
            raise UpstreamError("Flowcode created the bulk codes but did not list them.")
        return BulkCreation(response.status_code, codes=body)

    def bulk_status(self, task_id: str) -> dict[str, Any]:
        """GET /v4/codes/bulk/{task_id}/status -> ``{"status", "message", ...}``."""
        body = self._json(self._send("GET", f"/v4/codes/bulk/{segment(task_id, 'The task id')}/status"))
        if not isinstance(body, dict) or "status" not in body:
            raise UpstreamError("Flowcode's bulk status has no status.")
        return body

    def wait_for_bulk(self, task_id: str, *, interval: float = 10.0, max_wait: float = 3600.0) -> dict[str, Any]:
        """Poll until SUCCESS (returned) or FAILURE (raised as RequestFailed); the doc sleeps 10 s
        between checks. Transient errors while polling are waited out, up to ``max_wait`` seconds."""
        waited = 0.0
        while True:
            try:
                status = self.bulk_status(task_id)
            except (UpstreamError, RateLimited):
                if waited >= max_wait:
                    raise
            else:
                if status["status"] == "FAILURE":
                    raise RequestFailed(f"Flowcode bulk task failed: {status.get('message') or 'no message'}",
                                        detail=status)
                if status["status"] == "SUCCESS":
                    return status
            if waited >= max_wait:
                raise UpstreamTimeout(f"Flowcode bulk task {task_id} still not finished after {max_wait:g} s.")
            self._sleep(interval)
            waited += interval

    def create_codes(self, payloads: Sequence[Mapping[str, Any]], *, interval: float = 10.0,
                     max_wait: float = 3600.0) -> list[dict[str, Any]]:
        """Bulk create and, when asynchronous, wait: the created codes either way."""
        created = self.bulk_create(payloads)
        if not created.is_async:
            return created.codes
        return list(self.wait_for_bulk(created.task_id or "", interval=interval, max_wait=max_wait).get("codes", []))


def _error(response: requests.Response) -> GatewayError:
    """``{"message": "...", "errors": [{"field", "message"}]}`` -> the exception tree."""
    body = json_or_none(response)
    return vendor_error("Flowcode", response.status_code, body_message(body), response.headers,
                        detail=body.get("errors") if isinstance(body, dict) else None)
