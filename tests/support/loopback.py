"""What the session's loopback-only world is made of (the `loopback_only` fixture in conftest.py sets it up):
a dead proxy for everything but loopback, the packages its embedded index serves, and the machine's index
settings it replaces."""

from __future__ import annotations

DEAD_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens, so a request sent through it fails at once
LOOPBACK_HOSTS = "127.0.0.1,localhost"
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
# What the tests' builds (every backend the project shapes use, build itself) and test venvs ([test] requires'
# default pytest) install; the session's index serves these and everything they depend on, as installed here.
LOOPBACK_PACKAGES = (
    "build",
    "hatchling",
    "setuptools",
    "wheel",
    "flit-core",
    "poetry-core",
    "setuptools-scm",
    "hatch-vcs",
    "pdm-backend",
    "versioneer",
    "pytest",
    "sql-metadata",  # and sqlparse 0.4.3 through it: a real advisory for the audit-deps tests
)
# Indexes and package sources configured on the machine or in the shell, which would make a test's result depend
# on them: the session's index replaces them all. (The shell's pip.conf goes with PIP_CONFIG_FILE.)
MACHINE_INDEX_VARIABLES = (
    "PIP_EXTRA_INDEX_URL",
    "PIP_FIND_LINKS",
    "PIP_CONSTRAINT",
    "PIP_NO_INDEX",
    "UV_INDEX",
    "UV_EXTRA_INDEX_URL",
    "UV_FIND_LINKS",
    "UV_CONSTRAINT",
    "UV_OFFLINE",
)
