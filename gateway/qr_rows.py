"""QR rows: the facade's one shape for a code, checked here and turned into each vendor's payload.

A row is ``{"uid": "...", "destination": {"type": "url", "url": "https://…"}}``; the other types
carry the Flowcode doc's parameters under the facade's names::

    url    {url}                              sms    {phone, body?}
    phone  {phone}                            email  {email, subject?, body?}
    venmo  {recipient, amount?, note?}        wifi   {ssid, security, password?, hidden?}

Rows are checked before any vendor call, with the vendors' own rules (docs/vendors.md), so a bad
row is a 422 naming it, not a failed vendor call. :func:`encoded` is what the QR code holds — the
doc's "Example" column — and is the same for both vendors: Flowcode gets the destination object,
ExaRoutes its native ``dataType`` where it has one and ``text`` with the encoded string where it
does not (venmo, wifi, an sms with a body, an email with a subject or body; docs/api.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote, urlsplit

from gateway.errors import ValidationFailed

__all__ = [
    "DESTINATION_FIELDS",
    "DESTINATION_TYPES",
    "FILE_TYPES",
    "MAX_ERRORS",
    "QrOptions",
    "QrRow",
    "RowError",
    "check_rows",
    "encoded",
    "exaroutes_failure",
    "exaroutes_row",
    "exaroutes_vendor_id",
    "flowcode_code_url",
    "flowcode_payload",
    "parse_options",
    "parse_row",
    "row_from_flat",
]

FILE_TYPES = ("JPG", "PNG", "SVG", "PDF", "TIFF")
MEDIA_TYPES = {"JPG": "image/jpeg", "PNG": "image/png", "SVG": "image/svg+xml", "PDF": "application/pdf",
               "TIFF": "image/tiff"}
# type -> (required fields, optional fields)
DESTINATION_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "url": (("url",), ()),
    "sms": (("phone",), ("body",)),
    "phone": (("phone",), ()),
    "email": (("email",), ("subject", "body")),
    "venmo": (("recipient",), ("amount", "note")),
    "wifi": (("ssid", "security"), ("password", "hidden")),
}
DESTINATION_TYPES = tuple(DESTINATION_FIELDS)
MAX_UID = 128
MAX_TEXT = 1000
MAX_ERRORS = 1000   # a 422 lists at most this many rows; the total is in its detail

_PHONE = re.compile(r"^\+?[0-9]{3,15}$")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_VENMO_USER = re.compile(r"^[A-Za-z0-9_-]{1,30}$")
_WIFI_SECURITY = ("WPA", "WEP", "nopass")


class RowError(ValueError):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class QrRow:
    uid: str
    type: str
    params: Mapping[str, Any]   # normalised destination fields (no "type")

    def as_json(self) -> dict[str, Any]:
        return {"uid": self.uid, "destination": {"type": self.type, **self.params}}


@dataclass(frozen=True)
class QrOptions:
    file_type: str = "PNG"
    studio_config_id: str | None = None
    folder_id: int | str | None = None
    qr_type: str | None = None            # ExaRoutes qrType: static | dynamic
    exaroutes_extra: Mapping[str, Any] | None = None   # styling, secure, sources, expiry

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.file_type]

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"file_type": self.file_type}
        for name, value in (("studio_config_id", self.studio_config_id), ("folder_id", self.folder_id),
                            ("qrType", self.qr_type)):
            if value is not None:
                out[name] = value
        out.update(self.exaroutes_extra or {})
        return out


# -- checks -----------------------------------------------------------------------------------------
def _text(d: Mapping[str, Any], name: str, *, required: bool, limit: int = MAX_TEXT) -> str | None:
    value = d.get(name)
    if value is None or value == "":
        if required:
            raise RowError(f"destination.{name} is required for a {d.get('type')} destination")
        return None
    if not isinstance(value, str):
        raise RowError(f"destination.{name} must be a string")
    if len(value) > limit:
        raise RowError(f"destination.{name} is longer than {limit} characters")
    return value


def _phone(d: Mapping[str, Any]) -> str:
    value = _text(d, "phone", required=True) or ""
    if not _PHONE.match(value):
        raise RowError("destination.phone must be 3 to 15 digits with an optional leading +")
    return value


def _check_url(d: Mapping[str, Any]) -> dict[str, Any]:
    value = _text(d, "url", required=True, limit=2048) or ""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value):
        raise RowError("destination.url must be an absolute http(s) URL, e.g. https://example.com")
    return {"url": value}


def _check_sms(d: Mapping[str, Any]) -> dict[str, Any]:
    return _drop_none({"phone": _phone(d), "body": _text(d, "body", required=False)})


def _check_phone(d: Mapping[str, Any]) -> dict[str, Any]:
    return {"phone": _phone(d)}


def _check_email(d: Mapping[str, Any]) -> dict[str, Any]:
    address = _text(d, "email", required=True, limit=254) or ""
    if not _EMAIL.match(address):
        raise RowError("destination.email must be an e-mail address, e.g. someone@example.com")
    return _drop_none({"email": address, "subject": _text(d, "subject", required=False),
                       "body": _text(d, "body", required=False)})


def _check_venmo(d: Mapping[str, Any]) -> dict[str, Any]:
    recipient = _text(d, "recipient", required=True) or ""
    if not _VENMO_USER.match(recipient):
        raise RowError("destination.recipient must be a Venmo username (letters, digits, - and _)")
    amount = d.get("amount")
    if amount is not None and amount != "":
        try:
            number = Decimal(str(amount)) if not isinstance(amount, bool) else Decimal("NaN")
        except InvalidOperation:
            number = Decimal("NaN")
        if not number.is_finite() or number <= 0 or int(number.as_tuple().exponent) < -2:
            raise RowError("destination.amount must be a positive number with at most 2 decimals")
        amount = str(amount)
    return _drop_none({"recipient": recipient, "amount": amount or None,
                       "note": _text(d, "note", required=False, limit=280)})


def _check_wifi(d: Mapping[str, Any]) -> dict[str, Any]:
    ssid = _text(d, "ssid", required=True, limit=32) or ""
    security = d.get("security")
    if security not in _WIFI_SECURITY:
        raise RowError(f"destination.security must be one of {', '.join(_WIFI_SECURITY)}")
    hidden = d.get("hidden", False)
    if isinstance(hidden, str) and hidden.lower() in ("true", "false", ""):
        hidden = hidden.lower() == "true"
    if not isinstance(hidden, bool):
        raise RowError("destination.hidden must be true or false")
    password = _text(d, "password", required=False, limit=63)
    if password and security == "nopass":
        raise RowError("destination.password: a network with security nopass takes no password")
    if security == "WPA" and password is not None and len(password) < 8:
        raise RowError("destination.password: a WPA password has 8 to 63 characters")
    return _drop_none({"ssid": ssid, "security": security, "password": password, "hidden": hidden})


_CHECKS = {"url": _check_url, "sms": _check_sms, "phone": _check_phone, "email": _check_email,
           "venmo": _check_venmo, "wifi": _check_wifi}


def parse_row(data: Any) -> QrRow:
    """A checked row, or RowError with the reason (the caller knows the uid or position)."""
    if not isinstance(data, Mapping):
        raise RowError("a row must be an object with uid and destination")
    uid = data.get("uid")
    if isinstance(uid, int) and not isinstance(uid, bool):
        uid = str(uid)
    if not isinstance(uid, str) or not uid.strip():
        raise RowError("uid is required")
    if len(uid) > MAX_UID:
        raise RowError(f"uid is longer than {MAX_UID} characters")
    dest = data.get("destination")
    if not isinstance(dest, Mapping):
        raise RowError("destination is required: an object with type and its fields")
    kind = dest.get("type")
    if not isinstance(kind, str) or kind not in _CHECKS:
        raise RowError(f"destination.type must be one of {', '.join(DESTINATION_TYPES)}")
    required, optional = DESTINATION_FIELDS[kind]
    unknown = sorted(set(dest) - {"type", *required, *optional})
    if unknown:
        raise RowError(f"destination has field(s) a {kind} destination does not take: {', '.join(unknown)}")
    extra = sorted(set(data) - {"uid", "destination"})
    if extra:
        raise RowError(f"unknown row field(s): {', '.join(extra)}")
    return QrRow(uid, kind, _CHECKS[kind](dest))


def row_from_flat(record: Mapping[str, str]) -> dict[str, Any]:
    """A CSV line (columns ``uid``, ``type``, then the destination's fields) as a JSON row; empty
    cells are absent fields. Checking is :func:`parse_row`'s job."""
    dest: dict[str, Any] = {"type": (record.get("type") or "").strip()}
    for name, value in record.items():
        if name not in ("uid", "type") and name is not None and value not in (None, ""):
            dest[name.strip()] = value
    return {"uid": record.get("uid") or "", "destination": dest}


def check_rows(rows: Iterable[Any]) -> Iterator[tuple[int, QrRow | None, dict[str, Any] | None]]:
    """(position, row, None) or (position, None, error entry) for each row; duplicate uids fail the
    later row (the uid is how results are matched to input)."""
    seen: set[str] = set()
    for position, data in enumerate(rows):
        try:
            row = parse_row(data)
        except RowError as exc:
            uid = data.get("uid") if isinstance(data, Mapping) else None
            key = {"uid": str(uid)} if isinstance(uid, (str, int)) and str(uid).strip() else {"index": position}
            yield position, None, {**key, "reason": exc.reason}
            continue
        if row.uid in seen:
            yield position, None, {"uid": row.uid, "reason": "uid appears more than once in this job"}
            continue
        seen.add(row.uid)
        yield position, row, None


def parse_options(data: Any, vendor: str) -> QrOptions:
    """The ``options`` object; ValidationFailed names each bad field."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ValidationFailed("options must be an object.", errors=[{"field": "options", "reason": "not an object"}])
    errors: list[dict[str, str]] = []
    file_type = str(data.get("file_type") or "PNG").upper()
    if file_type not in FILE_TYPES:
        errors.append({"field": "options.file_type", "reason": f"must be one of {', '.join(FILE_TYPES)}"})
    if vendor == "exaroutes" and file_type != "PNG":
        errors.append({"field": "options.file_type", "reason": "ExaRoutes draws PNG images only"})
    qr_type = data.get("qrType")
    if qr_type is not None and qr_type not in ("static", "dynamic"):
        errors.append({"field": "options.qrType", "reason": "must be static or dynamic"})
    folder = data.get("folder_id")
    if folder is not None and (isinstance(folder, bool) or not str(folder).isdigit()):
        errors.append({"field": "options.folder_id", "reason": "must be a whole number"})
    studio = data.get("studio_config_id")
    if studio is not None and not isinstance(studio, str):
        errors.append({"field": "options.studio_config_id", "reason": "must be a string"})
    known = {"file_type", "studio_config_id", "folder_id", "qrType", "styling", "secure", "sources", "expiry"}
    for name in sorted(set(data) - known):
        errors.append({"field": f"options.{name}", "reason": "unknown option"})
    if errors:
        raise ValidationFailed("The options are not valid.", errors=errors)
    extra = {k: data[k] for k in ("styling", "secure", "sources", "expiry") if k in data}
    return QrOptions(file_type, studio, int(folder) if folder is not None else None, qr_type, extra or None)


# -- what the code holds, and each vendor's payload ----------------------------------------------------
def _q(text: str) -> str:
    return quote(text, safe="")


def _wifi_escape(text: str) -> str:
    return re.sub(r'([\\;,:"])', r"\\\1", text)


def encoded(row: QrRow) -> str:
    """The text the QR code holds: the Flowcode doc's Example column for the row's type."""
    p = row.params
    if row.type == "url":
        return str(p["url"])
    if row.type == "sms":
        return f"sms:{p['phone']}" + (f";?&body={_q(p['body'])}" if p.get("body") else "")
    if row.type == "phone":
        return f"tel:{p['phone']}"
    if row.type == "email":
        query = "&".join(f"{k}={_q(p[k])}" for k in ("subject", "body") if p.get(k))
        return f"mailto:{p['email']}" + (f"?{query}" if query else "")
    if row.type == "venmo":
        query = "&".join(f"{k}={_q(str(v))}" for k, v in (("txn", "pay"), ("recipient", p["recipient"]),
                                                          ("amount", p.get("amount")), ("note", p.get("note"))) if v)
        return f"venmo://paycharge?{query}"
    fields = [f"T:{p['security']}", f"S:{_wifi_escape(p['ssid'])}"]
    if p.get("password"):
        fields.append(f"P:{_wifi_escape(p['password'])}")
    fields.append(f"H:{'true' if p.get('hidden') else 'false'}")
    return "WIFI:" + "".join(f + ";" for f in fields)


_FLOWCODE_NAMES = {"phone": "phone_number", "email": "email_address"}


def flowcode_payload(row: QrRow, options: QrOptions, *, studio_config_id: str, folder_id: int | str | None,
                     code_name: str | None) -> dict[str, Any]:
    params = {_FLOWCODE_NAMES.get(k, k): v for k, v in row.params.items()}
    if row.type == "wifi":
        params.setdefault("hidden", False)
    payload: dict[str, Any] = {
        "destination": {"destination_type": row.type.upper(), "redirect_value": params},
        "studio_config_id": options.studio_config_id or studio_config_id,
        "file_type": options.file_type,
    }
    folder = options.folder_id if options.folder_id is not None else folder_id
    if folder is not None and folder != "":
        payload["folder_id"] = int(folder)
    if code_name:
        payload["code_name"] = code_name
    return payload


def exaroutes_row(row: QrRow, options: QrOptions) -> dict[str, Any]:
    p = row.params
    if row.type == "url":
        data_type, data = "url", p["url"]
    elif row.type == "phone" or (row.type == "sms" and not p.get("body")):
        data_type, data = row.type, p["phone"]
    elif row.type == "email" and not (p.get("subject") or p.get("body")):
        data_type, data = "email", p["email"]
    else:
        data_type, data = "text", encoded(row)
    out: dict[str, Any] = {"uid": row.uid, "dataType": data_type, "data": data}
    if options.qr_type:
        out["qrType"] = options.qr_type
    out.update(options.exaroutes_extra or {})
    return out


# -- what the vendors answered, in the facade's terms ----------------------------------------------------
def flowcode_code_url(code: Mapping[str, Any]) -> str | None:
    """A made Flowcode code's link: its short URL when the vendor gives one, else where it leads."""
    return code.get("url") or code.get("scan_destination")


def exaroutes_vendor_id(bulk_id: str, qr_id: str | None, index: int) -> str:
    """A dynamic row's own id; a static row has none, so it is named by its bulk and position."""
    return qr_id or f"{bulk_id}.{index}"


def exaroutes_failure(vendor_code: int | None, message: str | None) -> tuple[str, str]:
    """(stable code, message) for a row ExaRoutes failed in its archive."""
    code = {400: "invalid_row", 429: "quota_exceeded"}.get(vendor_code or 0, f"vendor_{vendor_code or 'error'}")
    return code, message or "ExaRoutes could not generate this row."


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}
