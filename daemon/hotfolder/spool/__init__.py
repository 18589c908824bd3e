"""The folders are the queue: the on-disk states of a file and the moves between them.
"""
