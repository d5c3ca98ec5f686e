"""The SOAP front door: the Flowize SOAP envelopes, parsed once and served by Spyne at ``/v1/soap``."""

from gateway.soap.app import create_soap_app, published_wsdl

__all__ = ["create_soap_app", "published_wsdl"]
