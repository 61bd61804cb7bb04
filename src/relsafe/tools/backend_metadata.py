"""A project's core metadata as its own build backend reports it (PEP 517).

A setup.py-only project states its name and version nowhere a TOML reader
can see: only running the backend tells them. This asks the backend with
`prepare_metadata_for_build_wheel` (build falls back to a wheel build when
the backend lacks the hook), in an isolated environment like a real build.
"""

from __future__ import annotations

import email.message
import email.parser
import subprocess
import tempfile
import warnings
from pathlib import Path

from relsafe.journal.runlog import RunLog
from relsafe.tools.builder import backend_environment, backend_failure, hook_runner


def read_backend_metadata(source: Path, *, isolated: bool, log: RunLog) -> email.message.Message:
    """The METADATA the backend would write for a wheel of `source` (a clean export, never the user's tree)."""
    import build

    with (
        tempfile.TemporaryDirectory(prefix="relsafe-metadata-") as output,
        warnings.catch_warnings(record=True) as said,
    ):
        warnings.simplefilter("always")  # the backend's warnings belong in the run log, not on the screen
        try:
            with backend_environment(source, ["wheel"], isolated=isolated, pinned=None, log=log) as used:
                runner = hook_runner(log, used.env)
                project = build.ProjectBuilder(source, python_executable=used.python, runner=runner)
                dist_info = Path(project.metadata_path(output))
        except (build.BuildException, build.BuildBackendException, subprocess.CalledProcessError) as error:
            raise backend_failure(source, "report the project's metadata", error, log) from None
        finally:
            for warning in said:
                log.write(f"build backend: {warning.message}")
        return email.parser.BytesParser().parsebytes((dist_info / "METADATA").read_bytes())
