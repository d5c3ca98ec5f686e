"""One credential policy: which presented credentials become which upstream Flowize credentials.

Front doors only parse what the caller presented — a SOAP ``AuthenticationObject`` or access-token
header, REST headers, URL parameters, a bearer token, OAuth client headers — into a
:class:`Presented`; the decision is taken here:

* **pass-through**: what was presented goes upstream in the same style (:func:`pass_through`);
* **gateway-held** (``GATEWAY_REST_AUTH=gateway``, implied by ``GATEWAY_FLOWIZE_AUTH`` other than
  passthrough): what was presented is a Flowgate consumer key, in any style; the consumer's own
  upstream credentials (``flowgate consumer add --upstream-*``, :func:`consumer_upstream`) go
  upstream, else the gateway-held ones from settings. Vendor keys are not consumer keys.

:class:`CredentialPolicy` is that decision with the store lookup attached; the REST front door and
the SOAP front door both use it, so a consumer key means the same at either door.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Protocol

from gateway.config import Settings
from gateway.credentials import FlowizeCredentials
from gateway.errors import AuthError, Forbidden, GatewayError
from gateway.observe import note
from gateway.store.consumers import Consumer, ip_allowed

__all__ = ["MISSING", "WRONG", "ConsumerKeys", "CredentialPolicy", "Presented", "consumer_upstream",
           "gateway_mode", "ip_forbidden", "pass_through"]

MISSING = "Missing credentials: send a Bearer token, X-Apikey and X-App, or api_key and app_key."
WRONG = "The credentials are not correct."
NO_UPSTREAM = "No upstream Flowize credentials are configured for this consumer."


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


def gateway_mode(settings: Settings) -> bool:
    """Consumers present their own Flowgate keys (gateway-held) rather than the vendor's."""
    return settings.rest_auth == "gateway" or settings.flowize_auth != "passthrough"


def ip_forbidden() -> Forbidden:
    # The vendor's wording and code for "blocks logins from unknown IP addresses" (flowize-api.txt).
    return Forbidden("Ip not valid", code=437)


class ConsumerKeys(Protocol):
    """What the policy needs of the store: :class:`gateway.store.consumers.ConsumerRepository`."""

    def by_key(self, key: str) -> Consumer | None: ...


@dataclass(frozen=True)
class CredentialPolicy:
    consumers: ConsumerKeys
    gateway: bool                          # gateway-held mode (see the module docstring)
    held: FlowizeCredentials | None = None  # the settings' gateway-held credentials

    @classmethod
    def from_settings(cls, settings: Settings, consumers: ConsumerKeys) -> CredentialPolicy:
        return cls(consumers, gateway_mode(settings), FlowizeCredentials.from_settings(settings))

    def consumer(self, presented: Presented) -> Consumer | None:
        """In gateway-held mode, the active consumer whose key was presented, else None. With the
        OAuth client headers, ``client_id`` must be the consumer's name and ``client_secret`` its key."""
        if not self.gateway or presented.style == "none" or not presented.secret:
            return None
        consumer = self.consumers.by_key(presented.secret)
        if consumer is not None and presented.style == "client" and consumer.name != presented.client_id:
            return None
        if consumer is not None:
            note(consumer=consumer.name)
        return consumer

    def resolve(self, presented: Presented, client_ip: str) -> FlowizeCredentials | None:
        """The upstream credentials for a request that presented ``presented`` from ``client_ip``.

        Pass-through: what was presented (None when nothing was). Gateway-held: the consumer's own,
        else the settings' ones; AuthError (missing, unknown or revoked key), Forbidden (403/437, the
        consumer's IP allowlist), GatewayError (neither the consumer nor the settings hold any)."""
        if not self.gateway:
            return pass_through(presented)
        return self.admit(self.consumer(presented), presented, client_ip)

    def admit(self, consumer: Consumer | None, presented: Presented, client_ip: str) -> FlowizeCredentials:
        """Gateway-held mode, once :meth:`consumer` has looked the key up: see :meth:`resolve`."""
        if consumer is None:
            raise AuthError(MISSING if presented.style == "none" or not presented.secret else WRONG)
        if not ip_allowed(client_ip, consumer.ip_allowlist):
            raise ip_forbidden()
        creds = consumer_upstream(consumer) or self.held
        if creds is None:
            raise GatewayError(NO_UPSTREAM)
        return creds
