"""PooledActor behaves as pykka's ThreadingActor does: the same tests run on
ThreadingActor, on PooledActor with worker threads, and on PooledActor with an
event loop (the server's connection actors)."""

from __future__ import annotations

import asyncio
import threading
import time

import pykka
import pytest

from quiz_actors.actors.delivery import Fanout
from quiz_actors.actors.pooled import Dispatcher, LoopDispatcher, PooledActor
from quiz_actors.server.loop_post import LoopPost


@pytest.fixture(scope="module")
def dispatcher():
    pool = Dispatcher(workers=2, name="test-pool")
    yield pool
    pool.shutdown()


@pytest.fixture(scope="module")
def loop_dispatcher():
    """An event loop in a thread of its own, as the server's, with its LoopPost."""
    loop = asyncio.new_event_loop()
    post = LoopPost()
    bound = threading.Event()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    loop.call_soon_threadsafe(lambda: (post.bind(), bound.set()))
    assert bound.wait(5)
    yield LoopDispatcher(post)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


@pytest.fixture(params=["threading", "pooled", "loop"])
def start(request, dispatcher, loop_dispatcher):
    """Start an actor class of each kind; stop every one afterwards."""
    started = []

    def start_actor(behaviour, *args, **kwargs):
        base = pykka.ThreadingActor if request.param == "threading" else PooledActor
        cls = type(behaviour.__name__, (behaviour, base), {})
        if base is PooledActor:
            kwargs["dispatcher"] = dispatcher if request.param == "pooled" else loop_dispatcher
        ref = cls.start(*args, **kwargs)
        started.append(ref)
        return ref

    yield start_actor
    for ref in started:
        if ref.is_alive():
            ref.stop()


class Recorder:
    def __init__(self, log=None, **kwargs):
        super().__init__(**kwargs)
        self.log = log if log is not None else []
        self.done = threading.Event()

    def on_start(self):
        self.log.append("started")

    def on_receive(self, message):
        if message == "boom":
            raise ValueError("boom")
        if message == "wait":
            self.done.wait(5)
        self.log.append(message)
        return f"got {message}"

    def on_stop(self):
        self.log.append("stopped")

    def add(self, a, b):
        return a + b

    def fail(self):
        raise KeyError("nope")


def test_tell_delivers_in_order(start):
    log = []
    ref = start(Recorder, log)
    for i in range(500):
        ref.tell(i)
    assert ref.ask("last", timeout=5) == "got last"
    assert log == ["started", *range(500), "last"]


def test_ask_returns_the_reply(start):
    ref = start(Recorder)
    assert ref.ask("hello", timeout=5) == "got hello"


def test_proxies_call_methods_and_read_attributes(start):
    ref = start(Recorder)
    proxy = ref.proxy()
    assert proxy.add(2, 3).get(timeout=5) == 5
    assert proxy.log.get(timeout=5) == ["started"]


def test_exception_in_ask_goes_to_the_caller_and_the_actor_lives_on(start):
    ref = start(Recorder)
    with pytest.raises(ValueError):
        ref.ask("boom", timeout=5)
    with pytest.raises(KeyError):
        ref.proxy().fail().get(timeout=5)
    assert ref.is_alive()
    assert ref.ask("still here", timeout=5) == "got still here"


def test_exception_in_tell_stops_the_actor(start):
    log = []
    ref = start(Recorder, log)
    ref.tell("boom")
    for _ in range(100):
        if not ref.is_alive():
            break
        threading.Event().wait(0.01)
    assert not ref.is_alive()
    assert log == ["started"]  # pykka calls on_failure, not on_stop, after a failed tell


def test_stop_handles_pending_messages_first(start):
    log = []
    ref = start(Recorder, log)
    for i in range(50):
        ref.tell(i)
    ref.stop(timeout=5)
    assert log == ["started", *range(50), "stopped"]
    with pytest.raises(pykka.ActorDeadError):
        ref.tell("too late")


def test_many_actors_share_few_threads(dispatcher):
    before = threading.active_count()
    refs = [type("R", (Recorder, PooledActor), {}).start(dispatcher=dispatcher) for _ in range(300)]
    assert threading.active_count() - before < 5
    futures = [ref.ask(i, block=False) for i, ref in enumerate(refs)]
    assert [f.get(timeout=5) for f in futures] == [f"got {i}" for i in range(300)]
    for ref in refs:
        ref.stop()


def test_one_actor_never_runs_on_two_workers_at_once(dispatcher):
    class Counter:
        def __init__(self):
            super().__init__(dispatcher=dispatcher)
            self.inside = 0
            self.overlaps = 0
            self.count = 0

        def on_receive(self, message):
            self.inside += 1
            if self.inside > 1:
                self.overlaps += 1
            self.count += 1
            self.inside -= 1

    ref = type("C", (Counter, PooledActor), {}).start()
    senders = [threading.Thread(target=lambda: [ref.tell(i) for i in range(2000)]) for _ in range(4)]
    for t in senders:
        t.start()
    for t in senders:
        t.join()
    proxy = ref.proxy()
    for _ in range(200):
        if proxy.count.get(timeout=5) == 8000:
            break
        threading.Event().wait(0.01)
    assert proxy.count.get(timeout=5) == 8000
    assert proxy.overlaps.get(timeout=5) == 0
    ref.stop()


def test_loop_dispatched_actors_run_on_the_loop_thread(loop_dispatcher):
    class WhereAmI:
        def on_receive(self, message):
            return threading.get_ident()

    refs = [type("W", (WhereAmI, PooledActor), {}).start(dispatcher=loop_dispatcher) for _ in range(50)]
    threads = {ref.ask("where", timeout=5) for ref in refs}
    assert len(threads) == 1 and threads != {threading.get_ident()}
    for ref in refs:
        ref.stop()


@pytest.mark.parametrize("kind", ["pooled", "loop"])
def test_tells_left_behind_a_stop_reach_on_late_message(kind, dispatcher, loop_dispatcher):
    """pykka drops tells that were queued behind a stop; a PooledActor hands them
    to on_late_message (a connection actor uses it so that a room attaching a
    closed socket hears the member is gone)."""
    late, release = [], threading.Event()

    class Holder:
        def on_receive(self, message):
            if message == "hold":
                release.wait(5)

        def on_late_message(self, message):
            late.append(message)

    chosen = dispatcher if kind == "pooled" else loop_dispatcher
    ref = type("H", (Holder, PooledActor), {}).start(dispatcher=chosen)
    ref.tell("hold")
    stopped = ref.stop(block=False)
    ref.tell("late 1")
    ref.tell("late 2")
    asked = ref.ask("too late", block=False)
    release.set()
    stopped.get(timeout=5)
    assert late == ["late 1", "late 2"]
    with pytest.raises(pykka.ActorDeadError):
        asked.get(timeout=5)


def test_mail_sent_on_the_loop_runs_at_once_but_never_inside_another_turn(loop_dispatcher):
    """The socket bridge tells a connection actor on the loop itself: an idle actor's turn
    runs within that tell. A tell made during a turn (a connection telling another) waits
    for the turn to end, so no actor's handler ever runs inside another's."""
    log: list[object] = []

    class Second(PooledActor):
        def on_receive(self, message):
            log.append(("second", message))

    class First(PooledActor):
        def __init__(self, second, **kwargs):
            super().__init__(**kwargs)
            self.second = second

        def on_receive(self, message):
            log.append(("first begins", message))
            self.second.tell(message)
            if message == 1:
                self.actor_ref.tell(f"{message} again")
            log.append(("first ends", message))

    second = Second.start(dispatcher=loop_dispatcher)
    first = First.start(second, dispatcher=loop_dispatcher)
    first.proxy().second.get(timeout=5)  # both started: their first turns are over
    second.proxy().actor_urn.get(timeout=5)
    told = threading.Event()

    def on_the_loop():
        first.tell(1)
        log.append("told")
        told.set()

    loop_dispatcher.post.loop.call_soon_threadsafe(on_the_loop)
    assert told.wait(5)
    first.proxy().actor_urn.get(timeout=5)  # behind everything first was told
    second.proxy().actor_urn.get(timeout=5)
    assert log == [
        ("first begins", 1),
        ("first ends", 1),
        ("first begins", "1 again"),  # its own mail, in the same turn, after the message
        ("first ends", "1 again"),
        "told",
        ("second", 1),
        ("second", "1 again"),
    ]
    first.stop()
    second.stop()


def test_fanout_puts_each_message_in_order_and_wakes_loop_actors_together(
    dispatcher, loop_dispatcher, monkeypatch
):
    """A room telling thousands of connections (``Fanout``): each message is in its
    actor's mailbox from the moment it is told, ahead of anything told after it, but
    the loop actors found idle run only once ``wake`` hands them to the loop, all in
    one post. Actors elsewhere are told as usual; a stopped one is skipped."""
    log: list[tuple[int, object, int]] = []

    class Member:
        def __init__(self, number, **kwargs):
            super().__init__(**kwargs)
            self.number = number

        def on_receive(self, message):
            log.append((self.number, message, threading.get_ident()))

    on_loop = [type("M", (Member, PooledActor), {}).start(i, dispatcher=loop_dispatcher) for i in range(300)]
    elsewhere = type("P", (Member, PooledActor), {}).start(300, dispatcher=dispatcher)
    gone = type("G", (Member, PooledActor), {}).start(301, dispatcher=loop_dispatcher)
    for ref in [*on_loop, elsewhere, gone]:
        ref.proxy().number.get(timeout=5)  # started: the first turns are over
    gone.stop()

    fanout = Fanout()
    told = [fanout.tell(ref, "shared") for ref in [*on_loop, elsewhere, gone]]
    for ref in on_loop[::2]:
        ref.tell("after")  # told plainly, behind the shared message
    assert told == [True] * 301 + [False]
    elsewhere.proxy().number.get(timeout=5)  # its turn has run: it was told as usual
    assert log == [(300, "shared", log[0][2])]
    time.sleep(0.1)
    assert len(log) == 1, "loop actors ran before wake"

    post, posted = loop_dispatcher.post, []
    plain_call = post.call
    monkeypatch.setattr(post, "call", lambda fn, *args: (posted.append(fn), plain_call(fn, *args)))
    fanout.wake()
    monkeypatch.undo()
    assert len(posted) == 1
    for ref in on_loop:
        ref.proxy().number.get(timeout=5)
    got: dict[int, list[object]] = {}
    threads = set()
    for number, message, thread in log[1:]:
        got.setdefault(number, []).append(message)
        threads.add(thread)
    assert got == {i: ["shared", "after"] if i % 2 == 0 else ["shared"] for i in range(300)}
    assert len(threads) == 1 and threads != {threading.get_ident()}
    for ref in [*on_loop, elsewhere]:
        ref.stop()


def test_fanout_wakes_the_actors_it_told_even_when_the_sender_fails(loop_dispatcher):
    """A reveal that fails half way (a bug in building some member's message) must not
    leave the members it had told without a turn: nothing else would ever ask for one."""
    log: list[tuple[int, object]] = []

    class Member:
        def __init__(self, number, **kwargs):
            super().__init__(**kwargs)
            self.number = number

        def on_receive(self, message):
            log.append((self.number, message))

    refs = [type("M", (Member, PooledActor), {}).start(i, dispatcher=loop_dispatcher) for i in range(10)]
    for ref in refs:
        ref.proxy().number.get(timeout=5)
    with pytest.raises(RuntimeError), Fanout() as fanout:
        for ref in refs[:5]:
            fanout.tell(ref, "told")
        raise RuntimeError("a member's message could not be built")
    for ref in refs:
        ref.tell("later")
    for ref in refs:
        ref.proxy().number.get(timeout=5)
    got = {i: [m for n, m in log if n == i] for i in range(10)}
    assert got == {i: ["told", "later"] if i < 5 else ["later"] for i in range(10)}
    for ref in refs:
        ref.stop()


@pytest.fixture(params=["pooled", "loop"])
def start_pooled(request, dispatcher, loop_dispatcher):
    """As ``start``, for PooledActor only: where these tests make a hook fail with a
    ``SystemExit``, a ThreadingActor's thread just ends, its actor left registered
    and every ask to it waiting forever."""
    started = []

    def start_actor(behaviour, *args, **kwargs):
        chosen = dispatcher if request.param == "pooled" else loop_dispatcher
        ref = type(behaviour.__name__, (behaviour, PooledActor), {}).start(*args, dispatcher=chosen, **kwargs)
        started.append(ref)
        return ref

    yield start_actor
    for ref in started:
        if ref.is_alive():
            ref.stop(timeout=5)  # bounded: a wedged actor would never answer


class Fragile:
    """Records its hooks; the one named ``fails_in`` raises SystemExit, as a
    ``sys.exit()`` there would. ``on_start`` waits for ``gate``, so that the test
    can fill the mailbox first."""

    def __init__(self, fails_in, gate, log, **kwargs):
        super().__init__(**kwargs)
        self.fails_in, self.gate, self.log = fails_in, gate, log

    def _hook(self, name):
        self.log.append(name)
        if name == self.fails_in:
            raise SystemExit(f"exit in {name}")

    def on_start(self):
        self.gate.wait(5)
        self._hook("on_start")

    def on_receive(self, message):
        if message == "boom":
            raise ValueError("boom")
        if message == "exit":
            raise SystemExit("exit in on_receive")
        self.log.append(message)
        return message

    def on_failure(self, *exc_info):
        self._hook("on_failure")

    def on_stop(self):
        self._hook("on_stop")

    def on_late_message(self, message):
        self._hook("on_late_message")
        self.log.append(message)


@pytest.mark.parametrize(
    ("fails_in", "mail", "hooks_run"),
    [
        ("on_start", ["ask", "told"], ["on_start", "on_late_message", "told"]),
        ("on_failure", ["boom", "ask", "told"], ["on_start", "on_failure", "on_late_message", "told"]),
        # The first late message fails; the next is lost with the actor.
        ("on_late_message", ["stop", "ask", "told", "lost"], ["on_start", "on_stop", "on_late_message"]),
    ],
)
def test_a_turn_failing_outside_the_handlers_stops_the_actor(start_pooled, caplog, fails_in, mail, hooks_run):
    """pykka catches what a message's handler raises, but not what its hooks raise
    outside one (a BaseException; a bug in the turn itself). The actor must not be
    left wedged, taking mail it never handles: it stops, the asks waiting for it get
    ActorDeadError, the tells go to on_late_message, and the log says who and why."""
    gate, log = threading.Event(), []
    ref = start_pooled(Fragile, fails_in, gate, log)
    stopped = pending = None
    for step in mail:  # all waiting behind on_start
        if step == "stop":
            stopped = ref.stop(block=False)
        elif step == "ask":
            pending = ref.ask("pending", block=False)
        else:
            ref.tell(step)
    gate.set()
    assert pending is not None
    with pytest.raises(pykka.ActorDeadError):
        pending.get(timeout=5)
    if stopped is not None:
        assert stopped.get(timeout=5) is True
    assert log == hooks_run
    assert not ref.is_alive()
    assert pykka.ActorRegistry.get_by_urn(ref.actor_urn) is None
    with pytest.raises(pykka.ActorDeadError):
        ref.ask("later", timeout=5)
    # The asks are answered as the mailbox is torn down, which can come before the turn's
    # failure is logged (on_late_message's case): wait for the line, bounded.
    deadline = time.monotonic() + 5
    while not (failure := [r for r in caplog.records if "failed outside its handlers" in r.getMessage()]):
        if time.monotonic() > deadline:
            break
        time.sleep(0.01)
    assert len(failure) == 1
    assert ref.actor_urn in failure[0].getMessage()
    assert f"exit in {fails_in}" in caplog.text


def test_on_stop_raising_a_base_exception_runs_once_and_the_actor_stops(start_pooled):
    """pykka stops an actor a second time when on_stop raises a BaseException, and
    the second raise leaves the stop (and every ask behind it) unanswered."""
    gate, log = threading.Event(), []
    ref = start_pooled(Fragile, "on_stop", gate, log)
    stopped = ref.stop(block=False)
    pending = ref.ask("pending", block=False)
    ref.tell("told")
    gate.set()
    assert stopped.get(timeout=5) is True
    with pytest.raises(pykka.ActorDeadError):
        pending.get(timeout=5)
    assert log == ["on_start", "on_stop", "on_late_message", "told"]
    assert pykka.ActorRegistry.get_by_urn(ref.actor_urn) is None


def test_an_ask_whose_handler_raises_a_base_exception_is_answered(start_pooled):
    """The actor stops (and, as pykka's do, every other: a SystemExit asks for the end),
    but the asker hears ActorDeadError, where pykka would leave it waiting."""
    gate, log = threading.Event(), []
    gate.set()
    ref = start_pooled(Fragile, None, gate, log)
    with pytest.raises(pykka.ActorDeadError):
        ref.ask("exit", timeout=5)
    assert log == ["on_start", "on_stop"]
    assert not ref.is_alive()
