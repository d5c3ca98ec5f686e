"""The one credential policy (gateway/operations/credentials.py): presented -> upstream."""

from __future__ import annotations

from gateway.credentials import FlowizeCredentials
from gateway.operations.credentials import Presented, consumer_upstream, pass_through
from gateway.store.consumers import Consumer


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
