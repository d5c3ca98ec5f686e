"""Real images of real QR codes, in the file types flowcode-bulk-codes.txt lists ("Prerequisites" 3):
JPG, PNG, SVG, PDF, TIFF. segno writes PNG, SVG and PDF itself; JPG and TIFF go through Pillow."""

from __future__ import annotations

import io

import segno

__all__ = ["FILE_TYPES", "MIMETYPES", "QRTooLong", "check_fits", "make", "render"]

MIMETYPES = {"JPG": "image/jpeg", "PNG": "image/png", "SVG": "image/svg+xml", "PDF": "application/pdf",
             "TIFF": "image/tiff"}
FILE_TYPES = tuple(MIMETYPES)
_SCALE = 8  # pixels per module: large enough for JPEG artefacts not to break scanning


class QRTooLong(ValueError):
    """The destination does not fit in the largest QR code (version 40)."""


_BYTE_CAPACITY_M = 2331  # bytes a version-40 code holds at error level M in byte mode


def check_fits(text: str) -> None:
    """Raise QRTooLong unless ``text`` fits; cheap for the common case (bulk checks thousands)."""
    if len(text.encode("utf-8")) > _BYTE_CAPACITY_M:
        make(text)


# One fixed mask pattern: choosing the best of the eight (ISO/IEC 18004's penalty scoring) is two
# thirds of the time to make a code, and only evens out the pattern; every mask scans. The sandbox
# draws a code per row of a bulk, thousands at a time.
MASK = 0


def make(text: str) -> segno.QRCode:
    try:
        return segno.make_qr(text, error="m", mask=MASK)
    except segno.DataOverflowError:
        raise QRTooLong("the destination is too long to fit in a QR code") from None


def render(text: str, file_type: str) -> bytes:
    """The QR code encoding ``text`` as a file of ``file_type`` (one of FILE_TYPES)."""
    qr = make(text)
    out = io.BytesIO()
    if file_type in ("PNG", "SVG", "PDF"):
        qr.save(out, kind=file_type.lower(), scale=_SCALE, border=4)
        return out.getvalue()
    from PIL import Image

    png = io.BytesIO()
    qr.save(png, kind="png", scale=_SCALE, border=4)
    png.seek(0)
    with Image.open(png) as image:
        image.convert("RGB" if file_type == "JPG" else "L").save(
            out, format="JPEG" if file_type == "JPG" else "TIFF", **({"quality": 90} if file_type == "JPG" else {}))
    return out.getvalue()
