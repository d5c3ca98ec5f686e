"""The sandbox's control API under ``/_sandbox/``: fault rules, knobs and a reset, switchable at run time.

    GET    /_sandbox/health            liveness
    GET    /_sandbox/faults            the live fault rules
    POST   /_sandbox/faults            add a rule (JSON object, see faults.py), 201 with its id
    DELETE /_sandbox/faults            remove all rules
    DELETE /_sandbox/faults/<id>       remove one rule
    GET    /_sandbox/config            token_ttl, rate_limit, rate_window, environment_ready_after
    PATCH  /_sandbox/config            change any of them
    POST   /_sandbox/reset             back to the seeded demo data; clears rules and rate counters
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request

from gateway.sandbox.context import sandbox
from gateway.sandbox.faults import FaultRule

bp = Blueprint("sandbox_control", __name__, url_prefix="/_sandbox")


def _problem(status: int, message: str):
    return jsonify({"error": {"code": status, "message": message}}), status


@bp.get("/health")
def health():
    return jsonify({"status": "ok"})


@bp.get("/faults")
def list_faults():
    return jsonify({"faults": sandbox().faults.list()})


@bp.post("/faults")
def add_fault():
    data = request.get_json(silent=True)
    try:
        rule = FaultRule.from_dict(data)
    except (TypeError, ValueError) as exc:
        return _problem(400, f"invalid fault rule: {exc}")
    return jsonify(sandbox().faults.add(rule).as_dict()), 201


@bp.delete("/faults")
def clear_faults():
    sandbox().faults.clear()
    return "", 204


@bp.delete("/faults/<int:rule_id>")
def delete_fault(rule_id: int):
    if not sandbox().faults.remove(rule_id):
        return _problem(404, f"no fault rule {rule_id}")
    return "", 204


_KNOBS = {"token_ttl": int, "rate_limit": int, "rate_window": int, "environment_ready_after": float}


def _config() -> dict:
    ctx = sandbox()
    return {"token_ttl": ctx.token_ttl, "rate_limit": ctx.rate_limiter.limit,
            "rate_window": ctx.rate_limiter.window, "environment_ready_after": ctx.environment_ready_after}


@bp.get("/config")
def get_config():
    return jsonify(_config())


@bp.patch("/config")
def patch_config():
    data = request.get_json(silent=True)
    if not isinstance(data, dict) or set(data) - set(_KNOBS):
        return _problem(400, f"expected a JSON object with any of: {', '.join(_KNOBS)}")
    ctx = sandbox()
    try:
        values = {k: _KNOBS[k](v) for k, v in data.items()}
    except (TypeError, ValueError):
        return _problem(400, "config values must be numbers")
    if "token_ttl" in values:
        ctx.token_ttl = values["token_ttl"]
    if "rate_limit" in values:
        ctx.rate_limiter.limit = values["rate_limit"]
    if "rate_window" in values:
        ctx.rate_limiter.window = values["rate_window"]
    if "environment_ready_after" in values:
        ctx.environment_ready_after = values["environment_ready_after"]
    ctx.rate_limiter.reset()
    return jsonify(_config())


@bp.post("/reset")
def reset():
    current_app.extensions["flowgate_sandbox_reset"]()
    return jsonify({"status": "reset"})
