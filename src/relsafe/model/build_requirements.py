"""The exact versions a build ran with, pinned so that a rebuild elsewhere can run with the same ones.

Without staging, the publish workflow rebuilds the tagged commit and publishes
only if it gets the tested bytes back; a newer backend (or a newer dependency
of it) can change those bytes. The release tag's manifest therefore carries a
`name==version --hash=sha256:<hex>` line for build itself, the backend and
everything they import: the version, and the sha256 of the very wheel that was
installed (pip's installation report names it; relsafe.tools.venv). The
workflow installs exactly those (`pip install --require-hashes --no-deps
--only-binary :all:`), so a wheel with other bytes under the same name is
refused by pip itself.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

FRONTEND = "build"
HASH_OPTION = " --hash=sha256:"
PIN = re.compile(
    r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?==[A-Za-z0-9][A-Za-z0-9.!+_-]*(?: --hash=sha256:[0-9a-f]{64})?"
)
_NOT_BUILD_TOOLS = frozenset({"pip"})  # the installer a venv is seeded with; it builds nothing


def pin(distribution: importlib.metadata.Distribution) -> str:
    from packaging.utils import canonicalize_name

    return f"{canonicalize_name(distribution.metadata['Name'])}=={distribution.version}"


def installed(site_packages: Sequence[Path]) -> list[str]:
    """A pin for every distribution of a build environment, sorted."""
    found = importlib.metadata.distributions(path=[str(path) for path in site_packages])
    pins = {pin(distribution) for distribution in found if distribution.metadata["Name"]}  # else no distribution
    return sorted(entry for entry in pins if entry.partition("==")[0] not in _NOT_BUILD_TOOLS)


def closure(requirements: Iterable[str]) -> list[str]:
    """Pins of the requirements and of everything they depend on, as installed beside relsafe, sorted.

    What a build without isolation runs with: relsafe's own environment.
    Dependencies whose markers exclude this interpreter, and requirements not
    installed here (the build would have refused to start), are left out.
    """
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = [Requirement(text) for text in requirements]
    while pending:
        wanted = pending.pop()
        key = (canonicalize_name(wanted.name), frozenset(wanted.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            found = importlib.metadata.distribution(wanted.name)
        except importlib.metadata.PackageNotFoundError:
            continue
        pins[key[0]] = pin(found)
        for text in found.requires or []:
            dependency = Requirement(text)
            applies = dependency.marker is None or any(
                dependency.marker.evaluate({"extra": extra}) for extra in wanted.extras | {""}
            )
            if applies:
                pending.append(dependency)
    return sorted(pins.values())


def frontend() -> str:
    """The pin of the build frontend relsafe builds with; the workflow's rebuild runs the same one."""
    return pin(importlib.metadata.distribution(FRONTEND))


def checked(pins: Iterable[str]) -> list[str]:
    """The pins, each refused (ValueError) unless exactly `name==version`, optionally followed by
    ` --hash=sha256:<64 hex>`: they become a requirements file."""
    result = list(pins)
    for entry in result:
        if not PIN.fullmatch(entry):
            raise ValueError(f"not a name==version pin (with --hash=sha256:<64 hex>): {entry!r}")
    return result


def hashed(pins: Iterable[str]) -> bool:
    """Whether every pin carries its wheel's sha256 (and there is at least one)."""
    found = list(pins)
    return bool(found) and all(HASH_OPTION in pin for pin in found)


def with_hashes(pins: Iterable[str], wheels: Mapping[str, str]) -> list[str]:
    """Each `name==version` pin followed by the sha256 of the wheel it was installed from (`wheels`: pin → sha256,
    as pip reported them); a pin whose wheel is unknown is a ValueError naming it: no hash is ever guessed."""
    result = []
    for entry in pins:
        if entry not in wheels:
            raise ValueError(f"{entry} is in the build environment, but no wheel with a sha256 was installed for it")
        result.append(f"{entry}{HASH_OPTION}{wheels[entry]}")
    return result
