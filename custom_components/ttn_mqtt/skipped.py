"""Saying which messages from the server were skipped, without flooding the log."""

from __future__ import annotations

import logging
from time import monotonic

_LOGGER = logging.getLogger(__package__)

# After the first of a kind, how often the count of the skipped ones is said.
REPEAT_AFTER = 3600.0


class SkippedMessages:
    """Say the first skipped message of each kind, then once an hour how many more.

    A kind is what the topic names (`up`, `join`, `down/failed` ...). Only the topic
    and the reason are said: a payload may hold what its sender did not mean to show.
    """

    def __init__(self, app_id: str) -> None:
        """Start with nothing skipped."""
        self._app_id = app_id
        # kind -> (when it was last said, how many were skipped since).
        self._kinds: dict[str, tuple[float, int]] = {}

    def skip(self, topic: str, reason: str) -> None:
        """Note a message that cannot be used, and say so if it is time."""
        kind = _kind(topic)
        now = monotonic()
        said = self._kinds.get(kind)
        if said is None:
            self._kinds[kind] = (now, 0)
            _LOGGER.warning(
                "Skipped a message of %s on %s: %s. Further ones of this kind are "
                "counted and said once an hour",
                self._app_id,
                topic,
                reason,
            )
            return
        last, count = said
        if now - last < REPEAT_AFTER:
            self._kinds[kind] = (last, count + 1)
            return
        self._kinds[kind] = (now, 0)
        _LOGGER.warning(
            "Skipped %s more messages of kind %s of %s in the last hour; the latest on "
            "%s: %s",
            count + 1,
            kind,
            self._app_id,
            topic,
            reason,
        )


def _kind(topic: str) -> str:
    """Return what a v3 topic names after its device (`up`, `down/failed` ...)."""
    parts = topic.split("/")
    if len(parts) > 4 and parts[0] == "v3" and parts[2] == "devices":
        return "/".join(parts[4:])
    return "unknown topic"
