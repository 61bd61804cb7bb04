"""What PyPI would refuse at upload is found by inspect first: a confusing ZIP, a RECORD that does not
match, a file name not normalised, a Metadata-Version twine cannot send.

Every broken wheel here is a real file, crafted from a real hatchling wheel with zipfile or by
editing its bytes, and each is judged both by the function the inspect step runs and by
`relsafe inspect` through the CLI.
"""

from __future__ import annotations

import io
import shutil
import struct
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from relsafe.artifacts.checks import upload_findings
from tests.support.cli import RunRelsafe
from tests.support.files import write_files
from tests.support.projects import build, build_project
from tests.support.wheels import record_line, repack, wheel_files

WHEEL = "sample_pkg-1.2.3-py2.py3-none-any.whl"
SDIST = "sample_pkg-1.2.3.tar.gz"
MODULE = "sample/__init__.py"
RECORD = "sample_pkg-1.2.3.dist-info/RECORD"
METADATA = "sample_pkg-1.2.3.dist-info/METADATA"


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A real hatchling wheel and sdist of `sample-pkg` 1.2.3."""
    built = build_project(tmp_path_factory.mktemp("hatchling"), {})
    return {path.name: path for path in built}


def header_offset(wheel: Path, member: str) -> int:
    with zipfile.ZipFile(wheel) as archive:
        return archive.getinfo(member).header_offset


def patch_bytes(wheel: Path, offset: int, new: bytes) -> None:
    data = bytearray(wheel.read_bytes())
    data[offset : offset + len(new)] = new
    wheel.write_bytes(bytes(data))


# Each case breaks a copy of the clean wheel and names the line both ways of inspecting must print.
# duplicate_name, data_descriptor and entry_comment write the ZIP with zipfile themselves: the structure they
# leave (a second entry of one name, data descriptors, an entry comment) is the point, and no builder makes it.


def duplicate_name(wheel: Path) -> tuple[str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns of the duplicate it is asked to write
        with zipfile.ZipFile(wheel, "a") as archive:
            archive.writestr(MODULE, b"__version__ = 'other'\n")
    return MODULE, "zip: the central directory lists it 2 times; PyPI refuses it"


def local_header_renamed(wheel: Path) -> tuple[str, str]:
    patch_bytes(wheel, header_offset(wheel, MODULE) + 30, b"sample/__init__.pz")  # same length, new name
    return MODULE, "zip: its local header disagrees with the central directory: the name 'sample/__init__.pz'"


def local_header_crc(wheel: Path) -> tuple[str, str]:
    patch_bytes(wheel, header_offset(wheel, MODULE) + 14, struct.pack("<I", 0xDEADBEEF))
    return MODULE, "zip: its local header disagrees with the central directory: CRC deadbeef"


def prepended_stub(wheel: Path) -> tuple[str, str]:
    wheel.write_bytes(b"#!/bin/sh\nexit 0\n" + wheel.read_bytes())
    return "-", 'zip: 17 byte(s) come before the first entry (a prepended stub); PyPI refuses it: "ZIP archive not'


def trailing_data(wheel: Path) -> tuple[str, str]:
    wheel.write_bytes(wheel.read_bytes() + b"payload")
    return "-", "zip: 7 byte(s) follow the end of the archive"


class Unseekable(io.RawIOBase):
    """A pipe-like sink: zipfile cannot go back to fill in sizes, so it writes data descriptors."""

    def __init__(self, target: Path) -> None:
        self.stream = target.open("wb")

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return self.stream.write(data)

    def close(self) -> None:
        self.stream.close()
        super().close()


def data_descriptor(wheel: Path) -> tuple[str, str]:
    with zipfile.ZipFile(wheel) as original:
        files = [(info, original.read(info)) for info in original.infolist()]
    with Unseekable(wheel) as sink, zipfile.ZipFile(sink, "w") as streamed:
        for info, data in files:
            streamed.writestr(info, data)
    return MODULE, 'zip: its sizes and CRC follow the data (a data descriptor); PyPI refuses it: "ZIP archive not'


def entry_comment(wheel: Path) -> tuple[str, str]:
    with zipfile.ZipFile(wheel) as original:
        files = [(info, original.read(info)) for info in original.infolist()]
    with zipfile.ZipFile(wheel, "w") as commented:
        for info, data in files:
            info.comment = b"look here" if info.filename == MODULE else b""
            commented.writestr(info, data)
    return MODULE, "zip: its central directory entry has a comment"


def control_character(wheel: Path) -> tuple[str, str]:
    repack(wheel, wheel, {"sample/\x07bell.py": b""}, record=False)
    return "'sample/\\x07bell.py'", "zip: its name has a control character; PyPI refuses it"


def record_wrong_hash(wheel: Path) -> tuple[str, str]:
    record = wheel_files(wheel)[RECORD].decode()
    line = next(line for line in record.splitlines() if line.startswith(MODULE + ","))
    stale = record.replace(line, record_line(MODULE, b"what was built before\n"))
    repack(wheel, wheel, {RECORD: stale.encode()}, record=False)
    return MODULE, "record: RECORD says sha256="


def record_missing_file(wheel: Path) -> tuple[str, str]:
    repack(wheel, wheel, {"sample/added.py": b"X = 1\n"}, record=False)
    return "sample/added.py", "record: in the wheel but not listed in RECORD; PyPI refuses"


def record_extra_entry(wheel: Path) -> tuple[str, str]:
    record = wheel_files(wheel)[RECORD].decode()
    extra = record + record_line("sample/gone.py", b"") + "\n"
    repack(wheel, wheel, {RECORD: extra.encode()}, record=False)
    return "sample/gone.py", "record: listed in RECORD but not in the wheel"


def metadata_version_unknown(wheel: Path) -> tuple[str, str]:
    metadata = wheel_files(wheel)[METADATA].decode()
    newer = "\n".join(
        "Metadata-Version: 9.9" if line.startswith("Metadata-Version:") else line for line in metadata.split("\n")
    )
    repack(wheel, wheel, {METADATA: newer.encode()})
    return "-", "metadata-version: Metadata-Version 9.9 is not one the installed twine"


CASES: dict[str, Callable[[Path], tuple[str, str]]] = {
    "duplicate name": duplicate_name,
    "local header renamed": local_header_renamed,
    "local header CRC": local_header_crc,
    "prepended stub": prepended_stub,
    "trailing data": trailing_data,
    "data descriptor": data_descriptor,
    "entry comment": entry_comment,
    "control character": control_character,
    "RECORD wrong hash": record_wrong_hash,
    "RECORD missing a file": record_missing_file,
    "RECORD lists an absent file": record_extra_entry,
    "Metadata-Version unknown": metadata_version_unknown,
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_problem_pypi_refuses_is_one_line_from_the_step_and_the_command(
    case: str, clean: dict[str, Path], tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    wheel = Path(shutil.copy(clean[WHEEL], tmp_path / WHEEL))
    member, expected = CASES[case](wheel)
    line = f"{WHEEL}: {member}: {expected}"

    from_step = [str(finding) for finding in upload_findings(wheel)]
    found = run_relsafe("inspect", str(wheel), cwd=tmp_path)

    assert any(text.startswith(line) for text in from_step), from_step
    assert found.returncode == 4, found.stdout + found.stderr
    assert any(text.startswith(line) for text in found.stdout.splitlines()), found.stdout
    assert "Traceback" not in found.stdout + found.stderr


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "Sample_Pkg-1.2.3-py2.py3-none-any.whl",
            "filename: the wheel's name must start with the normalised project "
            "name 'sample_pkg'; PyPI refuses it: \"Filename 'Sample_Pkg-1.2.3-py2.py3-none-any.whl' should contain",
        ),
        (
            "sample_pkg-01.2.3-py2.py3-none-any.whl",
            "filename: the version in the file name is '01.2.3', "
            "the binary distribution format wants it normalised: '1.2.3'",
        ),
        (
            "sample-pkg-1.2.3.tar.gz",
            "filename: PEP 625 names this sdist 'sample_pkg-1.2.3.tar.gz'; PyPI refuses it: "
            "\"Filename 'sample-pkg-1.2.3.tar.gz' is invalid, should be 'sample_pkg-1.2.3.tar.gz'.\"",
        ),
    ],
)
def test_a_file_name_not_normalised_is_refused(
    name: str, expected: str, clean: dict[str, Path], tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    source = clean[SDIST if name.endswith(".tar.gz") else WHEEL]
    renamed = Path(shutil.copy(source, tmp_path / name))

    from_step = [str(finding) for finding in upload_findings(renamed)]
    found = run_relsafe("inspect", str(renamed), cwd=tmp_path)

    assert f"{name}: -: {expected}" in "\n".join(from_step), from_step
    assert found.returncode == 4, found.stdout + found.stderr
    assert f"{name}: -: {expected}" in found.stdout


def test_signatures_of_record_may_be_left_out_of_it(clean: dict[str, Path], tmp_path: Path) -> None:
    wheel = repack(clean[WHEEL], tmp_path / WHEEL)  # RECORD lists every member...
    repack(wheel, wheel, {RECORD + ".jws": b"{}"}, record=False)  # ...and the signature of it is added after

    assert upload_findings(wheel) == []


def setuptools_project(root: Path) -> list[Path]:
    """A real setuptools build (isolated: the backend comes from the session's loopback index, see conftest.py)."""
    files = {
        "pyproject.toml": (
            '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n'
            '[project]\nname = "Setup.Tools_Pkg"\nversion = "2.0"\nreadme = "README.md"\n'
        ),
        "README.md": "# sample\n",
        "src/setup_tools_pkg/__init__.py": "",
    }
    return build(write_files(root, files), isolated=True)


@pytest.mark.slow
def test_files_built_by_real_backends_pass(clean: dict[str, Path], tmp_path: Path, run_relsafe: RunRelsafe) -> None:
    files = [*clean.values(), *setuptools_project(tmp_path)]

    found = run_relsafe("inspect", *map(str, files), cwd=tmp_path)

    assert [finding for path in files for finding in upload_findings(path)] == []
    assert found.returncode == 0, found.stdout + found.stderr
    assert {path.name for path in files} >= {WHEEL, SDIST, "setup_tools_pkg-2.0-py3-none-any.whl"}
