"""A protocol client for tests: a real WebSocket, every message it received kept."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

DEFAULT_TIMEOUT = 10.0


class QuizClient:
    def __init__(self, session: aiohttp.ClientSession, url: str):
        self.session = session
        self.url = url
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.received: list[dict] = []
        self.frames: list[str] = []  # every text frame as it came, before parsing
        self._unread: list[tuple[int, dict]] = []  # (position in received, message)
        self.user_id: str | None = None
        self.token: str | None = None
        self.close_code: int | None = None
        self.answer_pings = True

    async def connect(self, **kwargs: Any) -> QuizClient:
        self.ws = await self.session.ws_connect(self.url, **kwargs)
        self.close_code = None
        return self

    async def hello(self, token: str | None = None) -> dict:
        await self.send({"type": "hello", "token": token if token is not None else self.token})
        welcome = await self.expect("welcome")
        self.user_id, self.token = welcome["user_id"], welcome["token"]
        return welcome

    async def send(self, message: dict) -> None:
        await self.ws.send_str(json.dumps(message))

    async def send_raw(self, text: str) -> None:
        await self.ws.send_str(text)

    async def _pong(self, t: Any) -> None:
        """Answer a ping, unless the socket is closing already: as a browser does, the
        pong is then dropped, and the messages still unread (a ``redirect``, say) and the
        close are read next. A ping that comes just before a node redirects and closes
        used to end a test with "Cannot write to closing transport" (issue 19's
        1,000-player broadcast benchmark, 4 runs of 12)."""
        try:
            await self.send({"type": "pong", "t": t})
        except aiohttp.ClientConnectionResetError:
            pass

    async def _read_more(self, timeout: float) -> None:
        frame = await asyncio.wait_for(self.ws.receive(), timeout)
        if frame.type == aiohttp.WSMsgType.TEXT:
            self.frames.append(frame.data)
            data = json.loads(frame.data)
            for message in data if isinstance(data, list) else [data]:
                self.received.append(message)
                if message.get("type") == "ping" and self.answer_pings:
                    await self._pong(message["t"])
                self._unread.append((len(self.received) - 1, message))
        elif frame.type == aiohttp.WSMsgType.CLOSE:
            self.close_code = frame.data
            raise ConnectionClosed(frame.data)
        elif frame.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            self.close_code = self.close_code or self.ws.close_code
            raise ConnectionClosed(self.close_code)
        elif frame.type == aiohttp.WSMsgType.ERROR:
            raise ConnectionClosed(self.ws.close_code)

    async def expect(self, type_: str, timeout: float = DEFAULT_TIMEOUT, **fields: Any) -> dict:
        """The next unread message of this type (and these field values); earlier ones are skipped."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            for i, (_, message) in enumerate(self._unread):
                if message.get("type") == type_ and all(message.get(k) == v for k, v in fields.items()):
                    del self._unread[: i + 1]
                    return message
            remaining = end - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"no {type_} {fields} within {timeout}s; got {[m for _, m in self._unread[-10:]]}"
                )
            try:
                await self._read_more(remaining)
            except TimeoutError:
                raise AssertionError(
                    f"no {type_} {fields} within {timeout}s; got {[m for _, m in self._unread[-10:]]}"
                ) from None

    async def expect_one_of(self, *types: str, timeout: float = DEFAULT_TIMEOUT) -> dict:
        """The next unread message of any of these types; earlier ones are skipped."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            for i, (_, message) in enumerate(self._unread):
                if message.get("type") in types:
                    del self._unread[: i + 1]
                    return message
            remaining = end - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"none of {types} within {timeout}s; got {[m for _, m in self._unread[-10:]]}"
                )
            try:
                await self._read_more(remaining)
            except TimeoutError:
                continue

    async def expect_closed(self, timeout: float = DEFAULT_TIMEOUT) -> int:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            try:
                await self._read_more(max(0.01, end - loop.time()))
            except ConnectionClosed as e:
                return e.code
            except TimeoutError:
                raise AssertionError(f"socket still open after {timeout}s") from None

    async def request(self, message: dict, reply_type: str, timeout: float = DEFAULT_TIMEOUT) -> dict:
        """Send a message with a fresh ref; wait for the error echoing it, or the reply.

        The reply is the first message of ``reply_type`` that echoes the ref or,
        for commands answered by a room broadcast (``start`` → ``question_shown``),
        the first one of that type to arrive after the send.
        """
        ref = f"r{len(self.received)}-{id(message)}"
        sent_at = len(self.received)
        await self.send({**message, "ref": ref})
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while True:
            for i, (n, m) in enumerate(self._unread):
                echoed = m.get("ref") == ref and m.get("type") in (reply_type, "error")
                broadcast = n >= sent_at and m.get("type") == reply_type and "ref" not in m
                if echoed or broadcast:
                    del self._unread[i]
                    return m
            try:
                await self._read_more(max(0.01, end - loop.time()))
            except TimeoutError:
                raise AssertionError(
                    f"no reply to {message} within {timeout}s; got {[m for _, m in self._unread[-10:]]}"
                ) from None

    async def drain(self, quiet_s: float = 0.2) -> None:
        """Read until nothing arrives for ``quiet_s`` seconds."""
        while True:
            try:
                await self._read_more(quiet_s)
            except TimeoutError:
                return

    def of_type(self, type_: str) -> list[dict]:
        return [m for m in self.received if m.get("type") == type_]

    async def close(self) -> None:
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()


class ConnectionClosed(Exception):
    def __init__(self, code: int | None):
        super().__init__(f"socket closed with code {code}")
        self.code = code


def apply_to_view(view: dict, message: dict) -> dict:
    """A client's member view: a ``state`` then the deltas it received."""
    t = message["type"]
    if t == "state":
        return {m["user_id"]: dict(m) for m in message["room"]["members"]}
    view = dict(view)
    if t == "member_joined":
        view[message["member"]["user_id"]] = dict(message["member"])
    elif t in ("member_left", "member_kicked"):
        view.pop(message["user_id"], None)
    elif t == "member_offline":
        view[message["user_id"]] = {**view[message["user_id"]], "online": False}
    elif t == "member_online":
        view[message["user_id"]] = {**view[message["user_id"]], "online": True}
    return view


def room_view(client: QuizClient) -> tuple[dict, list[int]]:
    """The members a client believes are in its room, and the seqs it saw from its last state on."""
    view: dict = {}
    seqs: list[int] = []
    for message in client.received:
        if message["type"] == "state":
            seqs = []
        if "seq" in message:
            view = apply_to_view(view, message)
            seqs.append(message["seq"])
    return view, seqs


def assert_no_seq_gap(client: QuizClient) -> int:
    """Every room-wide change the client heard of carries the previous seq + 1.

    A ``state`` restates the room at its seq; it may repeat the last one.
    Returns how many changes were checked.
    """
    last, changes = None, 0
    for message in client.received:
        if "seq" not in message:
            continue
        if message["type"] == "state":
            assert last is None or message["seq"] >= last, (last, message)
        else:
            assert last is None or message["seq"] == last + 1, (last, message)
            changes += 1
        last = message["seq"]
    return changes
