"""The journal: the release in progress and its history, every path under releases/<id>/, the run logs, the lock.

It lives in the git common directory, never in the working tree, and every write is atomic.
"""
