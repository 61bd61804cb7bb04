"""Checks that keep secrets and unsafe workflows out of a release."""
