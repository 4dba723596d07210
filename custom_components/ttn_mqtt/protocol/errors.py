"""The protocol layer's exceptions."""

from __future__ import annotations

from enum import Enum, auto


class TtnParseError(ValueError):
    """A message from the server could not be understood; it is skipped."""


class DownlinkProblem(Enum):
    """What is wrong with a downlink request."""

    INVALID_F_PORT = auto()
    PAYLOAD_XOR_DECODED = auto()
    DECODED_NOT_OBJECT = auto()
    DECODED_NOT_JSON = auto()
    DECODED_TOO_LARGE = auto()
    PAYLOAD_TOO_LONG = auto()
    INVALID_HEX = auto()
    INVALID_BASE64 = auto()


class DownlinkError(ValueError):
    """A downlink request is invalid; `problem` says what is wrong."""

    def __init__(self, problem: DownlinkProblem, message: str) -> None:
        """Keep what is wrong, for the caller to tell, next to a message for logs."""
        super().__init__(message)
        self.problem = problem
