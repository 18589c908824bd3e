"""The worker processes: the pool (Queue + None sentinels + Lock-guarded counters) and what runs in them.
"""
