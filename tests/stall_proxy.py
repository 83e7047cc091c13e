"""A TCP proxy for tests: a stalled Wi-Fi between a browser and the server.

It listens on loopback and forwards every connection to the server, byte for
byte, until told to ``stall``: then it stops forwarding in both directions
without closing anything, as a network that stopped carrying packets does (the
sockets stay "open" on both ends). ``resume`` lets everything held through, in
order. While stalled it holds at most one read (``CHUNK``) per direction per
connection; the rest waits in the kernel's buffers, so what it holds is bounded,
and it takes at most ``MAX_CONNECTIONS`` (a page reconnecting in a loop would
show up as refused connections, not as a runaway test).
"""

from __future__ import annotations

import asyncio
import contextlib

CHUNK = 64 * 1024
MAX_CONNECTIONS = 100
LOOPBACK = "127.0.0.1"


class StallingProxy:
    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.port: int | None = None
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.connections = 0  # accepted so far: each reconnect of the page is one more
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> StallingProxy:
        self._server = await asyncio.start_server(self._serve, LOOPBACK, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def stall(self) -> None:
        self.flowing.clear()

    def resume(self) -> None:
        self.flowing.set()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.connections > MAX_CONNECTIONS:
            writer.close()
            return
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(LOOPBACK, self.upstream_port)
        except OSError:
            writer.close()
            self._writers.discard(writer)
            return
        self._writers.add(up_writer)
        pumps = [
            asyncio.create_task(self._pump(reader, up_writer)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]
        self._tasks.update(pumps)
        try:
            # Either side closing ends the connection on both.
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in pumps:
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            self._tasks.difference_update(pumps)
            for w in (writer, up_writer):
                w.close()
                self._writers.discard(w)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(CHUNK):
                await self.flowing.wait()  # stalled: hold this chunk, read no more
                writer.write(data)
                await writer.drain()
