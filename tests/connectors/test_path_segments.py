"""Caller values in vendor URL paths: quoted as one segment, and refused when they would change the
path (``..`` is removed by urllib3 before sending, so ``/v1/keystore/../schema`` became ``/v1/schema``).

Every connector talks to a recording loopback server, which notes the request target exactly as it
arrived: a refused value must leave it empty.
"""

from __future__ import annotations

import pytest
from support import Recorder

from gateway.connectors.exaroutes import ExaRoutesConnector
from gateway.connectors.flowbox import FlowboxConnector
from gateway.connectors.flowcode import FlowcodeConnector
from gateway.connectors.flowevents import FlowEventsConnector
from gateway.connectors.flowize import FlowizeConnector
from gateway.credentials import FlowizeCredentials
from gateway.errors import InvalidRequest
from gateway.store.archives import ArchiveRepository

APIKEY = FlowizeCredentials.api_keys("demo-api-key", "demo-app")
HOSTILE = ["..", ".", "", "a/../b", "..\\x", "x/.", "key\x00", "line\nbreak", "del\x7f"]


@pytest.fixture
def vendor():
    recorder = Recorder()
    yield recorder
    recorder.shutdown()


@pytest.fixture
def flowize(http, vendor):
    return FlowizeConnector(http, vendor.url)


@pytest.mark.parametrize("value", HOSTILE)
def test_a_keystore_key_that_would_change_the_path_is_refused_and_never_sent(flowize, vendor, value):
    for call in (lambda: flowize.keystore_get(APIKEY, value, "schema"),
                 lambda: flowize.keystore_get(APIKEY, "ks", value),
                 lambda: flowize.keystore_delete(APIKEY, value, value),
                 lambda: flowize.table_delete(APIKEY, value, value),
                 lambda: flowize.table_update(APIKEY, "t", value, {"a": 1}),
                 lambda: flowize.table_search(APIKEY, value, {})):
        with pytest.raises(InvalidRequest) as caught:
            call()
        assert caught.value.status == 400
    assert vendor.seen == []


def test_a_dot_segment_is_refused_while_a_literal_percent_2e_goes_upstream_quoted_once_more(flowize, vendor):
    with pytest.raises(InvalidRequest, match=r"'\.\.'"):
        flowize.keystore_get(APIKEY, "..", "schema")
    # "%2E%2E" as a value (a caller that encoded twice) is a name like any other: quoted, it cannot
    # be read as a dot segment by urllib3, requests or the vendor.
    flowize.keystore_get(APIKEY, "%2E%2E", "schema")
    flowize.keystore_get(APIKEY, "a/b", "c d")
    assert vendor.seen == [("GET", "/v1/keystore/%252E%252E/schema"), ("GET", "/v1/keystore/a%2Fb/c%20d")]


def test_a_webhook_uri_of_dots_is_refused_without_showing_the_uri(flowize, vendor):
    for uri in ("..", "s3cret-hook/../../record"):
        with pytest.raises(InvalidRequest) as caught:
            flowize.webhook(uri, b"{}")
        assert "webhook uri" in caught.value.message and "s3cret" not in caught.value.message
    assert vendor.seen == []


def test_every_other_vendor_refuses_dot_segments_before_calling(http, vendor, tmp_path):
    from support import migrated_store

    store, cleanup = migrated_store(None, tmp_path, "sqlite")
    try:
        exaroutes = ExaRoutesConnector(http, vendor.url, "demo-client", "key", archives=ArchiveRepository(store))
        flowcode = FlowcodeConnector(http, vendor.url, "key")
        events = FlowEventsConnector(http, vendor.url, "secret")
        flowbox = FlowboxConnector(http, vendor.url)
        calls = {
            "exaroutes status": lambda v: exaroutes.status(v),
            "exaroutes download": lambda v: exaroutes.download(v),
            "flowcode get_code": lambda v: flowcode.get_code(v),
            "flowcode image": lambda v: flowcode.code_image(v),
            "flowcode bulk_status": lambda v: flowcode.bulk_status(v),
            "flowevents session": lambda v: events.session_info(v),
            "flowevents registrants": lambda v: events.list_registrants(v),
            "flowevents report": lambda v: events.summary_report(v),
            "flowbox feed": lambda v: flowbox.get_feed(v),
        }
        for name, call in calls.items():
            for value in ("..", ".", "a/../b", "x\r\ny"):
                with pytest.raises(InvalidRequest):
                    call(value)
                assert vendor.seen == [], name
    finally:
        cleanup()
