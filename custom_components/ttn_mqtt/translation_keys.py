"""The translation keys of what the protocol layer reports, for Home Assistant to say."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from .protocol.errors import DownlinkProblem
from .protocol.session import ConnectResult

# A failed connection, in the config flow's errors and setup's exceptions.
CONNECT_ERRORS: Mapping[ConnectResult, str] = MappingProxyType(
    {
        ConnectResult.INVALID_AUTH: "invalid_auth",
        ConnectResult.MISSING_RIGHTS: "missing_rights",
        ConnectResult.CANNOT_CONNECT: "cannot_connect",
    }
)

# An invalid downlink request, in the send_downlink action's exceptions.
DOWNLINK_ERRORS: Mapping[DownlinkProblem, str] = MappingProxyType(
    {problem: problem.name.lower() for problem in DownlinkProblem}
)
