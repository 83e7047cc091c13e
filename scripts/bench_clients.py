"""Load clients for ``scripts/bench.py``: many WebSocket players in one asyncio loop.

A load process (``worker_main``) runs thousands of ``Player``s, each a real
aiohttp WebSocket speaking docs/protocol.md: ``hello``, then ``join`` with the room
code, ``pong`` to every ``ping``, ``answer`` when told to. The coordinator
(bench.py) drives the processes over a pipe with small commands ("open these
players", "answer question 3 within 1 s", "how many have seen question 3?") and
reads back counters and latencies.

Times are ``time.monotonic()``: on Linux it is one clock for every process on
the machine, so the coordinator can subtract its own send time from a
receipt time taken in a load process.

What a player keeps is chosen to stay cheap at 5,000 players each hearing
5,000 joins (12.5 million deltas; the load processes share the machine's two
cores with the server, so their CPU is the server's loss):

* A player's member view is its ``state``'s members plus the deltas after it.
  Most players only count it: with every ``seq`` checked for gaps, a count is
  exact unless the server repeats a member in a delta. One player in
  ``verify_every`` keeps the full set of (interned) user ids and counts such
  repeats, so that bug cannot hide.
* Frames made only of ``member_joined`` are read without a JSON parse, and so
  is a counting player's own ``state`` (its seq, and its members counted by a
  key only a member has): at 10,000 members a ``state`` is ~1 MB (6.6 ms to
  parse, 0.45 ms to count), and parsing a fill's 10,000 of them would take the
  load processes ~33 s of CPU, more than the server's whole fill. A verifying
  player parses its ``state`` and keeps every id.
* Players join asking for membership summaries (``"membership":"summary"``, as
  the web client does): in a big room a player then hears of joins as one
  ``members_changed`` per fan-out window, whose count replaces its view's and whose
  seq may jump ahead over the changes it sums up, and a ``state`` that lists the
  host and the player only, with ``member_count``. A verifying player stops
  verifying at its first summary or such state (it no longer knows the ids) and counts.
  ``membership="full"`` makes them v1 clients that hear every join, as before.
* The process-wide ``Tally`` holds every counter the coordinator polls, so a
  poll is O(1) and never walks the players.
* A load process collects garbage as rarely as the server does: with Python's
  default thresholds its full collections (every parsed ``state`` is thousands
  of objects) paused it for tens of milliseconds, and every receipt that waited
  counted as server latency. Its pauses are reported with the results.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import json
import os
import re
import resource
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiohttp
from bench_gc import GcPauses

MAX_FRAME_BYTES = 64 * 1024 * 1024  # a `state` of 10,000 members is ~1 MB; never refuse one
CONNECT_TIMEOUT_S = 30.0
CLOSE_TIMEOUT_S = 10.0
ERROR_SAMPLES = 8

# The bulk of a big lobby is arrays of member_joined: reading only the fields the
# view needs, straight from the text, halves what the load processes take from
# the server's CPU. Any frame that does not match this shape exactly (another
# type in it, a count that disagrees) is parsed as JSON like every other frame.
_ANY_TYPE = '"type":"'
_JOINED_TYPE = '"type":"member_joined"'
_JOINED_IDS = re.compile(r'"type":"member_joined","seq":\d+,"member":\{"user_id":"([^"\\]*)"')
_JOINED_SEQ = re.compile(r'"type":"member_joined","seq":(\d+)')
# A ``state`` on its own in a frame; ``"online":`` is a key of each member in its list
# and nowhere else in it (a quote inside a JSON string is escaped, so no name can fake it).
_STATE_SEQ = re.compile(r'\{"type":"state","seq":(\d+),"room":\{')
_MEMBERS_START = ',"members":['
_MEMBERS_END = '},"you":{'
_MEMBER_KEY = '"online":'
# A state for a player that asked for summaries, in a big room, lists the host and the
# player only, and says how many members there are (in its room part, before the list).
_MEMBER_COUNT = re.compile(r'"member_count":(\d+)')

HELLO = json.dumps({"type": "hello", "token": None})
RESYNC = json.dumps({"type": "resync"})
intern = sys.intern


def raise_fd_limit() -> int:
    """Open files up to the hard limit: 5,000 sockets need more than the usual 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1_048_576
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def process_cpu_s() -> float:
    return time.process_time()


# --------------------------------------------------------------------------- per-process counters


class Tally:
    """Every counter of one load process; players update it as messages arrive."""

    def __init__(self) -> None:
        self.opened = 0
        self.connect_failed: Counter[str] = Counter()
        self.welcomed = 0
        self.joined = 0
        self.joined_alive = 0  # joined and socket still open: the clients every wait counts on
        self.join_latencies: list[float] = []
        self.join_sent_at: list[float] = []  # when each of join_latencies' joins was sent
        self.join_failed: Counter[str] = Counter()
        self.last_state_at = 0.0
        self.converged = 0
        self.converged_last = 0.0
        self.frames = 0
        self.messages = 0
        self.chars = 0
        self.seq_gaps = 0
        self.repeated_members = 0  # member_joined for someone already in a verifying player's view
        self.errors: Counter[str] = Counter()
        self.error_samples: list[dict] = []
        self.closes: Counter[str] = Counter()
        self.shown: dict[int, list[float]] = {}  # question -> [players who saw it, last receipt]
        self.revealed: dict[int, list[float]] = {}  # question -> [players with closed+leaderboard, last]
        self.answers_sent: dict[int, int] = {}
        self.answer_first_sent: dict[int, float] = {}
        self.answer_last_sent: dict[int, float] = {}
        self.accepted: dict[int, list[float]] = {}  # question -> latencies (s)
        self.accepted_last: dict[int, float] = {}
        self.accepted_first: dict[int, float] = {}
        self.answer_errors: Counter[str] = Counter()

    def reset_traffic(self) -> None:
        self.frames = self.messages = self.chars = 0

    def error(self, message: dict) -> None:
        self.errors[message.get("code", "?")] += 1
        if len(self.error_samples) < ERROR_SAMPLES:
            self.error_samples.append(message)

    @staticmethod
    def _mark(table: dict[int, list[float]], key: int, now: float) -> None:
        entry = table.get(key)
        if entry is None:
            table[key] = [1, now]
        else:
            entry[0] += 1
            if now > entry[1]:
                entry[1] = now


# --------------------------------------------------------------------------- one player


class Player:
    """One WebSocket client. Handlers run synchronously per message and return
    texts to send, so a frame is handled without a task switch per message."""

    __slots__ = (
        "tally",
        "index",
        "code",
        "name",
        "target",
        "ws",
        "user_id",
        "token",
        "view",
        "members",
        "seq",
        "join_sent",
        "joined",
        "converged",
        "closed_q",
        "revealed_q",
        "answer_sent",
        "membership",
        "inbox",
        "alive",
    )

    def __init__(
        self,
        tally: Tally,
        index: int,
        code: str | None,
        name: str,
        target: int = 0,
        verify: bool = True,
        membership: str = "summary",
    ):
        self.tally = tally
        self.index = index
        self.code = code  # join this room once welcomed (None: hello only)
        self.name = name
        self.target = target  # members the view must hold to count as converged
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.user_id: str | None = None
        self.token: str | None = None
        self.view: set[str] | None = set() if verify else None  # None: this player only counts
        self.members = 0  # the size of the member view
        self.seq: int | None = None
        self.join_sent = 0.0
        self.joined = False
        self.converged = False
        self.closed_q: int | None = None
        self.revealed_q: int | None = None
        self.answer_sent: dict[int, float] = {}
        self.membership = membership  # what its join asks for: "summary" or "full" (v1)
        self.inbox: asyncio.Queue | None = None  # set for the coordinator's host and probe clients
        self.alive = False

    # ---- life

    async def run(
        self, session: aiohttp.ClientSession, url: str, start_at: float = 0.0, token: str | None = None
    ) -> None:
        """Connect at ``start_at`` (monotonic), hello, join when welcomed, read until closed."""
        delay = start_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tally = self.tally
        try:
            self.ws = await session.ws_connect(
                url,
                max_msg_size=MAX_FRAME_BYTES,
                autoping=True,
                heartbeat=None,
                timeout=aiohttp.ClientWSTimeout(ws_close=CLOSE_TIMEOUT_S),
            )
        except Exception as e:  # noqa: BLE001 - every failure is counted, none stops the run
            tally.connect_failed[type(e).__name__] += 1
            return
        tally.opened += 1
        self.alive = True
        try:
            hello = HELLO if token is None else json.dumps({"type": "hello", "token": token})
            await self.ws.send_str(hello)
            async for frame in self.ws:
                if frame.type == aiohttp.WSMsgType.TEXT:
                    for text in self.on_frame(frame.data, time.monotonic()):
                        await self.ws.send_str(text)
                elif frame.type == aiohttp.WSMsgType.ERROR:
                    break
        except (ConnectionError, RuntimeError, aiohttp.ClientError) as e:
            tally.closes[f"error:{type(e).__name__}"] += 1
        finally:
            self._closed()

    def _closed(self) -> None:
        if not self.alive:
            return
        self.alive = False
        code = self.ws.close_code if self.ws is not None else None
        self.tally.closes[str(code)] += 1
        if self.joined:
            self.tally.joined_alive -= 1
        if self.inbox is not None:
            self.inbox.put_nowait({"type": "_closed", "code": code})

    async def close(self) -> None:
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()

    async def send(self, message: dict) -> None:
        await self.ws.send_str(json.dumps(message))

    # ---- receiving

    def on_frame(self, text: str, now: float) -> list[str]:
        tally = self.tally
        tally.frames += 1
        tally.chars += len(text)
        if self.inbox is None and (self.on_joined_only(text, now) or self.on_own_state(text, now)):
            return []
        data = json.loads(text)
        messages = data if type(data) is list else (data,)
        tally.messages += len(messages)
        out: list[str] = []
        for message in messages:
            handler = HANDLERS.get(message.get("type"))
            if handler is not None:
                handler(self, message, now, out)
            if self.inbox is not None and message.get("type") not in QUIET:
                self.inbox.put_nowait(message)
        return out

    def on_joined_only(self, text: str, now: float) -> bool:
        """Handle a frame made only of member_joined messages without parsing it; False if it is not one.

        Its seqs must run on from the last one without a gap: the first is checked
        and the last must be first + count - 1 (the server numbers them in order);
        anything else goes through the full parse, which counts the gap and resyncs.
        """
        joined = text.count(_JOINED_TYPE)
        if joined == 0 or joined != text.count(_ANY_TYPE) or self.seq is None:
            return False
        first = _JOINED_SEQ.match(text, text.find(_JOINED_TYPE))
        last = _JOINED_SEQ.match(text, text.rfind(_JOINED_TYPE))
        if first is None or last is None:
            return False
        first_seq, last_seq = int(first.group(1)), int(last.group(1))
        if first_seq != self.seq + 1 or last_seq != first_seq + joined - 1:
            return False
        view = self.view
        if view is None:
            self.members += joined
        else:
            user_ids = _JOINED_IDS.findall(text)
            if len(user_ids) != joined:
                return False
            view.update(map(intern, user_ids))
            self.tally.repeated_members += self.members + joined - len(view)
            self.members = len(view)
        self.seq = last_seq
        self.tally.messages += joined
        self._check_converged(now)
        return True

    def on_own_state(self, text: str, now: float) -> bool:
        """A counting player's ``state`` (the frame holding it alone) without a parse;
        False for anything else, which then takes the full parse."""
        if self.view is not None or self.seq is not None or not text.startswith('{"type":"state"'):
            return False
        head = _STATE_SEQ.match(text)
        start = text.find(_MEMBERS_START)
        end = text.rfind(_MEMBERS_END)
        if head is None or start < 0 or end < start or not text.endswith("}"):
            return False
        self.tally.messages += 1
        brief = _MEMBER_COUNT.search(text, 0, start)
        members = int(brief.group(1)) if brief is not None else text.count(_MEMBER_KEY, start, end)
        self._state_read(members, int(head.group(1)), now)
        return True

    def _check_seq(self, message: dict, out: list[str]) -> None:
        """A gap means a lost broadcast: count it and resync, as docs/protocol.md asks of clients."""
        seq = message["seq"]
        if self.seq is not None and seq != self.seq + 1:
            self.tally.seq_gaps += 1
            out.append(RESYNC)
        self.seq = seq

    def _check_converged(self, now: float) -> None:
        if not self.converged and self.target and self.members >= self.target:
            self.converged = True
            tally = self.tally
            tally.converged += 1
            if now > tally.converged_last:
                tally.converged_last = now

    def on_welcome(self, message: dict, now: float, out: list[str]) -> None:
        self.user_id, self.token = message["user_id"], message["token"]
        self.tally.welcomed += 1
        if self.code is not None:
            join = {"type": "join", "code": self.code, "name": self.name, "ref": "j"}
            if self.membership != "full":
                join["membership"] = self.membership
            out.append(json.dumps(join))
            self.join_sent = time.monotonic()

    def on_state(self, message: dict, now: float, out: list[str]) -> None:
        members = message["room"]["members"]
        count = message["room"].get("member_count")  # a brief state: the host and this player only
        if count is not None:
            self.view = None  # from here this player counts
        elif self.view is not None:
            self.view = {intern(m["user_id"]) for m in members}
        self._state_read(len(members) if count is None else count, message["seq"], now)

    def _state_read(self, members: int, seq: int, now: float) -> None:
        self.members = members
        self.seq = seq
        tally = self.tally
        if self.join_sent and not self.joined:
            self.joined = True
            tally.joined += 1
            tally.joined_alive += 1
            tally.join_latencies.append(now - self.join_sent)
            tally.join_sent_at.append(self.join_sent)
            tally.last_state_at = max(tally.last_state_at, now)
        self._check_converged(now)

    def on_member_joined(self, message: dict, now: float, out: list[str]) -> None:
        self._check_seq(message, out)
        view = self.view
        if view is None:
            self.members += 1
        else:
            user_id = intern(message["member"]["user_id"])
            if user_id in view:
                self.tally.repeated_members += 1
            view.add(user_id)
            self.members = len(view)
        self._check_converged(now)

    def on_members_changed(self, message: dict, now: float, out: list[str]) -> None:
        """A membership summary: its seq may jump ahead (never back), its count is the room's."""
        seq = message["seq"]
        if self.seq is not None and seq <= self.seq:
            self.tally.seq_gaps += 1
            out.append(RESYNC)
        self.seq = seq
        self.view = None  # the ids it stands for are not in it: from here this player counts
        self.members = message["count"]
        self._check_converged(now)

    def on_member_gone(self, message: dict, now: float, out: list[str]) -> None:
        self._check_seq(message, out)
        if self.view is None:
            self.members -= 1
        else:
            self.view.discard(message["user_id"])
            self.members = len(self.view)

    def on_room_change(self, message: dict, now: float, out: list[str]) -> None:
        self._check_seq(message, out)

    def on_question_shown(self, message: dict, now: float, out: list[str]) -> None:
        self._check_seq(message, out)
        Tally._mark(self.tally.shown, message["index"], now)

    def on_question_closed(self, message: dict, now: float, out: list[str]) -> None:
        self._check_seq(message, out)
        self.closed_q = message["index"]

    def on_leaderboard(self, message: dict, now: float, out: list[str]) -> None:
        # The reveal is complete for this client once it has the question's
        # results and the leaderboard that follows them.
        if self.closed_q is not None and self.revealed_q != self.closed_q:
            self.revealed_q = self.closed_q
            Tally._mark(self.tally.revealed, self.closed_q, now)

    def on_answer_accepted(self, message: dict, now: float, out: list[str]) -> None:
        q = message["question"]
        sent = self.answer_sent.pop(q, None)
        if sent is not None:
            tally = self.tally
            tally.accepted.setdefault(q, []).append(now - sent)
            if now > tally.accepted_last.get(q, 0.0):
                tally.accepted_last[q] = now
            if now < tally.accepted_first.get(q, now + 1):
                tally.accepted_first[q] = now

    def on_ping(self, message: dict, now: float, out: list[str]) -> None:
        out.append(json.dumps({"type": "pong", "t": message.get("t")}))

    def on_error(self, message: dict, now: float, out: list[str]) -> None:
        tally = self.tally
        tally.error(message)
        ref = message.get("ref")
        if ref == "j" and not self.joined:
            tally.join_failed[message.get("code", "?")] += 1
        elif isinstance(ref, str) and ref.startswith("a"):
            self.answer_sent.pop(int(ref[1:]), None)
            tally.answer_errors[message.get("code", "?")] += 1

    # ---- sending answers

    def schedule_answer(self, loop: asyncio.AbstractEventLoop, at: float, question: int, choice: int) -> None:
        loop.call_at(at, lambda: asyncio.ensure_future(self._answer(question, choice)))

    async def _answer(self, question: int, choice: int) -> None:
        await self.send_answer(question, choice, answer_text(question, choice))

    async def send_answer(self, question: int, choice: int, text: str) -> None:
        if not self.alive or self.ws is None or self.ws.closed:
            return
        self._note_sent(question)
        try:
            await self.ws.send_str(text)
        except (ConnectionError, RuntimeError):
            self.answer_sent.pop(question, None)
            self.tally.answer_errors["send_failed"] += 1

    def send_frame_now(self, question: int, frame: bytes) -> None:
        """Write an answer's WebSocket frame, built beforehand (``client_text_frame``), straight
        to the socket: a few microseconds, where ``send_str`` costs tens on a busy core."""
        if not self.alive or self.ws is None or self.ws.closed:
            return
        # aiohttp's client socket has no public transport; its writer writes to this one.
        transport = self.ws._writer.transport  # noqa: SLF001
        if transport.is_closing():
            self.tally.answer_errors["send_failed"] += 1
            return
        self._note_sent(question)
        transport.write(frame)

    def _note_sent(self, question: int) -> None:
        tally = self.tally
        now = time.monotonic()
        self.answer_sent[question] = now
        tally.answers_sent[question] = tally.answers_sent.get(question, 0) + 1
        tally.answer_first_sent.setdefault(question, now)
        tally.answer_last_sent[question] = now


def answer_text(question: int, choice: int) -> str:
    return json.dumps({"type": "answer", "question": question, "choice": choice, "ref": f"a{question}"})


def client_text_frame(text: str) -> bytes:
    """RFC 6455 sections 5.2 and 5.3: one final text frame as a client must send it,
    masked with a random key (the payload is short: under 126 bytes)."""
    payload = text.encode()
    if len(payload) >= 126:
        raise ValueError("client_text_frame builds frames of up to 125 bytes")
    key = os.urandom(4)
    masked = bytes(b ^ key[i & 3] for i, b in enumerate(payload))
    return bytes((0x81, 0x80 | len(payload))) + key + masked


HANDLERS: dict[str, Callable[[Player, dict, float, list[str]], None]] = {
    "welcome": Player.on_welcome,
    "state": Player.on_state,
    "member_joined": Player.on_member_joined,
    "members_changed": Player.on_members_changed,
    "member_left": Player.on_member_gone,
    "member_kicked": Player.on_member_gone,
    "member_offline": Player.on_room_change,
    "member_online": Player.on_room_change,
    "room_locked": Player.on_room_change,
    "room_unlocked": Player.on_room_change,
    "room_closed": Player.on_room_change,
    "quiz_ended": Player.on_room_change,
    "question_shown": Player.on_question_shown,
    "question_closed": Player.on_question_closed,
    "leaderboard": Player.on_leaderboard,
    "answer_accepted": Player.on_answer_accepted,
    "ping": Player.on_ping,
    "error": Player.on_error,
}
# Not worth queueing for the coordinator's host: one of each per member.
QUIET = frozenset(
    {
        "member_joined",
        "member_left",
        "member_offline",
        "member_online",
        "members_changed",
        "ping",
        "answers_progress",
    }
)


def new_session() -> aiohttp.ClientSession:
    # No cap on open connections: one process holds thousands of sockets.
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))


# --------------------------------------------------------------------------- a load process


class Worker:
    """The command side of a load process: the coordinator calls ``cmd_*`` by name."""

    def __init__(self, conn: Any, index: int):
        self.conn = conn
        self.index = index
        self.tally = Tally()
        self.players: list[Player] = []
        self.tasks: set[asyncio.Task] = set()
        self.session: aiohttp.ClientSession | None = None
        self.stopping: asyncio.Event | None = None
        self.cpu_mark = process_cpu_s()

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        self.session = new_session()
        loop.add_reader(self.conn.fileno(), self._readable)
        try:
            await self.stopping.wait()
        finally:
            loop.remove_reader(self.conn.fileno())
            await self.cmd_close_all()
            await self.session.close()

    def _readable(self) -> None:
        try:
            while self.conn.poll():
                request_id, command, kwargs = self.conn.recv()
                self._spawn(self._handle(request_id, command, kwargs))
        except (EOFError, OSError):
            self.stopping.set()  # the coordinator is gone: stop too

    def _spawn(self, coro: Any) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _handle(self, request_id: int, command: str, kwargs: dict) -> None:
        try:
            result = getattr(self, "cmd_" + command)(**kwargs)
            if asyncio.iscoroutine(result):
                result = await result
            reply = (request_id, True, result)
        except Exception:  # noqa: BLE001 - reported to the coordinator, which decides
            reply = (request_id, False, traceback.format_exc())
        try:
            self.conn.send(reply)
        except (OSError, EOFError):
            self.stopping.set()

    # ---- commands

    def cmd_open(
        self,
        url: str,
        codes: list[str] | None,
        targets: dict[str, int] | None,
        first: int,
        stride: int,
        count: int,
        rate: float,
        start_at: float,
        name_prefix: str = "P",
        verify_every: int = 1,
        membership: str = "summary",
    ) -> int:
        """Open ``count`` players: global indexes first, first+stride, …; index g
        starts at start_at + g/rate and joins room codes[g % len(codes)]."""
        for k in range(count):
            g = first + k * stride
            code = codes[g % len(codes)] if codes else None
            target = (targets or {}).get(code, 0) if code else 0
            verify = g % verify_every == 0
            player = Player(self.tally, g, code, f"{name_prefix}{g}", target, verify, membership)
            self.players.append(player)
            self._spawn(player.run(self.session, url, start_at + g / rate))
        return len(self.players)

    def cmd_status(self) -> dict:
        t = self.tally
        return {
            "opened": t.opened,
            "connect_failed": sum(t.connect_failed.values()),
            "welcomed": t.welcomed,
            "joined": t.joined,
            "joined_alive": t.joined_alive,
            "join_failed": sum(t.join_failed.values()),
            "converged": t.converged,
            "converged_last": t.converged_last,
            "last_state_at": t.last_state_at,
            "frames": t.frames,
            "messages": t.messages,
            "chars": t.chars,
            "shown": {q: tuple(v) for q, v in t.shown.items()},
            "revealed": {q: tuple(v) for q, v in t.revealed.items()},
            "answers_sent": dict(t.answers_sent),
            "accepted": {q: len(v) for q, v in t.accepted.items()},
            "answer_errors": sum(t.answer_errors.values()),
            "cpu_s": process_cpu_s() - self.cpu_mark,
        }

    def cmd_reset_traffic(self) -> None:
        self.tally.reset_traffic()
        self.cpu_mark = process_cpu_s()

    def cmd_fill_report(self) -> dict:
        t = self.tally
        return {
            "join_latencies": list(t.join_latencies),
            "join_sent_at": list(t.join_sent_at),
            "gc": GC_PAUSES.snapshot(),
            "join_failed": dict(t.join_failed),
            "connect_failed": dict(t.connect_failed),
        }

    def cmd_problems(self) -> dict:
        t = self.tally
        return {
            "errors": dict(t.errors),
            "error_samples": list(t.error_samples),
            "closes": dict(t.closes),
            "seq_gaps": t.seq_gaps,
            "repeated_members": t.repeated_members,
            "answer_errors": dict(t.answer_errors),
        }

    def cmd_answer_report(self, question: int) -> dict:
        t = self.tally
        return {
            "latencies": list(t.accepted.get(question, [])),
            "sent": t.answers_sent.get(question, 0),
            "first_sent": t.answer_first_sent.get(question),
            "last_sent": t.answer_last_sent.get(question),
            "last_accepted": t.accepted_last.get(question),
            "first_accepted": t.accepted_first.get(question),
        }

    def cmd_answer(self, question: int, start_at: float, window_s: float, choices: int = 4) -> int:
        """Every joined, open player answers once, spread evenly over the window."""
        loop = asyncio.get_running_loop()
        players = [p for p in self.players if p.joined and p.alive]
        for k, player in enumerate(players):
            at = start_at + window_s * (k + 0.5) / max(1, len(players))
            player.schedule_answer(loop, at, question, player.index % choices)
        return len(players)

    async def cmd_answer_at_once(
        self, question: int, start_at: float, leave_out: int = 0, choices: int = 4, prebuilt: bool = True
    ) -> int:
        """Every joined, open player but the first ``leave_out`` answers at ``start_at``,
        all in one pass of this process's loop, as close to the same instant as one
        process can: each answer's whole frame is built beforehand and written straight
        to its socket (``prebuilt``), or its text is sent with aiohttp's ``send_str``.

        The way matters to what is measured: this process reads no acknowledgement
        before it has sent its last answer, and with ``send_str`` (tens of microseconds
        each on a shared core) that took ~30-70 ms for 1,000 answers, so the first
        acknowledgement could not be seen sooner whatever the server did."""
        players = [p for p in self.players if p.joined and p.alive][leave_out:]
        texts = [answer_text(question, p.index % choices) for p in players]
        frames = [client_text_frame(text) for text in texts] if prebuilt else []
        delay = start_at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if prebuilt:
            for player, frame in zip(players, frames, strict=True):
                player.send_frame_now(question, frame)
        else:
            for player, text in zip(players, texts, strict=True):
                await player.send_answer(question, player.index % choices, text)
        return len(players)

    async def cmd_close_all(self) -> int:
        """Close every socket (bounded), then forget the players."""
        players, self.players = self.players, []
        open_ones = [p for p in players if p.ws is not None and not p.ws.closed]
        if open_ones:
            await asyncio.wait([asyncio.ensure_future(p.close()) for p in open_ones], timeout=CLOSE_TIMEOUT_S)
        for task in list(self.tasks):
            if task is not asyncio.current_task():
                task.cancel()
        await self.session.close()
        self.session = new_session()
        self.tally = Tally()
        self.cpu_mark = process_cpu_s()
        return len(open_ones)

    def cmd_exit(self) -> None:
        self.stopping.set()


# Rarely, so that the instrument's own pauses stay out of what it times. Not the
# server's (quiz_actors.__main__.GC_THRESHOLDS, 50,000 / 2 / 1,000): with those, a
# load process of 5,000 players in a 10,000-player fill made 8 middle-generation
# passes of up to 197 ms; with these it makes none, and young ones of up to ~90 ms
# (docs/benchmark.md, "The collector's middle generation").
GC_THRESHOLDS = (50_000, 20, 100)
GC_PAUSES = GcPauses()


def worker_main(conn: Any, index: int, event_loop: str = "uvloop") -> None:
    raise_fd_limit()
    gc.set_threshold(*GC_THRESHOLDS)
    GC_PAUSES.install()
    if event_loop == "uvloop":
        import uvloop

        new_loop: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    else:
        new_loop = asyncio.new_event_loop
    try:
        with asyncio.Runner(loop_factory=new_loop) as runner:
            runner.run(Worker(conn, index).serve())
    except KeyboardInterrupt:
        pass


# --------------------------------------------------------------------------- coordinator side


class WorkerHandle:
    """The coordinator's end of one load process: ``await handle.call("open", …)``."""

    _ids = itertools.count(1)

    def __init__(self, ctx: Any, index: int, event_loop: str = "uvloop"):
        self.index = index
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=worker_main, args=(child, index, event_loop), name=f"bench-load-{index}", daemon=True
        )
        self._child = child
        self.pending: dict[int, asyncio.Future] = {}

    def start(self) -> None:
        self.process.start()
        self._child.close()
        asyncio.get_running_loop().add_reader(self.conn.fileno(), self._readable)

    def _readable(self) -> None:
        try:
            while self.conn.poll():
                request_id, ok, value = self.conn.recv()
                future = self.pending.pop(request_id, None)
                if future is None or future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(RuntimeError(f"load process {self.index}: {value}"))
        except (EOFError, OSError):
            asyncio.get_running_loop().remove_reader(self.conn.fileno())
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(RuntimeError(f"load process {self.index} died"))
            self.pending.clear()

    async def call(self, command: str, timeout: float = 60.0, **kwargs: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        request_id = next(self._ids)
        self.pending[request_id] = future
        self.conn.send((request_id, command, kwargs))
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self.pending.pop(request_id, None)

    async def stop(self) -> None:
        try:
            await self.call("exit", timeout=5)
        except Exception:  # noqa: BLE001 - it may be gone already
            pass
        loop = asyncio.get_running_loop()
        try:
            loop.remove_reader(self.conn.fileno())
        except (ValueError, OSError):
            pass
        await loop.run_in_executor(None, self.process.join, CLOSE_TIMEOUT_S + 5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
        self.conn.close()
