"""Runs the steps in order: check → run → verify → record, and resumes where a release stopped.

Resume trusts the world first: a step whose effect already exists is
recorded done without being repeated. It trusts the journal second: a
finished step whose inputs changed, or whose result no longer holds, makes
resume refuse instead of building on it. And what preflight found about the
world may be stale: before the first step that would change the world, a
resumed release asks the remote and the production index again.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Protocol

from relsafe.core import failpoint
from relsafe.core.errors import ExitCode, Refused, RelsafeError, StepFailed, WaitingAtGate
from relsafe.journal.records import Status, now
from relsafe.journal.store import Journal
from relsafe.steps.context import Context
from relsafe.steps.contract import BLOCKED as CHECK_BLOCKED
from relsafe.steps.contract import DONE as CHECK_DONE
from relsafe.steps.contract import Step
from relsafe.steps.table import load
from relsafe.tools import process


class Observer(Protocol):
    """Receives progress; the console draws it, tests may record it."""

    def planned(self, steps: list[tuple[str, str]]) -> None:
        """Every step of this run, in order (name, title), before the first starts."""

    def step_started(self, name: str, title: str) -> None: ...

    def step_finished(self, name: str, status: str, seconds: float, summary: str) -> None: ...

    def note(self, name: str, text: str) -> None: ...


@dataclass(frozen=True)
class Blocker:
    """What would stop a real release, found by a rehearsal."""

    step: str
    message: str
    exit_code: ExitCode
    details: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, str]:
        return {"step": self.step, "message": self.message, "exit_code": str(int(self.exit_code))}


def _summary(outputs: dict[str, Any]) -> str:
    for key in ("summary", "commit", "tag"):
        if outputs.get(key):
            value = str(outputs[key])
            return value[:12] if key == "commit" else value
    return ""


def _changed(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    return [
        f"{key}: {recorded.get(key)!s:.40} → {current.get(key)!s:.40}"
        for key in sorted(set(recorded) | set(current))
        if recorded.get(key) != current.get(key)
    ]


class Pipeline:
    def __init__(self, ctx: Context, journal: Journal, observer: Observer) -> None:
        """`journal` records the release: here only, as each step starts, records progress, ends or fails."""
        self.ctx = ctx
        self.journal = journal
        self.observer = observer
        self.steps: list[Step] = [load(name, ctx.config) for name in ctx.release.order]
        self.blockers: list[Blocker] = []
        for step in self.steps:  # every record exists before steps may run side by side
            ctx.release.step(step.name)
        # preflight looked at the world in an earlier run, which may be days old
        self.world_to_recheck = ctx.release.step("preflight").status == Status.DONE

    def _save(self) -> None:
        self.journal.save(self.ctx.release)

    def _record_progress(self, name: str, outputs: dict[str, Any]) -> None:
        """A running step's outputs so far, written at once (the step's `ctx.record_progress`)."""
        self.ctx.release.step(name).outputs = dict(outputs)
        self._save()

    def run(self) -> list[Blocker]:
        """Run every unfinished step. A real release raises on its first problem;
        a rehearsal collects blockers and goes on where later steps can.

        Ctrl-C or SIGTERM ends the commands of background work too (the
        groundwork of later steps): nothing of an interrupted run keeps going
        behind it.
        """
        try:
            return self._run_steps()
        except KeyboardInterrupt:
            process.stop_all()
            raise

    def _run_steps(self) -> list[Blocker]:
        self.observer.planned([(step.name, step.title) for step in self.steps])
        self._prepare_later_steps(with_preflight=True)
        for batch in self._batches():
            stop = False
            for step, error in self._run_batch(batch):
                if error is None:
                    if step.name == "preflight":
                        failpoint.hit("after-preflight")
                        self._prepare_later_steps(with_preflight=False)
                    continue
                if not self.ctx.rehearsal:
                    raise error
                self.blockers.append(Blocker(step.name, error.message, error.exit_code, tuple(error.details)))
                stop = stop or step.produces
            if stop:
                break
        return self.blockers

    def _batches(self) -> list[list[Step]]:
        """Consecutive steps marked concurrent run side by side; every other step runs alone."""
        batches: list[list[Step]] = []
        for step in self.steps:
            if step.concurrent and batches and batches[-1][-1].concurrent:
                batches[-1].append(step)
            else:
                batches.append([step])
        return batches

    def _run_batch(self, batch: list[Step]) -> list[tuple[Step, RelsafeError | None]]:
        """Each step's error (or None), in pipeline order, once every step of the batch has ended."""

        def attempt(step: Step) -> RelsafeError | None:
            try:
                self._run_step(step)
            except RelsafeError as error:
                return error
            return None

        if len(batch) == 1:
            return [(batch[0], attempt(batch[0]))]
        with ThreadPoolExecutor(max_workers=len(batch), thread_name_prefix="step") as pool:
            futures = [pool.submit(attempt, step) for step in batch]
            try:
                return [(step, future.result()) for step, future in zip(batch, futures, strict=True)]
            except KeyboardInterrupt:
                process.stop_all()  # leaving the pool waits for its steps: their commands must end now
                raise

    def _prepare_later_steps(self, *, with_preflight: bool) -> None:
        """Let pending steps start their groundwork in the background: beside preflight what touches nothing
        of the repository or the release's folder, the rest once preflight has passed."""
        for step in self.steps:
            if (
                step.prepares_with_preflight is with_preflight
                and self.ctx.release.step(step.name).status != Status.DONE
            ):
                step.prepare(self.ctx)

    def _run_step(self, step: Step) -> None:
        name = step.name
        # each step gets its own view of the context so that notes and progress of concurrent steps stay apart
        ctx = replace(
            self.ctx,
            note=lambda text: self.observer.note(name, text),
            record_progress=lambda outputs: self._record_progress(name, outputs),
        )
        record = ctx.release.step(step.name)
        started = time.monotonic()
        self.observer.step_started(step.name, step.title)
        if record.status == Status.DONE:
            self._confirm_done(step, record.inputs)
            self.observer.step_finished(step.name, Status.DONE, 0.0, "done earlier")
            return
        record.inputs = step.fingerprint(ctx)
        try:
            found = step.check(ctx)
        except RelsafeError as error:
            self._fail(step, error, started)
            raise
        if found.state == CHECK_BLOCKED:
            refusal = Refused(f"{step.name}: " + "; ".join(found.reasons), hint=self._resume_hint())
            self._fail(step, refusal, started, status=Status.BLOCKED)
            raise refusal
        if found.state == CHECK_DONE:
            record.outputs = dict(found.outputs)
            self._finish(step, started, str(found.outputs.get("summary") or "already done"))
            return
        if step.changes_world and self.world_to_recheck:
            self._recheck_world(ctx, step, started)
        record.status, record.started, record.error, record.error_details = Status.RUNNING, now(), None, []
        record.attempts += 1
        self._save()
        try:
            record.outputs = step.run(ctx)
        except RelsafeError as error:
            self._fail(step, error, started)
            raise
        self._finish(step, started, _summary(record.outputs))

    def _recheck_world(self, ctx: Context, step: Step, started: float) -> None:
        """Preflight's questions to the world again, once, before the first step of a resumed release
        that changes it: a problem found there stops the release before anything more is uploaded or
        pushed, and it stays resumable."""
        from relsafe.steps.preflight import recheck_world

        self.world_to_recheck = False
        try:
            recheck_world(ctx, step.name)
        except RelsafeError as error:
            self._fail(step, error, started, status=Status.BLOCKED if isinstance(error, Refused) else Status.FAILED)
            raise

    def _finish(self, step: Step, started: float, summary: str) -> None:
        record = self.ctx.release.step(step.name)
        try:
            step.verify(self.ctx)
        except RelsafeError as error:
            self._fail(step, error, started)
            raise
        record.status, record.ended = Status.DONE, now()
        record.seconds = round(time.monotonic() - started, 3)
        self._save()
        self.observer.step_finished(step.name, Status.DONE, record.seconds, summary)

    def _fail(self, step: Step, error: RelsafeError, started: float, status: Status = Status.FAILED) -> None:
        record = self.ctx.release.step(step.name)
        if isinstance(error, WaitingAtGate):
            status = Status.WAITING
        elif process.interrupted():  # its commands were ended by Ctrl-C or SIGTERM, in another thread
            status = Status.INTERRUPTED
        record.status, record.ended, record.error = status, now(), error.message
        record.error_details = [line for line in error.details if line != error.message]
        record.seconds = round(time.monotonic() - started, 3)
        self._save()
        self.observer.step_finished(step.name, status, record.seconds, error.message)

    def _confirm_done(self, step: Step, recorded: dict[str, Any]) -> None:
        """A step done earlier must still be done, on the same inputs."""
        changes = _changed(recorded, step.fingerprint(self.ctx))
        if changes:
            raise Refused(
                f"{step.name} was done on other inputs than it would have now: " + "; ".join(changes),
                hint="restore what changed, or run `relsafe abort` and release again",
            )
        try:
            step.verify(self.ctx)
        except StepFailed as error:
            raise Refused(
                f"{step.name} was done, but no longer holds: {error.message}",
                hint="restore what changed, or run `relsafe abort` and release again",
            ) from None

    def _resume_hint(self) -> str:
        return "fix it and run `relsafe resume`, or `relsafe abort`"
