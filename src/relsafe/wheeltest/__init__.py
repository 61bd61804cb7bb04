"""Testing an installed wheel, which smoke (the built wheel) and verify-stage (the staged one) both do.

session runs it: per [test] python an environment (a fresh venv with the test
requirements and dependency groups, then the wheel), pip check, the import
probe, and the suite run from the test folder outside the tree, with
provenance proving the wheel's modules were imported from the venv.
"""
