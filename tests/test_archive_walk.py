"""Archives inside distributions: opened by their bytes, bounded in depth and size, failing closed."""

from __future__ import annotations

import gzip
import os
import zipfile
from pathlib import Path

import pytest

from relsafe.security import archive_streams
from relsafe.security.archive_streams import TOO_DEEP, UNREADABLE
from relsafe.security.artifact_scan import SecretFinding, scan_distribution
from tests.support.archives import tar_of, zip_of
from tests.support.distributions import write_distribution
from tests.support.secret_corpus import pypi_token, pypirc
from tests.support.wheels import write_wheel


def _kinds(findings: list[SecretFinding]) -> list[tuple[str, str]]:
    return [(finding.member, finding.kind) for finding in findings]


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_nested_members_are_named_through_their_containers(tmp_path: Path, kind: str) -> None:
    inner = zip_of({"home/.pypirc": pypirc(pypi_token())})
    distribution = write_distribution(tmp_path, kind, {"tests/data/fixture.tar.gz": tar_of({"a.zip": inner}, "w:gz")})
    assert _kinds(scan_distribution(distribution)) == [
        ("tests/data/fixture.tar.gz!/a.zip!/home/.pypirc", ".pypirc file"),
        ("tests/data/fixture.tar.gz!/a.zip!/home/.pypirc", "PyPI API token"),
    ]


def test_an_archive_renamed_is_still_opened(tmp_path: Path) -> None:
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/data.bin": zip_of({"creds/.netrc": b"x"})})
    assert _kinds(scan_distribution(wheel)) == [("pkg/data.bin!/creds/.netrc", ".netrc file")]


def test_text_that_begins_like_an_archive_is_read_as_text(tmp_path: Path) -> None:
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/notes.txt": b"BZh9 is how bzip2 starts; PK too\n"})
    assert scan_distribution(wheel) == []


def test_nesting_deeper_than_the_bound_is_a_finding(tmp_path: Path) -> None:
    archive = zip_of({"creds.py": f'T = "{pypi_token()}"\n'.encode()})
    for level in range(archive_streams.MAX_DEPTH + 1):
        archive = zip_of({f"level{level}.zip": archive})
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/deep.zip": archive})
    findings = scan_distribution(wheel)
    assert [finding.kind for finding in findings] == [TOO_DEEP]
    assert findings[0].member.count("!/") == archive_streams.MAX_DEPTH


def test_a_zip_bomb_stops_at_the_bound_and_is_a_finding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive_streams, "NESTED_LIMIT", 4 << 20)
    bomb = gzip.compress(bytes(64 << 20), compresslevel=9)  # 64 MiB of zeros in about 64 KiB
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/zeros.bin.gz": bomb, "pkg/later.gz": bomb})
    assert _kinds(scan_distribution(wheel)) == [
        ("pkg/zeros.bin.gz!/zeros.bin", archive_streams.TOO_LARGE),
        ("pkg/later.gz", archive_streams.TOO_LARGE),
    ]


def test_a_corrupt_nested_archive_is_a_finding_after_what_could_be_read(tmp_path: Path) -> None:
    good = tar_of({"home/.pypirc": pypirc(pypi_token()), "home/big.bin": os.urandom(200_000)}, "w:gz")
    truncated = good[: len(good) // 2]
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"tests/data/home.tgz": truncated})
    kinds = _kinds(scan_distribution(wheel))
    assert ("tests/data/home.tgz!/home/.pypirc", ".pypirc file") in kinds
    assert kinds[-1][1] == UNREADABLE


def test_a_bad_crc_in_the_wheel_itself_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/a.py": b"x = 1\n" * 100, "pkg/b.py": b"y\n"})
    with zipfile.ZipFile(wheel) as archive:
        info = archive.getinfo("pkg/a.py")
    data = bytearray(wheel.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + 2] ^= 0xFF  # one byte of the deflated data
    wheel.write_bytes(bytes(data))
    assert _kinds(scan_distribution(wheel)) == [("pkg/a.py", UNREADABLE)]


def test_allow_reaches_into_archives(tmp_path: Path) -> None:
    home = zip_of({".pypirc": pypirc(pypi_token()), ".netrc": b"x"})
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"tests/data/home.zip": home})
    assert _kinds(scan_distribution(wheel, allow=["tests/data/home.zip!/.pypirc"])) == [
        ("tests/data/home.zip!/.netrc", ".netrc file")
    ]
    assert scan_distribution(wheel, allow=["tests/data/home.zip"]) == []


def test_a_zipapp_behind_its_shebang_line_is_opened(tmp_path: Path) -> None:
    """zip readers find a zip by the directory at its end: a .pyz starts with `#!`, not `PK`."""
    zipapp = b"#!/usr/bin/env python3\n" + zip_of({"__main__.py": b"print()\n", ".pypirc": pypirc(pypi_token())})
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/tool.pyz": zipapp})
    assert _kinds(scan_distribution(wheel)) == [
        ("pkg/tool.pyz!/.pypirc", ".pypirc file"),
        ("pkg/tool.pyz!/.pypirc", "PyPI API token"),
    ]


def test_an_encrypted_member_of_a_nested_zip_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    """zipfile refuses an encrypted member with a RuntimeError: the scan says it could not read it."""
    nested = bytearray(zip_of({"secret.txt": b"hidden"}, zipfile.ZIP_STORED))
    nested[6] |= 0x01  # the local header's "encrypted" flag
    directory = nested.rfind(b"PK\x01\x02")
    nested[directory + 8] |= 0x01  # and the central directory's
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"tests/data/locked.zip": bytes(nested)})
    assert _kinds(scan_distribution(wheel)) == [("tests/data/locked.zip!/secret.txt", UNREADABLE)]


def test_a_tar_inside_gzip_is_charged_once_against_the_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Its members are charged as they are read, not its stream besides: 6 MiB fits a 10 MiB bound."""
    monkeypatch.setattr(archive_streams, "NESTED_LIMIT", 10 << 20)
    text = b"x = 1  # plain source, nothing secret\n" * (6 * (1 << 20) // 38)
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"tests/data/big.tgz": tar_of({"big.py": text}, "w:gz")})
    assert scan_distribution(wheel) == []
