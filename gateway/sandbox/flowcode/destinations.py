"""Flowcode scan destinations: the table of flowcode-bulk-codes.txt, "Prerequisites" item 5.

Each destination type has its protocol (``sms:``, ``tel:``, ``mailto:``, ``venmo://``, ``WIFI:``),
required and optional params. A destination arrives as
``{"destination_type": "SMS", "redirect_value": {"phone_number": "1234567890", "body": "hi"}}``, or,
with the protocol string already built, ``{"destination_type": "SMS", "redirect_value": {"value":
"sms:1234567890;?&body=hi"}}``. Either way it is validated, normalised to the params, and rebuilt
as the exact string of the doc's Example column: that string is what the QR code encodes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, unquote, urlsplit

__all__ = ["DESTINATION_TYPES", "Destination", "DestinationError", "parse_destination"]

_PHONE = re.compile(r"^\+?[0-9]{3,15}$")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_VENMO_USER = re.compile(r"^[A-Za-z0-9_-]{1,30}$")
_WIFI_SECURITY = ("WPA", "WEP", "nopass")
_MAX_TEXT = 1000


class DestinationError(ValueError):
    """A destination that does not follow the doc's table; ``field`` is its path in the payload."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Destination:
    destination_type: str
    params: dict[str, Any]
    value: str  # the protocol string, as in the doc's Example column

    def as_json(self) -> dict[str, Any]:
        return {"destination_type": self.destination_type, "redirect_value": dict(self.params)}


# -- field checks --------------------------------------------------------------------------------
def _text(params: dict[str, Any], name: str, *, required: bool, limit: int = _MAX_TEXT) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        if required:
            raise DestinationError(name, f"{name} is required")
        return None
    if not isinstance(value, str):
        raise DestinationError(name, f"{name} must be a string")
    if len(value) > limit:
        raise DestinationError(name, f"{name} is longer than {limit} characters")
    return value


def _phone(params: dict[str, Any]) -> str:
    value = _text(params, "phone_number", required=True) or ""
    if not _PHONE.match(value):
        raise DestinationError("phone_number", "phone_number must be 3 to 15 digits with an optional leading +, "
                                               "e.g. 1234567890")
    return value


def _url(params: dict[str, Any]) -> dict[str, Any]:
    value = _text(params, "url", required=True, limit=2048) or ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise DestinationError("url", "url must be an absolute http(s) URL, e.g. https://mysite.com")
    return {"url": value}


def _sms(params: dict[str, Any]) -> dict[str, Any]:
    return _drop_none({"phone_number": _phone(params), "body": _text(params, "body", required=False)})


def _tel(params: dict[str, Any]) -> dict[str, Any]:
    return {"phone_number": _phone(params)}


def _email(params: dict[str, Any]) -> dict[str, Any]:
    address = _text(params, "email_address", required=True, limit=254) or ""
    if not _EMAIL.match(address):
        raise DestinationError("email_address", "email_address must be an email address, e.g. example@email.com")
    return _drop_none({"email_address": address, "subject": _text(params, "subject", required=False),
                       "body": _text(params, "body", required=False)})


def _venmo(params: dict[str, Any]) -> dict[str, Any]:
    recipient = _text(params, "recipient", required=True) or ""
    if not _VENMO_USER.match(recipient):
        raise DestinationError("recipient", "recipient must be a Venmo username (letters, digits, - and _)")
    txn = _text(params, "txn", required=False) or "pay"
    if txn not in ("pay", "charge"):
        raise DestinationError("txn", "txn must be pay or charge")
    amount = params.get("amount")
    if amount is not None and amount != "":
        try:
            number = Decimal(str(amount)) if not isinstance(amount, bool) else Decimal("NaN")
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite() or number <= 0 or number.as_tuple().exponent < -2:  # type: ignore[operator]
            raise DestinationError("amount", "amount must be a positive number with at most 2 decimals")
        amount = str(amount)
    return _drop_none({"txn": txn, "recipient": recipient, "amount": amount or None,
                       "note": _text(params, "note", required=False, limit=280)})


def _wifi(params: dict[str, Any]) -> dict[str, Any]:
    ssid = _text(params, "ssid", required=True, limit=32) or ""
    security = params.get("security")
    if security not in _WIFI_SECURITY:
        raise DestinationError("security", f"security is required: one of {', '.join(_WIFI_SECURITY)}")
    hidden = params.get("hidden")
    if isinstance(hidden, str) and hidden.lower() in ("true", "false"):
        hidden = hidden.lower() == "true"
    if not isinstance(hidden, bool):
        raise DestinationError("hidden", "hidden is required: true or false")
    password = _text(params, "password", required=False, limit=63)
    if password and security == "nopass":
        raise DestinationError("password", "a network with security nopass takes no password")
    if security == "WPA" and password is not None and len(password) < 8:
        raise DestinationError("password", "a WPA password has 8 to 63 characters")
    return _drop_none({"ssid": ssid, "security": security, "hidden": hidden, "password": password})


# -- protocol strings, built exactly as the doc's Example column -----------------------------------
def _q(text: str) -> str:
    return quote(text, safe="")


def _wifi_escape(text: str) -> str:
    # The WIFI: syntax (ZXing's) reserves these; a ';' in a password would end the field.
    return re.sub(r'([\\;,:"])', r"\\\1", text)


def _build(kind: str, p: dict[str, Any]) -> str:
    if kind == "URL":
        return p["url"]
    if kind == "SMS":
        # ";?&body=" is odd but is what the doc's example shows; phones accept it.
        return f"sms:{p['phone_number']}" + (f";?&body={_q(p['body'])}" if p.get("body") else "")
    if kind == "PHONE":
        return f"tel:{p['phone_number']}"
    if kind == "EMAIL":
        query = "&".join(f"{k}={_q(p[k])}" for k in ("subject", "body") if p.get(k))
        return f"mailto:{p['email_address']}" + (f"?{query}" if query else "")
    if kind == "VENMO":
        query = "&".join(f"{k}={_q(str(p[k]))}" for k in ("txn", "recipient", "amount", "note") if p.get(k))
        return f"venmo://paycharge?{query}"
    fields = [f"T:{p['security']}", f"S:{_wifi_escape(p['ssid'])}"]
    if p.get("password"):
        fields.append(f"P:{_wifi_escape(p['password'])}")
    fields.append(f"H:{'true' if p['hidden'] else 'false'}")
    return "WIFI:" + "".join(f + ";" for f in fields)


def _query(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in filter(None, text.split("&")):
        key, _, val = pair.partition("=")
        out[key] = unquote(val)
    return out


def _parse_value(kind: str, value: str) -> dict[str, Any]:
    """The params of a protocol string; raises DestinationError when it is not that protocol."""
    if kind == "URL":
        return {"url": value}
    if kind == "SMS":
        m = re.fullmatch(r"sms:([^;?&]+)(?:;?\?&?(.*))?", value, re.IGNORECASE)
        if m:
            query = _query(m.group(2) or "")
            if set(query) <= {"body"}:
                return _drop_none({"phone_number": unquote(m.group(1)), "body": query.get("body")})
    elif kind == "PHONE":
        m = re.fullmatch(r"tel:(.+)", value, re.IGNORECASE)
        if m:
            return {"phone_number": unquote(m.group(1))}
    elif kind == "EMAIL":
        m = re.fullmatch(r"mailto:([^?]+)(?:\?(.*))?", value, re.IGNORECASE)
        if m:
            query = _query(m.group(2) or "")
            if set(query) <= {"subject", "body"}:
                return {"email_address": unquote(m.group(1)), **query}
    elif kind == "VENMO":
        m = re.fullmatch(r"venmo://paycharge\?(.*)", value)
        if m:
            query = _query(m.group(1))
            if set(query) <= {"txn", "recipient", "amount", "note"}:
                return query
    else:
        m = re.fullmatch(r"WIFI:(.*)", value)
        if m:
            names = {"S": "ssid", "T": "security", "P": "password", "H": "hidden"}
            fields = [f for f in re.split(r"(?<!\\);", m.group(1)) if f]
            pairs = [f.split(":", 1) for f in fields]
            if all(len(pair) == 2 and pair[0] in names for pair in pairs):
                return {names[k]: re.sub(r"\\(.)", r"\1", v) for k, v in pairs}
    raise DestinationError("value", f"value is not a {kind} destination; expected e.g. {EXAMPLES[kind]}")


EXAMPLES = {
    "URL": "https://mysite.com",
    "SMS": "sms:1234567890;?&body=hello%20world",
    "PHONE": "tel:1234567890",
    "EMAIL": "mailto:example@email.com?subject=test&body=hello%20world",
    "VENMO": "venmo://paycharge?txn=pay&recipient=john-doe&amount=10&note=testing",
    "WIFI": "WIFI:T:WPA;S:my-network;P:p@ssw0rd;H:true;",
}

_CHECKS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "URL": _url, "SMS": _sms, "PHONE": _tel, "EMAIL": _email, "VENMO": _venmo, "WIFI": _wifi}
DESTINATION_TYPES = tuple(_CHECKS)


def parse_destination(data: Any) -> Destination:
    """Validate ``{"destination_type", "redirect_value"}``; errors name the offending field."""
    if not isinstance(data, dict):
        raise DestinationError("destination", "destination is required: {destination_type, redirect_value}")
    kind = data.get("destination_type")
    if kind not in _CHECKS:
        raise DestinationError("destination.destination_type",
                               f"destination_type must be one of {', '.join(DESTINATION_TYPES)}")
    params = data.get("redirect_value")
    if not isinstance(params, dict):
        raise DestinationError("destination.redirect_value", "redirect_value must be an object")
    try:
        if set(params) == {"value"}:
            raw = params["value"]
            if not isinstance(raw, str) or not raw:
                raise DestinationError("value", "value must be a non-empty string")
            params = _parse_value(kind, raw)
        normalized = _CHECKS[kind](params)
    except DestinationError as exc:
        raise DestinationError(f"destination.redirect_value.{exc.field}", exc.message) from None
    return Destination(kind, normalized, _build(kind, normalized))


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
