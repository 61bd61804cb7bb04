"""What makes a venv other than the one smoke tested: whether verify-stage's tests would prove anything new.

verify-stage installs the staged wheel, whose bytes it has already proved
equal to the tested one, with its dependencies resolved from the production
index. Running the suite again tells something new only when that venv
differs from smoke's in what users get: a dependency at another version, with
other files (another build of the same version), one more or one less, or
another interpreter (other marker values). When nothing differs the suite
would run the same code on the same interpreter a second time.
"""

from __future__ import annotations

from pathlib import Path

from relsafe.journal.records import Installed, TestedEnvironment

SHOWN = 3  # differences named in a line; the rest counted


def differences(tested: TestedEnvironment | None, here: TestedEnvironment) -> list[str]:
    """Each way `here` differs from `tested` (smoke's record for the same python), one line each; [] when
    nothing does. A record without file hashes (written by an older relsafe) cannot be compared: it differs."""
    if tested is None:
        return [f"smoke recorded no environment for {Path(here.python).name}"]
    found = [
        f"{key} {tested.markers.get(key, '(none)')} → {here.markers.get(key, '(none)')}"
        for key in sorted(set(tested.markers) | set(here.markers))
        if tested.markers.get(key) != here.markers.get(key)
    ]
    before = {item.name: item for item in tested.installed}
    now = {item.name: item for item in here.installed}
    for name in sorted(set(before) | set(now)):
        found += _package(before.get(name), now.get(name))
    return found


def _package(before: Installed | None, now: Installed | None) -> list[str]:
    if before is None:
        return [] if now is None else [f"{now.name} {now.version} is installed here, not in smoke's venv"]
    if now is None:
        return [f"{before.name} {before.version} was in smoke's venv, not here"]
    if before.version != now.version:
        return [f"{now.name} {before.version} → {now.version}"]
    if before.files is None:
        return [f"{now.name} {now.version}: smoke recorded no file hashes (an older relsafe)"]
    if before.files != now.files:
        return [f"{now.name} {now.version}: other files than smoke installed (another build of that version)"]
    return []


def describe(found: list[str]) -> str:
    """The differences in one line: the first few, and how many more."""
    more = f" and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
    return "; ".join(found[:SHOWN]) + more
