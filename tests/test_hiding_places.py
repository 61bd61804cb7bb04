"""Every byte a distribution carries is read, and hostile files cost bounded work.

Each hiding place holds a generated token (never a real one); each hostile file is built here.
"""

from __future__ import annotations

import gzip
import io
import os
import signal
import struct
import subprocess
import sys
import tarfile
import textwrap
import time
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from relsafe.security import archive_walk
from relsafe.security.archive_streams import AFTER_END, OVER_TOTAL, OVERLAPPING
from relsafe.security.artifact_scan import SecretFinding, scan_distribution
from relsafe.tools.process import STOP_GRACE
from tests.support.archives import zip_of
from tests.support.processes import as_from_a_terminal
from tests.support.sdists import write_sdist
from tests.support.secret_corpus import ALNUM, rand
from tests.support.wheels import write_wheel

TOKEN_KIND = "GitHub token"


def token() -> str:
    return "gh" + f"p_{rand(ALNUM, 36)}"


def _kinds(findings: list[SecretFinding]) -> list[tuple[str, str]]:
    return [(finding.member, finding.kind) for finding in findings]


@pytest.mark.parametrize(
    ("encoding", "bom"),
    [
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-16-le", b""),
        ("utf-32-le", b""),
        ("utf-32-be", b""),
    ],
)
def test_utf16_and_utf32_text_is_decoded(tmp_path: Path, encoding: str, bom: bytes) -> None:
    """A PowerShell 5 script is UTF-16 with a BOM; some editors write it without one."""
    script = f'$Headers = @{{ Authorization = "token {token()}" }}\r\nInvoke-RestMethod -Headers $Headers\r\n'
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/deploy.ps1": bom + script.encode(encoding)})
    assert _kinds(scan_distribution(wheel)) == [("pkg/deploy.ps1", TOKEN_KIND)]


def _zip_with(path: Path, *, comment: bytes = b"", member_comment: bytes = b"", extra: bytes = b"") -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.comment = comment
        info = zipfile.ZipInfo("pkg/a.py")
        info.comment = member_comment
        info.extra = extra
        archive.writestr(info, b"x = 1\n")
    return path


def _extra_field(data: bytes) -> bytes:
    return struct.pack("<HH", 0xCAFE, len(data)) + data


@pytest.mark.parametrize(
    ("where", "member"),
    [
        ("comment", "[archive comment]"),
        ("member_comment", "pkg/a.py [comment]"),
        ("extra", "pkg/a.py [extra field]"),
    ],
)
def test_zip_comments_and_extra_fields_are_scanned_also_nested(tmp_path: Path, where: str, member: str) -> None:
    secret = token().encode()
    value = _extra_field(secret) if where == "extra" else secret
    wheel = _zip_with(tmp_path / "pkg-1.0-py3-none-any.whl", **{where: value})  # type: ignore[arg-type]
    assert (member, TOKEN_KIND) in _kinds(scan_distribution(wheel))
    inner = _zip_with(tmp_path / "inner.zip", **{where: value})  # type: ignore[arg-type]
    outer = write_wheel(tmp_path / "outer-1.0-py3-none-any.whl", {"tests/data/inner.zip": inner.read_bytes()})
    assert _kinds(scan_distribution(outer)) == [(f"tests/data/inner.zip!/{member}", TOKEN_KIND)]


def test_a_local_header_extra_field_is_scanned(tmp_path: Path) -> None:
    """zipfile shows the central directory's extra field only; the local header can carry another."""
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/a.py": b"x = 1\n"})
    data = wheel.read_bytes()
    name_length, extra_length = struct.unpack("<HH", data[26:30])
    assert extra_length == 0
    extra = _extra_field(token().encode())
    body = data[:28] + struct.pack("<H", len(extra)) + data[30 : 30 + name_length] + extra
    rest = data[30 + name_length :]
    # shift the central directory's offsets by the bytes inserted
    directory = rest.index(b"PK\x01\x02")
    end = rest.index(b"PK\x05\x06")
    end_record = bytearray(rest[end:])
    struct.pack_into("<I", end_record, 16, struct.unpack("<I", end_record[16:20])[0] + len(extra))
    wheel.write_bytes(body + rest[:end] + bytes(end_record))
    assert directory >= 0
    assert _kinds(scan_distribution(wheel)) == [("pkg/a.py [extra field]", TOKEN_KIND)]


def test_bytes_after_the_end_of_a_wheel_are_a_finding_and_scanned(tmp_path: Path) -> None:
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/a.py": b"x = 1\n"})
    wheel.write_bytes(wheel.read_bytes() + f"hidden {token()}\n".encode())
    assert _kinds(scan_distribution(wheel)) == [("[after the end]", TOKEN_KIND), ("[after the end]", AFTER_END)]


def test_bytes_between_entries_are_scanned(tmp_path: Path) -> None:
    stub = f"#!/bin/sh\n# {token()}\n".encode()
    inner = stub + zip_of({"__main__.py": b"print()\n"})
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/tool.pyz": inner})
    assert _kinds(scan_distribution(wheel)) == [("pkg/tool.pyz!/[bytes outside any member]", TOKEN_KIND)]


def _sdist_bytes(
    files: dict[str, bytes], pax: dict[str, str] | None = None, global_pax: dict[str, str] | None = None
) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT, pax_headers=global_pax or {}) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"pkg-1.0/{name}")
            info.size = len(data)
            info.pax_headers = pax or {}
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_sdist_pax_headers_are_scanned(tmp_path: Path) -> None:
    sdist = tmp_path / "pkg-1.0.tar.gz"
    sdist.write_bytes(gzip.compress(_sdist_bytes({"pkg/a.py": b"x = 1\n"}, pax={"comment": token()})))
    assert _kinds(scan_distribution(sdist)) == [("pkg/a.py [header]", TOKEN_KIND)]
    sdist.write_bytes(gzip.compress(_sdist_bytes({"pkg/a.py": b"x = 1\n"}, global_pax={"comment": token()})))
    assert _kinds(scan_distribution(sdist)) == [("[pax global header]", TOKEN_KIND)]


def _gzip_with_comment(data: bytes, comment: bytes) -> bytes:
    header = b"\x1f\x8b\x08" + bytes([0x10]) + bytes(4) + b"\x00\xff" + comment + b"\x00"
    deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflate.compress(data) + deflate.flush()
    return header + body + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


def test_the_gzip_header_comment_of_an_sdist_is_scanned(tmp_path: Path) -> None:
    sdist = tmp_path / "pkg-1.0.tar.gz"
    sdist.write_bytes(_gzip_with_comment(_sdist_bytes({"pkg/a.py": b"x = 1\n"}), token().encode()))
    assert _kinds(scan_distribution(sdist)) == [("[gzip header]", TOKEN_KIND)]


def test_a_tar_member_after_the_end_of_archive_blocks_is_a_finding(tmp_path: Path) -> None:
    tar = _sdist_bytes({"pkg/a.py": b"x = 1\n"})
    hidden = io.BytesIO()
    with tarfile.open(fileobj=hidden, mode="w") as archive:
        data = f"TOKEN = '{token()}'\n".encode()
        info = tarfile.TarInfo("pkg-1.0/pkg/hidden.py")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    sdist = tmp_path / "pkg-1.0.tar.gz"
    sdist.write_bytes(gzip.compress(tar + hidden.getvalue()))
    assert _kinds(scan_distribution(sdist)) == [("[after the end]", TOKEN_KIND), ("[after the end]", AFTER_END)]


@pytest.mark.parametrize("appended", ["gzip member", "raw bytes"])
def test_anything_after_the_gzip_stream_is_a_finding_and_scanned(tmp_path: Path, appended: str) -> None:
    secret = f"TOKEN = '{token()}'\n".encode()
    tail = gzip.compress(secret) if appended == "gzip member" else secret
    sdist = tmp_path / "pkg-1.0.tar.gz"
    sdist.write_bytes(gzip.compress(_sdist_bytes({"pkg/a.py": b"x = 1\n"})) + tail)
    assert _kinds(scan_distribution(sdist)) == [("[after the end]", TOKEN_KIND), ("[after the end]", AFTER_END)]


def test_a_nested_gz_with_a_second_member_is_a_finding(tmp_path: Path) -> None:
    log = gzip.compress(b"all good\n") + gzip.compress(f"{token()}\n".encode())
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/log.txt.gz": log})
    assert _kinds(scan_distribution(wheel)) == [
        ("pkg/log.txt.gz!/[after the end]", TOKEN_KIND),
        ("pkg/log.txt.gz!/[after the end]", AFTER_END),
    ]


def test_a_clean_sdist_from_tarfile_has_nothing_after_its_end(tmp_path: Path) -> None:
    sdist = write_sdist(tmp_path / "pkg-1.0.tar.gz", {"pkg/a.py": b"x = 1\n" * 5000})
    assert scan_distribution(sdist) == []


def test_member_names_are_shown_with_control_characters_escaped(tmp_path: Path) -> None:
    name = "pkg/\x1b[2J\x1b[31mred\r.py"
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {name: f"T = '{token()}'\n".encode()})
    findings = scan_distribution(wheel)
    assert [f.member for f in findings] == ["pkg/\\x1b[2J\\x1b[31mred\\r.py"]
    assert all(ord(c) >= 0x20 for f in findings for c in str(f))


def test_repeated_central_directory_entries_are_one_finding_and_one_read(tmp_path: Path) -> None:
    """10,000 entries naming one 16 MiB member: read once, not 10,000 times."""
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/big.bin": os.urandom(16 << 20)})
    data = wheel.read_bytes()
    directory = data.index(b"PK\x01\x02")
    end = data.index(b"PK\x05\x06")
    entry = data[directory:end]
    copies = 10_000
    end_record = bytearray(data[end:])
    struct.pack_into("<HHI", end_record, 8, copies, copies, len(entry) * copies)
    wheel.write_bytes(data[:directory] + entry * copies + bytes(end_record))
    started = time.monotonic()
    findings = scan_distribution(wheel)
    assert time.monotonic() - started < 30
    assert _kinds(findings) == [("pkg/big.bin", OVERLAPPING)]


def test_a_wheel_whose_member_inflates_beyond_the_bound_stops_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 1 MB wheel whose METADATA inflates to 1 GiB: the scan stops at the bound (256 MiB here, made 32 MiB
    for the test's time), with a finding, in flat memory."""
    monkeypatch.setattr(archive_walk, "TOTAL_FLOOR", 32 << 20)
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("pkg/__init__.py", b"")
        with archive.open("pkg-1.0.dist-info/METADATA", "w") as metadata:
            for _ in range(256):
                metadata.write(bytes(1 << 20))
    assert wheel.stat().st_size < 1 << 20
    started = time.monotonic()
    findings = scan_distribution(wheel)
    assert time.monotonic() - started < 20
    assert _kinds(findings) == [("pkg-1.0.dist-info/METADATA", OVER_TOTAL)]


_INTERRUPTED_SCAN = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from relsafe.core import interruption
    from relsafe.artifacts.checks import inspect_files
    with interruption.handled():
        print("scanning", flush=True)
        try:
            inspect_files([Path(sys.argv[1])])
        except KeyboardInterrupt:
            print("interrupted", flush=True)
            raise SystemExit(143)
    """
)


def _state_and_cpu_seconds(pid: int) -> tuple[str, float]:
    """A process's state and the CPU time its own threads have used (utime and stime of /proc/PID/stat; not
    its children's, such as the twine check inspect runs beside the scan). An exited process not yet reaped
    (state Z) still shows its final figures."""
    fields = Path(f"/proc/{pid}/stat").read_text(encoding="ascii").rpartition(")")[2].split()
    return fields[0], (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _until(child: subprocess.Popen[str], done: Callable[[str, float], bool], within: float, what: str) -> float:
    """Poll the child's state and CPU seconds until `done` says so; its CPU seconds then. After `within`
    seconds, end its whole session (the twine check with it) and fail, saying `what` did not happen."""
    deadline = time.monotonic() + within
    while not done(*(state_and_seconds := _state_and_cpu_seconds(child.pid))):
        if time.monotonic() > deadline:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            pytest.fail(f"{what} within {within} s")
        time.sleep(0.01)
    return state_and_seconds[1]


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads a process's CPU time from /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_end_a_scan_within_a_second(tmp_path: Path, signum: int) -> None:
    """The scan runs in inspect's thread pool; the signal reaches the main thread, which stops it. Within a
    second of the scan's own work (CPU time), which a loaded machine does not stretch as it does wall time."""
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("pkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n")
        text = (b"def f(x):\n    return x  # aws key token secret\n" * 40_000)[: 1 << 20]
        with archive.open("pkg/big.py", "w") as member:
            for _ in range(1024):  # 1 GiB of text: minutes of scanning
                member.write(text)
    child = subprocess.Popen(
        [sys.executable, "-c", _INTERRUPTED_SCAN, str(wheel)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=as_from_a_terminal,  # so that the twine check it starts ends on SIGINT, as from a terminal
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "scanning"
    _, started = _state_and_cpu_seconds(child.pid)
    before = _until(child, lambda state, seconds: seconds >= started + 1.0, 120, "the scan did not use a CPU second")
    child.send_signal(signum)
    # The scan stops, and inspect stops the twine check beside it with SIGINT, not SIGKILL after the grace period
    after = _until(child, lambda state, _: state == "Z", STOP_GRACE, "the scan and the twine check did not end")
    child.wait()
    assert child.returncode == 143
    assert before <= after < before + 1.0, (before, after)
