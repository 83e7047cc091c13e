"""Command-line tools over the event store: ``quiz-replay``, ``quiz-audit`` and
``quiz-admin`` (backup and restore).

They wire the quiz's domain (the Room aggregate, which fields name a user or a
time, the rules a room must keep) into the generic ``eventstore.replay`` and
``eventstore.read_model`` (the audit model is ``audit_model.py``).
"""
