"""Readers and judges of built files: distribution facts, RECORD, zip framing, the checks the inspect step
and `relsafe inspect` share, and comparisons between builds.
"""
