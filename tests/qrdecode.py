"""Reading QR images back in tests (zxing-cpp), whatever format the vendor drew them in."""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image


def decode(data: bytes) -> list[str]:
    with Image.open(io.BytesIO(data)) as image:
        return [r.text for r in zxingcpp.read_barcodes(image.convert("L"))]
