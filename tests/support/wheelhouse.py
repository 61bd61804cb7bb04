"""Wheels of distributions installed beside the tests, made without network: for a rebuild that installs pinned
build requirements offline (`pip install --no-index --find-links`), as the publish workflow installs them from PyPI,
and for the session's loopback package index (tests/conftest.py), from which every build and test venv installs."""

from __future__ import annotations

import importlib.metadata
import zipfile
from collections.abc import Iterable
from pathlib import Path

from packaging.utils import canonicalize_name

from relsafe.model.build_requirements import closure
from tests.support.wheels import with_record, write_wheel


def wheel_of_installed(pin: str, folder: Path, *, as_version: str | None = None) -> Path:
    """A py3-none-any wheel of the installed distribution `name==version` (pure Python only), made from its files;
    `as_version`: the same files published as that version (a later release of it, for a test)."""
    name, _, version = pin.partition("==")
    found = importlib.metadata.distribution(name)
    assert found.version == version, f"{name} {found.version} is installed, not {version}"
    assert "Root-Is-Purelib: true" in (found.read_text("WHEEL") or ""), f"{name} is not pure Python: cannot repack"
    root = Path(str(found.locate_file("")))
    dist_info = next(str(file).split("/")[0] for file in found.files or [] if str(file).endswith(".dist-info/METADATA"))
    files: dict[str, bytes] = {}
    for file in found.files or []:
        member = str(file)
        skipped = ("INSTALLER", "REQUESTED", "RECORD", "direct_url.json")
        if member.startswith("..") or "__pycache__" in member or member.rsplit("/", 1)[-1] in skipped:
            continue
        files[member] = (root / member).read_bytes()
    if as_version is not None:
        renamed = dist_info.replace(f"-{version}.dist-info", f"-{as_version}.dist-info")
        files = {member.replace(dist_info + "/", renamed + "/", 1): data for member, data in files.items()}
        metadata = files[f"{renamed}/METADATA"].decode()
        files[f"{renamed}/METADATA"] = metadata.replace(
            f"\nVersion: {version}\n", f"\nVersion: {as_version}\n"
        ).encode()
        dist_info, version = renamed, as_version
    wheel = folder / f"{canonicalize_name(name).replace('-', '_')}-{version}-py3-none-any.whl"
    return write_wheel(wheel, with_record(files, f"{dist_info}/RECORD"), compression=zipfile.ZIP_STORED)


def wheelhouse(pins: list[str], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for pin in pins:
        wheel_of_installed(pin, folder)
    return folder


def closure_wheelhouse(requirements: Iterable[str], folder: Path) -> list[str]:
    """Wheels of the requirements and of everything they depend on, as installed here; returns their pins.

    A requirement not installed here is an error, not a silent gap: the `test` extras must bring it.
    """
    wanted = list(requirements)
    pins = closure(wanted)
    have = {pin.partition("==")[0] for pin in pins}
    missing = sorted(name for name in wanted if canonicalize_name(name) not in have)
    assert not missing, f"not installed beside the tests: {', '.join(missing)} (pip install -e '.[test]')"
    wheelhouse(pins, folder)
    return pins
