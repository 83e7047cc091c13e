"""The ServerSecret aggregate: the key that signs session tokens.

It lives in the event store so that every process on the same store signs and
checks tokens alike, and tokens survive a restart.
"""

from __future__ import annotations

import uuid

from eventsourcing.domain import Aggregate, event

SECRET_ID = uuid.uuid5(uuid.NAMESPACE_URL, "quiz-actors:server-secret")


class ServerSecret(Aggregate):
    @staticmethod
    def create_id(**_: object) -> uuid.UUID:
        return SECRET_ID

    class SecretGenerated(Aggregate.Created):
        # The name stored with the event: it never changes.
        TOPIC = "quiz_actors.domain.secret:ServerSecret.SecretGenerated"
        secret_hex: str

    @event(SecretGenerated)
    def __init__(self, secret_hex: str) -> None:
        # The caller draws the randomness: event bodies must stay deterministic.
        self.secret_hex = secret_hex
