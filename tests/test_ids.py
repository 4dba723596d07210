"""TTN identifiers and what users paste: IDs, EUIs, API keys, hosts, auth_info answers.

No Home Assistant here: the config flow's tests check the same rules as a user meets
them in the form.
"""

from __future__ import annotations

from typing import Any

import pytest

from custom_components.ttn_mqtt.protocol.auth_info import (
    AUTH_INFO_PATH,
    RIGHT_DOWN_WRITE,
    RIGHT_TRAFFIC_READ,
    identity_server_host,
    key_application_id,
    key_rights,
)
from custom_components.ttn_mqtt.protocol.ids import (
    application_uid,
    is_valid_api_key,
    is_valid_id,
    looks_like_api_key_id,
    normalize_eui,
    normalize_host,
)


def test_ids() -> None:
    assert is_valid_id("my-app")
    assert is_valid_id("a1b")
    # The Things Stack's limit is 36 characters (api/ttn/lorawan/v3/identifiers.proto).
    assert is_valid_id("a" * 36)
    for bad in ("ab", "-app", "app-", "my--app", "My-App", "app/x", "a+b", "a" * 37):
        assert not is_valid_id(bad), bad


def test_euis_and_api_keys() -> None:
    assert normalize_eui("70-b3-d5-7e-d0-00-00-00") == "70B3D57ED0000000"
    assert normalize_eui("70:B3:D5:7E:D0:00:00:00") == "70B3D57ED0000000"
    with pytest.raises(ValueError, match="not an EUI"):
        normalize_eui("70B3D57ED00000")
    key = "NNSXS." + "A" * 39 + "." + "B" * 52
    assert is_valid_api_key(key)
    assert not is_valid_api_key(key.lower())
    assert looks_like_api_key_id("A" * 39)
    assert not looks_like_api_key_id(key)
    assert application_uid("app", "ttn") == "app@ttn"
    assert application_uid("app", "") == "app"


# The longest host name DNS allows: 253 characters (labels of at most 63).
LONGEST_HOST = ".".join(("a" * 63, "b" * 63, "c" * 63, "d" * 61))


@pytest.mark.parametrize(
    ("typed", "host"),
    [
        ("eu1.cloud.thethings.network", "eu1.cloud.thethings.network"),
        ("https://EU1.cloud.thethings.network/console/", "eu1.cloud.thethings.network"),
        ("mqtts://nam1.cloud.thethings.network:8883", "nam1.cloud.thethings.network"),
        (
            "my-tenant.eu1.cloud.thethings.industries.",
            "my-tenant.eu1.cloud.thethings.industries",
        ),
        ("lns.example.com?x=1", "lns.example.com"),
        ("192.168.1.20:1883", "192.168.1.20"),
        ("[fd00::1]:8883", "fd00::1"),
        ("fd00::1", "fd00::1"),
        # A host on the local network or in a container: one label.
        ("mosquitto", "mosquitto"),
        ("localhost", "localhost"),
        ("Mosquitto:1883", "mosquitto"),
        # Only the last label may not be a number.
        ("123.example.com", "123.example.com"),
        (LONGEST_HOST, LONGEST_HOST),
    ],
)
def test_normalize_host_cleans_what_users_paste(typed: str, host: str) -> None:
    assert normalize_host(typed) == host


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "https://",
        "a b",
        "eu1..network",
        "-eu1.network",
        "1.2.3.999",
        "example.42",
        "host:port",
        "user@host",
        "x" * 64 + ".com",
        LONGEST_HOST + "d",
    ],
)
def test_normalize_host_refuses_what_is_not_a_host(typed: str) -> None:
    with pytest.raises(ValueError, match="not a host"):
        normalize_host(typed)


@pytest.mark.parametrize(
    ("host", "identity_server"),
    [
        ("nam1.cloud.thethings.network", "eu1.cloud.thethings.network"),
        ("au1.cloud.thethings.network", "eu1.cloud.thethings.network"),
        (
            "acme.nam1.cloud.thethings.industries",
            "acme.eu1.cloud.thethings.industries",
        ),
        ("lorawan.example.org", "lorawan.example.org"),
    ],
)
def test_identity_server_host(host: str, identity_server: str) -> None:
    """The Things Network's Identity Server is on eu1, for every cluster."""
    assert identity_server_host(host) == identity_server


@pytest.mark.parametrize(
    ("answer", "app_id"),
    [
        (
            {
                "api_key": {
                    "entity_ids": {"application_ids": {"application_id": "my-app"}}
                }
            },
            "my-app",
        ),
        ({"api_key": {"entity_ids": {"user_ids": {"user_id": "alice"}}}}, None),
        (
            {"api_key": {"entity_ids": {"application_ids": {"application_id": "a/#"}}}},
            None,
        ),
        ({"oauth_access_token": {}}, None),
        ([], None),
        (None, None),
    ],
)
def test_key_application_id(answer: Any, app_id: str | None) -> None:
    assert key_application_id(answer) == app_id


@pytest.mark.parametrize(
    ("answer", "rights"),
    [
        (
            {"api_key": {"api_key": {"rights": [RIGHT_TRAFFIC_READ, 7, None]}}},
            {RIGHT_TRAFFIC_READ},
        ),
        ({"api_key": {"api_key": {"rights": RIGHT_TRAFFIC_READ}}}, set()),
        ({"api_key": {"api_key": {}}}, set()),
        ({"oauth_access_token": {}}, set()),
        (None, set()),
    ],
)
def test_key_rights(answer: Any, rights: set[str]) -> None:
    """The rights listed, and only texts; none from an answer of another shape."""
    assert key_rights(answer) == rights


def test_the_names_are_the_servers() -> None:
    """The path and the rights as The Things Stack names them.

    api/ttn/lorawan/v3/rights.proto, and the Identity Server's EntityAccess service
    (api/ttn/lorawan/v3/identityserver.proto: GET /api/v3/auth_info).
    """
    assert AUTH_INFO_PATH == "/api/v3/auth_info"
    assert RIGHT_TRAFFIC_READ == "RIGHT_APPLICATION_TRAFFIC_READ"
    assert RIGHT_DOWN_WRITE == "RIGHT_APPLICATION_TRAFFIC_DOWN_WRITE"


def test_a_long_id_is_refused_without_being_kept() -> None:
    """IDs are checked once each (a cache); text a sender made up is never kept."""
    from custom_components.ttn_mqtt.protocol import ids  # noqa: PLC0415

    kept = ids._matches_id.cache_info().currsize
    assert not is_valid_id("a" * 1_000_000)
    assert ids._matches_id.cache_info().currsize == kept
