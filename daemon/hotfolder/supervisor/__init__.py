"""The main process: the loop, the ledger of claims, the locks, the pauses.
"""
