"""The one TLS trust of a stack: for its MQTT server and for every HTTPS request to it."""

from __future__ import annotations

import ssl


def client_ssl_context(ca_pem: str | None = None) -> ssl.SSLContext:
    """Return a TLS client context trusting the system's authorities and a stack's own CA.

    The MQTT session and every HTTPS request to the host use it, so that what connects
    over MQTT also reaches the host's API. Blocking (it reads the trust store): build
    it off the event loop. Raises ssl.SSLError, ValueError or TypeError for a bad CA.
    """
    context = ssl.create_default_context()
    if ca_pem:
        context.load_verify_locations(cadata=ca_pem)
    return context
