"""Placeholder: the exaroutes sandbox is being written (issue 6)."""

from __future__ import annotations

import json

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

PREFIX = "/__exaroutes_unused__/"


def owns(path: str) -> bool:
    return path.startswith(PREFIX)


def seed(db) -> None:
    pass


def install(app: Flask) -> None:
    pass


def error_body(path: str, status: int) -> tuple[str, bytes]:
    return "application/json", json.dumps({"error": {"code": status}}).encode()


def http_error(exc: HTTPException) -> Response:
    return jsonify({"error": {"code": exc.code}})
