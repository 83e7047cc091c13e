"""The two ways a benchmark run goes wrong: reported in the results, never fatal to the other runs."""

from __future__ import annotations


class PhaseTimeout(Exception):
    """A wait that did not finish in time: reported, and the rest of the server run skipped."""


class BenchError(Exception):
    """A run that cannot go on: a server that does not start, a refused upload, a socket closed."""
