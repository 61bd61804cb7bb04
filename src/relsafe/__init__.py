"""relsafe: release a Python package safely, rehearse it, and resume it after a failure."""

__version__ = "0.1.0"
