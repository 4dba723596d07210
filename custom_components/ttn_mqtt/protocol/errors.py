"""The protocol layer's exceptions."""

from __future__ import annotations


class TtnParseError(ValueError):
    """A message from the server could not be understood; it is skipped."""


class DownlinkError(ValueError):
    """A downlink request is invalid; `reason` names what is wrong."""

    def __init__(self, reason: str, message: str) -> None:
        """Keep a stable reason code next to the human-readable message."""
        super().__init__(message)
        self.reason = reason
