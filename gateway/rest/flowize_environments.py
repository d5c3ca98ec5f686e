"""The Flowize REST surface on the gateway, part 3: Environments (flowize-api.txt, "Environments",
including the url mappings its section adds to the table) and ``OPTIONS /v1/options``.

Environment ids are integers in the path, as the vendor routes them: anything else is 404 here too.
"Update Environment" uploads ``multipart/form-data`` files; the view reads the form (or an
urlencoded form, or a JSON object) and hands the operation plain fields whose file values are the
files' text (docs/flowize-decisions.md, "Environments").
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from gateway.errors import InvalidRequest
from gateway.rest.auth import gateway_mode, upstream
from gateway.rest.flowize import render_outcome
from gateway.rest.negotiation import object_body, read_body

__all__ = ["OPTIONS_ALLOW", "bp"]

bp = Blueprint("rest_flowize_environments", __name__)

FILE_FIELDS = ("pem_file", "private_key_file", "certificate_file", "chain_files")
OPTIONS_ALLOW = "OPTIONS, GET, HEAD"  # the methods of /v1/options itself


@bp.route("/v1/environment", methods=["GET", "POST"])
@bp.route("/v1/environment/", methods=["GET", "POST"])
def environments() -> Response:
    """GET lists, POST creates (name, package, region, timezone)."""
    ops, creds = upstream()
    if request.method == "POST":
        return render_outcome(ops.environment_create(creds, object_body()))
    return render_outcome(ops.environments(creds))


@bp.get("/v1/environment/<int:environment_id>")
def environment(environment_id: int) -> Response:
    ops, creds = upstream()
    return render_outcome(ops.environment(creds, environment_id))


@bp.get("/v1/environment/<int:environment_id>/<any(status, projects, urls):part>")
def environment_part(environment_id: int, part: str) -> Response:
    """GET .../status, .../projects, .../urls."""
    ops, creds = upstream()
    return render_outcome(ops.environment(creds, environment_id, part))


def _update_fields() -> dict[str, Any]:
    """Form fields plus the uploaded files' text; a JSON object is taken as it is."""
    if request.mimetype not in ("multipart/form-data", "application/x-www-form-urlencoded"):
        return object_body()
    fields: dict[str, Any] = {k: v for k, v in request.form.items() if k not in FILE_FIELDS}
    for key in FILE_FIELDS:
        texts = [f.read().decode("utf-8", "replace") for f in request.files.getlist(key)]
        texts += request.form.getlist(key)  # a file's text sent as a plain form value counts too
        if texts:
            fields[key] = texts
    return fields


@bp.post("/v1/environment/<int:environment_id>")
def environment_update(environment_id: int) -> Response:
    ops, creds = upstream()
    return render_outcome(ops.environment_update(creds, environment_id, _update_fields()))


@bp.delete("/v1/environment/<int:environment_id>")
def environment_delete(environment_id: int) -> Response:
    ops, creds = upstream()
    return render_outcome(ops.environment_delete(creds, environment_id))


@bp.post("/v1/environment/<int:environment_id>/<any(upgrade, \"update-version\", optimize):action>")
def environment_action(environment_id: int, action: str) -> Response:
    """POST .../upgrade (package or storage), .../update-version, .../optimize."""
    ops, creds = upstream()
    body = read_body(required=action == "upgrade")
    if body is not None and not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return render_outcome(ops.environment_action(creds, environment_id, action, body))


@bp.route("/v1/environment/<int:environment_id>/project/<int:project_id>", methods=["POST", "DELETE"])
def environment_project(environment_id: int, project_id: int) -> Response:
    ops, creds = upstream()
    if request.method == "DELETE":
        return render_outcome(ops.environment_project(creds, environment_id, project_id, delete=True))
    return render_outcome(ops.environment_project(creds, environment_id, project_id,
                                                  object_body(required=False)))


@bp.route("/v1/environment/<int:environment_id>/urls", methods=["POST", "DELETE"])
def environment_urls(environment_id: int) -> Response:
    """Add/update or delete url mappings (an array; one object is accepted too)."""
    ops, creds = upstream()
    return render_outcome(ops.environment_urls(creds, environment_id, read_body(),
                                               delete=request.method == "DELETE"))


# -- OPTIONS /v1/options -----------------------------------------------------------------------------
@bp.route("/v1/options", methods=["OPTIONS", "GET"])
def options() -> Response:
    """The list of methods of the API; no credentials needed (docs/flowize-decisions.md, "OPTIONS")."""
    ops, creds = upstream(required=False)
    return render_outcome(ops.options(None if gateway_mode() else creds), headers={"Allow": OPTIONS_ALLOW})
