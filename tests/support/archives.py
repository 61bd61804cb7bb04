"""ZIP and tar archives made in memory from {member name: bytes}: the one place tests write either format.

Wheels (support.wheels), sdists (support.sdists) and archives nested inside distributions are all made here.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Mapping


def zip_of(files: Mapping[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A ZIP archive of `files`, in their order, each compressed with `method`."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return out.getvalue()


def tar_of(files: Mapping[str, bytes], mode: str = "w") -> bytes:
    """A tar archive of `files`, in their order, as plain files (mode 0644, mtime 0); `mode` "w:gz" compresses."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()
