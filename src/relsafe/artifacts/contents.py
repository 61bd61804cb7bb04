"""What a built file ships, as the release diff compares it: its members and where each one installs, its entry
points, its metadata, its start-up hooks and its native files.

Read straight from the archive and bounded like the secret scan, since the
previous release's files come from an index and the threat the diff answers is
a hostile file: a wheel's members are known from its central directory (sizes,
CRCs, permissions) plus their first bytes; an sdist is read once, hashing each
member, within TOTAL_RATIO times its size.
"""

from __future__ import annotations

import configparser
import hashlib
import re
import tarfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from pathlib import Path, PurePosixPath

from relsafe.artifacts.distribution import Distribution, metadata_headers
from relsafe.core.errors import StepFailed
from relsafe.security.archive_streams import READ_ERRORS, TOTAL_FLOOR, TOTAL_RATIO

HEAD = 8
"""Bytes kept of each member's start: enough for the magic numbers of ELF, PE and Mach-O files."""

ENTRY_POINTS_LIMIT = 1 << 20
"""Bytes of entry_points.txt read at most (real ones are a few KiB)."""

MEMBER_LIMIT = 200_000
"""Members of one file at most: a file with more is refused as unreadable rather than listed."""

STARTUP_MODULES = ("sitecustomize", "usercustomize")
"""Modules Python's site module imports at every start-up, wherever they are on sys.path."""

NATIVE_SUFFIX = re.compile(r"\.(so(\.\d+)*|pyd|dll|dylib|exe)$", re.IGNORECASE)
_MAGIC = (
    (b"\x7fELF", "ELF"),
    (b"MZ", "PE"),
    (b"\xfe\xed\xfa\xce", "Mach-O"),
    (b"\xfe\xed\xfa\xcf", "Mach-O"),
    (b"\xce\xfa\xed\xfe", "Mach-O"),
    (b"\xcf\xfa\xed\xfe", "Mach-O"),
    (b"\xca\xfe\xba\xbe", "Mach-O universal"),
)
_DATA_SITE_PACKAGES = re.compile(r"^(?:lib/python[^/]*/site-packages|lib/site-packages)/(.+)$", re.IGNORECASE)
"""A path under a wheel's `.data/data/` that lands in a venv's site-packages (the prefix's lib/pythonX.Y/)."""

SITE_PACKAGES, DIST_INFO, SCRIPTS, DATA, HEADERS = "site-packages", "dist-info", "scripts", "data", "headers"


@dataclass(frozen=True)
class Member:
    """One file of a distribution: its path in the archive, its size, a digest of its content (a wheel's CRC-32,
    an sdist member's sha256: comparable within one kind only), its permission bits and its first bytes."""

    path: str
    size: int
    digest: str
    mode: int
    head: bytes


@dataclass(frozen=True)
class Location:
    """Where a wheel's member installs: the scheme (site-packages, dist-info, scripts, data, headers) and the
    path inside it."""

    scheme: str
    path: str


@dataclass(frozen=True)
class StartupHook:
    """A file Python runs at every start-up once the wheel is installed: a `.pth` file at the top of
    site-packages (site executes its `import` lines) or a sitecustomize/usercustomize module."""

    name: str
    """As `[inspect] accept-pth` names it: the file's name (`x.pth`, `sitecustomize.py`), or a package's folder."""
    member: str
    kind: str  # "pth" or "module"

    def what(self) -> str:
        if self.kind == "pth":
            return "a .pth file, whose import lines Python's site module runs at every start-up"
        return f"the {self.name.split('.')[0]} module, which Python's site module imports at every start-up"


@dataclass(frozen=True)
class Contents:
    """The facts of one wheel or sdist the release diff compares."""

    dist: Distribution
    members: dict[str, Member]
    """Keyed by a path that stays the same from one version to the next: a wheel's `.dist-info` and `.data`
    folders as `<dist-info>/` and `<data>/`, an sdist's paths without its top folder."""
    metadata: Message
    entry_points: dict[tuple[str, str], str]
    """(group, name) → object reference, from a wheel's entry_points.txt (an sdist has none)."""

    @property
    def kind(self) -> str:
        return self.dist.kind

    @classmethod
    def read(cls, path: Path) -> Contents:
        dist = Distribution.read(path)
        try:
            if dist.kind == "wheel":
                members, entry_points = _wheel_members(path)
            else:
                members, entry_points = _sdist_members(path, dist.size), {}
        except READ_ERRORS as error:
            raise StepFailed(f"cannot read {path.name} to compare it: {error}") from error
        return cls(dist, members, metadata_headers(path), entry_points)

    def location(self, key: str) -> Location:
        return location(key) if self.kind == "wheel" else Location(SITE_PACKAGES, key)

    def startup_hooks(self) -> list[StartupHook]:
        return startup_hooks(member.path for member in self.members.values()) if self.kind == "wheel" else []

    def field(self, name: str) -> str | None:
        value = self.metadata[name]
        return None if value is None else str(value).strip()

    def fields(self, name: str) -> list[str]:
        return [str(value).strip() for value in self.metadata.get_all(name) or []]


def location(key: str) -> Location:
    """Where a wheel's member (keyed as Contents.members is) installs."""
    top, _, rest = key.partition("/")
    if top == "<dist-info>":
        return Location(DIST_INFO, rest)
    if top == "<data>":
        scheme, _, inside = rest.partition("/")
        if scheme in ("purelib", "platlib"):
            return Location(SITE_PACKAGES, inside)
        if scheme == "data" and (landing := _DATA_SITE_PACKAGES.match(inside)):
            return Location(SITE_PACKAGES, landing.group(1))
        return Location(scheme, inside)
    return Location(SITE_PACKAGES, key)


def startup_hooks(names: Iterable[str]) -> list[StartupHook]:
    """The start-up hooks among a wheel's members, named as the archive names them."""
    hooks: dict[str, StartupHook] = {}
    for key in names:
        found = location(_neutral(key))
        if found.scheme != SITE_PACKAGES:
            continue
        parts = PurePosixPath(found.path).parts
        top = parts[0]
        module = top.split(".", 1)[0]
        if len(parts) == 1 and top.lower().endswith(".pth"):
            hooks.setdefault(top, StartupHook(top, key, "pth"))
        elif module in STARTUP_MODULES and (len(parts) > 1 or top.endswith((".py", ".pyc", ".so", ".pyd"))):
            hooks.setdefault(top, StartupHook(top, key, "module"))
    return sorted(hooks.values(), key=lambda hook: hook.name)


def pth_members(keys: Iterable[str]) -> list[str]:
    """Every `.pth` file a distribution holds, wherever it is (only those at the top of site-packages run)."""
    return sorted(key for key in keys if key.lower().endswith(".pth"))


def native_kind(member: Member, location: Location | None = None) -> str | None:
    """What makes a member a native file or an executable, in words; None for anything else."""
    magic = next((name for prefix, name in _MAGIC if member.head.startswith(prefix)), None)
    if location is not None and location.scheme == SCRIPTS:
        return f"script installed on PATH{f' ({magic} binary)' if magic else ''}"
    if NATIVE_SUFFIX.search(member.path):
        return f"native library{f' ({magic})' if magic else ''}"
    if magic is not None and not member.path.endswith(".class"):  # a Java class starts as a Mach-O universal does
        return f"native binary ({magic})"
    if member.mode & 0o111:
        return "executable file"
    return None


def _neutral(name: str) -> str:
    """A wheel member's path with its `.dist-info` and `.data` folder names made neutral (`<dist-info>/…`)."""
    top, _, rest = name.partition("/")
    if top.endswith(".dist-info") and rest:
        return f"<dist-info>/{rest}"
    if top.endswith(".data") and rest:
        return f"<data>/{rest}"
    return name


def _wheel_members(path: Path) -> tuple[dict[str, Member], dict[tuple[str, str], str]]:
    members: dict[str, Member] = {}
    entry_points: dict[tuple[str, str], str] = {}
    with zipfile.ZipFile(path) as wheel:
        infos = [info for info in wheel.infolist() if not info.is_dir()]
        if len(infos) > MEMBER_LIMIT:
            raise StepFailed(f"{path.name} has {len(infos)} members, more than the {MEMBER_LIMIT} compared")
        for info in infos:
            key = _neutral(info.filename)
            try:
                with wheel.open(info) as stream:
                    head = stream.read(HEAD)
            except READ_ERRORS:
                head = b""
            mode = (info.external_attr >> 16) & 0o7777
            members.setdefault(key, Member(info.filename, info.file_size, f"crc32:{info.CRC:08x}", mode, head))
            if key == "<dist-info>/entry_points.txt" and len(PurePosixPath(info.filename).parts) == 2:
                with wheel.open(info) as stream:
                    entry_points = _entry_points(stream.read(ENTRY_POINTS_LIMIT + 1), path.name)
    return members, entry_points


def _entry_points(data: bytes, name: str) -> dict[tuple[str, str], str]:
    """(group, name) → object reference, as importlib.metadata reads entry_points.txt."""
    if len(data) > ENTRY_POINTS_LIMIT:
        raise StepFailed(f"{name}: entry_points.txt is over {ENTRY_POINTS_LIMIT >> 20} MiB; not compared")
    parser = configparser.ConfigParser(delimiters=("=",), interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # names are case-sensitive
    try:
        parser.read_string(data.decode("utf-8", errors="replace"))
    except configparser.Error as error:
        raise StepFailed(f"{name}: entry_points.txt cannot be read: {' '.join(str(error).split())}") from error
    return {
        (group, entry): " ".join(target.split()) for group in parser.sections() for entry, target in parser.items(group)
    }


def _sdist_members(path: Path, size: int) -> dict[str, Member]:
    """Every regular file of the sdist, without its top folder, hashed in one pass within the bounds."""
    budget = max(TOTAL_FLOOR, TOTAL_RATIO * size)
    members: dict[str, Member] = {}
    with tarfile.open(path, mode="r|gz") as sdist:
        for info in sdist:
            if not info.isfile():
                continue
            if len(members) >= MEMBER_LIMIT:
                raise StepFailed(f"{path.name} has more than {MEMBER_LIMIT} members, the most compared")
            budget -= info.size
            if budget < 0:
                raise StepFailed(f"{path.name} unpacks to more than {TOTAL_RATIO} times its size; not compared")
            stream = sdist.extractfile(info)
            digest, head = hashlib.sha256(), b""
            if stream is not None:
                head = stream.read(HEAD)
                digest.update(head)
                while chunk := stream.read(1 << 20):
                    digest.update(chunk)
            key = info.name.split("/", 1)[1] if "/" in info.name else info.name
            members.setdefault(key, Member(key, info.size, f"sha256:{digest.hexdigest()}", info.mode & 0o7777, head))
    return members
