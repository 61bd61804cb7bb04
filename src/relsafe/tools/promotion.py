"""The publish workflow's preparing job, run here: what a rehearsal shows the tag would publish.

It runs the same script the workflow `relsafe init` writes embeds
(templates/promote.py), the way a runner runs it: in a fresh clone of the
remote checked out at the tag, with the tag made lightweight as
actions/checkout leaves it, then fetched again from the remote.
"""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

from relsafe.core.errors import StepFailed, ToolFailed
from relsafe.journal.runlog import RunLog
from relsafe.tools import process


def run_preparing_job(remote_url: str, tag: str, commit: str, staging_index_url: str, folder: Path, log: RunLog) -> str:
    """The job's last line ("N file(s) are exactly the tested ones …"); StepFailed with the line it failed on."""
    workspace, dist = folder / "workspace", folder / "dist"
    git = ["git", "-C", str(workspace)]
    process.run(["git", "clone", "--quiet", "--no-checkout", remote_url, str(workspace)], log=log, what="git clone")
    process.run([*git, "checkout", "--quiet", commit], log=log, what="git checkout")
    process.run([*git, "tag", "--force", tag, commit], log=log, what="git tag")
    refspec = f"refs/tags/{tag}:refs/tags/{tag}"
    process.run([*git, "fetch", "--quiet", "--no-tags", "--force", "origin", refspec], log=log, what="git fetch")
    script = resources.files("relsafe").joinpath("templates").joinpath("promote.py")
    env = {**os.environ, "TAG": tag, "COMMIT": commit, "DIST": str(dist), "STAGING_INDEX_URL": staging_index_url}
    try:
        with resources.as_file(script) as path:
            done = process.run([sys.executable, "-I", path], log=log, cwd=workspace, env=env, what="the preparing job")
    except ToolFailed as error:
        failed = [line.removeprefix("::error::") for line in error.details if line.startswith("::error::")]
        reason = failed[-1] if failed else error.message
        raise StepFailed(f"the publish workflow would refuse this tag: {reason}") from error
    return done.output.strip().splitlines()[-1]
