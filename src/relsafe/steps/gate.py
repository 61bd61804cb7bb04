"""gate: a checklist a human confirms before the step it guards; who confirmed what, and when, is recorded.

The release diff (what changed since the previous release, recorded by inspect) is shown before the
questions, and the digest of the diff that was shown is recorded with the confirmation."""

from __future__ import annotations

from typing import Any

from relsafe.core.errors import WaitingAtGate
from relsafe.journal.records import GATE_PREFIX, now
from relsafe.model.schema import GateConfig
from relsafe.steps.context import Context
from relsafe.steps.contract import Step


class Gate(Step):
    """One [[gate]] of release.toml; its pipeline name is `gate:<name>`."""

    title = "Gate"

    def __init__(self, gate: GateConfig) -> None:
        self.gate = gate
        self.name = GATE_PREFIX + gate.name  # type: ignore[misc]
        self.title = f"Gate: {gate.name}"  # type: ignore[misc]

    def fingerprint(self, ctx: Context) -> dict[str, Any]:
        return {"items": list(self.gate.items)}

    def run(self, ctx: Context) -> dict[str, Any]:
        record: dict[str, Any] = {"gate": self.gate.name, "items": list(self.gate.items), "when": now()}
        diff = ctx.release.release_diff
        if diff is not None:
            record["release_diff"] = f"sha256:{diff.digest}"
        if ctx.rehearsal:
            ctx.note(f"{len(self.gate.items)} item(s) shown, not asked: " + "; ".join(self.gate.items))
            return {**record, "how": "rehearsed", "who": ctx.git.identity(), "summary": "rehearsed"}
        who = (ctx.real_git or ctx.git).identity()
        if diff is not None:  # what the person confirms the checklist for
            ctx.show(diff.lines())
        if ctx.confirm_all or self.gate.name in ctx.confirmed_gates:
            flag = "--yes" if ctx.confirm_all else f"--confirm {self.gate.name}"
            return {**record, "how": f"confirmed by {flag}", "who": who, "summary": f"confirmed by {flag}"}
        if ctx.ask is None:
            raise WaitingAtGate(
                f"gate {self.gate.name!r} waits for confirmation of {len(self.gate.items)} item(s): "
                + "; ".join(self.gate.items),
                hint=f"confirm on a terminal with `relsafe resume`, or run `relsafe resume --confirm {self.gate.name}`",
            )
        for item in self.gate.items:
            if not ctx.ask(f"[{self.gate.name}] {item}?"):
                raise WaitingAtGate(
                    f"gate {self.gate.name!r}: not confirmed: {item}",
                    hint="take care of it, then `relsafe resume`; or `relsafe abort`",
                )
        return {**record, "how": "answered on the terminal", "who": who, "summary": f"confirmed by {who}"}


def expand_order(steps: tuple[str, ...], gates: tuple[GateConfig, ...]) -> list[str]:
    """The configured steps with each gate placed right before the step it guards (while 'gate' is on)."""
    order: list[str] = []
    for step in steps:
        if step == "gate":
            continue
        if "gate" in steps:
            order += [GATE_PREFIX + gate.name for gate in gates if gate.before == step]
        order.append(step)
    return order
