"""The cluster benchmark (scripts/bench_cluster.py), one module per scenario.

``harness.py`` starts a cluster of real nodes and HAProxy on a fresh schema and
reads what they did (CPU from /proc, saves from /metrics, answers from the
store); ``game.py`` is what players and hosts do; ``load.py`` (rooms and players
served, CPU per 1,000 answers), ``ceiling.py`` (the save ceiling),
``broadcast.py`` (what HAProxy adds to a broadcast) and ``faults.py`` (kill -9,
SIGSTOP, drain) are the scenarios; ``table.py`` prints the table.
"""
