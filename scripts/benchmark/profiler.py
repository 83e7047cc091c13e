"""``--profile DIR``: py-spy around each phase of a run."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any


class Profiler:
    """py-spy around one phase of a run, attached to the server and the load processes.

    py-spy writes its collapsed stacks when interrupted, so each phase gets its own
    file; ``summary`` turns one into the functions that took the most samples.
    """

    def __init__(self, outdir: str | None, py_spy: str | None, rate: int = 100):
        self.outdir = Path(outdir) if outdir else None
        self.rate = rate
        self.py_spy = py_spy or shutil.which("py-spy") or ""
        self.summaries: dict[str, dict[str, dict[str, Any]]] = {}
        if self.outdir is not None:
            if not self.py_spy:
                raise SystemExit("--profile needs py-spy: pip install py-spy, or give --py-spy PATH")
            self.outdir.mkdir(parents=True, exist_ok=True)

    @contextlib.asynccontextmanager
    async def phase(self, label: str, pids: dict[str, int]):
        if self.outdir is None:
            yield
            return
        recorders = []
        for name, pid in pids.items():
            path = self.outdir / f"{label}.{name}.txt"
            cmd = [
                self.py_spy,
                "record",
                "--pid",
                str(pid),
                "--format",
                "raw",
                "--nolineno",
                "--nonblocking",
                "--rate",
                str(self.rate),
                "--output",
                str(path),
            ]
            if name == "server":
                # Only samples holding the GIL: in a GIL-bound server, that is where the one
                # Python core goes (waits for the disk or for a lock are not in it).
                cmd.append("--gil")
            recorder = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            recorders.append((name, path, recorder))
        await asyncio.sleep(0.5)  # attached before the phase starts
        try:
            yield
        finally:
            for _, _, proc in recorders:
                proc.send_signal(signal.SIGINT)
            for name, path, proc in recorders:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    await asyncio.get_running_loop().run_in_executor(None, proc.wait, 30)
                if proc.poll() is None:
                    proc.kill()
                self.summaries.setdefault(label, {})[name] = collapsed_summary(path)
                if name == "server" and "burst" in label:
                    self.summaries[label]["answer_breakdown"] = answer_breakdown(path)

    def render(self, top: int = 12) -> str:
        lines = []
        for label, by_process in self.summaries.items():
            for name, summary in by_process.items():
                lines.append(f"{label} · {name}: {summary.get('samples', 0)} samples")
                if name == "answer_breakdown":
                    total = max(1, summary.get("samples", 0))
                    for stage, count in summary.get("stages", []):
                        lines.append(f"    {100 * count / total:5.1f}%  {stage}")
                    continue
                for frame, pct in summary.get("self", [])[:top]:
                    lines.append(f"    {pct:5.1f}%  {frame}")
        return "\n".join(lines)


def _collapsed_stacks(path: Path) -> list[tuple[str, int]]:
    """py-spy's raw (collapsed) output as (stack, samples) pairs; none if it is missing."""
    stacks: list[tuple[str, int]] = []
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if stack and count.isdigit():
                stacks.append((stack, int(count)))
    return stacks


def collapsed_summary(path: Path, top: int = 25) -> dict[str, Any]:
    """Self and inclusive sample shares per function, from py-spy's raw (collapsed) output."""
    self_counts: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for stack, n in _collapsed_stacks(path):
        frames = stack.split(";")
        total += n
        self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + n
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n

    def ranked(counts: dict[str, int]) -> list[tuple[str, float]]:
        best = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
        return [(frame, round(100 * c / total, 1)) for frame, c in best]

    return {"samples": total, "self": ranked(self_counts), "inclusive": ranked(inclusive)} if total else {}


# Where a server sample of a same-instant answer burst goes: the first rule with a
# frame on the sample's stack (tried in this order; the room's thread first, then the
# event loop's). docs/benchmark.md shows a run.
ANSWER_STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("room: snapshot (every 500 events)", ("snapshot_if_due",)),
    ("room: save, events to stored records (JSON)", ("Mapper.to_stored_event",)),
    ("room: save, SQL insert and commit", ("Application._record", "insert_events")),
    ("room: save, other", ("EventStore.save", "Saving.commit")),
    ("room: everyone answered? (after each commit)", ("close_if_everyone_answered",)),
    ("room: event objects (construct, apply)", ("trigger_event", "BoundCommandMethodDecorator")),
    ("room: decide (Room.answer's rules)", ("Room.answer",)),
    ("room: encode answer_accepted", ("Audience.reply",)),
    ("room: hand the replies to the connection actors", ("Outgoing.send",)),
    ("room: dispatch, other", ("RoomActor.on_receive", "Actor._actor_loop")),
    ("loop: write to the socket", ("SocketSession", "_SelectorSocketTransport.write")),
    ("loop: connection actor hands the answer to the room", ("ConnectionActor._on_client_message",)),
    ("loop: connection actor turns (envelope, inbox)", ("PooledActor", "PooledInbox", "LoopPost")),
    ("loop: parse (JSON, protocol check)", ("parse_client_frame", "JSONDecoder", "loads (json")),
    ("loop: bridge (receive, rate, hand to the connection actor)", ("_serve", "websocket_handler")),
    ("loop: read the socket, WebSocket frames (aiohttp)", ("data_received", "_read_ready")),
    ("loop: select, timers, other", ("BaseEventLoop", "run_app", "Runner.run")),
]


def answer_breakdown(path: Path) -> dict[str, Any]:
    """Samples per stage of an answer's way through the server (``ANSWER_STAGES``)."""
    counts: dict[str, int] = {}
    total = 0
    for stack, n in _collapsed_stacks(path):
        total += n
        stage = next(
            (name for name, frames in ANSWER_STAGES if any(f in stack for f in frames)),
            "other",
        )
        counts[stage] = counts.get(stage, 0) + n
    return {"samples": total, "stages": sorted(counts.items(), key=lambda kv: -kv[1])}
