"""What members see of a room: wire messages built from the Room aggregate.

Everything here is read-only over the room's state. Nothing built before a
question closes contains its right answer, whatever its type.
"""

from __future__ import annotations

from typing import Any

from quiz_actors.domain.room import (
    CLOSED,
    ENDED,
    QUESTION,
    REVEAL,
    Room,
    describe_question,
    moved_up_board,
    revealed,
)
from quiz_actors.protocol import encode, encode_string

LEADERBOARD_SIZE = 10
LEADERBOARD_STEP_SIZE = 5  # the host's leaderboard step: readable from the back of a room
PODIUM_SIZE = 3


def member_view(member: dict[str, Any]) -> dict[str, Any]:
    return {
        "user_id": member["user_id"],
        "name": member["name"],
        "online": member["online"],
        "score": member["score"],
    }


class MemberList:
    """The member list of ``state``, each member encoded once and kept until it changes.

    Every joiner gets the whole list, so filling a lobby of N costs N lists of
    up to N members. The room actor reports what its saved events changed
    (``note``); only those members are encoded again. The list's text is kept
    too: while members only join (a filling lobby), each new one is appended to
    it, instead of joining N texts again for every joiner; any other change
    joins them afresh once.
    """

    MEMBER_EVENTS = (
        Room.MemberJoined,
        Room.MemberOnline,
        Room.MemberOffline,
        Room.MemberLeft,
        Room.MemberKicked,
    )

    def __init__(self) -> None:
        self._encoded: dict[str, str] = {}  # in the room's member order
        self._dirty: set[str] = set()
        self._rebuild = True
        self._text: str | None = None  # ",".join(self._encoded.values()), None: join it afresh

    def note(self, events: list[Any]) -> None:  # Room events: their fields come from @event
        for event in events:
            if isinstance(event, self.MEMBER_EVENTS):
                self._dirty.add(event.user_id)
            elif isinstance(event, Room.QuestionClosed):
                self._rebuild = True  # every score may have changed

    def forget(self) -> None:
        self._rebuild = True

    def encode(self, room: Room) -> str:
        """The list as JSON text."""
        return "".join(("[", self.items(room), "]"))

    def items(self, room: Room) -> str:
        """The list's members as JSON texts joined by commas, without the brackets: a
        ``state`` puts them in its own text with one join (at 5,000 members, building
        the state with ``+`` instead took milliseconds: each ``+`` of a half-megabyte
        text allocated and copied it again)."""
        if self._rebuild:
            self._encoded = {u: encode(member_view(m)) for u, m in room.members.items()}
            self._rebuild, self._text = False, None
            self._dirty.clear()
        elif self._dirty:
            self._encode_dirty(room)
        if self._text is None:
            self._text = ",".join(self._encoded.values())
        return self._text

    def _encode_dirty(self, room: Room) -> None:
        encoded, appended = self._encoded, []
        for user_id in self._dirty:
            member = room.members.get(user_id)
            before = encoded.get(user_id)
            if member is None:
                if before is not None:
                    del encoded[user_id]
                    self._text = None
                continue
            text = encode(member_view(member))
            if before is None:
                appended.append(text)  # a dict keeps insertion order: it goes last, as here
            elif text != before:
                self._text = None
            encoded[user_id] = text
        self._dirty.clear()
        if self._text is not None and appended:
            self._text = ",".join([self._text, *appended]) if self._text else ",".join(appended)


def state(
    room: Room,
    user_id: str,
    members: MemberList,
    ref: object = None,
    brief: bool = False,
    seat: str | None = None,
    still_away: int = 0,
) -> str:
    """The encoded ``state`` message for one member.

    ``still_away``: players the host's ``answers_progress`` total counts besides those
    online, while a question waits for its players after a restart (``Game.still_away``),
    so that the host's screen shows the count its next ``answers_progress`` will.

    ``seat``: the member's seat (tokens.SeatSigner), for it to send back with a later
    ``join``: a member coming back is let in while its address is refused newcomers.

    ``brief``: for a player who asked for membership summaries, in a big room
    (docs/protocol.md, "Membership summaries in a big room"): ``members`` holds
    only the host and the player, and ``member_count`` says how many there are.
    Not once the quiz has ended: a page reloaded then draws the podium from them.
    """
    brief = brief and room.phase not in (ENDED, CLOSED)
    member = room.members.get(user_id)
    you = {
        "user_id": user_id,
        "is_host": room.is_host(user_id),
        "score": member["score"] if member else 0,
        **({"name": member["name"]} if member else {}),
        "answered": room.phase == QUESTION and user_id in room.answers(),
    }
    if room.phase in (REVEAL, ENDED) and room.is_player(user_id):
        # A page reloaded between questions can show the rank without waiting for the next one.
        ranking = room.ranking()
        position = next(i for i, r in enumerate(ranking) if r["user_id"] == user_id)
        you["rank"] = ranking[position]["rank"]
        you["ahead"] = ahead_of(ranking, position)
        if room.phase == REVEAL and room.last_result:
            you["last_result"] = room.last_result["results"].get(user_id)
    given = own_answer(room, user_id)
    if given is not None:
        you["answer"] = given
    if seat is not None and member is not None:
        you["seat"] = seat
    room_part = {
        "code": room.code,
        "room_id": str(room.id),
        "title": room.quiz["title"],
        "phase": room.phase,
        "locked": room.locked,
        "word_filter": room.word_filter,
        "friendly_names": room.friendly_names,
        "host_id": room.host_id,
        "question_count": room.question_count,
        "question": describe_question(room),
        "quiz_id": room.quiz_id,
        "quiz_revision": room.quiz_revision,  # the revision this room plays, whatever the quiz has now
        # The host's second step after a close (docs/protocol.md, "The leaderboard step").
        "leaderboard": leaderboard_step(room) if room.phase == REVEAL and room.leaderboard_shown else None,
    }
    if brief:
        room_part["member_count"] = len(room.members)
    extra: dict[str, object] = {"you": you}
    if room.phase == QUESTION and room.is_host(user_id):
        answered, total = room.answer_progress()
        extra["answers_progress"] = {"answered": answered, "total": total + still_away}
    if ref is not None:
        extra["ref"] = ref
    # One join: the member list is the bulk of it (~0.5 MB at 5,000 members).
    return "".join(
        (
            f'{{"type":"state","seq":{room.seq},"room":',
            encode(room_part)[:-1],
            ',"members":[',
            brief_members(room, user_id) if brief else members.items(room),
            "]},",
            encode(extra)[1:],
        )
    )


def brief_members(room: Room, user_id: str) -> str:
    """The host and the member ``user_id``, as ``MemberList.items`` writes members."""
    ids = [room.host_id] if user_id == room.host_id else [room.host_id, user_id]  # the host joined first
    return ",".join(encode(member_view(room.members[u])) for u in ids if u in room.members)


def own_answer(room: Room, user_id: str) -> dict[str, Any] | None:
    """The member's own stored answer to the open or just-closed question, as they sent it
    (``{"choice": 2}``, ``{"text": "Madrid"}``…): a reloaded phone can show what it gave."""
    if room.phase not in (QUESTION, REVEAL):
        return None
    stored = room.answers().get(user_id)
    if stored is None:
        return None
    payload: dict[str, Any] = stored["answer"]
    return payload


def ahead_of(ranking: list[dict[str, Any]], position: int) -> dict[str, Any] | None:
    """The player ranked just above ``ranking[position]`` (None for the leader): a phone
    can say "120 points behind Ann"."""
    if position == 0:
        return None
    above = ranking[position - 1]
    return {"user_id": above["user_id"], "name": above["name"], "score": above["score"]}


def question_shown(room: Room, seq: int) -> dict[str, Any]:
    """The open question, announced as change ``seq`` (a commit may announce several)."""
    public = describe_question(room)
    assert public is not None, "a question is open"
    return {"type": "question_shown", "seq": seq, **public}


def leaderboard_step(room: Room) -> dict[str, Any]:
    """The leaderboard the host moved the reveal on to: the best five who have scored,
    with the rank each held before the question closed."""
    return {"index": room.question_index, "top": moved_up_board(room, LEADERBOARD_STEP_SIZE)}


def leaderboard_shown(room: Room, seq: int) -> dict[str, Any]:
    return {"type": "leaderboard_shown", "seq": seq, **leaderboard_step(room)}


# ---------------------------------------------------------------- what one change looks like
# Built right after the change is decided, with the room's seq and count of that moment.


def room_created(room: Room) -> dict[str, Any]:
    return {"type": "room_created", "code": room.code, "room_id": str(room.id)}


def member_joined(room: Room, user_id: str) -> dict[str, Any]:
    member = member_view(room.members[user_id])
    return {"type": "member_joined", "seq": room.seq, "member": member, "count": len(room.members)}


def member_online(room: Room, user_id: str) -> dict[str, Any]:
    return {"type": "member_online", "seq": room.seq, "user_id": user_id}


def member_offline(room: Room, user_id: str) -> dict[str, Any]:
    return {"type": "member_offline", "seq": room.seq, "user_id": user_id}


def member_left(room: Room, user_id: str) -> dict[str, Any]:
    return {"type": "member_left", "seq": room.seq, "user_id": user_id, "count": len(room.members)}


def member_kicked(room: Room, user_id: str) -> dict[str, Any]:
    return {"type": "member_kicked", "seq": room.seq, "user_id": user_id, "count": len(room.members)}


def members_changed(seq: int, count: int) -> dict[str, Any]:
    """To a player who asked for membership summaries, in a big room: the membership
    changes up to ``seq`` it was not sent one by one, summed up as the room's member
    count after them (docs/protocol.md, "Membership summaries in a big room")."""
    return {"type": "members_changed", "seq": seq, "count": count}


def left(room: Room) -> dict[str, Any]:
    """To the member who left."""
    return {"type": "left", "code": room.code}


def kicked(room: Room) -> dict[str, Any]:
    """To the member the host removed, just before its socket closes."""
    return {"type": "kicked", "code": room.code}


def lock_changed(room: Room) -> dict[str, Any]:
    if room.locked:
        return {"type": "room_locked", "seq": room.seq, "reason": room.lock_reason}
    return {"type": "room_unlocked", "seq": room.seq}


def name_rules_changed(room: Room) -> dict[str, Any]:
    return {
        "type": "name_rules_changed",
        "seq": room.seq,
        "word_filter": room.word_filter,
        "friendly_names": room.friendly_names,
    }


def room_closed(room: Room, reason: str) -> dict[str, Any]:
    return {"type": "room_closed", "seq": room.seq, "reason": reason}


def answers_progress(answered: int, total: int) -> dict[str, Any]:
    """To the host: how many players answered the open question."""
    return {"type": "answers_progress", "answered": answered, "total": total}


class Results:
    """The per-member messages after a question closes or the quiz ends.

    A room of thousands sends each member its own copy, so the shared part of
    each message is encoded once (on first use) and only the member's ``you``
    is added: one small text and one concatenation per member and message. The
    ``you`` texts are written directly (``own_result_text``, ``rank_text``),
    byte for byte what ``encode`` writes, rather than built as dicts and encoded:
    ~0.4 µs a member instead of ~1.2-1.5 µs, twice per member in a reveal.
    """

    def __init__(self, room: Room):
        self.room = room
        self.ranking = room.ranking()
        self._place = {row["user_id"]: i for i, row in enumerate(self.ranking)}
        self._closed_prefix: str | None = None
        self._own_results: dict[str, Any] = {}
        self._board_prefix: str | None = None
        self._ended_prefix: str | None = None

    def question_closed(self, seq: int, user_id: str) -> str:
        prefix = self._closed_prefix
        if prefix is None:
            result = self.room.latest_result()
            shared = {
                "type": "question_closed",
                "seq": seq,
                "index": result["index"],
                "reason": result["reason"],
                **revealed(result),  # the type, the right answer, the distribution
            }
            prefix = self._closed_prefix = encode(shared)[:-1]
            self._own_results = result["results"]
        return _with_you(prefix, own_result_text(self._own_results.get(user_id)))

    def leaderboard(self, user_id: str) -> str:
        prefix = self._board_prefix
        if prefix is None:
            top = {"type": "leaderboard", "top": self.ranking[:LEADERBOARD_SIZE]}
            prefix = self._board_prefix = encode(top)[:-1]
        return _with_you(prefix, self.rank_text(user_id))

    def quiz_ended(self, seq: int, user_id: str) -> str:
        prefix = self._ended_prefix
        if prefix is None:
            podium = {"type": "quiz_ended", "seq": seq, "podium": self.ranking[:PODIUM_SIZE]}
            prefix = self._ended_prefix = encode(podium)[:-1]
        return _with_you(prefix, self.rank_text(user_id))

    def rank_text(self, user_id: str) -> str | None:
        """The encoded ``{"rank", "score", "ahead"}`` of a player (None for the host)."""
        position = self._place.get(user_id)
        if position is None:
            return None
        ranking = self.ranking
        row = ranking[position]
        rank, score = row["rank"], row["score"]
        above = ranking[position - 1] if position else None
        ahead = "null" if above is None else _ahead_text(above)
        if ahead is not None and type(rank) is int and type(score) is int:
            return f'{{"rank":{rank},"score":{score},"ahead":{ahead}}}'
        return encode({"rank": rank, "score": score, "ahead": ahead_of(ranking, position)})


# The fields of a player's own result in ``Room.last_result["results"]``, in their order.
OWN_RESULT_FIELDS = ("correct", "points", "streak", "score")


def own_result_text(result: dict[str, Any] | None) -> str | None:
    """``encode(result)`` for a player's own result in a reveal, written directly when it
    has its usual four plain fields (anything else is encoded as it is)."""
    if result is None:
        return None
    if tuple(result) == OWN_RESULT_FIELDS:
        correct, points, streak, score = result.values()
        if type(correct) is bool and type(points) is int and type(streak) is int and type(score) is int:
            flag = "true" if correct else "false"
            return f'{{"correct":{flag},"points":{points},"streak":{streak},"score":{score}}}'
    return encode(result)


def _ahead_text(above: dict[str, Any]) -> str | None:
    """``encode`` of ``ahead_of``'s dict for the player ``above``, or None when its
    fields are not the plain str/int they always are (the caller then encodes)."""
    user_id, name, score = above["user_id"], above["name"], above["score"]
    if type(user_id) is str and type(name) is str and type(score) is int:
        return f'{{"user_id":{encode_string(user_id)},"name":{encode_string(name)},"score":{score}}}'
    return None


def _with_you(prefix: str, you: str | None) -> str:
    """Close an encoded object, adding the encoded ``"you"`` when the member has one (the host has not)."""
    if you is None:
        return prefix + "}"
    return prefix + ',"you":' + you + "}"
