"""The exception tree's status table and the redaction helpers."""

from __future__ import annotations

import pytest

from gateway.errors import (
    AuthError,
    Conflict,
    Forbidden,
    GatewayError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RequestFailed,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
    error_for_status,
)
from gateway.redact import MASK, redact_headers, redact_text, redact_url


@pytest.mark.parametrize("status, cls", [
    (400, InvalidRequest),
    (401, AuthError),
    (402, RequestFailed),
    (403, Forbidden),
    (404, NotFound),
    (405, InvalidRequest),
    (408, UpstreamTimeout),
    (409, Conflict),
    (413, PayloadTooLarge),
    (415, InvalidRequest),
    (418, InvalidRequest),
    (422, InvalidRequest),
    (429, RateLimited),
    (500, UpstreamError),
    (501, UpstreamError),
    (502, UpstreamError),
    (503, UpstreamError),
    (504, UpstreamError),
])
def test_error_for_status_maps_vendor_status_to_class(status, cls):
    err = error_for_status(status, "vendor said no")
    assert type(err) is cls
    assert err.message == "vendor said no"


def test_error_for_status_keeps_the_vendor_code_on_forbidden():
    err = error_for_status(403, "Access token not valid", code=436)
    assert isinstance(err, Forbidden) and isinstance(err, AuthError)
    assert err.status == 403 and err.code == 436


def test_error_for_status_code_defaults_to_the_vendor_status():
    assert error_for_status(404).code == 404
    assert error_for_status(408).code == 408
    assert error_for_status(408).status == 504


def test_error_for_status_429_carries_retry_after():
    err = error_for_status(429, retry_after=30.0)
    assert isinstance(err, RateLimited)
    assert err.retry_after == 30.0 and err.status == 429 and err.code == 429


def test_error_without_message_uses_the_class_default():
    assert error_for_status(404).message == NotFound.default_message
    assert str(UpstreamTimeout()) == UpstreamTimeout.default_message


def test_tree_shape():
    assert issubclass(UpstreamTimeout, UpstreamError) and issubclass(UpstreamUnavailable, UpstreamError)
    assert issubclass(PayloadTooLarge, InvalidRequest)
    for cls in (InvalidRequest, AuthError, RequestFailed, NotFound, Conflict, RateLimited, UpstreamError):
        assert issubclass(cls, GatewayError)
    assert (UpstreamUnavailable.status, UpstreamTimeout.status, UpstreamError.status) == (503, 504, 502)


# -- redact_url ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["api_key", "client_secret", "access_token", "API_KEY", "refresh_token"])
def test_redact_url_masks_secret_parameters(name):
    redacted = redact_url(f"https://api.example.test/v1/record?uuid=r1&{name}=TOPSECRET&app_key=demo-app")
    assert "TOPSECRET" not in redacted
    assert f"{name}={MASK}" in redacted
    assert "uuid=r1" in redacted and "app_key=demo-app" in redacted
    assert redacted.startswith("https://api.example.test/v1/record?")


def test_redact_url_masks_user_and_password():
    redacted = redact_url("https://alice:hunter2@api.example.test:8443/v1/x?a=1")
    assert "hunter2" not in redacted and "alice" not in redacted
    assert redacted == f"https://{MASK}@api.example.test:8443/v1/x?a=1"


def test_redact_url_leaves_a_clean_url_alone():
    url = "http://127.0.0.1:8081/v1/record?uuid=demo-record"
    assert redact_url(url) == url


def test_redact_text_masks_urls_inside_log_lines():
    line = "Incremented Retry for (url='/v1/record?uuid=x&api_key=TOPSECRET'): Retry(total=0)"
    assert redact_text(line) == f"Incremented Retry for (url='/v1/record?uuid=x&api_key={MASK}'): Retry(total=0)"


# -- redact_headers --------------------------------------------------------------------------------------
def test_redact_headers_masks_credentials_and_keeps_the_rest():
    headers = {"Authorization": "Bearer abc", "X-Apikey": "k", "client_secret": "s", "client_id": "demo",
               "Content-Type": "application/json", "X-Request-Id": "r1"}
    redacted = redact_headers(headers)
    assert redacted["Authorization"] == redacted["X-Apikey"] == redacted["client_secret"] == MASK
    assert redacted["Content-Type"] == "application/json"
    assert redacted["X-Request-Id"] == "r1"
    assert redacted["client_id"] == "demo"


def test_redact_headers_is_case_insensitive_and_takes_pairs():
    redacted = redact_headers([("authorization", "Bearer abc"), ("x-apikey", "k"), ("Accept", "application/xml")])
    assert redacted == {"authorization": MASK, "x-apikey": MASK, "Accept": "application/xml"}
