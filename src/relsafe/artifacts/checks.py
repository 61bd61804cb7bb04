"""The inspection of distribution files on their own, without a project or a release: `relsafe inspect`.

What the inspect step checks that needs nothing but the files: the secret
scan, the wheel layout, the metadata twine would upload, that the version
inside each file is the one its name states, and what PyPI would refuse at
upload (the ZIP framing, RECORD, the file name, the platform tag, the Metadata-Version). Any
wheel or sdist can be checked this way, whoever built it.
"""

from __future__ import annotations

import tarfile
import zipfile
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from relsafe.artifacts.contents import pth_members, startup_hooks
from relsafe.artifacts.distribution import (
    Distribution,
    filename_problems,
    layout_problems,
    metadata_version_problems,
    version_problems,
    wheel_members,
)
from relsafe.artifacts.platform_tags import platform_problems
from relsafe.artifacts.wheel_record import record_problems
from relsafe.artifacts.zip_structure import structure_problems
from relsafe.core.errors import StepFailed, UsageError
from relsafe.journal.runlog import RunLog
from relsafe.security.artifact_scan import SecretFinding, scan_distribution, stopping_on_exit
from relsafe.tools.twine_check import metadata_check


@dataclass(frozen=True)
class Finding:
    """One problem in one file: the member it is in ("" for the file as a whole), the check that found it."""

    file: str
    member: str
    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.member or '-'}: {self.check}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def checked_arguments(paths: Sequence[Path], argument: str = "FILE") -> list[Path]:
    """The files, each a readable wheel or sdist, or a UsageError naming the first that is not (as the command
    line's `argument`)."""
    where = f"argument {argument}:"
    if not paths:
        raise UsageError(f"{where} expected at least one wheel (.whl) or sdist (.tar.gz)")
    for path in paths:
        if not path.exists():
            raise UsageError(f"{where} {path} does not exist")
        if not path.is_file():
            raise UsageError(f"{where} {path} is not a file; expected a wheel (.whl) or sdist (.tar.gz)")
        if not path.name.endswith((".whl", ".tar.gz")):
            raise UsageError(f"{where} {path} is not a distribution; expected a .whl or .tar.gz file")
        if not _readable(path):
            kind = "a zip archive (a wheel)" if path.name.endswith(".whl") else "a gzip tar archive (an sdist)"
            raise UsageError(f"{where} {path} cannot be read as {kind}")
    return list(paths)


def _readable(path: Path) -> bool:
    if path.name.endswith(".whl"):
        return zipfile.is_zipfile(path)
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            return archive.next() is not None
    except (tarfile.TarError, OSError, EOFError):
        return False


def inspect_files(
    paths: Sequence[Path], *, allow: Sequence[str] = (), strict: bool = True, accept_pth: Sequence[str] = ()
) -> list[Finding]:
    """Every finding in the files, file by file in the order given; the checks of all files overlap."""
    log = RunLog(None)
    # stopping_on_exit exits first: Ctrl-C or SIGTERM stops the running scans before the pool waits for them
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="inspect") as pool, stopping_on_exit():
        rendering = pool.submit(metadata_check, list(paths), log, strict=strict)
        per_file = [pool.submit(_file_findings, path, allow, accept_pth) for path in paths]
        findings = [finding for future in per_file for finding in future.result()]
        metadata = rendering.result().problems
    names = {path.name for path in paths}
    for problem in metadata:
        file = next((name for name in names if f": {name}: " in problem), "")
        findings.append(Finding(file, "", "metadata", problem))
    order = [path.name for path in paths]
    return sorted(findings, key=lambda finding: order.index(finding.file) if finding.file in order else len(order))


def _file_findings(path: Path, allow: Sequence[str], accept_pth: Sequence[str]) -> list[Finding]:
    found: list[Finding] = []
    try:
        if path.name.endswith(".whl"):
            found += [
                Finding(path.name, hook.member, "startup", f"start-up hook: {hook.what()}; not accepted")
                for hook in startup_hooks(wheel_members(path))
                if hook.name not in accept_pth
            ]
        found += [
            Finding(path.name, secret.member, "secret", _verdict(secret)) for secret in scan_distribution(path, allow)
        ]
        named_version = Distribution.read(path).version
        found += [Finding(path.name, "", "version", problem) for problem in version_problems(path, named_version)]
        if path.name.endswith(".whl"):
            found += [Finding(path.name, "", "layout", problem) for problem in layout_problems(path)]
        found += upload_findings(path)
    except StepFailed as error:  # a file name or metadata that cannot be read is itself a finding
        found.append(Finding(path.name, "", "format", error.message))
    return found


def _verdict(secret: SecretFinding) -> str:
    """The kind, and the confidence when it is not high (a value recognised by the keyword beside it)."""
    return secret.kind if secret.confidence == "high" else f"{secret.kind} ({secret.confidence} confidence)"


def upload_findings(path: Path) -> list[Finding]:
    """What PyPI would refuse in the file itself, whoever uploads it: a wheel's ZIP framing and RECORD,
    the file name's normalisation, a platform tag PyPI does not take (`linux_x86_64`), a Metadata-Version the
    installed twine cannot send."""
    found: list[Finding] = []
    if path.name.endswith(".whl"):
        found += [Finding(path.name, p.member, "zip", p.message) for p in structure_problems(path)]
        found += [Finding(path.name, p.member, "record", p.message) for p in record_problems(path)]
    found += [Finding(path.name, "", "filename", problem) for problem in filename_problems(path)]
    found += [Finding(path.name, "", "platform", problem) for problem in platform_problems(path)]
    found += [Finding(path.name, "", "metadata-version", problem) for problem in metadata_version_problems(path)]
    return found


def startup_notes(paths: Sequence[Path], accept_pth: Sequence[str] = ()) -> list[str]:
    """Every `.pth` file and start-up module in the files that is not a finding, named: an accepted one, a
    `.pth` file that does not land at the top of site-packages (Python does not run it), one in an sdist
    (what installs is the wheel built from it). Files that cannot be read are left to the findings."""
    notes: list[str] = []
    for path in paths:
        try:
            names = wheel_members(path) if path.name.endswith(".whl") else _sdist_names(path)
        except (StepFailed, tarfile.TarError, OSError, EOFError, zlib.error):
            continue
        hooks = startup_hooks(names) if path.name.endswith(".whl") else []
        notes += [
            f"{path.name}: {hook.member}: accepted start-up hook: {hook.what()}"
            for hook in hooks
            if hook.name in accept_pth
        ]
        running = {hook.member for hook in hooks}
        for member in pth_members(names):
            if member in running:
                continue
            where = (
                "in the sdist (the wheel built from it is what installs)"
                if path.name.endswith(".tar.gz")
                else ("not at the top of site-packages, so Python does not run it")
            )
            notes.append(f"{path.name}: {member}: .pth file {where}")
    return notes


def _sdist_names(path: Path) -> list[str]:
    with tarfile.open(path, mode="r|gz") as sdist:
        return [info.name.split("/", 1)[-1] for info in sdist if info.isfile()]
