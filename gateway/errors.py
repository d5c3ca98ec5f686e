"""The one exception tree of Flowgate.

Connectors translate vendor and library failures into these classes, once; each front door maps
the tree to its wire format in one table (the SOAP fault table, the REST error handler).

    GatewayError                      500  anything we did not foresee
    ├── InvalidRequest                400  the caller sent something unusable
    │   ├── PayloadTooLarge           413
    │   └── ValidationFailed          422  a body that does not match, with one entry per problem
    ├── AuthError                     401  missing or wrong credentials
    │   └── Forbidden                 403  valid credentials, not allowed (vendor codes 436, 437)
    ├── RequestFailed                 402  valid parameters, the action failed (Flowize 402)
    ├── NotFound                      404
    ├── Conflict                      409  e.g. the key already exists
    ├── RateLimited                   429  carries ``retry_after`` seconds when known
    └── UpstreamError                 502  the vendor answered with something unusable or a 5xx
        ├── UpstreamUnavailable       503  connection refused, reset or dropped
        │   ├── CircuitOpen           503  the vendor failed too often: calls fail fast for a while
        │   └── VendorBusy            503  this process already has its share of calls in flight to it
        └── UpstreamTimeout           504  connect or read timeout (also the vendor's own 408)

Every error carries ``status`` (the HTTP status a REST caller sees), ``code`` (the vendor's error
code when there is one, e.g. 436 "Access token not valid"; else ``status``) and a message that is
safe to show: it never holds a credential.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthError",
    "CircuitOpen",
    "Conflict",
    "Forbidden",
    "GatewayError",
    "InvalidRequest",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "RequestFailed",
    "UpstreamError",
    "UpstreamTimeout",
    "UpstreamUnavailable",
    "ValidationFailed",
    "VendorBusy",
    "error_for_status",
]


class GatewayError(Exception):
    status: int = 500
    default_message = "Internal gateway error."
    #: A stable machine name for the facade's problem documents, when the class's own is too coarse
    #: (e.g. "quota_exceeded" for a RateLimited); None: the facade's table decides.
    problem_code: str | None = None

    def __init__(self, message: str | None = None, *, code: int | None = None, detail: Any = None):
        self.message = message or self.default_message
        self.code = code if code is not None else self.status
        self.detail = detail
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code}, message={self.message!r})"


class InvalidRequest(GatewayError):
    status = 400
    default_message = "The request was unacceptable."


class PayloadTooLarge(InvalidRequest):
    status = 413
    default_message = "The request body is too large."


class ValidationFailed(InvalidRequest):
    """The body does not match what the operation takes. ``errors`` lists every problem found,
    each ``{"field": ..., "reason": ...}`` or, for a row of a batch, ``{"uid": ..., "reason": ...}``
    (``{"index": n, ...}`` when the row has no uid). ``problem_code`` names the kind for machines."""

    status = 422
    default_message = "The request body is not valid."

    def __init__(self, message: str | None = None, *, errors: list[dict[str, Any]] | None = None,
                 problem_code: str = "invalid_body", **kw: Any):
        super().__init__(message, **kw)
        self.errors = list(errors or [])
        self.problem_code = problem_code


class AuthError(GatewayError):
    status = 401
    default_message = "The credentials are not correct."


class Forbidden(AuthError):
    status = 403
    default_message = "Your request is not allowed."


class RequestFailed(GatewayError):
    status = 402
    default_message = "The parameters were valid but the request failed."


class NotFound(GatewayError):
    status = 404
    default_message = "The requested resource doesn't exist."


class Conflict(GatewayError):
    status = 409
    default_message = "The request conflicts with the current state."


class RateLimited(GatewayError):
    status = 429
    default_message = "Too many requests."

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class UpstreamError(GatewayError):
    status = 502
    default_message = "The vendor answered with an error."
    #: True when the vendor surely never got the request (not called, or the connection was never
    #: made): a write that failed so was certainly not made, and may be sent again as it is.
    never_sent: bool = False


class UpstreamUnavailable(UpstreamError):
    status = 503
    default_message = "The vendor could not be reached."


class CircuitOpen(UpstreamUnavailable):
    """The vendor's circuit breaker is open; ``retry_after`` says when the next probe is due."""

    default_message = "The vendor is failing; calls to it are paused for a while."
    never_sent = True

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class VendorBusy(UpstreamUnavailable):
    """The per-vendor bulkhead is full: one slow vendor may not take every thread of the gateway."""

    default_message = "Too many calls to this vendor are in flight; try again shortly."
    never_sent = True

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kw: Any):
        super().__init__(message, **kw)
        self.retry_after = retry_after


class UpstreamTimeout(UpstreamError):
    status = 504
    default_message = "The vendor did not answer in time."


# Vendor HTTP status -> our class. Read top to bottom; anything >= 500 is UpstreamError.
_BY_STATUS: dict[int, type[GatewayError]] = {
    400: InvalidRequest,
    401: AuthError,
    402: RequestFailed,
    403: Forbidden,
    404: NotFound,
    405: InvalidRequest,
    408: UpstreamTimeout,
    409: Conflict,
    413: PayloadTooLarge,
    415: InvalidRequest,
    422: InvalidRequest,
    429: RateLimited,
}


def error_for_status(status: int, message: str | None = None, *, code: int | None = None,
                     retry_after: float | None = None) -> GatewayError:
    """Build the exception a vendor's HTTP ``status`` stands for."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = UpstreamError if status >= 500 else InvalidRequest
    if cls is RateLimited:
        return RateLimited(message, code=code, retry_after=retry_after)
    err = cls(message, code=code if code is not None else status)
    return err
