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

    def __init__(self, outdir: str | None, py_spy: str | None):
        self.outdir = Path(outdir) if outdir else None
        self.py_spy = py_spy or shutil.which("py-spy") or ""
        self.summaries: dict[str, dict[str, dict[str, Any]]] = {}
        if self.outdir is not None:
            if not self.py_spy:
                raise SystemExit("--profile needs py-spy: pip install py-spy, or give --py-spy PATH")
            self.outdir.mkdir(parents=True, exist_ok=True)

    @contextlib.asynccontextmanager
    async def phase(self, label: str, pids: dict[str, int]):  # type: ignore[no-untyped-def]
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
                "100",
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

    def render(self, top: int = 12) -> str:
        lines = []
        for label, by_process in self.summaries.items():
            for name, summary in by_process.items():
                lines.append(f"{label} · {name}: {summary.get('samples', 0)} samples")
                for frame, pct in summary.get("self", [])[:top]:
                    lines.append(f"    {pct:5.1f}%  {frame}")
        return "\n".join(lines)


def collapsed_summary(path: Path, top: int = 25) -> dict[str, Any]:
    """Self and inclusive sample shares per function, from py-spy's raw (collapsed) output."""
    self_counts: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    with contextlib.suppress(OSError):
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            frames = stack.split(";")
            total += n
            self_counts[frames[-1]] = self_counts.get(frames[-1], 0) + n
            for frame in set(frames):
                inclusive[frame] = inclusive.get(frame, 0) + n

    def ranked(counts: dict[str, int]) -> list[tuple[str, float]]:
        best = sorted(counts.items(), key=lambda kv: -kv[1])[:top]
        return [(frame, round(100 * c / total, 1)) for frame, c in best]

    return {"samples": total, "self": ranked(self_counts), "inclusive": ranked(inclusive)} if total else {}
