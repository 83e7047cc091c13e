"""What the benchmark is doing, on stderr (the table goes to stdout)."""

from __future__ import annotations

import sys
import time


class Progress:
    """A heading per phase and one live status line on stderr (a line every few
    seconds when stderr is not a terminal, so logs stay short)."""

    def __init__(self, quiet: bool = False) -> None:
        self.stream = sys.stderr
        self.tty = self.stream.isatty()
        self.quiet = quiet
        self.started = time.monotonic()
        self.last_status = 0.0
        self.has_status = False

    def _stamp(self) -> str:
        return f"[{time.monotonic() - self.started:6.1f}s]"

    def say(self, text: str) -> None:
        self.clear()
        print(f"{self._stamp()} {text}", file=self.stream, flush=True)

    def status(self, text: str) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if self.tty:
            self.stream.write(f"\r\033[K{self._stamp()}   {text}")
            self.stream.flush()
            self.has_status = True
        elif now - self.last_status >= 5.0:
            print(f"{self._stamp()}   {text}", file=self.stream, flush=True)
            self.last_status = now

    def clear(self) -> None:
        if self.has_status:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self.has_status = False
