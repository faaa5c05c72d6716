"""Helpers the tests share that are not a hub or a cluster (those are tests/hubprocess.py, tests/swarmcluster.py)."""
