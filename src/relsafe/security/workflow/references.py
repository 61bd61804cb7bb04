"""`uses:` references to this repository: `./path`, read from the workspace, and GitHub's self-repository form
`$/path`, which resolves to the running workflow's own repository at the exact commit that runs.

Both name files relsafe can read from the repository being audited, and neither can be pinned (nor needs to
be): the code they name is the repository's own, at the commit under audit.
"""

from __future__ import annotations

LOCAL_PREFIXES = ("./", "$/")


def is_local(uses: object) -> bool:
    """Does this `uses:` value name an action or reusable workflow of this repository?"""
    return isinstance(uses, str) and uses.startswith(LOCAL_PREFIXES)


def local_path(uses: object) -> str | None:
    """The repository-relative path a local `uses:` names, without any `@ref`; None for any other value."""
    if not isinstance(uses, str) or not is_local(uses):
        return None
    return uses[2:].partition("@")[0]
