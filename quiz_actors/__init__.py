"""quiz-actors: a self-hosted real-time quiz server built from pykka actors."""

__version__ = "0.1.0"
