"""What an operation answers, whichever door asked: the vendor's status, message, resource and body.

Its own module because both the operations and the outbox that queues their writes make one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.connectors.flowize import FlowizeResponse

__all__ = ["Outcome"]


@dataclass(frozen=True)
class Outcome:
    """What the vendor answered: HTTP status, message, the resource and the whole body."""

    status: int
    message: str
    resource: Any
    body: Any

    @classmethod
    def of(cls, response: FlowizeResponse) -> Outcome:
        return cls(response.status, response.message, response.resource, response.body)
