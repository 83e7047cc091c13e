"""How long a snapshot write holds its thread while PostgreSQL does not answer.

A room writes a snapshot now and then after a save, on its own thread (the hub, for
the directory). This saves a room through a small TCP forwarder on loopback, then
makes the forwarder stop serving (``--hole``: connections accepted and never
answered, like a database host that went away; ``--refused``: nothing listens) and
times one snapshot write. Each run uses a fresh schema in the test database.

    .venv/bin/python scripts/snapshot_while_down.py --hole
    .venv/bin/python scripts/snapshot_while_down.py --refused
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eventstore import EventStore, application  # noqa: E402
from tests.conftest import one_question_room  # noqa: E402

DATABASE = "postgresql://postgres@127.0.0.1:5432/test"


class Forwarder:
    """Loopback to PostgreSQL until ``stop``; then it serves no one."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.serving = True
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.serving:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.serving:
                self.sockets.append(client)
                return
            upstream = socket.create_connection(("127.0.0.1", 5432))
            self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(source, sink), daemon=True).start()

    def stop(self, refuse: bool) -> None:
        self.serving = False
        socket.create_connection(("127.0.0.1", self.port)).close()  # wakes the accept loop, which ends
        for sock in self.sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        if refuse:
            self.listener.close()  # else the kernel still accepts: connections nobody answers


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    way = parser.add_mutually_exclusive_group(required=True)
    way.add_argument("--hole", action="store_true", help="connections accepted, never answered")
    way.add_argument("--refused", action="store_true", help="connections refused")
    args = parser.parse_args()
    application.SNAPSHOT_EVERY = 1  # every save is due a snapshot
    schema = f"snapshot_down_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(DATABASE, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    forwarder = Forwarder()
    store = EventStore(f"postgresql://postgres@127.0.0.1:{forwarder.port}/test?schema={schema}")
    try:
        room = one_question_room("400010")
        store.save(room)
        forwarder.stop(refuse=args.refused)
        started = time.monotonic()
        try:
            store.snapshot_if_due(room, 0)
            outcome = "written"
        except Exception as e:  # noqa: BLE001 - what the write gave up with, whatever the library wraps
            outcome = f"{type(e).__name__}: {str(e).splitlines()[0][:80]}"
        print(
            f"{'hole' if args.hole else 'refused'}: the snapshot write ended after "
            f"{time.monotonic() - started:.1f} s ({outcome})"
        )
    finally:
        store.close()
        with psycopg.connect(DATABASE, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


if __name__ == "__main__":
    main()
