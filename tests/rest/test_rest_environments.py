"""REST front door: Environments (with projects and url mappings) and OPTIONS /v1/options."""

from __future__ import annotations

KEY = {"X-Apikey": "demo-api-key"}
CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
PKEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"


def test_list_get_status_projects(http, gateway_url, auth):
    headers, params = auth
    listed = http.get(gateway_url + "/v1/environment", headers=headers, params=params, timeout=10)
    assert listed.status_code == 200 and listed.json()["code"] == 200
    assert [e["id"] for e in listed.json()["data"]][:2] == ["1", "2"]
    one = http.get(gateway_url + "/v1/environment/1", headers=headers, params=params, timeout=10).json()
    assert one["data"]["projects"] == ["55", "113"] and "ssl_certificate" in one["data"]
    status = http.get(gateway_url + "/v1/environment/1/status", headers=headers, params=params, timeout=10)
    assert status.json()["data"] == {"id": "1", "status": "ready"}
    projects = http.get(gateway_url + "/v1/environment/1/projects", headers=headers, params=params, timeout=10)
    assert projects.status_code == 200 and isinstance(projects.json()["data"], list)
    assert http.get(gateway_url + "/v1/environment/999", headers=headers, params=params, timeout=10).status_code == 404
    assert http.get(gateway_url + "/v1/environment/abc", headers=headers, params=params, timeout=10).status_code == 404


def test_create_upgrade_optimize_delete(http, gateway_url):
    created = http.post(gateway_url + "/v1/environment/", headers=KEY, timeout=10,
                        json={"name": "Mine", "package": "SS-A", "region": "london"})
    assert created.status_code == 201, created.text
    env_id = created.json()["data"]["id"]
    assert created.json()["data"]["status"] == "creating"
    busy = http.post(gateway_url + f"/v1/environment/{env_id}/optimize", headers=KEY, timeout=10)
    assert busy.status_code == 409
    missing = http.post(gateway_url + "/v1/environment", headers=KEY, json={"name": "x"}, timeout=10)
    assert missing.status_code == 400
    upgraded = http.post(gateway_url + "/v1/environment/2/upgrade", headers=KEY, json={"storage": 100}, timeout=10)
    assert upgraded.status_code == 200 and upgraded.json()["data"]["status"] == "upgrading"
    assert http.post(gateway_url + "/v1/environment/1/update-version", headers=KEY, timeout=10).status_code == 200
    deleted = http.delete(gateway_url + "/v1/environment/1", headers=KEY, timeout=10)
    assert deleted.status_code == 409 or deleted.json()["data"]["status"] == "deleting"


def test_update_with_multipart_files(http, gateway_url):
    resp = http.post(gateway_url + "/v1/environment/2", headers=KEY, timeout=10,
                     data={"name": "Renamed", "description": "via multipart"},
                     files={"private_key_file": ("k.key", PKEY), "certificate_file": ("c.crt", CERT)})
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["name"] == "Renamed" and data["ssl_certificate"]["version"] == 2
    lone = http.post(gateway_url + "/v1/environment/2", headers=KEY, timeout=10,
                     files={"certificate_file": ("c.crt", CERT)})
    assert lone.status_code == 400
    as_json = http.post(gateway_url + "/v1/environment/2", headers=KEY, json={"delete_certificate": 1}, timeout=10)
    assert as_json.status_code == 200 and "ssl_certificate" not in as_json.json()["data"]


def test_projects_and_url_mappings(http, gateway_url):
    added = http.post(gateway_url + "/v1/environment/2/project/54", headers=KEY, json={"static_data": "yes"},
                      timeout=10)
    assert added.status_code == 200 and "54" in added.json()["data"]["projects"]
    removed = http.delete(gateway_url + "/v1/environment/2/project/54", headers=KEY, timeout=10)
    assert "54" not in removed.json()["data"]["projects"]
    assert http.post(gateway_url + "/v1/environment/2/project/99999", headers=KEY, timeout=10).status_code == 404
    mapping = {"project_id": 55, "url": "/shop/", "name": "shop", "type": "website"}
    put = http.post(gateway_url + "/v1/environment/2/urls", headers=KEY, json=[mapping], timeout=10)
    assert put.status_code == 200 and any(m["url"] == "/shop/" for m in put.json()["data"]["urls_mapped"])
    got = http.get(gateway_url + "/v1/environment/2/urls", headers=KEY, timeout=10).json()
    assert got == put.json()
    gone = http.delete(gateway_url + "/v1/environment/2/urls", headers=KEY, timeout=10,
                       json=[{"project_id": 55, "url": "/shop/", "type": "website"}])
    assert gone.status_code == 200 and not any(m["url"] == "/shop/" for m in gone.json()["data"]["urls_mapped"])
    again = http.delete(gateway_url + "/v1/environment/2/urls", headers=KEY, timeout=10,
                        json=[{"project_id": 55, "url": "/shop/", "type": "website"}])
    assert again.status_code == 404


def test_options_lists_methods_the_gateway_serves(http, gateway_url):
    resp = http.options(gateway_url + "/v1/options", timeout=10)
    assert resp.status_code == 200 and resp.headers["Allow"] == "OPTIONS, GET, HEAD"
    methods = resp.json()["resource"]["methods"]
    assert {"method": "OPTIONS", "path": "/v1/options"} in methods
    assert http.get(gateway_url + "/v1/options", timeout=10).json() == resp.json()
    # every method the vendor lists is routed by the gateway (none answers 404 or 405)
    for entry in methods:
        path = entry["path"].replace(":environment_id", "1").replace(":project_id", "55")
        path = path.replace(":keystore_id", "weather").replace(":keystore_key", "london")
        path = path.replace(":table_name", "users").replace(":row_id", "8").replace(":path_uuid", "demo-record")
        path = path.replace(":uri", "demo-webhook").replace(":part", "status").replace(":action", "optimize")
        if entry["method"] == "DELETE":
            continue  # routed, but would change the demo data other assertions rely on
        answer = http.request(entry["method"], gateway_url + path, headers=KEY, timeout=10)
        routed = answer.status_code != 405 and not (
            answer.status_code == 404 and answer.json()["error"]["message"] == "The requested resource doesn't exist.")
        assert routed, (entry, answer.status_code, answer.text)
