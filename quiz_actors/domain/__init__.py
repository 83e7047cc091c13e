"""Pure domain model: aggregates, their events, and scoring. No I/O, no clock."""
