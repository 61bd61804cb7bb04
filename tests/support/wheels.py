"""Wheels written by hand, their RECORD, and copies of real wheels with members changed.

`write_wheel` writes exactly the members it is given, nothing added: a test that needs METADATA, WHEEL or a
RECORD lists them (`with_record` computes the RECORD as a build backend writes it), and a test about a broken
wheel can leave them out.
"""

from __future__ import annotations

import base64
import email.message
import hashlib
import zipfile
from collections.abc import Mapping
from pathlib import Path

from tests.support.archives import zip_of

RECORD_SUFFIX = ".dist-info/RECORD"


def record_hash(data: bytes) -> str:
    """The hash RECORD gives a file: sha256, urlsafe base64 without padding."""
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def record_line(name: str, data: bytes) -> str:
    """RECORD's line for a member: `name,sha256=…,size`."""
    return f"{name},{record_hash(data)},{len(data)}"


def record_name(files: Mapping[str, bytes]) -> str:
    """The member that is the wheel's RECORD."""
    return next(name for name in files if name.endswith(RECORD_SUFFIX))


def with_record(files: Mapping[str, bytes], record: str | None = None) -> dict[str, bytes]:
    """`files` with a RECORD (the existing one, in its place, or `record` added last) listing every other member
    with its hash and size, and itself without, as a build backend writes it."""
    name = record or record_name(files)
    lines = [record_line(member, data) for member, data in files.items() if member != name]
    return {**files, name: ("\n".join([*lines, f"{name},,"]) + "\n").encode()}


def write_wheel(path: Path, files: Mapping[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A wheel at `path` holding exactly `files`, in their order; the folder is made if missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zip_of(files, compression))
    return path


def wheel_files(wheel: Path) -> dict[str, bytes]:
    """Every member of a wheel (or any ZIP) → its content, in archive order."""
    with zipfile.ZipFile(wheel) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def repack(source: Path, dest: Path, changes: Mapping[str, bytes] | None = None, *, record: bool = True) -> Path:
    """A copy of a wheel with members replaced (in their place) or added (at the end); its RECORD rewritten to
    match, as a backend would have written it, unless `record` is False. `dest` may be `source`."""
    files = {**wheel_files(source), **(changes or {})}
    return write_wheel(dest, with_record(files) if record else files)


def wheel_metadata(wheel: Path) -> email.message.Message:
    """The wheel's METADATA, as the index and installers read it."""
    members = wheel_files(wheel)
    return email.message_from_bytes(
        next(data for name, data in members.items() if name.endswith(".dist-info/METADATA"))
    )
