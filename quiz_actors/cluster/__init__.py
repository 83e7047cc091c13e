"""Cluster mode: several server processes on one PostgreSQL, behind HAProxy (docs/cluster.md).

Nothing here runs in single-node mode. The parts, each owning one thing:

* ``database``: the node's own PostgreSQL connections (one per thread);
* ``schema``: the cluster's tables, and creating the store when several nodes start at once;
* ``leases``: who serves which room, with expiries on the database's clock, and the
  keeper thread that renews this node's leases and stops its rooms before they expire;
* ``fencing``: the takeover event a new owner appends before it serves a room;
* ``placement``: what a node does with a join for a room it does not serve
  (serve it, redirect the client to its owner, or wait for a dead owner's lease);
* ``lockout``: the code-guessing lockout, held in PostgreSQL so that it holds on every node;
* ``node``: one node of the cluster, made of the above, as the server process starts it.
"""


class NodeNameInUse(RuntimeError):
    """Another running process serves rooms under this node's name (``ClusterNode``). Here,
    not in ``node``, so that the server can catch it without loading psycopg."""
