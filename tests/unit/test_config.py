"""Settings: environment and YAML, validated at start with a message naming the bad setting."""

from __future__ import annotations

import pytest

from gateway.config import Settings, SettingsError


def test_defaults_are_the_embedded_mode_of_design_md():
    s = Settings.load(environ={})
    assert (s.host, s.port, s.sandbox_port) == ("127.0.0.1", 8080, 8081)
    assert s.flowize_base_url == "http://127.0.0.1:8081"
    assert s.flowize_auth == "passthrough"
    assert s.http_connect_timeout > 0 and s.http_read_timeout > 0


def test_environment_overrides_yaml_which_overrides_defaults(tmp_path):
    cfg = tmp_path / "flowgate.yaml"
    cfg.write_text("port: 9000\nworkers: 3\nflowize_base_url: https://cloud-api.flowize.com\n")
    s = Settings.load(environ={"GATEWAY_CONFIG": str(cfg), "GATEWAY_PORT": "9100"})
    assert (s.port, s.workers, s.flowize_base_url) == (9100, 3, "https://cloud-api.flowize.com")


@pytest.mark.parametrize("env, named", [
    ({"GATEWAY_PORT": "eighty"}, "GATEWAY_PORT"),
    ({"GATEWAY_PORT": "70000"}, "GATEWAY_PORT"),
    ({"GATEWAY_HTTP_READ_TIMEOUT": "0"}, "GATEWAY_HTTP_READ_TIMEOUT"),
    ({"GATEWAY_FLOWIZE_AUTH": "magic"}, "GATEWAY_FLOWIZE_AUTH"),
    ({"GATEWAY_FLOWIZE_AUTH": "oauth"}, "GATEWAY_FLOWIZE_CLIENT_ID"),
    ({"GATEWAY_FLOWIZE_BASE_URL": "ftp://x"}, "GATEWAY_FLOWIZE_BASE_URL"),
    ({"GATEWAY_TRUST_PROXY": "maybe"}, "GATEWAY_TRUST_PROXY"),
    ({"GATEWAY_DATABASE_URL": "not a url"}, "GATEWAY_DATABASE_URL"),
])
def test_bad_setting_is_rejected_with_its_name(env, named):
    with pytest.raises(SettingsError, match=named):
        Settings.load(environ=env)


def test_yaml_errors_name_the_file(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("port: [unclosed\n")
    with pytest.raises(SettingsError, match="bad.yaml"):
        Settings.load(environ={"GATEWAY_CONFIG": str(cfg)})
    with pytest.raises(SettingsError, match="cannot read"):
        Settings.load(environ={"GATEWAY_CONFIG": str(tmp_path / "missing.yaml")})


def test_unknown_yaml_key_is_an_error(tmp_path):
    cfg = tmp_path / "typo.yaml"
    cfg.write_text("prot: 9000\n")
    with pytest.raises(SettingsError, match="prot"):
        Settings.load(environ={"GATEWAY_CONFIG": str(cfg)})


def test_redacted_settings_hide_secrets():
    s = Settings(flowize_auth="oauth", flowize_client_id="id", flowize_client_secret="s3cret",
                 database_url="postgresql://user:pw@db/flowgate")
    dumped = str(s.redacted())
    assert "s3cret" not in dumped and ":pw@" not in dumped
    assert "s3cret" not in repr(s)


def test_vendor_urls_follow_the_embedded_sandbox_port():
    s = Settings.load(environ={"GATEWAY_SANDBOX_PORT": "9181"})
    assert s.flowize_base_url == "http://127.0.0.1:9181"
    assert s.flowcode_base_url == "http://127.0.0.1:9181"
    explicit = Settings.load(environ={"GATEWAY_SANDBOX_PORT": "9181",
                                      "GATEWAY_FLOWIZE_BASE_URL": "https://cloud-api.flowize.com"})
    assert explicit.flowize_base_url == "https://cloud-api.flowize.com"


def test_a_job_lease_shorter_than_a_step_and_its_last_vendor_call_is_refused():
    """Else a worker still waiting on a vendor's answer loses the job to another, which sends the
    batch again."""
    with pytest.raises(SettingsError, match="GATEWAY_JOBS_LEASE_SECONDS=30 must be more than") as err:
        Settings.load(environ={"GATEWAY_JOBS_LEASE_SECONDS": "30"})  # 3 + 3.05 + 30 by default
    assert "36.05 s" in str(err.value)
    with pytest.raises(SettingsError, match="GATEWAY_JOBS_LEASE_SECONDS"):
        Settings.load(environ={"GATEWAY_HTTP_READ_TIMEOUT": "120"})  # the 90 s default lease no longer covers it
    assert Settings.load(environ={"GATEWAY_HTTP_READ_TIMEOUT": "120", "GATEWAY_JOBS_LEASE_SECONDS": "150"})
    assert Settings.load(environ={"GATEWAY_JOBS_LEASE_SECONDS": "37"}).jobs_lease_seconds == 37
