"""Server settings: the only place that reads the environment.

Each setting has a default, an environment variable and a ``quiz-server``
option; the option wins over the variable, the variable over the default.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields
from typing import Any, TypeVar
from urllib.parse import urlsplit

from eventstore.persistence import DEFAULT_STORE_URL, StoreUrlError, env_for_store
from quiz_actors.domain.quiz import MAX_GET_READY_S

T = TypeVar("T", bool, int, float, str)

EVENT_LOOPS = ("uvloop", "asyncio")


def _setting(default: T, env: str, help: str) -> T:
    return field(default=default, metadata={"env": env, "help": help})


@dataclass(frozen=True)
class Settings:
    host: str = _setting("127.0.0.1", "QUIZ_HOST", "address to listen on")
    port: int = _setting(8080, "QUIZ_PORT", "port to listen on")
    store: str = _setting(
        DEFAULT_STORE_URL, "QUIZ_STORE", "event store URL (sqlite:///path or postgresql://user@host:port/db)"
    )
    heartbeat_s: float = _setting(30.0, "QUIZ_HEARTBEAT_S", "seconds between server pings")
    missed_pings: int = _setting(
        3, "QUIZ_MISSED_PINGS", "unanswered pings in a row before a member is marked offline"
    )
    ended_room_ttl_s: float = _setting(
        300.0, "QUIZ_ENDED_ROOM_TTL_S", "seconds of inactivity after a quiz ends before its room closes"
    )
    idle_room_ttl_s: float = _setting(
        1800.0, "QUIZ_IDLE_ROOM_TTL_S", "seconds with no member online before a room closes"
    )
    unjoined_room_ttl_s: float = _setting(
        120.0,
        "QUIZ_UNJOINED_ROOM_TTL_S",
        "seconds with nobody online before a room that no player ever joined closes",
    )
    sweep_interval_s: float = _setting(
        60.0, "QUIZ_SWEEP_INTERVAL_S", "seconds between sweeps for rooms due to close"
    )
    hello_timeout_s: float = _setting(10.0, "QUIZ_HELLO_TIMEOUT_S", "seconds a new socket has to send hello")
    token_max_age_s: float = _setting(
        30 * 24 * 3600.0, "QUIZ_TOKEN_MAX_AGE_S", "seconds a session token stays valid"
    )
    max_players: int = _setting(2000, "QUIZ_MAX_PLAYERS", "players per room")
    outbox_max_messages: int = _setting(
        2000, "QUIZ_OUTBOX_MAX_MESSAGES", "messages queued for one socket before it is closed as too slow"
    )
    fanout_window_s: float = _setting(
        0.25, "QUIZ_FANOUT_WINDOW_S", "in a big room, membership changes wait this long to travel together"
    )
    fanout_coalesce_above: int = _setting(
        100, "QUIZ_FANOUT_COALESCE_ABOVE", "members online from which membership changes are coalesced"
    )
    group_commit_max: int = _setting(
        64,
        "QUIZ_GROUP_COMMIT_MAX",
        "answers and joins stored in one commit at most, so a burst is acknowledged as it is decided",
    )
    group_commit_max_wait_s: float = _setting(
        0.005,
        "QUIZ_GROUP_COMMIT_MAX_WAIT_S",
        "seconds the first answer or join of a group commit waits at most for others to join it",
    )
    progress_interval_s: float = _setting(
        0.25, "QUIZ_PROGRESS_INTERVAL_S", "at most one answers_progress per this many seconds"
    )
    rejoin_grace_s: float = _setting(
        15.0,
        "QUIZ_REJOIN_GRACE_S",
        "after a restart or a takeover, seconds an open question waits for the players who were"
        " in it to come back before it closes because everyone online has answered",
    )
    outbox_max_bytes: int = _setting(
        1_048_576, "QUIZ_OUTBOX_MAX_BYTES", "bytes queued for one socket before it is closed as too slow"
    )
    send_timeout_s: float = _setting(
        10.0, "QUIZ_SEND_TIMEOUT_S", "a socket whose send stalls this long is closed as too slow"
    )
    allowed_origins: str = _setting(
        "",
        "QUIZ_ALLOWED_ORIGINS",
        "comma-separated Origins allowed to open sockets, besides the server's own and none",
    )
    max_connections: int = _setting(20_000, "QUIZ_MAX_CONNECTIONS", "open sockets in total")
    max_connections_per_ip: int = _setting(
        500,
        "QUIZ_MAX_CONNECTIONS_PER_IP",
        "open sockets from one address (a school behind one NAT is one address)",
    )
    header_timeout_s: float = _setting(
        10.0,
        "QUIZ_HEADER_TIMEOUT_S",
        "seconds a connection has to send a complete request's headers (again after each response)",
    )
    player_messages_per_s: float = _setting(
        5.0, "QUIZ_PLAYER_MESSAGES_PER_S", "sustained messages per second from a player's socket"
    )
    player_burst: int = _setting(10, "QUIZ_PLAYER_BURST", "messages a player's socket may send at once")
    host_messages_per_s: float = _setting(
        20.0, "QUIZ_HOST_MESSAGES_PER_S", "sustained messages per second from a host's socket"
    )
    host_burst: int = _setting(40, "QUIZ_HOST_BURST", "messages a host's socket may send at once")
    rate_abuse_limit: int = _setting(
        50, "QUIZ_RATE_ABUSE_LIMIT", "refused messages within 10 s before the socket is closed (1008)"
    )
    joins_per_ip_per_minute: int = _setting(
        300, "QUIZ_JOINS_PER_IP_PER_MINUTE", "newcomers' join attempts per address per minute"
    )
    member_joins_per_minute: int = _setting(
        30,
        "QUIZ_MEMBER_JOINS_PER_MINUTE",
        "join attempts per minute of a member coming back with its seat (not counted per address)",
    )
    failed_joins_per_ip: int = _setting(
        10,
        "QUIZ_FAILED_JOINS_PER_IP",
        "different unknown codes joined per address per minute before a lockout",
    )
    failed_join_lockout_s: float = _setting(
        300.0,
        "QUIZ_FAILED_JOIN_LOCKOUT_S",
        "how long an address that guessed codes is locked out (its members may still rejoin)",
    )
    rooms_per_socket: int = _setting(
        20, "QUIZ_ROOMS_PER_SOCKET", "rooms one socket may create (create_room beyond gets rate_limited)"
    )
    rooms_per_ip_per_minute: int = _setting(
        10, "QUIZ_ROOMS_PER_IP_PER_MINUTE", "rooms one address may create per minute"
    )
    room_join_burst: int = _setting(
        500, "QUIZ_ROOM_JOIN_BURST", "new members within 10 s that make a room lock itself"
    )
    flood_lock_s: float = _setting(
        120.0,
        "QUIZ_FLOOD_LOCK_S",
        "how long a room locked by a join flood stays locked (the host can unlock sooner)",
    )
    admin_key: str = _setting(
        "", "QUIZ_ADMIN_KEY", "when set, uploading quizzes and creating rooms require it"
    )
    log_level: str = _setting("INFO", "QUIZ_LOG_LEVEL", "logging level")
    log_format: str = _setting(
        "text", "QUIZ_LOG_FORMAT", "text (one line a record) or json (one JSON object a line)"
    )
    drain_grace_s: float = _setting(
        5.0,
        "QUIZ_DRAIN_GRACE_S",
        "on SIGTERM: seconds the server goes on serving, /readyz saying 503, before it restarts sockets",
    )
    metrics_allow: str = _setting(
        "",
        "QUIZ_METRICS_ALLOW",
        "comma-separated address ranges (10.0.0.0/8, ::1/128) that may read /metrics; empty: any",
    )
    trusted_proxies: str = _setting(
        "",
        "QUIZ_TRUSTED_PROXIES",
        "comma-separated address ranges of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto "
        "are believed (the client's address and https)",
    )
    public_url: str = _setting(
        "",
        "QUIZ_PUBLIC_URL",
        "the address players open to join (http://quiz.school.example/); empty: the address the host "
        "page was opened at, or this machine's network address when that is loopback",
    )
    get_ready_s: float = _setting(
        3.0,
        "QUIZ_GET_READY_S",
        "seconds each question is shown before answers open, for quizzes that do not set get_ready_s",
    )
    event_loop: str = _setting(
        "uvloop",
        "QUIZ_EVENT_LOOP",
        "uvloop (libuv's event loop, faster socket work) or asyncio (the standard library's)",
    )
    metrics_token: str = _setting(
        "", "QUIZ_METRICS_TOKEN", "when set, /metrics needs Authorization: Bearer <token>"
    )
    # Cluster mode (docs/cluster.md): several processes on one PostgreSQL behind HAProxy.
    cluster: bool = _setting(
        False,
        "QUIZ_CLUSTER",
        "run as one node of several on one PostgreSQL store: rooms are served under leases",
    )
    node_id: str = _setting(
        "",
        "QUIZ_NODE_ID",
        "this node's name in a cluster, the same as its server name in HAProxy (required with --cluster)",
    )
    lease_ttl_s: float = _setting(
        5.0, "QUIZ_LEASE_TTL_S", "seconds a room's lease lasts on the database's clock unless renewed"
    )
    lease_renew_s: float = _setting(
        1.0, "QUIZ_LEASE_RENEW_S", "seconds between renewals of this node's room leases (one statement)"
    )

    @property
    def heartbeat_ms(self) -> int:
        return int(self.heartbeat_s * 1000)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = environ.get(f.metadata["env"])
            if raw is not None and raw != "":
                values[f.name] = _convert(f, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def problems(self) -> list[str]:
        """Every setting whose value cannot work, in plain words (empty: all fine)."""
        found = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                continue
            zero_ok = f.name in _ZERO_ALLOWED
            if value < 0 or (value == 0 and not zero_ok):
                found.append(
                    f"{_named(f.name)} must be {'0 or more' if zero_ok else 'more than 0'}, not {value}"
                )
        found.extend(self._cluster_problems())
        if self.port > 65535:
            found.append(f"{_named('port')} must be a port number up to 65535, not {self.port}")
        if logging.getLevelName(self.log_level.upper()) not in range(0, 100):
            found.append(f"{_named('log_level')}: {self.log_level!r} is not DEBUG, INFO, WARNING or ERROR")
        if self.log_format not in ("text", "json"):
            found.append(f"{_named('log_format')}: {self.log_format!r} is neither text nor json")
        if self.event_loop not in EVENT_LOOPS:
            found.append(f"{_named('event_loop')}: {self.event_loop!r} is neither uvloop nor asyncio")
        try:
            env_for_store(self.store)
        except StoreUrlError as e:
            found.append(f"{_named('store')}: {e}")
        except OSError as e:  # the SQLite file's folder cannot be created
            found.append(f"{_named('store')}: {e.strerror}: {e.filename}")
        if self.get_ready_s > MAX_GET_READY_S:
            found.append(f"{_named('get_ready_s')} must be at most {MAX_GET_READY_S}, not {self.get_ready_s}")
        if self.public_url and (problem := public_url_problem(self.public_url)) is not None:
            found.append(f"{_named('public_url')}: {problem}")
        for name in ("metrics_allow", "trusted_proxies"):
            try:
                self.networks(name)
            except ValueError as e:
                found.append(f"{_named(name)}: {e}")
        return found

    def _cluster_problems(self) -> list[str]:
        if not self.cluster:
            return []
        found = []
        if urlsplit(self.store).scheme.lower() not in ("postgresql", "postgres"):
            found.append(
                f"{_named('cluster')} needs a PostgreSQL store that every node shares; "
                f"{_named('store')} is {self.store.split(':', 1)[0]}: give a postgresql:// URL"
            )
        if self.lease_renew_s * 2 > self.lease_ttl_s:
            found.append(
                f"{_named('lease_renew_s')} must be at most half of {_named('lease_ttl_s')} "
                f"({self.lease_renew_s} > {self.lease_ttl_s} / 2): a node must renew twice within a lease"
            )
        if not self.node_id:
            # A name made up here (the host's) would match no server in HAProxy: every
            # join redirected to this node would be hashed elsewhere again, and none get in.
            found.append(
                f"{_named('cluster')} needs {_named('node_id')}: this node's name, the same as its "
                "server name in HAProxy's configuration (node1, node2… in contrib/haproxy.cfg)"
            )
        elif not _NODE_ID.fullmatch(self.node_id):
            found.append(
                f"{_named('node_id')}: {self.node_id!r} may only hold letters, digits, '.', '-', '_' and ':'"
            )
        return found

    @property
    def node_name(self) -> str:
        """This node's name in the cluster: ``node_id`` (required in cluster mode), else host:port."""
        return self.node_id or f"{socket.gethostname()}:{self.port}"

    def networks(self, name: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """A setting that lists address ranges (``metrics_allow``, ``trusted_proxies``), parsed;
        ValueError naming an item that is not an address range."""
        networks = []
        for item in (part.strip() for part in getattr(self, name).split(",")):
            if item:
                try:
                    networks.append(ipaddress.ip_network(item, strict=False))
                except ValueError:
                    raise ValueError(f"{item!r} is not an address range like 10.0.0.0/8") from None
        return networks

    @classmethod
    def command_line_parser(cls) -> argparse.ArgumentParser:
        """``quiz-server``'s options: one per setting."""
        parser = argparse.ArgumentParser(
            prog="quiz-server", description="Run the quiz-actors real-time quiz server."
        )
        for f in fields(cls):
            flag = "--" + f.name.replace("_", "-")
            if _type_of(f) is bool:  # a switch: given or not
                parser.add_argument(
                    flag,
                    dest=f.name,
                    action="store_const",
                    const=True,
                    default=None,
                    help=f"{f.metadata['help']} (env {f.metadata['env']}=1)",
                )
                continue
            parser.add_argument(
                flag,
                dest=f.name,
                type=_type_of(f),
                default=None,
                help=f"{f.metadata['help']} (env {f.metadata['env']}, default {f.default})",
            )
        return parser

    @classmethod
    def from_command_line(
        cls, argv: list[str] | None = None, environ: Mapping[str, str] | None = None
    ) -> Settings:
        args = cls.command_line_parser().parse_args(argv)
        return cls.from_env(environ, **vars(args))


# Settings for which 0 means something (no grace, no wait, any free port…).
_ZERO_ALLOWED = frozenset(
    {
        "port",
        "fanout_window_s",
        "fanout_coalesce_above",
        "group_commit_max_wait_s",
        "failed_join_lockout_s",
        "flood_lock_s",
        "drain_grace_s",
        "get_ready_s",
        "rejoin_grace_s",
    }
)


def _named(name: str) -> str:
    """How a setting is given: its option and its variable."""
    env = next(f.metadata["env"] for f in fields(Settings) if f.name == name)
    return f"--{name.replace('_', '-')} ({env})"


def _type_of(f: Field[Any]) -> type[bool] | type[int] | type[float] | type[str]:
    types: dict[str, type[bool] | type[int] | type[float] | type[str]] = {
        "bool": bool,
        "int": int,
        "float": float,
        "str": str,
    }
    return types[f.type if isinstance(f.type, str) else f.type.__name__]


_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
_NODE_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def _convert(f: Field[Any], raw: str) -> bool | int | float | str:
    if _type_of(f) is bool:
        if raw.lower() in _TRUE + _FALSE:
            return raw.lower() in _TRUE
        raise SystemExit(f"{f.metadata['env']}={raw!r} is neither 1 nor 0")
    try:
        return _type_of(f)(raw)
    except ValueError:
        raise SystemExit(f"{f.metadata['env']}={raw!r} is not a valid {_type_of(f).__name__}") from None


def public_url_problem(url: str) -> str | None:
    """Why ``--public-url`` cannot be the players' address, or None."""
    parsed = urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return f"{url!r} is not an http:// or https:// address like http://quiz.school.example/"
    if parsed.query or parsed.fragment:
        return f"{url!r} must not have a ?query or #fragment: the join link adds its own"
    return None
