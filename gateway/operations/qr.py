"""QR codes on Flowcode and ExaRoutes behind one shape: protocol-neutral, what the facade (and the
bulk jobs) call. Rows and options are checked by :mod:`gateway.qr_rows` before any vendor
call; vendor errors arrive as the exception tree from the connectors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.config import Settings
from gateway.connectors.exaroutes import ExaRoutesConnector
from gateway.connectors.flowcode import FlowcodeConnector
from gateway.errors import Conflict, InvalidRequest, NotFound, ValidationFailed
from gateway.qr_rows import (
    FILE_TYPES,
    MEDIA_TYPES,
    QrOptions,
    QrRow,
    RowError,
    exaroutes_failure,
    exaroutes_row,
    exaroutes_vendor_id,
    flowcode_code_url,
    flowcode_payload,
    parse_options,
    parse_row,
)
from gateway.store.qr_codes import QrCodeRepository, StoredCode

__all__ = ["VENDORS", "CreatedCode", "QrOperations", "check_vendor"]

VENDORS = ("flowcode", "exaroutes")


@dataclass(frozen=True)
class CreatedCode:
    uid: str
    vendor: str
    vendor_id: str
    url: str | None
    media_type: str


def check_vendor(vendor: Any, field: str = "vendor") -> str:
    if vendor not in VENDORS:
        raise ValidationFailed(f"{field} must be flowcode or exaroutes.",
                               errors=[{"field": field, "reason": "must be flowcode or exaroutes"}])
    return str(vendor)


class QrOperations:
    def __init__(self, flowcode: FlowcodeConnector, exaroutes: ExaRoutesConnector, codes: QrCodeRepository,
                 settings: Settings):
        self.flowcode = flowcode
        self.exaroutes = exaroutes
        self.codes = codes
        self.settings = settings

    # -- one code now -------------------------------------------------------------------------
    def create_code(self, vendor: Any, row: Any, options: Any = None) -> CreatedCode:
        """Check, then create one code at ``vendor``; raises ValidationFailed (422) before any call."""
        errors = []
        try:
            vendor = check_vendor(vendor)
        except ValidationFailed as exc:
            errors.extend(exc.errors)
        try:
            checked = parse_row(row)
        except RowError as exc:
            errors.append({"field": "row", "reason": exc.reason})
        try:
            opts = parse_options(options, vendor if not errors or vendor in VENDORS else "")
        except ValidationFailed as exc:
            errors.extend(exc.errors)
        if errors:
            raise ValidationFailed("The code request is not valid.", errors=errors)
        if vendor == "flowcode":
            return self._flowcode(checked, opts)
        return self._exaroutes(checked, opts)

    def _flowcode(self, row: QrRow, options: QrOptions) -> CreatedCode:
        # The uid is the code_name: unique in its folder at Flowcode, so a retried create is a 409,
        # never a second code.
        payload = flowcode_payload(row, options, studio_config_id=self.settings.flowcode_studio_config_id,
                                   folder_id=self.settings.flowcode_folder_id or None, code_name=row.uid)
        try:
            code = self.flowcode.create_code(payload)
        except Conflict as exc:
            raise Conflict(f"A Flowcode code named {row.uid!r} already exists in this folder: uids are unique "
                           "per folder.", detail=exc.detail) from None
        vendor_id = str(code.get("id"))
        url = flowcode_code_url(code)
        self.codes.save(StoredCode("flowcode", vendor_id, row.uid, url, options.media_type, None))
        return CreatedCode(row.uid, "flowcode", vendor_id, url, options.media_type)

    def _exaroutes(self, row: QrRow, options: QrOptions) -> CreatedCode:
        rows = [exaroutes_row(row, options)]
        submission = self.exaroutes.submit(rows)
        self.exaroutes.wait(submission.bulk_id)
        result = self.exaroutes.download(submission.bulk_id, rows).rows[0]
        if not result.ok:
            code, message = exaroutes_failure(result.code, result.message)
            if code == "quota_exceeded":
                raise self.exaroutes.quota_error(submission)
            raise InvalidRequest(f"ExaRoutes refused the row: {message}", code=result.code or 400)
        vendor_id = exaroutes_vendor_id(submission.bulk_id, result.id, result.index)
        self.codes.save(StoredCode("exaroutes", vendor_id, row.uid, result.url, "image/png", result.image()))
        return CreatedCode(row.uid, "exaroutes", vendor_id, result.url, "image/png")

    def get_code(self, vendor: Any, vendor_id: str) -> CreatedCode:
        """A code made through this gateway, as its creation answered."""
        stored = self.codes.get(check_vendor(vendor), vendor_id)
        if stored is None:
            raise NotFound(f"No {vendor} code {vendor_id!r} was made through this gateway.")
        return CreatedCode(stored.uid, stored.vendor, stored.vendor_id, stored.url, stored.media_type)

    # -- images --------------------------------------------------------------------------------
    def code_image(self, vendor: Any, vendor_id: str, file_type: str | None = None) -> tuple[bytes, str]:
        """(image bytes, media type). Flowcode draws any file type on request; ExaRoutes' PNG is the
        one kept when the code was made."""
        vendor = check_vendor(vendor)
        if file_type is not None and file_type.upper() not in FILE_TYPES:
            raise ValidationFailed("file_type is not valid.", errors=[
                {"field": "file_type", "reason": f"must be one of {', '.join(FILE_TYPES)}"}])
        if vendor == "flowcode":
            stored = self.codes.get("flowcode", vendor_id)
            wanted = file_type.upper() if file_type else None
            content, media_type = self.flowcode.code_image(vendor_id, wanted)
            if wanted is None and stored is not None:
                media_type = media_type or stored.media_type
            return content, media_type.split(";")[0] or MEDIA_TYPES.get(wanted or "PNG", "image/png")
        stored = self.codes.get("exaroutes", vendor_id)
        if stored is None or stored.image is None:
            raise NotFound(f"No ExaRoutes code {vendor_id!r} was made through this gateway.")
        if file_type is not None and file_type.upper() != "PNG":
            raise ValidationFailed("ExaRoutes images are PNG only.", errors=[
                {"field": "file_type", "reason": "ExaRoutes draws PNG images only"}])
        return stored.image, stored.media_type


