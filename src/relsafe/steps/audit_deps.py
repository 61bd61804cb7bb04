"""audit-deps: the dependencies users will install have no known advisory, and what was tested is locked.

smoke records, for each venv it tested the wheel in, the distributions the
wheel brought there: its requirements with the [test] extras, resolved and
installed, the [test] requirements it did not need left out
(relsafe.wheeltest.installed). This step asks pip-audit about exactly those
versions, on the OSV service (`[audit-deps] osv-url`) or PyPI's JSON API,
and writes them as a PEP 751 lock into the release's folder
(relsafe.model.dependency_lock), with the hashes the production index serves;
the tag's manifest carries the lock's sha256.

A known advisory refuses the release (exit 4) before anything is staged,
unless a reviewed `[[audit-deps.ignore]]` names it with a reason and its
`until` has not passed. It fails closed: a service that cannot be reached or
answers an error refuses too. A rehearsal reports either as a blocker.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from relsafe.core import failpoint
from relsafe.core.errors import Refused, StepFailed
from relsafe.journal.records import Status, TestedEnvironment
from relsafe.model import dependency_lock
from relsafe.model.dependency_lock import IndexedFile, LockedPackage
from relsafe.model.schema import AuditIgnore
from relsafe.steps.context import Context
from relsafe.steps.contract import Step
from relsafe.tools import pip_audit, process
from relsafe.tools.index import simple_api
from relsafe.tools.pip_audit import Advisory, AuditedPackage, ServiceFailed

LOOKUPS_AT_ONCE = 4  # index pages asked for side by side, for the lock's hashes
IGNORE_LINE = "{id} {name}=={version}{until}: {reason}"


def _service(ctx: Context) -> str:
    return pip_audit.describe_service(ctx.config.audit_service, ctx.config.audit_osv_url)


def _fixed(advisory: Advisory) -> str:
    return f"fixed in {', '.join(advisory.fixed)}" if advisory.fixed else "no fixed version known"


class AuditDeps(Step):
    name = "audit-deps"
    title = "Audit the tested dependencies"

    def fingerprint(self, ctx: Context) -> dict[str, Any]:
        return {
            "artifacts": ctx.release.artifact_hashes(),
            "service": ctx.config.audit_service,
            "osv_url": ctx.config.audit_osv_url,
        }

    def run(self, ctx: Context) -> dict[str, Any]:
        environments = ctx.release.tested_environments()
        if environments is None and ctx.release.step("smoke").status != Status.DONE:
            raise StepFailed("smoke did not pass, so there is no tested environment to audit")
        if environments is None:
            raise StepFailed(
                "smoke recorded no tested environment to audit (it ran before relsafe had this step)",
                hint="run `relsafe abort` and release again",
            )
        pins = sorted({(item.name, item.version) for environment in environments for item in environment.installed})
        if pins:
            audited, files = process.side_by_side(
                partial(self._audit, ctx, pins), partial(self._index_files, ctx, pins)
            )
        else:
            audited, files = [], {}
            ctx.note("the wheel installs no dependency: nothing to ask the advisory service")
        lock_sha256 = self._write_lock(ctx, environments, files)
        failpoint.hit("audit-deps-locked")
        return self._judge(ctx, pins, audited, lock_sha256)

    def verify(self, ctx: Context) -> None:
        recorded = ctx.release.dependency_lock_sha256
        path = ctx.folder.dependency_lock
        if not path.is_file() or recorded != hashlib.sha256(path.read_bytes()).hexdigest():
            raise StepFailed(f"{path} is not the lock of the tested environment this step recorded")

    def _audit(self, ctx: Context, pins: list[tuple[str, str]]) -> list[AuditedPackage]:
        service = _service(ctx)
        try:
            return pip_audit.audit(
                pins,
                service=ctx.config.audit_service,
                osv_url=ctx.config.audit_osv_url,
                folder=ctx.folder.audit_scratch,
                log=ctx.log,
            )
        except ServiceFailed as error:
            raise Refused(
                f"{error.message}: the {len(pins)} tested dependencies could not be audited, so the release stops "
                "here, before anything is staged",
                hint=f"check the network and any proxy (HTTPS_PROXY) reach {service}, then `relsafe resume`; "
                "offline, serve an OSV mirror and set [audit-deps] osv-url to its query URL (docs: Dependency "
                "audit), then `relsafe abort` and release again",
                details=error.details,
            ) from None

    def _index_files(self, ctx: Context, pins: list[tuple[str, str]]) -> dict[tuple[str, str], list[IndexedFile]]:
        """What the production index serves for each pin: the lock names those files and their hashes."""

        def files(pin: tuple[str, str]) -> list[IndexedFile]:
            listed = simple_api.project_files(ctx.production_index_url, pin[0], pin[1])
            return [IndexedFile(entry.filename, entry.url, entry.sha256) for entry in listed]

        with ThreadPoolExecutor(max_workers=LOOKUPS_AT_ONCE, thread_name_prefix="audit-deps-index") as pool:
            return dict(zip(pins, pool.map(files, pins), strict=True))

    def _write_lock(
        self,
        ctx: Context,
        environments: Sequence[TestedEnvironment],
        files: dict[tuple[str, str], list[IndexedFile]],
    ) -> str:
        """pylock.toml of the tested environment into the release's folder; returns its sha256."""
        located: dict[tuple[str, str, IndexedFile], set[int]] = {}
        missing: list[str] = []
        for position, environment in enumerate(environments):
            for item in environment.installed:
                chosen = dependency_lock.installed_file(
                    files[(item.name, item.version)], item.name, item.version, item.tags
                )
                if chosen is None:
                    missing.append(f"{item.name} {item.version}")
                    continue
                located.setdefault((item.name, item.version, chosen), set()).add(position)
        if missing:
            raise StepFailed(
                f"the production index ({ctx.production_index_url}) serves no file of "
                f"{', '.join(sorted(set(missing)))}, which the wheel was tested with: users could not install them",
                hint="publish them there, or check [production] index-url",
            )
        wheel = next(artifact for artifact in ctx.release.artifacts() if artifact.kind == "wheel")
        text = dependency_lock.render(
            project=ctx.project.name,
            version=ctx.release.version,
            wheel=wheel.name,
            wheel_sha256=wheel.sha256,
            environments=[environment.markers for environment in environments],
            packages=[
                LockedPackage(name, version, chosen, frozenset(positions))
                for (name, version, chosen), positions in located.items()
            ],
            index_url=ctx.production_index_url,
        )
        data = text.encode("utf-8")
        path = ctx.folder.dependency_lock
        path.parent.mkdir(parents=True, exist_ok=True)
        partial_path = path.with_name(path.name + ".partial")
        partial_path.write_bytes(data)
        os.replace(partial_path, path)
        return hashlib.sha256(data).hexdigest()

    def _judge(
        self, ctx: Context, pins: list[tuple[str, str]], audited: list[AuditedPackage], lock_sha256: str
    ) -> dict[str, Any]:
        """Every advisory found passes only under a standing ignore; the outputs are recorded either way."""
        today = datetime.date.today()
        ignores = ctx.config.audit_ignores
        found = [(package, advisory) for package in audited for advisory in package.advisories]
        via = {
            (item.name, item.version): item.via
            for environment in ctx.release.tested_environments() or []
            for item in environment.installed
        }
        refusing: list[str] = []
        details: list[str] = []
        advisories: list[dict[str, Any]] = []
        ignored: list[dict[str, Any]] = []
        lapsed: list[dict[str, Any]] = []
        for package, advisory in found:
            ignore = next((entry for entry in ignores if entry.id in advisory.names), None)
            standing = ignore is not None and (
                ignore.until is None or today <= datetime.date.fromisoformat(ignore.until)
            )
            through = via.get((package.name, package.version))
            where = f"{package.name} {package.version}" + (f" (required by {through})" if through else "")
            named = advisory.id + (f" ({', '.join(advisory.aliases)})" if advisory.aliases else "")
            advisories.append(
                {
                    "package": package.name,
                    "version": package.version,
                    "via": through,
                    "id": advisory.id,
                    "aliases": list(advisory.aliases),
                    "fixed": list(advisory.fixed),
                    "ignored": standing,
                }
            )
            if ignore is not None and standing:
                ignored.append(self._ignored(package, advisory, ignore))
                until = f" until {ignore.until}" if ignore.until else ""
                ctx.note(f"ignored {named} in {where}{until}, reviewed: {ignore.reason}")
                continue
            refusing.append(f"{where}: {named}, {_fixed(advisory)}")
            details.append(f"{advisory.id} ({package.name} {package.version}): {advisory.description[:200]}")
            if ignore is not None:
                lapsed.append({"id": ignore.id, "until": ignore.until, "reason": ignore.reason})
                details.append(
                    f"the ignore of {ignore.id} lapsed after {ignore.until} (its until): review it again, "
                    "then give it a new date or remove it"
                )
        named_ids = {name for _, advisory in found for name in advisory.names}
        unused = [entry.id for entry in ignores if entry.id not in named_ids]
        for advisory_id in unused:
            ctx.note(f"[[audit-deps.ignore]] {advisory_id} matches no advisory found: remove it")
        outputs: dict[str, Any] = {
            "summary": self._summary(ctx, len(pins), refusing, ignored),
            "service": _service(ctx),
            "audited": len(pins),
            "packages": [f"{name}=={version}" for name, version in pins],
            "advisories": advisories,
            "ignored": ignored,
            "lapsed": lapsed,
            "unused_ignores": unused,
            "lock": ctx.folder.dependency_lock.name,
            "lock_sha256": lock_sha256,
        }
        if refusing:
            ctx.record_progress(outputs)  # `relsafe status --json` shows what refused, and the lock is there
            count = f"{len(refusing)} known {'vulnerability' if len(refusing) == 1 else 'vulnerabilities'}"
            raise Refused(
                f"{count} in the tested dependencies: " + "; ".join(refusing),
                hint="upgrade each to a fixed version (raise the lower bound of the requirement that brings it in), "
                "or, once reviewed, add an [[audit-deps.ignore]] with its id and a reason; then `relsafe abort` "
                "and release again",
                details=details,
            )
        return outputs

    @staticmethod
    def _ignored(package: AuditedPackage, advisory: Advisory, ignore: AuditIgnore) -> dict[str, Any]:
        until = f" until {ignore.until}" if ignore.until else ""
        line = IGNORE_LINE.format(
            id=advisory.id, name=package.name, version=package.version, until=until, reason=ignore.reason
        )
        return {
            "id": advisory.id,
            "ignored_as": ignore.id,
            "package": package.name,
            "version": package.version,
            "reason": ignore.reason,
            "until": ignore.until,
            "line": line,
        }

    @staticmethod
    def _summary(ctx: Context, count: int, refusing: list[str], ignored: list[dict[str, Any]]) -> str:
        if not count:
            return "no dependency to audit; lock written"
        verdict = (
            f"{len(refusing)} known vulnerabilit{'y' if len(refusing) == 1 else 'ies'}"
            if refusing
            else ("no known vulnerability")
        )
        also = f", {len(ignored)} ignored (reviewed)" if ignored else ""
        return f"{count} package(s) audited: {verdict}{also}"
