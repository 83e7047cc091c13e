"""A PostgreSQL server of the test's own: initdb in a temporary folder, a free port.

Tests that stop the database in the middle of a game must not stop the
machine's shared server, so they run their own.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile

from tests.conftest import free_port


def find_pg_bin() -> str | None:
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(folder, "initdb")):
            return folder
    return None


class PrivatePostgres:
    def __init__(self, bin_dir: str):
        self.bin_dir = bin_dir
        self.data_dir = tempfile.mkdtemp(prefix="quiz-pg-")
        self.port = free_port()
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            shutil.chown(self.data_dir, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        subprocess.run([*self.as_postgres, *args], check=True, capture_output=True, timeout=60)

    def init(self) -> PrivatePostgres:
        self._run(os.path.join(self.bin_dir, "initdb"), "-D", self.data_dir, "-A", "trust", "-U", "postgres")
        return self

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            os.path.join(self.bin_dir, "pg_ctl"),
            "-D",
            self.data_dir,
            "-o",
            options,
            "-l",
            os.path.join(self.data_dir, "server.log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(os.path.join(self.bin_dir, "pg_ctl"), "-D", self.data_dir, "-m", "immediate", "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.data_dir, ignore_errors=True)
