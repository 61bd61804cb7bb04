"""Testing an installed wheel: the test folder outside the tree, test requirements and dependency groups,
and where each imported module came from. smoke and verify-stage compose it.
"""
