"""Wire protocol v1: parsing client frames and encoding server messages.

docs/protocol.md is the contract. This module checks every client frame against
the field types of its message type before anything else sees it, so the actors
only ever receive well-formed messages.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

from quiz_actors import metrics
from quiz_actors.domain.questions import PAYLOAD_FIELDS

MAX_FRAME_BYTES = 16 * 1024

# Close codes (docs/protocol.md, "Errors and close codes").
CLOSE_POLICY = 1008
CLOSE_SERVICE_RESTART = 1012  # draining before a restart: reconnect now
CLOSE_TOO_BIG = 1009  # sent by aiohttp itself, past MAX_FRAME_BYTES (max_msg_size)
CLOSE_REPLACED = 4000
CLOSE_MISSED_HEARTBEATS = 4001
CLOSE_KICKED = 4003
CLOSE_SLOW = 4008
CLOSE_REDIRECT = 4009  # cluster mode: the room is served by another node; follow the redirect

_NONE = type(None)
_REQUIRED, _OPTIONAL = True, False

# type -> {field: (allowed python types, required?)}
CLIENT_MESSAGES: dict[str, dict[str, tuple[tuple[type, ...], bool]]] = {
    "hello": {"token": ((str, _NONE), _OPTIONAL)},
    "create_room": {
        "quiz_id": ((str,), _REQUIRED),
        "name": ((str,), _REQUIRED),
        "admin_key": ((str,), _OPTIONAL),
        # The room's name rules (docs/protocol.md, "Names"): filter on, players choose.
        "word_filter": ((bool,), _OPTIONAL),
        "friendly_names": ((bool,), _OPTIONAL),
    },
    # ``name`` may be left out where the room gives out friendly names. ``membership``:
    # how a player hears of members coming and going in a big room (docs/protocol.md,
    # "Membership summaries in a big room").
    "join": {
        "code": ((str,), _REQUIRED),
        "name": ((str,), _OPTIONAL),
        "membership": ((str,), _OPTIONAL),
        "seat": ((str,), _OPTIONAL),
    },
    "leave": {},
    "resync": {},
    "start": {},
    "next": {},
    "show_leaderboard": {},
    "end": {},
    "lock": {},
    "unlock": {},
    "kick": {"user_id": ((str,), _REQUIRED)},
    "set_name_rules": {"word_filter": ((bool,), _OPTIONAL), "friendly_names": ((bool,), _OPTIONAL)},
    # An answer carries one payload field, the one its question's type takes
    # (docs/protocol.md, "Question types"); which one fits is the room's to say.
    "answer": {
        "question": ((int,), _REQUIRED),
        "choice": ((int,), _OPTIONAL),
        "choices": ((list,), _OPTIONAL),
        "text": ((str,), _OPTIONAL),
        "value": ((int, float), _OPTIONAL),
        "order": ((list,), _OPTIONAL),
    },
    "ping": {"t": ((int, float, str, _NONE), _OPTIONAL)},
    "pong": {"t": ((int, float, str, _NONE), _OPTIONAL)},
}


# Messages that need at least one of some optional fields: an answer, its payload.
ONE_OF_FIELDS: dict[str, tuple[str, ...]] = {"answer": PAYLOAD_FIELDS}

# String fields that take one of a few words: type -> {field: the words}.
MEMBERSHIP_FULL, MEMBERSHIP_SUMMARY = "full", "summary"
FIELD_WORDS: dict[str, dict[str, tuple[str, ...]]] = {
    "join": {"membership": (MEMBERSHIP_FULL, MEMBERSHIP_SUMMARY)},
}


class NonFiniteNumber(ValueError):
    """NaN, Infinity or a number too big for a float: not JSON (RFC 8259), and a
    browser's ``JSON.parse`` would throw away any frame that echoed one."""


def _refuse_constant(name: str) -> float:
    raise NonFiniteNumber(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to inf
        raise NonFiniteNumber(text)
    return value


# Built once: ``json.loads`` with these options builds a new decoder on every call,
# half the cost of parsing a small client frame (every message a client sends).
_STRICT_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)


def loads_strict(text: str | bytes) -> Any:
    """``json.loads`` that accepts RFC 8259 JSON only: NaN, Infinity and numbers
    that overflow a float raise ``NonFiniteNumber`` (a ``ValueError``)."""
    if isinstance(text, bytes):  # as json.loads reads bytes: UTF-8, -16 or -32
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    elif text.startswith("\ufeff"):  # as json.loads refuses a str with a byte order mark
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _STRICT_DECODER.decode(text)


class ProtocolError(Exception):
    """A client frame that cannot be handled; answered with ``error``."""

    def __init__(self, code: str, message: str, ref: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


def _type_ok(value: Any, allowed: tuple[type, ...]) -> bool:
    if isinstance(value, bool):  # JSON true is not a number here
        return bool in allowed
    return isinstance(value, allowed)


def parse_client_frame(text: str) -> dict[str, Any]:
    """Turn one text frame into a checked message dict, or raise ProtocolError."""
    try:
        message = loads_strict(text)
    except NonFiniteNumber:
        raise ProtocolError("bad_message", "Numbers must be finite: NaN and Infinity are not JSON") from None
    except (ValueError, RecursionError):
        raise ProtocolError("bad_message", "A frame must be one JSON object") from None
    if not isinstance(message, dict):
        raise ProtocolError("bad_message", "A frame must be one JSON object")
    if "\\u" in text and not _is_valid_unicode(message):
        # A \ud800-style escape decodes to half a character, which no reply (an
        # error echoes ``ref``) and no stored name could be written as UTF-8.
        raise ProtocolError("bad_message", "Text must be valid Unicode: no unpaired \\ud800-\\udfff escapes")
    ref = message.get("ref")
    if ref is not None and not _type_ok(ref, (str, int)):
        raise ProtocolError("bad_message", "ref must be a string or an integer")
    kind = message.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("bad_message", "A message needs a string field 'type'", ref)
    spec = CLIENT_MESSAGES.get(kind)
    if spec is None:
        raise ProtocolError("unknown_type", f"Unknown message type {kind[:40]!r}", ref)
    for name, (allowed, required) in spec.items():
        if name not in message:
            if required:
                raise ProtocolError("bad_message", f"'{kind}' needs the field '{name}'", ref)
            continue
        if not _type_ok(message[name], allowed):
            raise ProtocolError("bad_message", f"Field '{name}' of '{kind}' has the wrong type", ref)
    for name, words in FIELD_WORDS.get(kind, {}).items():
        if name in message and message[name] not in words:
            choices = " or ".join(f"'{word}'" for word in words)
            raise ProtocolError("bad_message", f"Field '{name}' of '{kind}' must be {choices}", ref)
    one_of = ONE_OF_FIELDS.get(kind, ())
    if one_of and not any(name in message for name in one_of):
        names = ", ".join(f"'{name}'" for name in one_of)
        raise ProtocolError("bad_message", f"'{kind}' needs one of the fields {names}", ref)
    return message


def _is_valid_unicode(message: dict[str, Any]) -> bool:
    try:
        json.dumps(message, ensure_ascii=False).encode("utf-8")
        return True
    except (UnicodeEncodeError, RecursionError):
        return False


def _make_encoder() -> Callable[[Any], str]:
    """Compact JSON, UTF-8 left as is: ``json.dumps(separators=(",", ":"), ensure_ascii=False)``.

    ``json.dumps`` builds a new encoder on every call, which is most of the cost
    of a small message; a reveal encodes thousands of them (each member's
    ``you``). So the C encoder ``json.dumps`` would build is built once here
    (without the circular-reference check: our messages are trees), with the
    pure-Python encoder as the fallback where the C one is missing.
    """
    # allow_nan=False: a non-finite number raises here rather than go out as
    # invalid JSON (parse_client_frame already keeps them out of every message).
    options = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    make_c = getattr(json.encoder, "c_make_encoder", None)
    if make_c is not None:
        try:
            iterencode = make_c(
                None,
                options.default,
                json.encoder.encode_basestring,
                None,
                options.key_separator,
                options.item_separator,
                False,
                False,
                False,
            )
            sample = {"a": [1, 2.5, True, None, 'é"\n'], "b": {}}
            if "".join(iterencode(sample, 0)) == options.encode(sample):
                return lambda message: "".join(iterencode(message, 0))
        except (TypeError, ValueError):
            pass
    return options.encode


encode = _make_encoder()
# One JSON string as ``encode`` writes it (quotes and escapes, UTF-8 left as is): the
# function ``encode`` itself is built with above, for texts written without a dict.
encode_string: Callable[[str], str] = json.encoder.encode_basestring


class Batch:
    """Encoded messages that go to one socket together, in order, as one frame.

    The frame is the message itself, or a JSON array of them (docs/protocol.md lets
    the server batch). A broadcast hands the same Batch to every member's
    socket, so what the socket layer builds from it (``wire``: the frame's
    bytes) is built once, by the first socket that sends it.
    """

    __slots__ = ("texts", "wire", "_types")

    def __init__(self, *texts: str, types: tuple[tuple[str, int], ...] | None = None) -> None:
        self.texts = texts
        self.wire: bytes | None = None  # set by the socket layer
        self._types = types  # ``type_counts``, when the sender knows them already

    def type_counts(self) -> tuple[tuple[str, int], ...]:
        """How many messages of each type, for the metrics: worked out once for all the
        sockets a broadcast reaches, so each socket adds a few counts, not one per message
        (a lobby's batch of held joins can hold hundreds of ``member_joined``)."""
        types = self._types
        if types is None:
            texts = self.texts
            if len(texts) == 1:
                # Most batches: a member's own message, or a reveal's two (below). A
                # Counter costs ~2.5 µs, which a reveal would pay once per member.
                types = ((metrics.message_type(texts[0]), 1),)
            elif len(texts) == 2:
                first, second = map(metrics.message_type, texts)
                types = ((first, 2),) if first == second else ((first, 1), (second, 1))
            else:
                types = tuple(Counter(map(metrics.message_type, texts)).items())
            self._types = types
        return types

    def payload(self) -> bytes:
        texts = self.texts
        return (texts[0] if len(texts) == 1 else "[" + ",".join(texts) + "]").encode()

    def __len__(self) -> int:
        return len(self.texts)

    def __repr__(self) -> str:
        return f"Batch({len(self.texts)} messages)"


def error(code: str, message: str, ref: Any = None) -> dict[str, Any]:
    metrics.ERRORS_SENT.labels(code).inc()  # every error reply is built here; codes are a fixed set
    reply = {"type": "error", "code": code, "message": message}
    if ref is not None:
        reply["ref"] = ref
    return reply


def with_ref(message: dict[str, Any], ref: Any) -> dict[str, Any]:
    if ref is not None:
        return {**message, "ref": ref}
    return message
