"""A loopback address that goes silent: packets sent to it vanish, nothing is refused.

A database host that died, or a network that drops packets, looks like this to a
client: what it sends is never acknowledged, no answer ever comes, and a new
connection's SYN goes unanswered too, so only the client's own timeouts end the
wait. A forwarder that stops forwarding cannot show it (its kernel still
acknowledges every byte), and a forwarder that closes its connections shows a
refusal instead. So the test drops every packet to or from one loopback address of
its own, with a table of its own in the kernel's firewall (nftables): the
connections to that address that are open stay open, and everything sent on them
either way, or to open new ones, is dropped until the table is deleted.

Both are the test process's own (its pid is in the address and in the table's name),
so two test runs on one machine never silence each other's database; a table left
behind by a run that was killed is deleted by the next.

It needs Debian's ``nft`` (package nftables) and CAP_NET_ADMIN (root on this
project's machines; a container needs ``--cap-add NET_ADMIN``). Without them the
tests that use it are skipped, unless QUIZ_REQUIRE_NETWORK_FAULTS=1 (``.ci/run``
sets it) makes that a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

NETWORK_FAULTS_REQUIRED = os.environ.get("QUIZ_REQUIRE_NETWORK_FAULTS") == "1"

TABLE_PREFIX = "quiz_actors_silent_test_"  # only tables named so are ever touched; then a pid


def own_address(pid: int) -> str:
    """A loopback address for this process alone: its pid (22 bits at most) spelled in
    127.64.0.0/10, so 127.0.0.1 and its neighbours are never touched."""
    return f"127.{64 + (pid >> 16)}.{(pid >> 8) & 0xFF}.{pid & 0xFF}"


class SilentAddress:
    def __init__(self) -> None:
        pid = os.getpid()
        self.address = own_address(pid)
        self.table = f"{TABLE_PREFIX}{pid}"
        self.silent = False

    def _nft(self, *args: str, script: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["nft", *args], input=script, capture_output=True, text=True, timeout=5)

    def _drop_all_to_the_address(self) -> subprocess.CompletedProcess[str]:
        return self._nft(
            "-f",
            "-",
            script=(
                f"table inet {self.table} {{\n"
                "  chain input {\n"
                "    type filter hook input priority 0; policy accept;\n"
                f"    ip daddr {self.address} drop\n"
                f"    ip saddr {self.address} drop\n"
                "  }\n"
                "}\n"
            ),
        )

    def _delete(self, table: str | None = None) -> subprocess.CompletedProcess[str]:
        return self._nft("delete", "table", "inet", table or self.table)

    def _delete_tables_of_dead_runs(self) -> None:
        listed = self._nft("list", "tables", "inet")
        for line in listed.stdout.splitlines():  # "table inet quiz_actors_silent_test_1234"
            name = line.split()[-1] if line.startswith("table inet ") else ""
            pid = name.removeprefix(TABLE_PREFIX)
            if name.startswith(TABLE_PREFIX) and pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                self._delete(name)

    def check_usable(self) -> None:
        """Skip (or fail, where required) unless the table can be added and deleted here."""
        problem = None
        if shutil.which("nft") is None:
            problem = "the nft command is missing (apt-get install nftables)"
        else:
            self._delete_tables_of_dead_runs()
            added = self._drop_all_to_the_address()
            if added.returncode != 0:
                problem = f"cannot add a firewall table: {added.stderr.strip()}"
            else:
                self._delete()
        if problem is None:
            return
        if NETWORK_FAULTS_REQUIRED:
            pytest.fail(f"a silent network is required here (QUIZ_REQUIRE_NETWORK_FAULTS=1) but {problem}")
        pytest.skip(f"a silent network cannot be made here: {problem}")

    def silence(self) -> None:
        added = self._drop_all_to_the_address()
        assert added.returncode == 0, added.stderr
        self.silent = True

    def restore(self) -> None:
        """Let the packets through again (whether or not ``silence`` got as far as
        saying so: a table it added must never stay). Never raises, so that what a
        test's teardown does after it still runs."""
        self._delete()  # "No such file or directory" when there was none
        self.silent = False
