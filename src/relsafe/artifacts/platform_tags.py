"""The platform tags PyPI takes in a wheel's file name, and why it refuses the others.

A wheel built here with compiled code is tagged for this machine
(`linux_x86_64`): it names no ABI that other Linux systems share, and PyPI
refuses the upload. Found after the tag, the release is stuck; found by
inspect, it is one line. The rules follow PyPI's upload checks (warehouse's
`warehouse/utils/wheel.py`, 2026): a fixed list, then macOS, manylinux and
musllinux (PEP 600, PEP 656), iOS (PEP 730), Android (PEP 738) and
Emscripten by pattern, each with its architectures.
"""

from __future__ import annotations

import re
from pathlib import Path

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

_FIXED = frozenset(
    {"any", "win32", "win_arm64", "win_amd64", "win_ia64", "linux_armv6l", "linux_armv7l"}
    | {f"manylinux1_{arch}" for arch in ("x86_64", "i686")}
    | {f"manylinux2010_{arch}" for arch in ("x86_64", "i686")}
    | {f"manylinux2014_{arch}" for arch in ("x86_64", "i686", "aarch64", "armv7l", "ppc64", "ppc64le", "s390x")}
)
_MACOS = re.compile(r"macosx_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>.+)")
_MACOS_ARCHES = frozenset(
    {"ppc", "ppc64", "i386", "x86_64", "arm64", "intel", "fat", "fat3", "fat64", "universal", "universal2"}
)
_MACOS_MAJORS = frozenset({"11", "12", "13", "14", "15", "26"})  # from 11 on: major_0 only; 10 takes any minor
_LINUX = re.compile(r"(?P<libc>many|musl)linux_(?P<major>\d+)_(?P<minor>\d+)_(?P<arch>.+)")
_MUSLLINUX_ARCHES = frozenset({"x86_64", "i686", "aarch64", "armv7l", "ppc64le", "s390x", "riscv64"})
_MANYLINUX_ARCHES = _MUSLLINUX_ARCHES | {"ppc64"}
_IOS = re.compile(r"ios_\d+_\d+_(?P<arch>.+)_(?:iphoneos|iphonesimulator)")
_IOS_ARCHES = frozenset({"arm64", "x86_64"})
_ANDROID = re.compile(r"android_\d+_(?P<arch>.+)")
_ANDROID_ARCHES = frozenset({"armeabi_v7a", "arm64_v8a", "x86", "x86_64"})
_EMSCRIPTEN = re.compile(r"pyemscripten_\d+_\d+_wasm32")


def uploadable(platform: str) -> bool:
    """Whether PyPI takes a wheel with this platform tag."""
    if platform in _FIXED:
        return True
    if found := _MACOS.fullmatch(platform):
        versioned = found["major"] == "10" or (found["major"] in _MACOS_MAJORS and found["minor"] == "0")
        return versioned and found["arch"] in _MACOS_ARCHES
    if found := _LINUX.fullmatch(platform):
        return found["arch"] in (_MANYLINUX_ARCHES if found["libc"] == "many" else _MUSLLINUX_ARCHES)
    if found := _IOS.fullmatch(platform):
        return found["arch"] in _IOS_ARCHES
    if found := _ANDROID.fullmatch(platform):
        return found["arch"] in _ANDROID_ARCHES
    return _EMSCRIPTEN.fullmatch(platform) is not None


def platform_problems(path: Path) -> list[str]:
    """The platform tags in a wheel's file name that PyPI refuses, one line each (nothing for an sdist, or a
    file name that cannot be parsed: the file-name check reports that)."""
    if not path.name.endswith(".whl"):
        return []
    try:
        tags = parse_wheel_filename(path.name)[3]
    except InvalidWheelFilename:
        return []
    return [_why(platform) for platform in sorted({tag.platform for tag in tags}) if not uploadable(platform)]


def _why(platform: str) -> str:
    if platform.startswith("linux_"):
        return (
            f"platform tag {platform}: PyPI refuses it (it names no ABI that other Linux systems share); "
            "a wheel with compiled code for Linux must be repaired into a manylinux or musllinux wheel with "
            "auditwheel, which is the CI's job (cibuildwheel does it); release the sdist and pure-Python "
            "wheels from here"
        )
    if _LINUX.fullmatch(platform) or _MACOS.fullmatch(platform):
        return f"platform tag {platform}: PyPI refuses it (an architecture or version it does not list)"
    return f"platform tag {platform}: PyPI refuses it (not a platform tag it accepts)"
