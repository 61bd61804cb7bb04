"""What the tests build and read with: sample files, projects and archives, servers that stand in for an index,
and plain readers of the world (git, the journal on disk, the CLI).

Test modules import their helpers from here, never from conftest.py or from one another; fixtures stay in
conftest.py and the fixture plugins it loads, where pytest looks for them.
"""
