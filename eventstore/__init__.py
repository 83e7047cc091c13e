"""Storing and reading events. Knows nothing of actors, sockets or quizzes' rules."""

from eventstore.application import EventStore
from eventstore.persistence import DEFAULT_STORE_URL, StoreUrlError, describe_store, env_for_store

__all__ = ["DEFAULT_STORE_URL", "EventStore", "StoreUrlError", "describe_store", "env_for_store"]
