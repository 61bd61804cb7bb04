"""stage: upload the exact tested files to the staging index, each once.

Before each file the index is asked: the same name with the same hash is
already done; the same name with another hash can never be fixed on that
index (names are never accepted twice), so it is a hard stop. Each upload is
journaled as soon as the index confirms it, so a crash between two files
resumes by sending only the missing one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from relsafe.core import failpoint
from relsafe.core.errors import Refused, StepFailed
from relsafe.model.index_url import CREDENTIAL_HOSTS, host_of, is_loopback_host
from relsafe.steps.context import Context
from relsafe.steps.contract import Check, Step
from relsafe.tools import process
from relsafe.tools.index import simple_api, transfer
from relsafe.tools.index.credentials import (
    Credentials,
    NoCredentials,
    load_keyring,
    resolve_credentials,
    warn_if_pypirc_exposed,
)

OPEN_LOCAL_LOGIN = ("relsafe", "open-index")


def staging_credentials(ctx: Context) -> Credentials:
    if ctx.staging.credentials is not None:
        return ctx.staging.credentials
    try:
        return resolve_credentials(ctx.staging.repository_url)
    except NoCredentials:
        if simple_api.is_loopback(ctx.staging.repository_url):
            # a local pypiserver with open uploads still needs twine to send something
            return Credentials(*OPEN_LOCAL_LOGIN, source="none needed by a local index")
        raise


def conflicting_files(ctx: Context, on_index: dict[str, str]) -> list[str]:
    return [
        f"{a.name} (staging has sha256 {on_index[a.name][:12]}…, the build has {a.sha256[:12]}…)"
        for a in ctx.release.artifacts()
        if a.name in on_index and on_index[a.name] != a.sha256
    ]


def refuse_conflicts(conflicts: list[str]) -> Refused:
    return Refused(
        "the staging index already holds other files under these names: " + "; ".join(conflicts),
        hint="an index never accepts a file name twice; release a new version (`relsafe abort`, then release again)",
    )


class Stage(Step):
    name = "stage"
    title = "Upload to the staging index"
    changes_world = True
    prepares_with_preflight = True

    def prepare(self, ctx: Context) -> None:
        """Load keyring, where the upload's credentials may be, while earlier steps run."""
        process.in_background(load_keyring, "keyring")

    def fingerprint(self, ctx: Context) -> dict[str, Any]:
        return {
            "artifacts": ctx.release.artifact_hashes(),
            "repository_url": ctx.staging.repository_url,
        }

    def _on_index(self, ctx: Context) -> dict[str, str]:
        return simple_api.files_for(ctx.staging.index_url, ctx.project.name, ctx.release.version)

    def check(self, ctx: Context) -> Check:
        on_index = self._on_index(ctx)
        conflicts = conflicting_files(ctx, on_index)
        if conflicts:
            raise refuse_conflicts(conflicts)
        names = [a.name for a in ctx.release.artifacts()]
        if all(name in on_index for name in names):
            return Check.done(uploaded=names, repository_url=ctx.staging.repository_url)
        return Check.ready()

    def run(self, ctx: Context) -> dict[str, Any]:
        uploaded = ctx.release.staged_files  # what an earlier, interrupted attempt had sent

        def record_uploaded() -> None:
            ctx.record_progress({"uploaded": list(uploaded), "repository_url": ctx.staging.repository_url})

        record_uploaded()
        warning = warn_if_pypirc_exposed(Path.home() / ".pypirc")
        if warning:
            ctx.note(warning)
        credentials = staging_credentials(ctx)
        host = host_of(ctx.staging.repository_url)
        if host not in CREDENTIAL_HOSTS and not is_loopback_host(host):
            ctx.note(f"the upload credential ({credentials.source}) goes to {host}, as [staging] upload-host allows")
        on_index = self._on_index(ctx)
        for artifact in ctx.release.artifacts():
            name = artifact.name
            if on_index.get(name) == artifact.sha256:
                if name not in uploaded:
                    uploaded.append(name)
                    record_uploaded()
                continue
            ctx.note(f"uploading {name}")
            try:
                transfer.upload(
                    ctx.folder.dist / name,
                    repository_url=ctx.staging.repository_url,
                    credentials=credentials,
                    log=ctx.log,
                )
            except transfer.FileExists:
                # our own earlier attempt may have landed after its answer was lost
                on_index = self._on_index(ctx)
                if on_index.get(name) != artifact.sha256:
                    raise refuse_conflicts(conflicting_files(ctx, on_index)) from None
            uploaded.append(name)
            record_uploaded()
            failpoint.hit("between-uploads")
        return {"uploaded": uploaded, "repository_url": ctx.staging.repository_url, "summary": ", ".join(uploaded)}

    def verify(self, ctx: Context) -> None:
        uploaded = set(ctx.release.staged_files)
        missing = [a.name for a in ctx.release.artifacts() if a.name not in uploaded]
        if missing:
            raise StepFailed("not uploaded to the staging index: " + ", ".join(missing))
