"""What the interop test modules share: the data every stack round-trips and the skip-or-fail rule."""

from __future__ import annotations

import os

import pytest

REQUIRE_SERVICES = os.environ.get("GATEWAY_REQUIRE_SERVICES", "") not in ("", "0", "false")
# Non-ASCII and XML-special characters: the getRecord Resource carries this JSON as element text.
DATA = {"client": [{"name": "Zoë Ñandú & <Sons>", "email": "zoe@example.com", "tags": ["a", "b"]}]}
INSTALL_HINT = "run .ci/install-interop-tools (as root) to install it"


def require(why: str | None, what: str) -> None:
    """Skip with ``why`` (the tool is missing), or fail when GATEWAY_REQUIRE_SERVICES says it must be here."""
    if why is None:
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{why}; GATEWAY_REQUIRE_SERVICES is set, so {what} must be here ({INSTALL_HINT})")
    pytest.skip(f"{why}; {INSTALL_HINT}, or set GATEWAY_REQUIRE_SERVICES=1 to make this a failure")


def local(qname: str | None) -> str | None:
    """The local part of a QName as a stack printed it (``soap:Sender``, gSOAP's ``"":404``)."""
    return qname.rsplit(":", 1)[-1] if qname else qname
