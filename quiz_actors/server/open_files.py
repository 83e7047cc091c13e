"""The open-files limit: every socket is a file descriptor.

systemd and Docker start services with a soft limit of 1,024 open files by
default, which a server of a thousand players reaches without a word. At
start the server raises its soft limit to the hard limit (which needs no
privilege) and says whether ``--max-connections`` fits within it.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

# Descriptors the process holds besides players' sockets: the listening socket,
# store connections, the event loop's own, log files, a margin for HTTP requests.
FDS_BESIDES_SOCKETS = 64


@dataclass(frozen=True)
class OpenFiles:
    soft_before: int
    soft: int
    hard: int
    refused: str | None = None  # why the soft limit could not be raised

    @property
    def sockets_possible(self) -> int:
        return max(0, self.soft - FDS_BESIDES_SOCKETS)

    def fits(self, max_connections: int) -> bool:
        return self.soft == resource.RLIM_INFINITY or max_connections <= self.sockets_possible


def show(limit: int) -> str:
    return "unlimited" if limit == resource.RLIM_INFINITY else f"{limit:,}"


def raise_to_hard_limit() -> OpenFiles:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        return OpenFiles(soft, soft, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as e:
        # An unlimited hard limit may be more than the kernel allows one process.
        return OpenFiles(soft, soft, hard, refused=str(e))
    return OpenFiles(soft, hard, hard)


def as_raised() -> OpenFiles:
    """What ``raise_to_hard_limit`` would give, without changing anything."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return OpenFiles(soft, hard, hard)


def describe(limits: OpenFiles) -> str:
    if limits.refused is not None:
        return (
            f"open files: soft limit {show(limits.soft)} (hard limit {show(limits.hard)}); "
            f"raising it failed: {limits.refused}"
        )
    if limits.soft != limits.soft_before:
        return (
            f"open files: soft limit raised from {show(limits.soft_before)} to {show(limits.soft)} "
            f"(hard limit {show(limits.hard)})"
        )
    return f"open files: soft limit {show(limits.soft)} (hard limit {show(limits.hard)})"


def shortfall(limits: OpenFiles, max_connections: int) -> str | None:
    """What to say when ``max_connections`` sockets cannot all be open at once."""
    if limits.fits(max_connections):
        return None
    return (
        f"open files: --max-connections {max_connections:,} cannot be reached: the open-files limit "
        f"{show(limits.soft)} leaves room for about {limits.sockets_possible:,} sockets. Raise the hard "
        f"limit (LimitNOFILE= in the systemd unit, --ulimit nofile= or ulimits: in Docker, ulimit -Hn) "
        f"or lower --max-connections"
    )
