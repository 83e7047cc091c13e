"""A loopback address that goes silent: packets sent to it vanish, nothing is refused.

A database host that died, or a network that drops packets, looks like this to a
client: what it sends is never acknowledged and no answer ever comes, so only the
client's own timeouts end the wait. A forwarder that stops forwarding cannot show
it (its kernel still acknowledges every byte), and a forwarder that closes its
connections shows a refusal instead. So the test routes one loopback address of
its own to a blackhole in the kernel's local routing table (which overrides the
127.0.0.0/8 route for that address only): connections to it that are already open
stay open, and everything sent on them is dropped until the route is deleted.

It needs the ``ip`` command and CAP_NET_ADMIN (root on this project's machines).
Without them the tests that use it are skipped, unless QUIZ_REQUIRE_NETWORK_FAULTS=1
(``.ci/run`` sets it) makes that a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

SILENT_ADDRESS = "127.0.0.19"  # only ever this one; 127.0.0.1 is never touched
NETWORK_FAULTS_REQUIRED = os.environ.get("QUIZ_REQUIRE_NETWORK_FAULTS") == "1"


class SilentAddress:
    def __init__(self, address: str = SILENT_ADDRESS):
        self.address = address
        self.silent = False

    def _route(self, action: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "route", action, "blackhole", f"{self.address}/32", "table", "local"],
            capture_output=True,
            text=True,
            timeout=5,
        )

    def check_usable(self) -> None:
        """Skip (or fail, where required) unless the route can be added and deleted here."""
        problem = None
        if shutil.which("ip") is None:
            problem = "the ip command is missing"
        else:
            self._route("del")  # a route left behind by an earlier run that was killed
            added = self._route("add")
            if added.returncode != 0:
                problem = f"cannot add a blackhole route: {added.stderr.strip()}"
            else:
                self._route("del")
        if problem is None:
            return
        if NETWORK_FAULTS_REQUIRED:
            pytest.fail(f"a silent network is required here (QUIZ_REQUIRE_NETWORK_FAULTS=1) but {problem}")
        pytest.skip(f"a silent network cannot be made here: {problem}")

    def silence(self) -> None:
        added = self._route("add")
        assert added.returncode == 0, added.stderr
        self.silent = True

    def restore(self) -> None:
        if self.silent:
            deleted = self._route("del")
            assert deleted.returncode == 0, deleted.stderr
            self.silent = False
