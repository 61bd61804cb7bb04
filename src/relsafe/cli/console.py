"""Everything relsafe shows: the live step table, prompts, results, errors.

On a terminal the steps are a live rich table with spinners and elapsed
times; off a terminal (CI, pipes) each event is one plain line. rich
already honours NO_COLOR.

Text from tools, users and configuration is shown literally: the consoles
interpret neither markup nor emoji codes, so `[publish]` or `:warning:` in a
message stays as written, and relsafe's own styling is always a rich Text.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from relsafe.core.redaction import DEFAULT_REDACTOR

if TYPE_CHECKING:
    from collections.abc import Sequence

    from rich.live import Live

    from relsafe.app.init import Initialised
    from relsafe.core.errors import RelsafeError
    from relsafe.engine.pipeline import Blocker
    from relsafe.journal.records import Release
    from relsafe.model.publish_workflow import PublisherSetup
    from relsafe.security.workflow.report import AuditReport, Finding

ICONS = {
    "done": ("✓", "green"),
    "failed": ("✗", "red"),
    "blocked": ("✗", "red"),
    "waiting": ("⏸", "yellow"),
    "running": ("…", "cyan"),
    "pending": ("·", "dim"),
    "rehearsed": ("✓", "green"),
    "skipped": ("-", "dim"),
    "interrupted": ("⏹", "yellow"),
}


class _RedactedStream:
    """A terminal stream whose every write is redacted: the screen's last guard, after the errors' own."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(DEFAULT_REDACTOR(text))

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding: what rich asks of a stream
        return getattr(self._stream, name)


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """The reader went away: end as every relsafe command does then (rich's own way exits 1, a failure)."""
        from relsafe.cli.exit_guard import output_closed

        self.quiet = True
        output_closed()


UNWRAPPED = 10_000
"""The width of a console that is not a terminal: a pipe or a CI log keeps each line whole, for grep."""


def make_console(stderr: bool = False) -> Console:
    """A console that prints strings as they are (no markup, no emoji codes, no highlighting), redacted; off a
    terminal, tables are not wrapped at 80 columns either."""
    stream = cast("TextIO", _RedactedStream(sys.stderr if stderr else sys.stdout))
    console = _Console(file=stream, highlight=False, markup=False, emoji=False, soft_wrap=True)
    if not console.is_terminal:
        console.width = UNWRAPPED
    return console


@dataclass
class _Row:
    name: str
    title: str
    status: str = "pending"
    started: float = 0.0
    seconds: float | None = None
    summary: str = ""
    notes: list[str] = field(default_factory=list)
    spinner: Any = None  # the running step's one rich Spinner: it turns only if the same one is drawn each time


class StepView:
    """The pipeline Observer for humans: a live table on a TTY, plain lines elsewhere.

    The table lists every step of the release from the start (those still to
    come dim, `pending`), so that one sees how much is left.
    """

    def __init__(self, console: Console, steps: list[tuple[str, str]] | None = None) -> None:
        self.console = console
        self.rows: dict[str, _Row] = {}
        self.planned(steps or [])
        self.live: Live | None = None

    def __enter__(self) -> StepView:
        if self.console.is_terminal:
            self._start_live()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.update(self._render(), refresh=True)
            self.live.__exit__(None, None, None)
            self.live = None

    def _start_live(self) -> None:
        from rich.live import Live

        self.live = Live(console=self.console, refresh_per_second=8, get_renderable=self._render)
        self.live.start(refresh=True)

    def planned(self, steps: Sequence[tuple[str, str]]) -> None:
        """The steps this run will go through, in order: listed as pending until they start."""
        for name, title in steps:
            self.rows.setdefault(name, _Row(name, title))

    def _render(self) -> Table:
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("", width=2)
        table.add_column("step")
        table.add_column("time", justify="right")
        table.add_column("")
        for row in self.rows.values():
            icon: Any
            if row.status == "running":
                icon = row.spinner
                elapsed = self.console.get_time() - row.started
            else:
                symbol, style = ICONS.get(row.status, ("?", ""))
                icon = Text(symbol, style=style)
                elapsed = row.seconds if row.seconds is not None else 0.0
            if row.status == "pending":
                table.add_row(icon, Text(row.title or row.name, style="dim"), "", Text("pending", style="dim"))
                continue
            detail = row.notes[-1] if row.status == "running" and row.notes else row.summary
            table.add_row(
                icon, Text(row.title or row.name), f"{elapsed:.1f}s", Text(detail, style="dim", overflow="ellipsis")
            )
        return table

    def ask(self, question: str) -> bool:
        """A y/n question. The live table is taken off the screen first and drawn anew below the answer: a
        table stopped and started again would redraw over the prompt's lines and leave pieces of itself."""
        from rich.prompt import Confirm

        live = self.live
        if live is not None:
            live.transient = True
            live.stop()
            self.live = None
        try:
            return Confirm.ask(Text(question), default=False, console=self.console)  # a str would be markup
        finally:
            if live is not None:
                self._start_live()

    def _plain(self, text: str) -> None:
        if self.live is None:
            self.console.print(text, markup=False)

    def step_started(self, name: str, title: str) -> None:
        from rich.spinner import Spinner  # only the live table spins: not worth its import to `relsafe status`

        row = self.rows.setdefault(name, _Row(name, title))
        row.title, row.status, row.started = title, "running", self.console.get_time()
        row.spinner = Spinner("dots", style="cyan")
        self._plain(f"… {title}")

    def step_finished(self, name: str, status: str, seconds: float, summary: str) -> None:
        row = self.rows.setdefault(name, _Row(name, name))
        row.status, row.seconds, row.summary = status, seconds, summary
        symbol = ICONS.get(status, ("?", ""))[0]
        self._plain(f"{symbol} {row.title} [{status}, {seconds:.1f}s]" + (f" {summary}" if summary else ""))

    def note(self, name: str, text: str) -> None:
        row = self.rows.setdefault(name, _Row(name, name))
        row.notes.append(text)
        self._plain(f"  {name}: {text}")

    def show(self, lines: list[str]) -> None:
        """A block of lines for the person running the release (the release diff before a gate's questions):
        above the live table on a terminal, as they are elsewhere."""
        console = self.live.console if self.live is not None else self.console
        for line in lines:
            console.print(diff_line(line))


DIFF_STYLES = {"refused:": "bold red", "warning:": "yellow", "accepted:": "cyan", "info:": "", "release diff": "bold"}


def diff_line(line: str) -> Text:
    """One line of the release diff, styled by its severity."""
    start = line.lstrip()
    style = next((style for prefix, style in DIFF_STYLES.items() if start.startswith(prefix)), "")
    return Text(line, style=style)


def release_diff_lines(release: Release, *, everything: bool = False) -> list[Text]:
    """The release diff inspect recorded: its summary, what it refused, warned of and accepted (`everything`:
    the files too, a few of each kind); none when inspect has not compared."""
    diff = release.release_diff
    if diff is None:
        return []
    severities = ("refused", "warning", "accepted", "info") if everything else ("refused", "warning", "accepted")
    return [diff_line(line) for line in diff.lines(severities=severities)]


def show_error(console: Console, error: RelsafeError, log_path: Path | None) -> None:
    """What failed, the telling lines of the tool's output, the log, and how to go on: never a traceback."""
    style = "bold red" if error.label == "error" else "bold yellow"
    console.print(Text.assemble((f"{error.label}:", style), " ", error.message))
    for line in error.details:
        console.print(Text.assemble("  ", ("│", "dim"), " ", line))
    log_line = full_log(log_path)
    if log_line is not None:
        console.print(Text("  ").append_text(log_line))
    if error.hint:
        console.print(Text.assemble(("hint:", "yellow"), " ", error.hint))


def full_log(log_path: Path | None) -> Text | None:
    """`full log: PATH`, where the whole output of every command is, when there is a log."""
    if log_path is None or not log_path.exists():
        return None
    return Text(f"full log: {log_path}", style="dim")


def finished(release: Release) -> Text:
    """The last line of a release: what became public, if anything did, and what a person must still do."""
    if "push" in release.order:
        line = Text.assemble(
            (f"released {release.version}", "bold green"), f": {release.tag} pushed to {release.remote}"
        )
        manual = release.manual_step
        if manual:
            line.append("; now ")
            line.append(manual, "bold yellow")
        unproven = release.unproven
        if unproven:
            line.append("; ")
            line.append(str(unproven), "yellow")
        approval = release.steps["push"].outputs.get("next_step") if "push" in release.steps else None
        if approval:
            line.append(f"\nnext: {approval}")
        return line
    return Text.assemble(
        (f"finished {' → '.join(release.order)} for {release.version}", "bold green"),
        ": nothing was pushed ('push' is not in [release] steps)",
    )


def release_table(release: Release) -> Group:
    """`relsafe status`: each step with its state, attempts, times and key outputs, then any manual step left."""
    from relsafe.journal.records import MANUAL_STEP

    kind = "rehearsal" if release.rehearsal else "release"
    header = Text.assemble(
        (f"{kind} {release.from_label} → {release.version}", "bold"),
        f"  tag {release.tag}  status ",
        (release.status, ICONS.get(release.status, ("", "bold"))[1] or "bold"),
        f"  started {release.created}",
    )
    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in ("step", "state", "attempts", "time", "outputs"):
        table.add_column(column)
    for name in release.order:
        record = release.steps.get(name)
        if record is None:
            table.add_row(Text(name), "pending", "0", "", "")
            continue
        seconds = f"{record.seconds:.1f}s" if record.seconds is not None else ""
        shown = {key: value for key, value in record.outputs.items() if key not in (MANUAL_STEP, "manifest")}
        outputs = describe_outputs(shown) or "\n".join([record.error or "", *("  " + d for d in record.error_details)])
        table.add_row(Text(name), Text(record.status), str(record.attempts), seconds, Text(outputs.strip("\n")))
    parts: list[Text | Table] = [header, table]
    manual = release.manual_step
    if manual:
        parts.append(Text.assemble(("remaining manual step: ", "bold yellow"), manual))
    return Group(*parts)


def rehearsal_summary(
    release: Release, blockers: Sequence[Blocker], warnings: Sequence[str], log_path: Path | None
) -> Group:
    """The end of a rehearsal: would a real release pass, and if not, everything that would stop it;
    each blocker ends with its tool's telling lines, and the log holds the rest."""
    parts: list[Any] = [*release_diff_lines(release, everything=True)]
    for warning in warnings:
        parts.append(Text(f"warning: {warning}", style="yellow"))
    if not blockers:
        parts.append(
            Text(f"rehearsal passed: a real release of {release.version} would go through", style="bold green")
        )
    else:
        parts.append(_blocker_table(release, blockers))
    log_line = full_log(log_path)
    if log_line is not None:
        parts.append(log_line)
    return Group(*parts)


def _blocker_table(release: Release, blockers: Sequence[Blocker]) -> Table:
    """One row per blocker: its message, then every detail line (already cut to what tells, last line kept)."""
    table = Table(
        # a Text title keeps its own style: rich applies title_style only to a str
        title=Text(f"{len(blockers)} blocker(s): a real release of {release.version} would stop", style="bold red"),
        box=None,
        header_style="bold",
        title_justify="left",
    )
    table.add_column("step")
    table.add_column("exit")
    table.add_column("what")
    for blocker in blockers:
        what = "\n".join([blocker.message, *("  " + d for d in blocker.details if d != blocker.message)])
        table.add_row(Text(blocker.step), str(int(blocker.exit_code)), Text(what))
    return table


SEVERITY_STYLES = {"error": "bold red", "warning": "yellow", "info": "dim"}


def audit_report(report: AuditReport) -> Group:
    """Each finding as `file:line  severity  rule`, what is wrong and how to fix it."""
    parts: list[Any] = []
    for finding in report.findings:
        parts.append(
            Text.assemble(
                (f"{finding.path}:{finding.line}", "bold"),
                "  ",
                (finding.severity, SEVERITY_STYLES.get(finding.severity, "")),
                f"  {finding.rule}" + _source(finding),
            )
        )
        parts.append(Text(f"    {finding.message}"))
        parts.append(Text(f"    fix: {finding.fix}", style="dim"))
    counts = {level: sum(f.severity == level for f in report.findings) for level in SEVERITY_STYLES}
    summary = ", ".join(f"{count} {level}(s)" for level, count in counts.items())
    style = "bold red" if report.has_errors else "bold green"
    parts.append(Text(f"{summary}; {report.zizmor_status}", style=style))
    return Group(*parts)


def _source(finding: Finding) -> str:
    """Who reports the finding, when not relsafe alone: zizmor, or both under their two ids."""
    if finding.source == "zizmor":
        return " (zizmor)"
    return f" (relsafe, and zizmor as {finding.also})" if finding.also else ""


def publisher_setup(result: Initialised) -> Group:
    """What `relsafe init` read, wrote, added and kept, and what the maintainer must now set up on PyPI and
    GitHub."""
    from relsafe.model.publish_workflow import FOREIGN_WORKFLOW_HINT

    done, setup = result.done, result.setup
    parts: list[Any] = [Text(f"read {line}") for line in result.read]
    parts.extend(Text(f"wrote {path}") for path in done.written)
    for path, lines in done.added.items():
        parts.append(Text(f"added to {path} (your settings kept): {'; '.join(lines)}"))
    for path in done.kept:
        if path.suffix == ".toml":
            why = "your settings were used, and it lacks none that init found"
        elif result.foreign:
            why = (
                f"it is the project's own workflow, not relsafe's ({result.drift}), and init never rewrites it; "
                f"{FOREIGN_WORKFLOW_HINT}"
            )
        else:
            why = (
                f"it is not relsafe's workflow for release.toml ({result.drift}), so a release refuses it; "
                "`relsafe init --update` rewrites it"
            )
        parts.append(Text(f"kept {path}: {why}", style="yellow"))
    if result.audit_only:
        parts.append(
            Text(
                f"kept {result.workflow}, the project's own publish workflow ([publish] workflow-check = "
                '"audit-only"): relsafe audits it before every release but cannot prove what it publishes',
                style="yellow",
            )
        )
    if not parts:
        parts.append(Text(f"{result.workflow} is already relsafe's workflow for release.toml"))
    for other in result.others:
        parts.append(
            Text(
                f"also publishes to PyPI: {other}, a second path to PyPI, which a release refuses: PyPI trusts one "
                f"workflow file ({result.workflow}); remove the upload from {other} (init never changes it), so "
                "that every release goes through the checked tag",
                style="yellow",
            )
        )
    if setup is None:
        if done.written:
            parts.append(Text(f"commit {result.workflow}; the PyPI publisher registered for it stays as it is"))
        return Group(*parts)
    if setup.underived:
        parts.append(Text(f"\nnot derived: {setup.underived}", style="yellow"))
    parts.append(Text(f"\n1. On PyPI, {_publisher_action(setup)}:", style="bold"))
    table = Table(box=None, show_header=False, pad_edge=False)
    for label, value in setup.pypi_fields:
        table.add_row(Text(f"   {label}"), Text(value))
    parts.append(table)
    parts.append(Text("\n2. On GitHub:", style="bold"))
    parts.extend(Text(f"   - {step}") for step in setup.github_steps)
    parts.append(Text("\n3. Revoke any old PyPI API tokens for this project: the workflow needs none.", style="bold"))
    return Group(*parts)


def _publisher_action(setup: PublisherSetup) -> str:
    """A project the index knows gets a trusted publisher in its own settings; a new one a pending publisher."""
    if setup.known:
        return (
            f"{setup.project} exists: add a trusted publisher in the project's Publishing settings ({setup.pypi_url})"
        )
    if setup.known is None:
        return (
            f"(the index could not say whether {setup.project} exists) if it does, add a trusted publisher in the "
            f"project's Publishing settings ({setup.project_publishing_url}); if not, add a pending publisher "
            f"({setup.pypi_url}) with the project name"
        )
    return f"{setup.project} is not there yet: add a pending publisher ({setup.pypi_url})"


def manifest_lines(release: Release) -> list[str]:
    """The manifest the release's tag carries, to print line by line after the table: a hash cut to fit a
    column could not be checked."""
    carried = release.tag_manifest
    if not carried:
        return []
    return [f"manifest carried by the tag {release.tag}:", *(f"  {line}" for line in carried)]


def describe_outputs(outputs: dict[str, Any]) -> str:
    parts: list[str] = []
    for key, value in outputs.items():
        if key == "artifacts" and isinstance(value, list):
            parts.extend(f"{a['name']} sha256:{a['sha256'][:12]}" for a in value)
        elif isinstance(value, (str, int, float)) and key != "summary":
            text = str(value)
            parts.append(f"{key}={text[:12] if key == 'commit' else text}")
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            parts.append(f"{key}={', '.join(value)}")
    return "  ".join(parts)


def is_interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()
