"""``GET /api/``: what the facade serves, with links (no key needed to read it)."""

from __future__ import annotations

from flask import Blueprint, Response

from gateway.api.wire import respond

__all__ = ["RESOURCES", "bp"]

bp = Blueprint("index", __name__)

# ``methods`` are those of ``href`` itself; ``routes`` every route of the resource (kept equal to the
# URL map by tests/rest/test_openapi.py).
RESOURCES = [
    {"name": "records", "scope": "records", "vendor": "flowize", "href": "/api/records",
     "methods": ["POST"], "description": "Flowize records: POST, then GET/PUT/DELETE /api/records/{uuid}",
     "routes": ["POST /api/records", "GET /api/records/{uuid}", "PUT /api/records/{uuid}",
                "DELETE /api/records/{uuid}"]},
    {"name": "flows", "scope": "records", "vendor": "flowize", "href": "/api/flows/{name}",
     "methods": ["GET"], "description": "A Flowize flow; PUT /api/flows/{name}/status changes its status",
     "routes": ["GET /api/flows/{name}", "PUT /api/flows/{name}/status"]},
    {"name": "qr-codes", "scope": "qr", "vendor": "flowcode|exaroutes", "href": "/api/qr/codes",
     "methods": ["POST"], "description": "One QR code now; its image at /api/qr/codes/{vendor}/{vendor_id}/image",
     "routes": ["POST /api/qr/codes", "GET /api/qr/codes/{vendor}/{vendor_id}",
                "GET /api/qr/codes/{vendor}/{vendor_id}/image"]},
    {"name": "qr-jobs", "scope": "qr", "vendor": "flowcode|exaroutes", "href": "/api/qr/jobs",
     "methods": ["GET", "POST"], "description": "Durable bulk QR jobs of any size (JSON, CSV or NDJSON rows)",
     "routes": ["POST /api/qr/jobs", "GET /api/qr/jobs", "GET /api/qr/jobs/{id}", "DELETE /api/qr/jobs/{id}",
                "GET /api/qr/jobs/{id}/results", "GET /api/qr/jobs/{id}/images/{uid}",
                "GET /api/qr/jobs/{id}/images.zip"]},
    {"name": "event-sessions", "scope": "events", "vendor": "flowevents", "href": "/api/events/sessions",
     "methods": ["GET"],
     "description": "Flow events sessions; per session its registrants (GET, and POST to register), surveys "
                    "and reports",
     "routes": ["GET /api/events/sessions", "GET /api/events/sessions/{token}",
                "GET /api/events/sessions/{token}/registrants", "POST /api/events/sessions/{token}/registrants",
                "GET /api/events/sessions/{token}/surveys", "GET /api/events/sessions/{token}/reports/{kind}"]},
    {"name": "feeds", "scope": "feeds", "vendor": "flowbox", "href": "/api/feeds/{flowKey}",
     "methods": ["GET"], "description": "A Flowbox feed, paged, or every post as NDJSON with ?all=true",
     "routes": ["GET /api/feeds/{flowKey}"]},
    {"name": "outbox", "scope": "admin", "vendor": "flowize", "href": "/api/outbox",
     "methods": ["GET"], "description": "Flowize writes queued while the vendor was unavailable: pending and "
                                        "dead entries, their audit trail; retry or drop (docs/outbox.md)",
     "routes": ["GET /api/outbox", "GET /api/outbox/{id}", "POST /api/outbox/{id}/retry",
                "DELETE /api/outbox/{id}"]},
]


@bp.get("/")
def index() -> Response:
    return respond({"name": "Flowgate unified API", "auth": "X-Apikey: <consumer key> or Authorization: Bearer",
                    "errors": "application/problem+json", "lists": "?limit=&cursor= -> {items (feeds: posts), next_cursor}",
                    "docs": "/docs", "openapi": "/openapi.json", "resources": RESOURCES})
