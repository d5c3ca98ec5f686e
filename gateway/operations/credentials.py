"""One credential policy: which presented credentials become which upstream Flowize credentials.

Front doors only parse what the caller presented — a SOAP ``AuthenticationObject`` or access-token
header, REST headers, URL parameters, a bearer token, OAuth client headers — into a
:class:`Presented`; the decision is taken here:

* **pass-through**: what was presented goes upstream in the same style (:func:`pass_through`);
* **a consumer's own** upstream credentials (``flowgate consumer add --upstream-*``,
  :func:`consumer_upstream`); operations fall back to the gateway-held ones from settings.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field

from gateway.credentials import FlowizeCredentials
from gateway.store.consumers import Consumer

__all__ = ["Presented", "consumer_upstream", "pass_through"]


@dataclass(frozen=True)
class Presented:
    """The credentials in a request, as sent. ``secret`` is the token, api key or client secret."""

    style: str  # bearer | apikey | url | client | none
    secret: str = field(default="", repr=False)
    app_key: str = ""
    client_id: str = ""
    scopes: str = ""  # X-Scopes / scopes as sent: the vendor enforces them (decision A6)

    def digest(self) -> str:
        """A stable, non-reversible name for what was presented (rate-limit buckets)."""
        raw = f"{self.style}|{self.client_id}|{self.secret}"
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def pass_through(presented: Presented) -> FlowizeCredentials | None:
    """The same credentials, in the same style, for the vendor; None when nothing was presented."""
    creds = None
    if presented.style == "bearer":
        creds = FlowizeCredentials.bearer(presented.secret)
    elif presented.style in ("apikey", "url"):
        creds = FlowizeCredentials.api_keys(presented.secret, presented.app_key, in_url=presented.style == "url")
    elif presented.style == "client":
        # The token is fetched once and cached (store-backed TokenManager), then sent as Bearer.
        creds = FlowizeCredentials.oauth(presented.client_id, presented.secret)
    return dataclasses.replace(creds, scopes=presented.scopes) if creds is not None and presented.scopes else creds


def consumer_upstream(consumer: Consumer | None) -> FlowizeCredentials | None:
    """A consumer's own upstream Flowize credentials, if it has some (else: the settings' ones)."""
    if consumer is None:
        return None
    if consumer.upstream_style == "oauth":
        return FlowizeCredentials.oauth(consumer.upstream_client_id, consumer.upstream_client_secret)
    if consumer.upstream_style in ("apikey", "url"):
        return FlowizeCredentials.api_keys(consumer.upstream_api_key, consumer.upstream_app_key,
                                           in_url=consumer.upstream_style == "url")
    return None
