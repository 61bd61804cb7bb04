"""A wheel's RECORD: the list of its files with their hashes and sizes.

Installers trust RECORD to know what they installed and uninstall; a wheel
whose RECORD leaves a file out, lists one that is not there, or carries a
stale hash was changed after it was built. Since 2026 PyPI refuses a wheel
whose RECORD does not list exactly its files, so these are found here,
before the tag; a stale hash or size, which the wheel spec forbids, too.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

_SIGNATURES = ("RECORD.jws", "RECORD.p7s")  # the spec keeps RECORD's signatures out of RECORD
_WEAK = frozenset({"md5", "sha1"})
_READ_SIZE = 1 << 20
_PYPI = "; PyPI refuses a wheel whose RECORD does not match its files"
# PyPI compares RECORD's paths with the files; the hashes and sizes are the wheel spec's, which installers rely on.
_CHANGED = "; the file changed after RECORD was written (the wheel spec wants every file's hash and size right)"


@dataclass(frozen=True)
class RecordProblem:
    """One member whose RECORD line is missing, extra or wrong ("" when RECORD as a whole is at fault)."""

    member: str
    message: str


def record_problems(path: Path) -> list[RecordProblem]:
    """Every file of the wheel against its RECORD line: listed, with the right hash and size; nothing more listed.

    RECORD lists itself with no hash or size; its signatures may be absent from
    it. Hashes are urlsafe base64 without padding, of sha256 or a stronger
    algorithm hashlib always has.
    """
    try:
        with zipfile.ZipFile(path) as wheel:
            files = [info for info in wheel.infolist() if not info.filename.endswith("/")]
            records = [info.filename for info in files if _is_record(info.filename)]
            if len(records) != 1:
                found = f"the wheel has {len(records)} .dist-info/RECORD files, expected one"
                return [RecordProblem("", found + _PYPI)]
            record = records[0]
            listed, problems = _read_record(wheel.read(record), record)
            folder = record.rsplit("/", 1)[0]
            exempt = {f"{folder}/{name}" for name in _SIGNATURES}
            names = {info.filename for info in files}
            problems += [
                RecordProblem(name, "in the wheel but not listed in RECORD" + _PYPI)
                for name in sorted(names - listed.keys() - exempt)
            ]
            problems += [
                RecordProblem(name, "listed in RECORD but not in the wheel" + _PYPI)
                for name in sorted(listed.keys() - names)
            ]
            for info in files:
                if info.filename in listed and info.filename not in exempt:
                    problem = _entry_problem(wheel, info, *listed[info.filename], is_record=info.filename == record)
                    if problem:
                        problems.append(RecordProblem(info.filename, problem))
            return problems
    # RuntimeError: a member encrypted, or compressed in a way zipfile cannot read
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError) as error:
        return [RecordProblem("", f"cannot be read to check RECORD: {error}")]


def record_entries(path: Path) -> dict[str, tuple[str, str]]:
    """Path → (hash, size) as the wheel's RECORD lists them, read leniently (a comparison, not a check);
    empty when the wheel has no RECORD. `record_problems` is what judges RECORD."""
    with zipfile.ZipFile(path) as wheel:
        record = next((name for name in wheel.namelist() if _is_record(name)), None)
        if record is None:
            return {}
        rows = csv.reader(wheel.read(record).decode("utf-8", errors="replace").splitlines())
        return {row[0]: (row[1] if len(row) > 1 else "", row[2] if len(row) > 2 else "") for row in rows if row}


def _is_record(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "RECORD"


def _read_record(data: bytes, record: str) -> tuple[dict[str, tuple[str, str]], list[RecordProblem]]:
    """Path → (hash, size) of each RECORD line, and what is malformed in it."""
    try:
        rows = list(csv.reader(data.decode("utf-8").splitlines()))
    except (UnicodeDecodeError, csv.Error) as error:
        return {}, [RecordProblem(record, f"RECORD cannot be read as UTF-8 CSV: {error}" + _PYPI)]
    listed: dict[str, tuple[str, str]] = {}
    problems: list[RecordProblem] = []
    for number, row in enumerate(rows, 1):
        if not row:
            continue
        if len(row) != 3:
            problems.append(RecordProblem(record, f"line {number} has {len(row)} field(s), expected path,hash,size"))
            continue
        name = row[0].replace("\\", "/")  # as PyPI reads it
        if name in listed:
            problems.append(RecordProblem(name, f"listed twice in RECORD (line {number} again)"))
        listed[name] = (row[1], row[2])
    return listed, problems


def _entry_problem(wheel: zipfile.ZipFile, info: zipfile.ZipInfo, digest: str, size: str, *, is_record: bool) -> str:
    """What is wrong with one RECORD line, or ""."""
    if is_record:
        return "" if not digest and not size else "RECORD must list itself with an empty hash and size"
    algorithm, _, expected = digest.partition("=")
    if not expected:
        return "listed in RECORD without a hash; the wheel spec wants one for every file but RECORD"
    if algorithm in _WEAK or algorithm not in hashlib.algorithms_guaranteed:
        return f"listed in RECORD with a {algorithm or 'missing'} hash; the wheel spec wants sha256 or stronger"
    hasher, length = hashlib.new(algorithm), 0
    with wheel.open(info) as stream:
        while chunk := stream.read(_READ_SIZE):
            hasher.update(chunk)
            length += len(chunk)
    actual = base64.urlsafe_b64encode(hasher.digest()).rstrip(b"=").decode("ascii")
    if expected != actual:
        return f"RECORD says {algorithm}={expected}, its content hashes to {algorithm}={actual}" + _CHANGED
    if size != str(length):
        return f"RECORD says {size or 'no'} byte(s), it has {length}" + _CHANGED
    return ""
