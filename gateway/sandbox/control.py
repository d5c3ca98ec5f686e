"""The sandbox's control API under ``/_sandbox/``: fault rules, knobs and a reset, switchable at run time.

    GET    /_sandbox/health            liveness
    GET    /_sandbox/faults            the live fault rules
    POST   /_sandbox/faults            add a rule (JSON object, see faults.py), 201 with its id
    DELETE /_sandbox/faults            remove all rules
    DELETE /_sandbox/faults/<id>       remove one rule
    GET    /_sandbox/config            token_ttl, rate_limit, rate_window, environment_ready_after
    PATCH  /_sandbox/config            change any of them
    GET    /_sandbox/calls             the call log: every vendor request received, oldest first, as a
                                       JSON list of {time, vendor, method, path, status, request_id,
                                       token}; ?vendor= (flowize, flowcode, exaroutes, flowevents,
                                       flowbox) and ?since= (unix time) narrow it
    DELETE /_sandbox/calls             empty the call log
    POST   /_sandbox/reset             back to the seeded demo data and the configured knobs; clears
                                       rules, rate counters and the call log

The call log is what the vendors saw, whichever gateway process or worker sent it: the observer for
checks that span processes (a rate budget never exceeded in any window, one OAuth token fetched).
``time`` is the arrival (``time.time()``), before any fault rule; ``path`` never has the query
string, where credentials may travel; ``status`` is None while unanswered or when a rule dropped the
connection; ``token`` marks Flowize's token endpoints (checkauthentication, refreshtoken). It keeps
the last 100,000 calls.
"""

from __future__ import annotations

import math

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


@bp.get("/calls")
def list_calls():
    vendor = request.args.get("vendor") or None
    since_arg = request.args.get("since") or None
    try:
        since = float(since_arg) if since_arg is not None else None
    except ValueError:
        since = math.nan
    if since is not None and not math.isfinite(since):
        return _problem(400, "since must be a unix time in seconds")
    return jsonify(sandbox().calls.entries(vendor=vendor, since=since))


@bp.delete("/calls")
def clear_calls():
    sandbox().calls.clear()
    return "", 204


_KNOBS = {"token_ttl": int, "rate_limit": int, "rate_window": int, "environment_ready_after": float}


def _config() -> dict:
    return sandbox().knobs()


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
    if any(v < 0 for v in values.values()) or values.get("rate_window", 1) < 1:
        return _problem(400, "config values must be >= 0 (rate_window >= 1)")
    for name, value in values.items():
        ctx.set_knob(name, value)
    ctx.rate_limiter.reset()
    return jsonify(_config())


@bp.post("/reset")
def reset():
    # Knobs changed by PATCH /config go back too, or one test's rate_limit=1 would 429 the next test.
    sandbox().restore_knobs()
    current_app.extensions["flowgate_sandbox_reset"]()
    return jsonify({"status": "reset"})
