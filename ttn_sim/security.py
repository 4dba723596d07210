"""Who may do what on the simulated server, as a mosquitto Dynamic Security plugin file.

Why the plugin and not `password_file` + `acl_file`: with an ACL file mosquitto 2.0.11
grants every subscription (SUBACK 0x00) and only filters what it delivers, while The
Things Stack refuses a subscription outside the application (SUBACK 0x80). The plugin
checks subscriptions, so a client sees the refusal the real server gives.
"""

import base64
import hashlib
import os
from typing import Any

# What mosquitto_ctrl writes: PBKDF2-SHA512 over a 12-byte salt, 101 rounds.
_SALT_BYTES = 12
_ITERATIONS = 101

NETWORK_ROLE = "network-server"

# The API key rights the MQTT server looks at (lorawan-stack mqtt.go `Connect`).
RIGHT_APPLICATION_TRAFFIC_READ = "RIGHT_APPLICATION_TRAFFIC_READ"
RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE = "RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE"


def dynsec_client(
    username: str, password: str, role: str, *, disabled: bool = False
) -> dict[str, Any]:
    """Return a plugin client entry with the password hashed the way the plugin checks it.

    A disabled client is refused at CONNECT with CONNACK 5, whatever its password.
    """
    salt = os.urandom(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _ITERATIONS)
    return {
        "username": username,
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": _ITERATIONS,
        "roles": [{"rolename": role}],
        "disabled": disabled,
    }


def application_role(uid: str, *, can_read: bool, can_write: bool) -> dict[str, Any]:
    """Rights of an API key on one application: TTS filters, it does not refuse.

    Every filter under `v3/<uid>/` is granted whatever the key's rights, since the
    server checks only the topic's shape (lorawan-stack mqtt.go `Subscribe`). Without
    `can_read` ("Read application traffic") nothing is delivered (mystique
    publishing.go `Publish`: `CanRead`); without `can_write` ("Write downlink
    application traffic") a push or replace is dropped, still acknowledged
    (publishing.go `Deliver`: `CanWrite`). TTS never publishes on `down/push` or
    `down/replace`, so a client subscribed to `v3/<uid>/#` does not get its own
    requests back: those are never delivered.
    """
    requests = [f"v3/{uid}/devices/+/down/push", f"v3/{uid}/devices/+/down/replace"]
    acls = [
        _acl("subscribePattern", f"v3/{uid}/#"),
        _acl("unsubscribePattern", f"v3/{uid}/#"),
        *(_acl("publishClientReceive", topic, allow=False) for topic in requests),
    ]
    if can_read:
        acls.append(_acl("publishClientReceive", f"v3/{uid}/#"))
    if can_write:
        acls.extend(_acl("publishClientSend", topic) for topic in requests)
    return {"rolename": f"application:{uid}", "acls": acls}


def network_role() -> dict[str, Any]:
    """Rights of the simulated network server: everything."""
    acl_types = (
        "subscribePattern",
        "unsubscribePattern",
        "publishClientReceive",
        "publishClientSend",
    )
    return {"rolename": NETWORK_ROLE, "acls": [_acl(kind, "#") for kind in acl_types]}


def dynsec_config(
    clients: list[dict[str, Any]], roles: list[dict[str, Any]]
) -> dict[str, Any]:
    """Return the whole plugin file: anything not granted by a role is refused."""
    return {
        "clients": clients,
        "roles": roles,
        "groups": [],
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
    }


def _acl(acl_type: str, topic: str, *, allow: bool = True) -> dict[str, Any]:
    # Within a role, higher priorities are checked first: denials go before grants.
    return {
        "acltype": acl_type,
        "topic": topic,
        "allow": allow,
        "priority": 0 if allow else 1,
    }
