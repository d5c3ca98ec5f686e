"""Flowize sandbox, "Environments": the projects and url mappings hosted by an environment.

``GET /v1/environment/:id/projects``, ``POST``/``DELETE /v1/environment/:id/project/:project_id`` and
``GET``/``POST``/``DELETE /v1/environment/:id/urls`` (documented in the section, missing from the
endpoint table). Choices: docs/flowize-decisions.md ("Environments and options").
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from gateway.sandbox.context import sandbox
from gateway.sandbox.flowize.auth import authenticate
from gateway.sandbox.flowize.environments import (
    ACTIONS,
    URL_TYPES,
    _choice,
    _ids_fit_sqlite,
    _integer,
    _load,
    _need,
    _object_body,
    _one,
    _text,
)
from gateway.sandbox.flowize.wire import FlowizeError, json_body, respond
from gateway.sandbox.state import now_str

__all__ = ["bp"]

bp = Blueprint("flowize_environment_projects", __name__)
bp.url_value_preprocessor(_ids_fit_sqlite)


@bp.get("/v1/environment/<int:environment_id>/projects")
def projects(environment_id: int):
    caller = authenticate(require_app=False)
    _load(environment_id, caller)
    rows = sandbox().db.all(
        "SELECT h.project_id, p.name, h.version, h.date_created, h.date_updated FROM fz_env_hosted h "
        "JOIN fz_env_projects p ON p.id = h.project_id WHERE h.environment_id = ? ORDER BY h.project_id",
        (environment_id,))
    return respond({"code": 200, "data": [{"id": str(r["project_id"]), **{k: r[k] for k in r.keys()[1:]}}
                                          for r in rows]})


def _hosted_version(env_id: int, project_id: int) -> int | None:
    row = sandbox().db.one("SELECT version FROM fz_env_hosted WHERE environment_id = ? AND project_id = ?",
                           (env_id, project_id))
    return None if row is None else row["version"]


def _validate_deploy(body: dict[str, Any]) -> None:
    for key in ("static_data", "file_manager"):
        _choice(_text(body, key), key, ("yes", "no"))
    for group, id_key in (("keystores", "keystore_id"), ("tables", "name"), ("websites", "slug")):
        if _choice(_text(body, f"all_{group}"), f"all_{group}", ACTIONS) is not None:
            continue  # the doc: with all_<group>, the <group> list is ignored
        items = body.get(group) or []
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise FlowizeError(400, f"The parameter '{group}' must be a list of objects.")
        for item in items:
            _need(item, id_key)
            _choice(_text(item, "action"), f"{group}[].action", ACTIONS)


@bp.route("/v1/environment/<int:environment_id>/project/<int:project_id>", methods=["POST", "DELETE"])
def project(environment_id: int, project_id: int):
    caller = authenticate(require_app=False)
    _load(environment_id, caller, idle=True)
    db, current = sandbox().db, _hosted_version(environment_id, project_id)
    if request.method == "DELETE":
        if current is None:
            raise FlowizeError(404, f"The Project {project_id} is not in the Environment {environment_id}.")
        db.execute("DELETE FROM fz_env_hosted WHERE environment_id = ? AND project_id = ?",
                   (environment_id, project_id))
        return _one(environment_id, caller)
    body = _object_body(required=False)
    _validate_deploy(body)
    designed = db.one("SELECT version FROM fz_env_projects WHERE id = ? AND customer_id = ?",
                      (project_id, caller.customer_id))
    if designed is None:
        raise FlowizeError(404, f"The Project {project_id} doesn't exist in the Organization.")
    version = designed["version"]
    if body.get("source_environment") is not None:
        source_id = _integer(body["source_environment"], "source_environment")
        source = db.one("SELECT status FROM fz_env_environments WHERE id = ? AND customer_id = ?",
                        (source_id, caller.customer_id))
        if source_id == environment_id or source is None or source["status"] == "deleted":
            raise FlowizeError(400, f"source_environment {source_id} is not another Environment of the "
                                    "Organization.")
        version = _hosted_version(source_id, project_id)
        if version is None:
            raise FlowizeError(400, f"The Project {project_id} is not in the source Environment {source_id}.")
        if current is not None and version <= current:
            raise FlowizeError(409, f"The source Environment holds version {version} of the Project, "
                                    f"not newer than version {current} already in this Environment.")
    stamp = now_str()
    db.execute("INSERT INTO fz_env_hosted (environment_id, project_id, version, date_created, date_updated) "
               "VALUES (?, ?, ?, ?, ?) ON CONFLICT (environment_id, project_id) "
               "DO UPDATE SET version = excluded.version, date_updated = excluded.date_updated",
               (environment_id, project_id, version, stamp, stamp))
    return _one(environment_id, caller)


# -- url mappings ----------------------------------------------------------------------------
def _urls_body(environment_id: int) -> dict[str, Any]:
    rows = sandbox().db.all("SELECT * FROM fz_env_urls WHERE environment_id = ? ORDER BY date_created, url",
                            (environment_id,))
    return {"data": {"urls_mapped": [{"url": r["url"], "project_id": r["project_id"], "name": r["name"],
                                      "type": r["type"], "date_created": r["date_created"],
                                      "date_updated": r["date_updated"]} for r in rows]},
            "code": 200}


def _mappings(keys: tuple[str, ...]) -> list[dict[str, Any]]:
    body = json_body(required=True)
    items = [body] if isinstance(body, dict) else body
    if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
        raise FlowizeError(400, "The request body must be a non-empty JSON array of url mappings.")
    mappings = []
    for item in items:
        url = _need(item, "url")
        if not url.startswith("/"):
            raise FlowizeError(400, f"The url '{url}' must be relative and start with '/'.")
        mappings.append({"project_id": _integer(item.get("project_id"), "project_id"), "url": url,
                         "type": _choice(_need(item, "type"), "type", URL_TYPES),
                         **{k: _need(item, k) for k in keys if k == "name"}})
    urls = [m["url"] for m in mappings]
    if len(set(urls)) != len(urls):
        raise FlowizeError(400, "Each url may appear only once in the request.")
    return mappings


@bp.route("/v1/environment/<int:environment_id>/urls", methods=["GET", "POST", "DELETE"])
def urls(environment_id: int):
    caller = authenticate(require_app=False)
    _load(environment_id, caller, idle=request.method != "GET")
    db, stamp = sandbox().db, now_str()
    if request.method == "POST":
        with db.transaction() as conn:
            for m in _mappings(("project_id", "url", "name", "type")):
                conn.execute(
                    "INSERT INTO fz_env_urls VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (environment_id, url) "
                    "DO UPDATE SET project_id = excluded.project_id, name = excluded.name, "
                    "type = excluded.type, date_updated = excluded.date_updated",
                    (environment_id, m["url"], m["project_id"], m["name"], m["type"], stamp, stamp))
    elif request.method == "DELETE":
        with db.transaction() as conn:
            for m in _mappings(("project_id", "url", "type")):
                gone = conn.execute("DELETE FROM fz_env_urls WHERE environment_id = ? AND url = ? AND "
                                    "project_id = ? AND type = ?",
                                    (environment_id, m["url"], m["project_id"], m["type"])).rowcount
                if not gone:  # raising rolls the whole request back
                    raise FlowizeError(404, f"No {m['type']} of project {m['project_id']} is mapped at "
                                            f"'{m['url']}'.")
    return respond(_urls_body(environment_id))


