"""``/api/qr/...``: QR codes on Flowcode and ExaRoutes behind one shape (docs/api.md)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request, url_for

from gateway.api.auth import require_scope
from gateway.api.wire import json_object, respond
from gateway.operations.qr import CreatedCode, QrOperations

__all__ = ["bp", "code_json"]

bp = Blueprint("qr", __name__, url_prefix="/qr")


def _ops() -> QrOperations:
    return current_app.extensions["flowgate"].qr


def code_json(code: CreatedCode) -> dict:
    href = url_for("api.qr.code_image", vendor=code.vendor, vendor_id=code.vendor_id)
    return {"uid": code.uid, "vendor": code.vendor, "vendor_id": code.vendor_id, "url": code.url,
            "image": {"href": href, "media_type": code.media_type}}


@bp.post("/codes")
def create_code() -> Response:
    require_scope("qr")
    body = json_object()
    code = _ops().create_code(body.get("vendor"), body.get("row"), body.get("options"))
    location = url_for("api.qr.get_code", vendor=code.vendor, vendor_id=code.vendor_id)
    return respond(code_json(code), 201, {"Location": location})


@bp.get("/codes/<vendor>/<vendor_id>")
def get_code(vendor: str, vendor_id: str) -> Response:
    require_scope("qr")
    return respond(code_json(_ops().get_code(vendor, vendor_id)))


@bp.get("/codes/<vendor>/<vendor_id>/image")
def code_image(vendor: str, vendor_id: str) -> Response:
    require_scope("qr")
    content, media_type = _ops().code_image(vendor, vendor_id, request.args.get("file_type"))
    return Response(content, content_type=media_type, headers={"Cache-Control": "private, max-age=3600"})
