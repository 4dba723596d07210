"""A TCP relay between Home Assistant and the broker, to cut one client off.

Killing the broker cuts everyone, the simulated network included. Through this relay
Home Assistant alone loses the link: the broker stays up and the network goes on
publishing uplinks that only The Things Stack's storage gets to keep.
"""

from __future__ import annotations

import asyncio
import contextlib


class CuttableLink:
    """Relay 127.0.0.1:<port> to the broker until cut; refuse connections while cut."""

    def __init__(self, target_host: str, target_port: int) -> None:
        """Prepare the relay; start() listens."""
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.is_cut = False
        self.is_blackholed = False
        self.port = 0

    async def start(self) -> None:
        """Listen on a free port of 127.0.0.1."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        """Drop every relayed connection, and refuse new ones until restore()."""
        self.is_cut = True
        for writer in list(self._writers):
            writer.close()

    def blackhole(self) -> None:
        """Drop every byte both ways from now on, closing nothing: a dead link.

        What Home Assistant sends is still taken (and discarded), as a router that
        drops the answers would; only the keepalive can tell.
        """
        self.is_blackholed = True

    def restore(self) -> None:
        """Relay new connections again, and bytes again."""
        self.is_cut = False
        self.is_blackholed = False

    async def stop(self) -> None:
        """Close everything and wait for the relaying to end."""
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _relay(
        self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter
    ) -> None:
        if self.is_cut:
            client_writer.close()
            return
        try:
            broker_reader, broker_writer = await asyncio.open_connection(*self._target)
        except OSError:
            client_writer.close()
            return
        self._writers |= {client_writer, broker_writer}
        try:
            await asyncio.gather(
                self._pipe(client_reader, broker_writer),
                self._pipe(broker_reader, client_writer),
            )
        finally:
            self._writers -= {client_writer, broker_writer}

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Copy until either side closes, then close the other; drop when blackholed."""
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                if self.is_blackholed:
                    continue
                writer.write(data)
                await writer.drain()
        writer.close()
