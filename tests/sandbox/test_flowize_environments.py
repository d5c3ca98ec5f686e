"""The Flowize sandbox's Environments endpoints, as a client over HTTP sees them (flowize-api.txt,
"Environments"; choices in docs/flowize-decisions.md ("Environments and options"))."""

from __future__ import annotations

import time

import pytest
from lxml import etree

ORG = {"X-Apikey": "demo-api-key", "Content-Type": "application/json"}
NEW = {"name": "My new environment", "description": "Description of My new environment",
       "package": "SS-A", "region": "london", "timezone": "Europe/London"}
CERT = "-----BEGIN CERTIFICATE-----\nMIIFake\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN PRIVATE KEY-----\nMIIFake\n-----END PRIVATE KEY-----\n"


@pytest.fixture
def api(sandbox_url, http):
    """Call the sandbox as the demo Organization; asynchronous actions take ``delay`` seconds."""
    def call(method: str, path: str, **kwargs):
        kwargs.setdefault("headers", ORG)
        return http.request(method, sandbox_url + path, timeout=5, **kwargs)

    def delay(seconds: float) -> None:
        http.patch(sandbox_url + "/_sandbox/config", json={"environment_ready_after": seconds},
                   timeout=5).raise_for_status()

    call.delay = delay
    delay(30)  # busy until a test says otherwise
    yield call
    delay(2.0)


def wait_for(api, env_id: str, status: str, timeout: float = 3.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = api("GET", f"/v1/environment/{env_id}/status").json()
        if body["data"]["status"] == status or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def assert_error(resp, status: int, text: str = "") -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["resource"] == [] and body["error"]["code"] == status
    assert text.lower() in body["error"]["message"].lower()


# -- reading ------------------------------------------------------------------------------------
def test_list_shows_the_two_documented_environments(api):
    resp = api("GET", "/v1/environment")
    assert resp.status_code == 200
    body = resp.json()
    assert body["code"] == 200
    first, second = body["data"]
    assert (first["id"], first["status"], first["projects"]) == ("1", "ready", ["55", "113"])
    assert first["package"] == {"name": "Single Server A", "code": "SS-A"}
    assert (second["package"]["code"], second["base_storage"], second["total_storage"]) == ("SS-B", 40, 40)
    assert first["info"]["frontend_url"].startswith("www-") and first["info"]["timezone"] == "Europe/Amsterdam"
    assert first["software"]["current_version"]["version"] == "v.8.3.0"
    assert "ssl_certificate" not in first  # as in the doc's list example


def test_environment_by_id_includes_its_certificate(api):
    data = api("GET", "/v1/environment/1").json()["data"]
    assert data["id"] == "1" and data["stats"]["records"] == 11
    assert data["ssl_certificate"]["subject"]["common_name"] == "www.mydomain.com"
    assert data["ssl_certificate"]["purposes"]["7"] == [True, True, "Any Purpose"]


def test_status_endpoint_gives_id_and_status(api):
    assert api("GET", "/v1/environment/2/status").json() == {"code": 200, "data": {"id": "2", "status": "ready"}}


def test_unknown_environment_gives_404_in_documented_shape(api):
    for path in ("/v1/environment/999", "/v1/environment/999/status", "/v1/environment/999/projects",
                 "/v1/environment/999/urls"):
        assert_error(api("GET", path), 404, "999")
    assert_error(api("POST", "/v1/environment/999/upgrade", json={"package": "SS-B"}), 404)


def test_non_numeric_or_huge_ids_give_404(api):
    assert_error(api("GET", "/v1/environment/abc"), 404)
    assert_error(api("GET", "/v1/environment/99999999999999999999999/status"), 404)
    assert_error(api("POST", "/v1/environment/1/project/99999999999999999999999"), 404)


def test_missing_api_key_gives_401(api):
    assert_error(api("GET", "/v1/environment", headers={}), 401)
    assert_error(api("GET", "/v1/environment", headers={"X-Apikey": "wrong"}), 401)


def test_api_key_as_url_parameter_works(api):
    assert api("GET", "/v1/environment/1", headers={}, params={"api_key": "demo-api-key"}).status_code == 200


def test_xml_when_asked(api):
    resp = api("GET", "/v1/environment/1/status", headers={**ORG, "Accept": "application/xml"})
    assert resp.headers["Content-Type"].startswith("application/xml")
    root = etree.fromstring(resp.content)
    assert root.findtext("data/status") == "ready" and root.findtext("data/id") == "1"


def test_unchanged_environment_gives_304_with_if_none_match(api):
    first = api("GET", "/v1/environment/1")
    etag = first.headers["ETag"]
    again = api("GET", "/v1/environment/1", headers={**ORG, "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""


# -- creating -----------------------------------------------------------------------------------
def test_created_environment_becomes_ready_after_delay(api):
    api.delay(0.2)
    resp = api("POST", "/v1/environment/", json=NEW)
    assert resp.status_code == 201
    body = resp.json()
    assert body["code"] == 201
    data = body["data"]
    assert data["status"] == "creating" and data["projects"] == []
    assert (data["name"], data["info"]["timezone"], data["info"]["api_url"]) == (NEW["name"], "Europe/London", "")
    assert data["id"] not in ("1", "2") and isinstance(data["id"], str)
    assert wait_for(api, data["id"], "ready")["data"]["status"] == "ready"
    ready = api("GET", f"/v1/environment/{data['id']}").json()["data"]
    assert ready["info"]["api_url"].startswith("api-") and ready["info"]["api_url"].endswith(".onflowize.com")
    assert data["id"] in [e["id"] for e in api("GET", "/v1/environment").json()["data"]]


def test_created_environment_stays_creating_until_the_delay_passes(api):
    env_id = api("POST", "/v1/environment", json=NEW).json()["data"]["id"]
    assert api("GET", f"/v1/environment/{env_id}/status").json()["data"]["status"] == "creating"


@pytest.mark.parametrize("package, storage", [("SS-A", 20), ("SS-B", 40), ("SS-C", 80), ("SS-D", 160)])
def test_package_sets_the_base_storage(api, package, storage):
    data = api("POST", "/v1/environment", json={**NEW, "package": package}).json()["data"]
    assert (data["package"]["code"], data["base_storage"], data["total_storage"]) == (package, storage, storage)


def test_region_without_timezone_uses_the_regions_timezone(api):
    data = api("POST", "/v1/environment", json={"name": "NY", "package": "SS-B", "region": "new york"}).json()
    assert data["data"]["info"]["timezone"] == "America/New_York"


def test_missing_region_gives_400(api):
    payload = {k: v for k, v in NEW.items() if k != "region"}
    assert_error(api("POST", "/v1/environment", json=payload), 400, "region")


@pytest.mark.parametrize("payload, word", [
    ({"package": "SS-A", "region": "london"}, "name"),
    ({"name": "x", "region": "london"}, "package"),
    ({"name": "x", "package": "SS-Z", "region": "london"}, "SS-A, SS-B, SS-C, SS-D"),
    ({"name": "x", "package": "SS-A", "region": "paris"}, "amsterdam"),
    ({"name": "x", "package": "SS-A", "region": "london", "timezone": "Mars/Olympus"}, "timezone"),
    ({"name": 42, "package": "SS-A", "region": "london"}, "string"),
])
def test_invalid_create_payload_gives_400(api, payload, word):
    assert_error(api("POST", "/v1/environment", json=payload), 400, word)


@pytest.mark.parametrize("data", [b"", b"{not json", b"[1, 2]", b'{"name": "x",}'])
def test_malformed_create_body_gives_400(api, data):
    assert_error(api("POST", "/v1/environment", data=data), 400)


# -- updating -----------------------------------------------------------------------------------
def test_update_name_and_description_with_form_data(api):
    resp = api("POST", "/v1/environment/2", headers={"X-Apikey": "demo-api-key"},
               files={"name": (None, "Renamed"), "description": (None, "New text")})
    assert resp.status_code == 200
    data = resp.json()["data"]
    assert (data["name"], data["description"], data["status"]) == ("Renamed", "New text", "ready")
    assert data["date_updated"] != "2022-05-16 00:00:00"
    assert api("GET", "/v1/environment/2").json()["data"]["name"] == "Renamed"


def test_update_with_json_body(api):
    assert api("POST", "/v1/environment/2", json={"description": "via json"}).json()["data"]["description"] == "via json"


def test_uploading_key_and_certificate_installs_a_certificate(api):
    resp = api("POST", "/v1/environment/2", headers={"X-Apikey": "demo-api-key"},
               files={"private_key_file": ("site.key", KEY), "certificate_file": ("site.crt", CERT),
                      "chain_files": ("chain.ca-bundle", CERT)})
    assert resp.status_code == 200, resp.text
    certificate = resp.json()["data"]["ssl_certificate"]
    assert certificate["valid_to"] > certificate["valid_from"] > 1602704994
    assert "ssl_certificate" in api("GET", "/v1/environment/2").json()["data"]


def test_pem_file_wins_over_other_files(api):
    resp = api("POST", "/v1/environment/2", headers={"X-Apikey": "demo-api-key"},
               files={"pem_file": ("site.pem", KEY + CERT), "private_key_file": ("lonely.key", KEY)})
    assert resp.status_code == 200 and "ssl_certificate" in resp.json()["data"]


@pytest.mark.parametrize("files, word", [
    ({"private_key_file": ("k.key", KEY)}, "together"),
    ({"certificate_file": ("c.crt", CERT)}, "together"),
    ({"chain_files": ("c.crt", CERT)}, "chain_files"),
    ({"pem_file": ("site.pem", "not a pem")}, "pem_file"),
    ({"private_key_file": ("k.key", CERT), "certificate_file": ("c.crt", CERT)}, "private key"),
    ({"delete_certificate": (None, "maybe")}, "delete_certificate"),
    ({"delete_certificate": (None, "1"), "pem_file": ("site.pem", KEY + CERT)}, "cannot be combined"),
])
def test_invalid_certificate_update_gives_400(api, files, word):
    resp = api("POST", "/v1/environment/2", headers={"X-Apikey": "demo-api-key"}, files=files)
    assert_error(resp, 400, word)


def test_empty_update_gives_400(api):
    assert_error(api("POST", "/v1/environment/2", json={}), 400, "nothing to update")


def test_delete_certificate_removes_it(api):
    resp = api("POST", "/v1/environment/1", headers={"X-Apikey": "demo-api-key"},
               files={"delete_certificate": (None, "1")})
    assert resp.status_code == 200 and "ssl_certificate" not in resp.json()["data"]
    assert "ssl_certificate" not in api("GET", "/v1/environment/1").json()["data"]


# -- deleting -----------------------------------------------------------------------------------
def test_deleted_environment_disappears_after_the_delay(api):
    api.delay(0.2)
    resp = api("DELETE", "/v1/environment/2")
    assert resp.status_code == 200
    assert resp.json()["data"]["status"] == "deleting"
    assert wait_for(api, "2", "deleted")["data"] == {"id": "2", "status": "deleted"}
    assert_error(api("GET", "/v1/environment/2"), 404)
    assert [e["id"] for e in api("GET", "/v1/environment").json()["data"]] == ["1"]
    assert_error(api("DELETE", "/v1/environment/2"), 404)


def test_busy_environment_refuses_actions_with_409(api):
    env_id = api("POST", "/v1/environment", json=NEW).json()["data"]["id"]
    for method, path, kwargs in (("DELETE", "", {}), ("POST", "/upgrade", {"json": {"package": "SS-B"}}),
                                 ("POST", "/optimize", {}), ("POST", "/project/12", {}),
                                 ("POST", "", {"json": {"name": "x"}})):
        assert_error(api(method, f"/v1/environment/{env_id}{path}", **kwargs), 409, "creating")
    assert api("GET", f"/v1/environment/{env_id}").status_code == 200


# -- upgrades and maintenance -------------------------------------------------------------------
def test_package_upgrade_is_asynchronous(api):
    api.delay(0.2)
    data = api("POST", "/v1/environment/1/upgrade", json={"package": "SS-C", "storage": 100}).json()["data"]
    assert (data["status"], data["package"]["code"], data["base_storage"]) == ("upgrading", "SS-C", 80)
    assert data["storage_addons"] == []  # storage is ignored when a package is sent
    assert wait_for(api, "1", "upgraded")["data"]["status"] == "upgraded"


def test_storage_upgrade_adds_100gb(api):
    api.delay(0)
    data = api("POST", "/v1/environment/2/upgrade", json={"storage": 100}).json()["data"]
    assert data["status"] == "upgrading" and data["total_storage"] == 140
    assert data["storage_addons"][0]["storage"] == 100
    api("POST", "/v1/environment/2/upgrade", json={"storage": 100})
    assert api("GET", "/v1/environment/2").json()["data"]["total_storage"] == 240


@pytest.mark.parametrize("payload, word", [
    ({"storage": 50}, "100GB"), ({"storage": "lots"}, "storage"), ({}, "package"),
    ({"package": "SS-A"}, "bigger"), ({"package": "XL"}, "package"),
])
def test_invalid_upgrade_gives_400(api, payload, word):
    assert_error(api("POST", "/v1/environment/1/upgrade", json=payload), 400, word)


def test_update_version_moves_to_the_latest_version(api):
    api.delay(0.2)
    data = api("POST", "/v1/environment/1/update-version").json()["data"]
    assert data["status"] == "upgrading" and data["software"]["current_version"]["version"] == "v.8.3.0"
    wait_for(api, "1", "upgraded")
    assert api("GET", "/v1/environment/1").json()["data"]["software"]["current_version"]["version"] == "v.8.4.0"
    assert_error(api("POST", "/v1/environment/1/update-version"), 409, "latest")


def test_optimize_is_asynchronous_and_ends_ready(api):
    api.delay(0.2)
    assert api("POST", "/v1/environment/2/optimize").json()["data"]["status"] == "upgrading"
    assert wait_for(api, "2", "ready")["data"]["status"] == "ready"


# -- projects -----------------------------------------------------------------------------------
def test_projects_lists_the_hosted_projects(api):
    body = api("GET", "/v1/environment/1/projects").json()
    assert body["code"] == 200
    assert [(p["id"], p["name"]) for p in body["data"]] == [("55", "Project 55"), ("113", "Project 113")]
    assert set(body["data"][0]) == {"id", "name", "version", "date_created", "date_updated"}


def test_adding_a_project_with_the_documented_payload(api):
    payload = {"static_data": "yes", "file_manager": "yes", "all_keystores": "insert", "all_tables": "insert",
               "keystores": [{"keystore_id": "my_keystore_1", "action": "insert"}],
               "tables": [{"name": "t", "action": "insert or update"}],
               "websites": [{"slug": "website_3", "action": "delete and insert"}]}
    resp = api("POST", "/v1/environment/1/project/12", json=payload)
    assert resp.status_code == 200
    assert resp.json()["data"]["projects"] == ["12", "55", "113"]
    assert "12" in [p["id"] for p in api("GET", "/v1/environment/1/projects").json()["data"]]


@pytest.mark.parametrize("payload, word", [
    ({"static_data": "maybe"}, "static_data"),
    ({"all_tables": "upsert"}, "insert or update"),
    ({"keystores": [{"keystore_id": "k", "action": "replace"}]}, "keystores[].action"),
    ({"websites": [{"action": "insert"}]}, "slug"),
    ({"tables": "all"}, "tables"),
    ({"source_environment": "abc"}, "source_environment"),
    ({"source_environment": 999}, "source_environment"),
])
def test_invalid_project_payload_gives_400(api, payload, word):
    assert_error(api("POST", "/v1/environment/1/project/12", json=payload), 400, word)


def test_all_keystores_makes_the_keystores_list_ignored(api):
    payload = {"all_keystores": "insert", "keystores": [{"keystore_id": "k", "action": "nonsense"}]}
    assert api("POST", "/v1/environment/1/project/12", json=payload).status_code == 200


def test_unknown_project_gives_404(api):
    assert_error(api("POST", "/v1/environment/1/project/4242"), 404, "4242")


def test_project_from_a_source_environment_needs_a_newer_version(api):
    assert api("POST", "/v1/environment/2/project/15").status_code == 200
    resp = api("POST", "/v1/environment/1/project/15", json={"source_environment": 2})
    assert resp.status_code == 200 and "15" in resp.json()["data"]["projects"]
    assert_error(api("POST", "/v1/environment/1/project/15", json={"source_environment": 2}), 409, "newer")
    assert_error(api("POST", "/v1/environment/1/project/12", json={"source_environment": 2}), 400, "source")


def test_deleting_a_project(api):
    resp = api("DELETE", "/v1/environment/1/project/55")
    assert resp.status_code == 200 and resp.json()["data"]["projects"] == ["113"]
    assert_error(api("DELETE", "/v1/environment/1/project/55"), 404, "55")


# -- url mappings -------------------------------------------------------------------------------
def test_urls_lists_the_documented_mappings(api):
    body = api("GET", "/v1/environment/1/urls").json()
    assert body["code"] == 200
    assert [(u["url"], u["project_id"], u["type"]) for u in body["data"]["urls_mapped"]] == [
        ("/landing/", 54, "hostedpage"), ("/my_website/", 1231, "website")]


def test_adding_and_deleting_url_mappings(api):
    new = [{"project_id": 55, "url": "/", "name": "my_website1", "type": "website"},
           {"project_id": 55, "url": "/my_website2", "name": "my_website2", "type": "website"}]
    mapped = api("POST", "/v1/environment/1/urls", json=new).json()["data"]["urls_mapped"]
    assert {"/", "/my_website2", "/landing/", "/my_website/"} == {u["url"] for u in mapped}
    gone = [{"project_id": 55, "url": "/my_website2", "type": "website"}]
    mapped = api("DELETE", "/v1/environment/1/urls", json=gone).json()["data"]["urls_mapped"]
    assert "/my_website2" not in {u["url"] for u in mapped}
    assert_error(api("DELETE", "/v1/environment/1/urls", json=gone), 404, "/my_website2")


def test_posting_an_existing_url_updates_it(api):
    change = [{"project_id": 55, "url": "/landing/", "name": "Spring sale", "type": "hostedpage"}]
    mapped = api("POST", "/v1/environment/1/urls", json=change).json()["data"]["urls_mapped"]
    landing = [u for u in mapped if u["url"] == "/landing/"]
    assert len(landing) == 1 and (landing[0]["name"], landing[0]["project_id"]) == ("Spring sale", 55)


@pytest.mark.parametrize("payload, word", [
    ([], "array"),
    ([{"project_id": 1, "url": "/x", "name": "x", "type": "page"}], "website, hostedpage"),
    ([{"url": "/x", "name": "x", "type": "website"}], "project_id"),
    ([{"project_id": 1, "url": "x", "name": "x", "type": "website"}], "start with"),
    ([{"project_id": 1, "url": "/x", "type": "website"}], "name"),
    ([{"project_id": 1, "url": "/x", "name": "a", "type": "website"}] * 2, "once"),
    ("nope", "array"),
])
def test_invalid_url_mapping_gives_400(api, payload, word):
    assert_error(api("POST", "/v1/environment/1/urls", json=payload), 400, word)


def test_a_failing_mapping_changes_nothing(api):
    payload = [{"project_id": 1, "url": "/ok", "name": "ok", "type": "website"},
               {"project_id": 1, "url": "/bad", "name": "bad", "type": "nope"}]
    api("POST", "/v1/environment/1/urls", json=payload)
    assert "/ok" not in {u["url"] for u in api("GET", "/v1/environment/1/urls").json()["data"]["urls_mapped"]}
