"""PooledActor: a pykka actor whose mailbox is drained on a shared worker pool.

pykka's ``ThreadingActor`` gives every actor a thread of its own. A room that
``tell``s 2,000 connection actors then wakes 2,000 threads, which fight for the
GIL (docs/architecture.md: 0.9-1.7 s to reach 5,000). Here, as with Akka's
dispatchers, an actor with mail is put on a ready queue and a few worker
threads take turns draining mailboxes. The actor model is unchanged: one
message at a time per actor, in order, never two workers on one actor.

It plugs into pykka through the three hooks pykka's ``Actor`` offers "for
implementors of new actor types" (``_create_actor_inbox``, ``_create_future``,
``_start_actor_loop``) and reuses pykka's own receive and failure handling, so
``tell``, ``ask``, proxies, ``on_start``/``on_stop``/``on_failure`` and stopping
behave as they do for ``ThreadingActor`` (tests/test_pooled_actor.py runs the
same tests against both). pykka's version is pinned in setup.cfg because these
hooks are internal API. Where pykka would leave an actor wedged (a hook raising
a ``SystemExit``, say), a PooledActor whose turn fails outside its handlers
stops, its askers told, rather than keep a mailbox that gets no more turns.

Handlers on a pool should not block (no ``.get()`` on futures): a blocked
worker is a worker fewer for every other actor on that pool. Actors whose
handlers do I/O get a pool of their own (``shared_dispatcher`` by name): room
actors save to the store on the "rooms" pool, a few threads for however many
rooms, so an idle room costs its state and no thread. The hub, one actor,
stays a ``ThreadingActor``.

``LoopDispatcher`` runs the turns on an asyncio event loop instead of worker
threads; the server's connection actors run there.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import pykka
from pykka import messages
from pykka._envelope import Envelope  # noqa: PLC2701 - the inbox stores pykka's envelopes

log = logging.getLogger(__name__)

# The messages pykka's ``Actor._handle_receive`` handles itself; any other goes to ``on_receive``.
_PYKKA_MESSAGES = frozenset(
    {
        messages._ActorStop,  # noqa: SLF001
        messages.ProxyCall,
        messages.ProxyGetAttr,
        messages.ProxySetAttr,
    }
)

MESSAGES_PER_TURN = 32  # then the worker moves on, so one busy actor cannot starve the rest


class Dispatcher:
    """A few worker threads draining the mailboxes of actors that have mail."""

    def __init__(self, workers: int = 2, name: str = "actor-pool"):
        self._ready: queue.SimpleQueue[PooledActor | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def schedule(self, actor: PooledActor) -> None:
        self._ready.put(actor)

    def _work(self) -> None:
        while True:
            actor = self._ready.get()
            if actor is None:
                return
            try:
                actor._run_turn()  # noqa: SLF001
            except BaseException:  # noqa: BLE001 - the turn stops its actor on any failure; this is
                # a failure of that (or of a subclass's _run_turn): the worker must live on for the rest
                log.exception("dispatcher: %s failed even to stop after a failed turn", actor)

    def shutdown(self) -> None:
        for _ in self._threads:
            self._ready.put(None)
        for thread in self._threads:
            thread.join(timeout=5)


class Post(Protocol):
    """Runs ``fn(*args)`` on the event loop, in call order, from any thread."""

    def call(self, fn: Callable[..., Any], *args: Any) -> None: ...

    def on_loop_thread(self) -> bool: ...


class LoopDispatcher:
    """Runs actors' turns on an asyncio event loop, through anything with a
    thread-safe ``call(fn, *args)`` that runs ``fn`` on the loop in call order
    (the server's ``LoopPost``, which wakes the loop once for many calls).

    For actors whose work is the loop's anyway: a connection actor's messages
    mostly end in a write to its socket, which the loop does. Run there, a
    broadcast to thousands costs no hand-over between worker threads and the
    loop, and no worker threads compete with the loop for the GIL. The rule
    is the pool's, stricter: a handler that blocks stops every socket.

    Mail sent on the loop itself (the socket bridge telling a connection actor
    what its client sent) to an idle actor runs the actor's turn at once,
    where posting it would only run it a little later on the same thread: one
    message at a time per actor still holds (an actor with a turn pending is
    never idle, and a turn is never started inside another turn), and the
    hop through the post (a lock, a queued call, a loop wake-up) is saved on
    every client message.
    """

    def __init__(self, post: Post) -> None:
        self.post = post
        self._in_turn = False  # a turn is running on the loop: mail sent now waits for the post

    def schedule(self, actor: PooledActor) -> None:
        if not self._in_turn and actor._started and self.post.on_loop_thread():  # noqa: SLF001
            self.run_turn(actor)
        else:
            self.post.call(self.run_turn, actor)

    def schedule_all(self, actors: list[PooledActor]) -> None:
        """``schedule`` each of ``actors``, in one post: a room telling thousands of
        connections wakes the loop once per slice instead of queueing a call per actor."""
        self.post.call(self.run_turns, actors)

    def run_turns(self, actors: list[PooledActor]) -> None:
        for actor in actors:
            self.run_turn(actor)

    def run_turn(self, actor: PooledActor) -> None:
        self._in_turn = True
        try:
            actor._run_turn()  # noqa: SLF001
        except Exception:  # as in Dispatcher._work: not the sender's trouble
            log.exception("loop dispatcher: %s failed even to stop after a failed turn", actor)
        finally:
            self._in_turn = False

    def shutdown(self) -> None:
        pass  # the loop is not ours


DEFAULT_POOL, DEFAULT_WORKERS = "actor-pool", 2
_shared: dict[str, Dispatcher] = {}
_shared_lock = threading.Lock()


def shared_dispatcher(name: str, workers: int) -> Dispatcher:
    """The process-wide pool of this name, started on first use (with ``workers``
    threads) and shared by every actor that names it from then on."""
    with _shared_lock:
        dispatcher = _shared.get(name)
        if dispatcher is None:
            dispatcher = _shared[name] = Dispatcher(workers=workers, name=name)
        return dispatcher


def default_dispatcher() -> Dispatcher:
    """The process-wide pool for actors that name none, started on first use."""
    return shared_dispatcher(DEFAULT_POOL, DEFAULT_WORKERS)


class PooledInbox:
    """A mailbox that asks the dispatcher for a turn when mail arrives."""

    def __init__(self) -> None:
        self._messages: deque[Envelope[Any]] = deque()
        self._lock = threading.Lock()
        self._scheduled = True  # until the actor has started, mail just waits
        self.actor: PooledActor | None = None

    def put(self, envelope: Envelope[Any], block: bool = True, timeout: float | None = None) -> None:
        with self._lock:
            self._messages.append(envelope)
            if self._scheduled:
                return
            self._scheduled = True
        actor = self.actor
        # Set by PooledActor.__init__ before its first turn, and until that turn
        # ends ``_scheduled`` holds every put above.
        assert actor is not None, "a PooledInbox was given mail before its actor was set"
        actor.dispatcher.schedule(actor)

    def put_held(self, envelope: Envelope[Any]) -> bool:
        """``put`` without asking for the turn: True when the caller must now
        ``schedule`` the actor itself (it was idle), which it may do a little later,
        together with others (``Fanout``). Until then the actor's later mail waits
        with it, in order, as it would behind a turn already asked for."""
        with self._lock:
            self._messages.append(envelope)
            if self._scheduled:
                return False
            self._scheduled = True
            return True

    def get(self, block: bool = True, timeout: float | None = None) -> Envelope[Any]:
        with self._lock:
            return self._messages.popleft()

    def take_or_rest(self) -> Envelope[Any] | None:
        """The next envelope; or, when there is none, None with the turn ended in the same
        lock (``finish_turn`` that found nothing), so that the next ``put`` asks for one.

        Only the actor's own turn takes, and a deque's ``popleft`` is atomic, so a
        mailbox with mail needs no lock; the lock orders "nothing left, turn over"
        against a ``put``'s "is a turn asked for"."""
        messages = self._messages
        if messages:
            return messages.popleft()
        with self._lock:
            if messages:
                return messages.popleft()
            self._scheduled = False
            return None

    def empty(self) -> bool:
        with self._lock:
            return not self._messages

    def qsize(self) -> int:
        """Messages waiting, as ``queue.Queue.qsize`` (a ThreadingActor's inbox) says."""
        with self._lock:
            return len(self._messages)

    def finish_turn(self) -> bool:
        """After a turn: True if more mail came and the actor must go on the ready queue again."""
        with self._lock:
            if self._messages:
                return True
            self._scheduled = False
            return False


class PooledActor(pykka.Actor):
    """Subclass instead of ``pykka.ThreadingActor`` to run on a shared pool
    (or, given a ``LoopDispatcher``, on an event loop). A subclass names its
    pool with ``pool_name`` and ``pool_workers``; the default is the
    process-wide ``default_dispatcher``."""

    dispatcher: Dispatcher | LoopDispatcher
    actor_inbox: PooledInbox  # what _create_actor_inbox makes
    pool_name: str = DEFAULT_POOL
    pool_workers: int = DEFAULT_WORKERS

    def __init__(
        self, *args: Any, dispatcher: Dispatcher | LoopDispatcher | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.dispatcher = dispatcher or shared_dispatcher(self.pool_name, self.pool_workers)
        self.actor_inbox.actor = self
        self._started = False
        self._torn_down = False

    @staticmethod
    def _create_actor_inbox() -> PooledInbox:
        return PooledInbox()

    @staticmethod
    def _create_future() -> pykka.ThreadingFuture[Any]:
        return pykka.ThreadingFuture()

    def _start_actor_loop(self) -> None:
        # The first turn runs on_start; mail sent meanwhile waits in the inbox.
        self.dispatcher.schedule(self)

    def _run_turn(self) -> None:
        envelope: Envelope[Any] | None = None  # the message being handled, if any
        try:
            if not self._started:
                self._started = True
                self._actor_loop_setup()  # on_start, with pykka's failure handling
            stopped, inbox = self.actor_stopped, self.actor_inbox
            for _ in range(MESSAGES_PER_TURN):
                if stopped.is_set():
                    self._teardown()
                    return
                envelope = inbox.take_or_rest()
                if envelope is None:
                    # The turn is over (nothing ran since the check above, and only a turn
                    # stops its actor): the next put asks for another.
                    return
                self._handle_envelope(envelope)
                envelope = None
            if stopped.is_set():
                self._teardown()
                return
            if self.actor_inbox.finish_turn():
                self.dispatcher.schedule(self)
        except BaseException:  # noqa: BLE001 - whatever it was, the actor must not be left half alive
            self._stop_after_failed_turn(envelope)

    def _stop_after_failed_turn(self, envelope: Envelope[Any] | None) -> None:
        """The turn failed outside the handlers pykka guards: a ``BaseException`` (a
        ``SystemExit``, a ``CancelledError``) from ``on_start``, ``on_stop``,
        ``on_failure`` or ``on_late_message``, or a bug in the turn itself.

        The inbox still counts the turn as running, so no turn would ever come
        again: every tell would be dropped unseen and every ask wait forever.
        Instead the actor stops, as pykka stops one whose ``on_start`` failed:
        the failure is logged, the actor leaves the registry, the ask being
        handled and those waiting get ``ActorDeadError`` (tells waiting go to
        ``on_late_message``), and no more hooks run: it was one of them that
        failed. Only this actor stops; a ``BaseException`` from a message's
        handler stops every actor, as pykka's does, in ``_handle_envelope``.
        """
        log.exception("%s failed outside its handlers: stopping it", self)
        pykka.ActorRegistry.unregister(self.actor_ref)
        self.actor_stopped.set()
        if envelope is not None:
            self._answer_unhandled(envelope)
        if self._torn_down:
            self._actor_loop_teardown()  # the asks that came since: teardown failed half way
        else:
            self._teardown()

    def _answer_unhandled(self, envelope: Envelope[Any]) -> None:
        """Tell the asker, if any, that the actor stopped while handling ``envelope``:
        with ``ActorDeadError``, or for a stop, that it stopped (as pykka's teardown
        answers the asks that came too late). A reply already given stands."""
        reply_to = envelope.reply_to
        if reply_to is None:
            return
        with contextlib.suppress(queue.Full):  # pykka's futures take one answer, and raise this
            if isinstance(envelope.message, messages._ActorStop):  # noqa: SLF001
                reply_to.set(None)
            else:
                error = pykka.ActorDeadError(f"{self.actor_ref} stopped while handling the message")
                reply_to.set_exception(exc_info=(pykka.ActorDeadError, error, None))

    def on_late_message(self, message: Any) -> None:
        """A message that was already in the mailbox when the actor stopped and
        expects no reply: pykka drops those. Override to pass on what must not
        be lost (it runs after ``on_stop``; don't send to yourself)."""

    def _teardown(self) -> None:
        """pykka's teardown (asks that came too late get ActorDeadError), with the
        tells it would drop handed to ``on_late_message`` first. Runs once; the
        asks are answered even if ``on_late_message`` fails on the way."""
        self._torn_down = True
        late: deque[Envelope[Any]] = deque()
        try:
            while not self.actor_inbox.empty():
                envelope = self.actor_inbox.get()
                if envelope.reply_to is None:
                    try:
                        self.on_late_message(envelope.message)
                    except Exception:  # noqa: BLE001 - the actor is gone; nobody else would hear of it
                        log.exception("%s failed on a late message", self)
                else:
                    late.append(envelope)
        finally:
            for envelope in late:
                self.actor_inbox.put(envelope)
            self._actor_loop_teardown()

    def _handle_envelope(self, envelope: Envelope[Any]) -> None:
        """One message, as pykka's ``_actor_loop_running`` handles it (but for a
        ``BaseException``: see below).

        A message of the actor's own (plain data, never one of pykka's proxy or
        stop messages) goes straight to ``on_receive``, as pykka's
        ``_handle_receive`` would pass it after four isinstance checks: a few
        of these run for every answer a player sends.
        """
        message = envelope.message
        try:
            if type(message) in _PYKKA_MESSAGES:
                response = self._handle_receive(message)
            else:
                response = self.on_receive(message)
            if envelope.reply_to is not None:
                envelope.reply_to.set(response)
        except Exception:
            if envelope.reply_to is not None:
                envelope.reply_to.set_exception()
            else:
                self._handle_failure(*sys.exc_info())
                try:
                    self.on_failure(*sys.exc_info())
                except Exception:  # noqa: BLE001
                    self._handle_failure(*sys.exc_info())
        except BaseException:  # noqa: BLE001
            # As pykka does, but with the asker told (pykka leaves it waiting), and
            # on_stop run once: if it was on_stop that raised, the actor has stopped.
            self._answer_unhandled(envelope)
            if not self.actor_stopped.is_set():
                self._stop()
            # Without waiting, unlike pykka: the actors it would wait for may need
            # this very worker (or event loop) to stop.
            pykka.ActorRegistry.stop_all(block=False)


__all__ = [
    "Dispatcher",
    "LoopDispatcher",
    "PooledActor",
    "default_dispatcher",
    "messages",
    "shared_dispatcher",
]
