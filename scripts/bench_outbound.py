#!/usr/bin/env python3
"""The outbound path alone, in one process: a question broadcast and a reveal to N sockets.

    .venv/bin/python scripts/bench_outbound.py                 # 2,000 members, 7 rounds
    .venv/bin/python scripts/bench_outbound.py --members 10000 --rounds 3

For iterating on what the server does between a room deciding to tell its
members something and the bytes reaching the kernel, without load clients or
a store in the measurement. The room's side is the real code (``views``,
``Audience``/``Outgoing``, ``Game``'s reveal), run on a thread of its own as on
the server's room pool; each member is a real ``ConnectionActor`` on a
``LoopDispatcher`` with a real ``SocketSession``, writing to a real asyncio
transport over a Unix socket pair (so every write is a real ``send`` system
call). Nothing reads the other ends while a broadcast is timed; they are
drained between rounds.

The baseline is the least a server can do on the same transports: one frame
built once and ``transport.write`` per socket (the benchmark's "pre-built frame"
way). Per round, each of the three (baseline, broadcast, reveal) is timed in
process CPU (``time.process_time``: every thread, the kernel's ``send`` work
included) and in wall time, until every socket was written. Prints medians
and the ratios to the baseline, which is what ``scripts/bench.py`` reports as
"server side".
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import socket
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from quiz_actors import views  # noqa: E402
from quiz_actors.__main__ import GC_THRESHOLDS  # noqa: E402
from quiz_actors.actors.connection import ConnectionActor  # noqa: E402
from quiz_actors.actors.messages import Sender  # noqa: E402
from quiz_actors.actors.pooled import LoopDispatcher  # noqa: E402
from quiz_actors.actors.room.audience import Audience  # noqa: E402
from quiz_actors.actors.room.game import Game  # noqa: E402
from quiz_actors.clock import ManualClock  # noqa: E402
from quiz_actors.domain.room import Room  # noqa: E402
from quiz_actors.protocol import encode  # noqa: E402
from quiz_actors.server.loop_post import LoopPost  # noqa: E402
from quiz_actors.server.run import event_loop_factory  # noqa: E402
from quiz_actors.server.session import SocketSession, websocket_text_frame  # noqa: E402
from quiz_actors.settings import EVENT_LOOPS, Settings  # noqa: E402
from quiz_actors.tokens import TokenSigner  # noqa: E402

QUIZ = {
    "title": "Outbound",
    "questions": [
        {
            "text": f"Benchmark question {i}: which one of these four answers is the right one?",
            "choices": ["The first answer", "The second answer", "The third answer", "The fourth answer"],
            "correct": [i % 4],
            "time_limit_s": 20,
            "points": "standard",
        }
        for i in range(40)
    ],
}
T0 = 1_000_000


class FakeWebSocket:
    """What SocketSession asks of aiohttp's socket on its direct path."""

    closed = False


class Counting(asyncio.Protocol):
    """The server end's protocol: nothing is read from it."""


async def open_transports(n: int) -> tuple[list[asyncio.Transport], list[socket.socket]]:
    loop = asyncio.get_running_loop()
    transports, peers = [], []
    for _ in range(n):
        ours, theirs = socket.socketpair()
        theirs.setblocking(False)
        transport, _ = await loop.connect_accepted_socket(Counting, ours)
        transports.append(transport)
        peers.append(theirs)
    return transports, peers


def drain(peers: list[socket.socket]) -> int:
    total = 0
    for peer in peers:
        while True:
            try:
                chunk = peer.recv(1 << 20)
            except BlockingIOError:
                break
            total += len(chunk)
    return total


class MemberConnection(ConnectionActor):
    """A connection as it is after ``hello`` and ``join``, without a hub to do them."""

    def __init__(self, user_id: str, room_id: str, conn_id: int, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user_id, self.room_id, self.conn_id = user_id, room_id, conn_id


class NoHub:
    def tell(self, message: object) -> None:
        pass


def build_room(members: int) -> Room:
    room = Room.open(code="123456", quiz_id="q", quiz=QUIZ, host_id="host", host_name="Host", at=T0)
    for i in range(members):
        room.join(f"user-{i:05d}", f"Player {i}", T0 + i, members + 1)
    return room


class Bench:
    def __init__(self, members: int) -> None:
        self.members = members
        self.now = T0 + 10_000_000  # the room's clock, ms

    async def setup(self) -> None:
        loop = asyncio.get_running_loop()
        self.loop = loop
        post = self.post = LoopPost(loop)
        post.bind()
        dispatcher = LoopDispatcher(post)
        self.transports, self.peers = await open_transports(self.members + 1)
        self.room = build_room(self.members)
        room_id = str(self.room.id)
        settings = Settings()
        self.audience = Audience(room_id, settings, timers=None)  # type: ignore[arg-type]
        signer = TokenSigner(b"x" * 32, 3_600_000)
        user_ids = ["host", *(f"user-{i:05d}" for i in range(self.members))]
        self.refs = []
        for conn_id, (user_id, transport) in enumerate(zip(user_ids, self.transports, strict=True)):
            session = SocketSession(
                FakeWebSocket(),  # type: ignore[arg-type]
                loop,
                "bench",
                max_queued=1_000_000,
                max_bytes=1 << 40,
                send_timeout_s=60,
                transport=transport,
                post=post,
            )
            ref = MemberConnection.start(
                user_id,
                room_id,
                conn_id,
                session,
                NoHub(),
                ManualClock(),
                signer,
                30_000,
                3,
                dispatcher=dispatcher,
            )
            self.refs.append(ref)
            self.audience.attach(Sender(user_id, conn_id, ref, "bench"))
        self.room.start("host", T0 + 1_000_000)
        self.question_text = encode(views.question_shown(self.room, self.room.seq))
        self.room.close_question("timeout", T0 + 1_000_100)
        self.game = Game(ManualClock(), self.audience, saving=None, timers=None, rejoin_grace_s=0.0)  # type: ignore[arg-type]
        await asyncio.sleep(0.2)  # every actor's first turn (on_start)

    def written(self) -> int:
        return sum(1 for t in self.transports if t.get_write_buffer_size() == 0)

    async def timed(
        self, on_room_thread: Callable[[], None], on_loop: Callable[[], None] | None = None
    ) -> tuple[float, float, float]:
        """CPU, wall and the room thread's CPU seconds, from the start until the loop has run dry again."""
        drain(self.peers)
        gc.collect()
        await asyncio.sleep(0.05)
        done: asyncio.Future[None] = self.loop.create_future()
        room_cpu = [0.0]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        if on_loop is not None:
            on_loop()
        else:

            def work() -> None:
                began = time.thread_time()
                on_room_thread()
                room_cpu[0] = time.thread_time() - began
                self.loop.call_soon_threadsafe(done.set_result, None)

            threading.Thread(target=work).start()
            await done
            # Until every call the room handed to the loop has run (actor turns, writes).
            while self.post._wake_pending:  # noqa: SLF001
                await asyncio.sleep(0)
        cpu1, wall1 = time.process_time(), time.perf_counter()
        return cpu1 - cpu0, wall1 - wall0, room_cpu[0]

    def baseline(self) -> None:
        frame = websocket_text_frame(self.question_text.encode())  # built once, as the baseline server does
        for transport in self.transports:
            transport.write(frame)

    def broadcast(self) -> None:
        room = self.room
        self.now += 100_000
        room.next("host", self.now)
        self.game._question_shown(room, room.seq)  # noqa: SLF001
        self.audience.send()

    def close(self) -> None:
        """A third of the members answer and the question closes: the room's work, not timed."""
        room = self.room
        for i in range(0, self.members, 3):
            room.answer(f"user-{i:05d}", room.question_index, {"choice": i % 4}, self.now + 100)
        room.close_question("timeout", self.now + 200)

    def reveal(self) -> None:
        room = self.room
        self.game._question_closed(room, room.seq)  # noqa: SLF001
        self.audience.send()


async def main_async(args: argparse.Namespace) -> None:
    bench = Bench(args.members)
    await bench.setup()
    rows: dict[str, list[tuple[float, float, float]]] = {"baseline": [], "broadcast": [], "reveal": []}
    for _ in range(args.rounds):
        rows["baseline"].append(await bench.timed(lambda: None, bench.baseline))
        rows["broadcast"].append(await bench.timed(bench.broadcast))
        bench.close()
        rows["reveal"].append(await bench.timed(bench.reveal))
    base_cpu = statistics.median(c for c, _, _ in rows["baseline"]) * 1000
    print(f"{args.members} members, {args.rounds} rounds; medians (range), ms")
    print(
        f"{'':10} {'CPU':>20} {'room thread CPU':>16} {'wall':>20} {'CPU ÷ baseline':>15} {'µs/member':>10}"
    )
    for name, samples in rows.items():
        cpus = sorted(c * 1000 for c, _, _ in samples)
        walls = sorted(w * 1000 for _, w, _ in samples)
        room = statistics.median(r * 1000 for _, _, r in samples)
        med = statistics.median(cpus)
        per_member = med / (args.members + 1) * 1000
        print(
            f"{name:10} {med:7.1f} ({cpus[0]:5.1f}–{cpus[-1]:5.1f}) {room:16.1f}"
            f" {statistics.median(walls):7.1f} ({walls[0]:5.1f}–{walls[-1]:5.1f})"
            f" {med / base_cpu:14.2f}× {per_member:10.1f}"
        )
    for ref in bench.refs:
        ref.stop(block=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument(
        "--event-loop",
        choices=EVENT_LOOPS,
        default=Settings().event_loop,
        help="as the server's --event-loop",
    )
    args = parser.parse_args()
    gc.set_threshold(*GC_THRESHOLDS)  # as the server
    with asyncio.Runner(loop_factory=event_loop_factory(args.event_loop)) as runner:
        runner.run(main_async(args))


if __name__ == "__main__":
    main()
