"""Thin typed wrappers over the outside world: only these modules spawn processes or talk HTTP."""
