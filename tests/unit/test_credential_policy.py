"""The one credential policy (gateway/operations/credentials.py): presented -> upstream."""

from __future__ import annotations

import pytest

from gateway.config import Settings
from gateway.credentials import FlowizeCredentials
from gateway.errors import AuthError, Forbidden, GatewayError
from gateway.operations.credentials import CredentialPolicy, Presented, consumer_upstream, pass_through
from gateway.store import Store
from gateway.store.consumers import Consumer, ConsumerRepository
from gateway.store.crypto import SecretBox


def test_pass_through_keeps_each_style():
    assert pass_through(Presented("bearer", "tok")) == FlowizeCredentials.bearer("tok")
    assert pass_through(Presented("apikey", "k", "a")) == FlowizeCredentials.api_keys("k", "a")
    assert pass_through(Presented("url", "k", "a")) == FlowizeCredentials.api_keys("k", "a", in_url=True)
    assert pass_through(Presented("client", "s", client_id="c")) == FlowizeCredentials.oauth("c", "s")
    assert pass_through(Presented("none")) is None
    assert pass_through(Presented("apikey", "k", "a", scopes="records:read")).scopes == "records:read"


def test_consumer_upstream_uses_the_consumers_own_credentials_or_none():
    base = {"id": 1, "name": "c", "key_prefix": "fg_x"}
    assert consumer_upstream(None) is None
    assert consumer_upstream(Consumer(**base)) is None
    assert consumer_upstream(Consumer(**base, upstream_style="url", upstream_api_key="k", upstream_app_key="a")) \
        == FlowizeCredentials.api_keys("k", "a", in_url=True)
    assert consumer_upstream(Consumer(**base, upstream_style="oauth", upstream_client_id="i",
                                      upstream_client_secret="s")) == FlowizeCredentials.oauth("i", "s")


# -- gateway-held mode: consumer keys, through the store ---------------------------------------------
@pytest.fixture
def consumers(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'gw.db'}")
    store.migrate()
    yield ConsumerRepository(store, SecretBox(SecretBox.generate_key()))
    store.dispose()


def test_gateway_policy_resolves_a_consumer_key_in_any_style(consumers):
    key = consumers.add("acme", upstream_style="url", upstream_api_key="k", upstream_app_key="a").key
    policy = CredentialPolicy(consumers, gateway=True)
    own = FlowizeCredentials.api_keys("k", "a", in_url=True)
    for presented in (Presented("apikey", key, "ignored-app"), Presented("bearer", key), Presented("url", key),
                      Presented("client", key, client_id="acme")):
        assert policy.resolve(presented, "127.0.0.1") == own, presented.style
    with pytest.raises(AuthError, match="not correct"):  # client_id must be the consumer's name
        policy.resolve(Presented("client", key, client_id="someone-else"), "127.0.0.1")


def test_gateway_policy_falls_back_to_the_settings_credentials(consumers):
    key = consumers.add("plain").key
    held = FlowizeCredentials.oauth("id", "secret")
    assert CredentialPolicy(consumers, gateway=True, held=held).resolve(Presented("apikey", key), "::1") == held
    with pytest.raises(GatewayError, match="No upstream Flowize credentials"):
        CredentialPolicy(consumers, gateway=True).resolve(Presented("apikey", key), "::1")


def test_gateway_policy_refuses_vendor_unknown_revoked_and_missing_keys(consumers):
    key = consumers.add("gone", upstream_api_key="k").key
    consumers.revoke("gone")
    policy = CredentialPolicy(consumers, gateway=True, held=FlowizeCredentials.api_keys("k", "a"))
    for presented in (Presented("apikey", key), Presented("apikey", "demo-api-key", "demo-app"),
                      Presented("bearer", "fg_unknown"), Presented("none"), Presented("apikey", "", "app")):
        with pytest.raises(AuthError) as info:
            policy.resolve(presented, "127.0.0.1")
        assert type(info.value) is AuthError


def test_gateway_policy_applies_the_consumers_ip_allowlist(consumers):
    key = consumers.add("office", upstream_api_key="k", ip_allowlist="10.0.0.0/8").key
    policy = CredentialPolicy(consumers, gateway=True)
    assert policy.resolve(Presented("apikey", key), "10.1.2.3") == FlowizeCredentials.api_keys("k", "")
    with pytest.raises(Forbidden) as info:
        policy.resolve(Presented("apikey", key), "192.0.2.1")
    assert info.value.code == 437


def test_pass_through_policy_never_looks_consumers_up(consumers):
    key = consumers.add("acme", upstream_api_key="k").key
    policy = CredentialPolicy.from_settings(Settings(), consumers)
    assert not policy.gateway
    assert policy.resolve(Presented("apikey", key, "app"), "127.0.0.1") == FlowizeCredentials.api_keys(key, "app")
    assert policy.resolve(Presented("none"), "127.0.0.1") is None
    assert CredentialPolicy.from_settings(Settings(rest_auth="gateway"), consumers).gateway
