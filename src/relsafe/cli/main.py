"""The command line: parse, call the library, map errors to exit codes. No release logic lives here.

Heavy modules (git, build, twine, bump-my-version) are imported inside the
commands so that `relsafe --help` and `--version` stay fast. typer itself
(and the pydantic it validates every typed parameter with, about 0.15 s) is
imported only when the command line needs parsing: the plain command lines
of `status`, `release` and `resume` are recognised without it (`_plain_call`)
and call the same functions with the same values, `relsafe --help` and
`--version` print typer's page without it (relsafe.cli.help_page); anything
else (a command's `--help`, a bad option, a missing argument) goes through
typer as before.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple, TypeVar

from relsafe import __version__
from relsafe.cli.exit_guard import exit_with, output_closed, reported

if TYPE_CHECKING:
    import typer

    from relsafe.app.release import Options
    from relsafe.cli.console import StepView
    from relsafe.journal.records import Release

T = TypeVar("T")
SUMMARY = "Release a Python package safely: bump, build, test the wheel, stage, gate, tag and push — resumably."
VERSION_HELP = "Show the version and exit."
CONFIRM_HELP = "Confirm every item of this gate without a prompt (repeatable)."
YES_HELP = "Confirm every gate without a prompt."


def _version_callback(value: bool) -> None:
    if value:
        print(f"relsafe {__version__}")
        raise typer.Exit()


def _main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help=VERSION_HELP),
    ] = False,
) -> None:
    """relsafe: a release pipeline that can be rehearsed and resumed."""


def _drive(action: Callable[[StepView, Options], T], confirm: list[str] | None = None, yes: bool = False) -> T:
    """Run a pipeline action under the live step view; gates ask through it on a terminal."""
    from relsafe.app.release import Options
    from relsafe.cli.console import StepView, is_interactive, make_console

    with StepView(make_console()) as view:
        options = Options(
            confirmed_gates=frozenset(confirm or ()),
            confirm_all=yes,
            ask=view.ask if is_interactive() else None,
            show=view.show,
        )
        return action(view, options)


def release(
    part: Annotated[
        str,
        typer.Argument(
            metavar="PART|VERSION",
            help="major, minor, patch, alpha, beta, rc, release, or an explicit PEP 440 version.",
        ),
    ],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Rehearse every step for real in a sandbox; leave no trace.")
    ] = False,
    plan: Annotated[bool, typer.Option("--plan", help="Only print what a release would do.")] = False,
    confirm: Annotated[list[str] | None, typer.Option("--confirm", metavar="GATE", help=CONFIRM_HELP)] = None,
    yes: Annotated[bool, typer.Option("--yes", help=YES_HELP)] = False,
    path: Annotated[Path, typer.Option("--path", "-C", help="The repository (default: the current folder).")] = Path(),
) -> None:
    """Start a release: preflight, bump, build, verify, stage, gates, tag and push."""
    from relsafe.app import release as releaser
    from relsafe.cli.console import finished, make_console

    if plan:
        with reported("{interrupted}; nothing was changed"):
            _print_plan(path, part)
        return
    if dry_run:
        from relsafe.app.rehearse import STOPPED

        with reported("{interrupted}: " + STOPPED):
            _rehearse(path, part)
        return
    with reported():
        outcome = _drive(lambda view, options: releaser.start(path, part, view, options), confirm, yes)
        make_console().print(finished(outcome.release))


def _print_plan(path: Path, part: str) -> None:
    from relsafe.app.plan import make_plan

    found = make_plan(path, part)
    for line in found.lines:
        print(line)
    if found.diff:
        print()
        print(found.diff, end="")


def _rehearse(path: Path, part: str) -> None:
    from relsafe.app.rehearse import rehearse
    from relsafe.cli.console import make_console, rehearsal_summary

    outcome = _drive(lambda view, options: rehearse(path, part, view, options))
    make_console().print(rehearsal_summary(outcome.release, outcome.blockers, outcome.warnings, outcome.log_path))
    exit_with(int(outcome.exit_code))


def resume(
    confirm: Annotated[list[str] | None, typer.Option("--confirm", metavar="GATE", help=CONFIRM_HELP)] = None,
    yes: Annotated[bool, typer.Option("--yes", help=YES_HELP)] = False,
    path: Annotated[Path, typer.Option("--path", "-C", help="The repository (default: the current folder).")] = Path(),
) -> None:
    """Continue the release in progress from its first unfinished step."""
    from relsafe.app import release as releaser
    from relsafe.cli.console import finished, make_console

    with reported():
        outcome = _drive(lambda view, options: releaser.resume(path, view, options), confirm, yes)
        make_console().print(finished(outcome.release))


def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the journal record as JSON.")] = False,
    path: Annotated[Path, typer.Option("--path", "-C", help="The repository (default: the current folder).")] = Path(),
) -> None:
    """Show the release in progress, or the last one."""
    with reported():
        _show_status(as_json, path)


def _show_status(as_json: bool, path: Path) -> None:
    from relsafe.cli.console import make_console, manifest_lines, release_diff_lines, release_table

    found = _last_release(path)
    if as_json:
        import json

        print(json.dumps(found.to_dict() if found else None, indent=2, sort_keys=True))
        return
    if found is None:
        make_console().print("no release yet")
        return
    console = make_console()
    console.print(release_table(found))
    for diff_line in release_diff_lines(found):
        console.print(diff_line)
    for line in manifest_lines(found):
        console.print(line)


def _last_release(path: Path) -> Release | None:
    """The journal's last release. A work tree with commits is found with one git command; anything else
    (no repository, a bare one, no commits) takes the full way, which says what is wrong."""
    from relsafe.tools.git import plain_common_dir

    common_dir = plain_common_dir(path)
    if common_dir is None:
        from relsafe.app import release as releaser

        return releaser.last_release(path)
    from relsafe.journal.store import Journal
    from relsafe.steps.table import STEP_NAMES

    return Journal(common_dir, STEP_NAMES).last()


def abort(
    path: Annotated[Path, typer.Option("--path", "-C", help="The repository (default: the current folder).")] = Path(),
) -> None:
    """End the release in progress, undoing what is safely local."""
    from relsafe.app.abort import abort as abort_release
    from relsafe.cli.console import make_console

    with reported():
        outcome = abort_release(path)
        console = make_console()
        console.print(f"aborted {outcome.what}", markup=False)
        for note in outcome.notes:
            console.print(f"- {note}", markup=False)


def init(
    update: Annotated[
        bool, typer.Option("--update", help="Rewrite relsafe's publish workflow for the current release.toml.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", hidden=True)] = False,
    path: Annotated[Path, typer.Option("--path", "-C", help="The repository (default: the current folder).")] = Path(),
) -> None:
    """Write release.toml and the Trusted Publishing workflow, replacing neither; print what to set up on PyPI
    and GitHub."""
    from relsafe.app.init import initialise
    from relsafe.cli.console import make_console, publisher_setup
    from relsafe.core.errors import UsageError

    with reported():
        if force:  # it replaced a project's own workflow and reset release.toml: gone, and said so
            raise UsageError(
                "`relsafe init --force` is gone: init never replaces a workflow or resets release.toml",
                hint="run `relsafe init` (it adds only what release.toml lacks), or `relsafe init --update` to "
                "rewrite the workflow relsafe wrote",
            )
        make_console().print(publisher_setup(initialise(path, update=update)))


def audit(
    paths: Annotated[list[Path] | None, typer.Argument(help="Workflow files or folders.")] = None,
    output_format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    strict: Annotated[bool, typer.Option("--strict", help="Warnings refuse too (exit 4), not only errors.")] = False,
    path: Annotated[Path, typer.Option("--path", "-C", help="The repository (default: the current folder).")] = Path(),
) -> None:
    """Audit GitHub workflows for publishing mistakes (default: .github/workflows/)."""
    from relsafe.app.audit import audit_paths
    from relsafe.cli.console import audit_report, make_console
    from relsafe.core.errors import UsageError

    with reported():
        if output_format not in ("text", "json"):
            raise UsageError(f"option --format: expected 'text' or 'json', got {output_format!r}")
        report = audit_paths(path, paths or [])
        if output_format == "json":
            print(report.to_json())
        else:
            make_console().print(audit_report(report))
        exit_with(4 if report.refuses(strict) else 0)


def inspect(
    files: Annotated[list[Path] | None, typer.Argument(help="Wheels (.whl) and sdists (.tar.gz) to check.")] = None,
    allow: Annotated[
        list[str] | None,
        typer.Option("--allow", metavar="GLOB", help="A reviewed member path the secret scan may pass (repeatable)."),
    ] = None,
    strict: Annotated[bool, typer.Option(help="Refuse twine check's warnings too (--no-strict: only errors).")] = True,
    accept_pth: Annotated[
        list[str] | None,
        typer.Option("--accept-pth", metavar="NAME", help="A reviewed start-up hook (x.pth) to accept (repeatable)."),
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Check built files for secrets, start-up hooks, broken layout or metadata, what PyPI refuses (exit 4 on
    findings)."""
    from relsafe.artifacts.checks import checked_arguments, inspect_files, startup_notes
    from relsafe.cli.console import make_console
    from relsafe.core.errors import UsageError

    with reported():
        if output_format not in ("text", "json"):
            raise UsageError(f"option --format: expected 'text' or 'json', got {output_format!r}")
        paths = checked_arguments(files or [])
        findings = inspect_files(paths, allow=allow or [], strict=strict, accept_pth=accept_pth or [])
        notes = startup_notes(paths, accept_pth or [])
        if output_format == "json":
            import json

            checked = [path.name for path in paths]
            report = {
                "files": checked,
                "clean": not findings,
                "findings": [f.to_dict() for f in findings],
                "notes": notes,
            }
            print(json.dumps(report, indent=2))
        else:
            console = make_console()
            for finding in findings:
                console.print(str(finding))
            for note in notes:
                console.print(f"note: {note}")
            what = f"{len(paths)} file(s): secrets, start-up hooks, layout, metadata, versions, what PyPI refuses"
            console.print(f"{len(findings)} finding(s) in {what}" if findings else f"clean: {what}")
        exit_with(4 if findings else 0)


def diff(
    old: Annotated[str, typer.Argument(metavar="OLD", help="A wheel or sdist file, or NAME==VERSION on the index.")],
    new: Annotated[str, typer.Argument(metavar="NEW", help="A wheel or sdist file, or NAME==VERSION on the index.")],
    index_url: Annotated[
        str, typer.Option("--index-url", metavar="URL", help="The simple index NAME==VERSION is read from.")
    ] = "https://pypi.org/simple/",
    accept_pth: Annotated[
        list[str] | None,
        typer.Option("--accept-pth", metavar="NAME", help="A reviewed start-up hook (x.pth) to accept (repeatable)."),
    ] = None,
    output_format: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """What changed between two releases' files: files, start-up hooks, entry points, dependencies, native files
    (exit 0 whatever changed)."""
    from relsafe.app.diff import compare
    from relsafe.cli.console import diff_line, make_console
    from relsafe.core.errors import UsageError

    with reported():
        if output_format not in ("text", "json"):
            raise UsageError(f"option --format: expected 'text' or 'json', got {output_format!r}")
        report = compare(old, new, index_url=index_url, accept_pth=accept_pth or [])
        if output_format == "json":
            import json

            print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        else:
            console = make_console()
            for line in report.lines(limit=None):
                console.print(diff_line(line))


def demo(
    keep: Annotated[bool, typer.Option("--keep", help="Keep the sample project and print where it is.")] = False,
) -> None:
    """Rehearse a full release of a generated sample package, offline, on the embedded defaults."""
    from relsafe.app import demo as demo_module
    from relsafe.cli.console import make_console

    with reported():
        console = make_console()
        result = _drive(lambda view, _options: demo_module.run_demo(view, keep=keep))
        for line in result.summary():
            console.print(line, markup=False)


COMMANDS = (release, resume, status, abort, init, audit, inspect, diff, demo)


@cache
def _app() -> typer.Typer:
    """The typer application, built on first use: importing typer is most of `relsafe --help`'s time."""
    global typer  # the commands' annotations name it: typer reads them once the module holds it
    import typer

    app = typer.Typer(
        name="relsafe",
        help=SUMMARY,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )
    app.callback()(_main)
    for command in COMMANDS:
        app.command()(command)
    return app


def __getattr__(name: str) -> Any:
    """`relsafe.cli.main.app`, built when first asked for."""
    if name == "app":
        return _app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _Plain(NamedTuple):
    """What a command accepts on the plain way: its flags, its options with one value (the parameter each
    sets) and how many positional arguments it takes, which become its first parameters."""

    command: Callable[..., None]
    flags: dict[str, str]
    options: dict[str, str]
    positional: tuple[str, ...] = ()
    repeated: Mapping[str, str] = MappingProxyType({})


PATH_OPTIONS = {"--path": "path", "-C": "path"}
PLAIN = {
    "status": _Plain(status, {"--json": "as_json"}, PATH_OPTIONS),
    "release": _Plain(
        release,
        {"--dry-run": "dry_run", "--plan": "plan", "--yes": "yes"},
        PATH_OPTIONS,
        ("part",),
        {"--confirm": "confirm"},
    ),
    "resume": _Plain(resume, {"--yes": "yes"}, PATH_OPTIONS, repeated={"--confirm": "confirm"}),
}


def _plain_call(arguments: list[str]) -> tuple[Callable[..., None], dict[str, Any]] | None:
    """The command and its parameters for the command lines people type most (`status`, `release minor`,
    `resume`), known without typer: each flag at most once, each option's value as a separate argument
    or after `=`, never one that looks like an option, the positional arguments not starting with `-`,
    --path a readable folder. None for anything else (help, a bad or unknown option, a missing argument,
    a path typer would refuse), which typer parses and reports as always."""
    plain = PLAIN.get(arguments[0]) if arguments else None
    if plain is None:
        return None
    parameters: dict[str, Any] = {}
    positional: list[str] = []
    rest = arguments[1:]
    while rest:
        token = rest.pop(0)
        name, equals, value = token.partition("=") if token.startswith("--") else (token, "", "")
        if name in plain.flags and not equals and plain.flags[name] not in parameters:
            parameters[plain.flags[name]] = True
        elif name in plain.options or name in plain.repeated:
            if not equals:
                if not rest:
                    return None
                value = rest.pop(0)
            if not value or value.startswith("-"):
                return None
            if name in plain.repeated:
                parameters.setdefault(plain.repeated[name], []).append(value)
            elif plain.options[name] in parameters:
                return None
            else:
                parameters[plain.options[name]] = value
        elif token and not token.startswith("-"):
            positional.append(token)
        else:
            return None
    if len(positional) != len(plain.positional):
        return None
    parameters.update(zip(plain.positional, positional, strict=True))
    path = Path(parameters.get("path", "."))
    if not (path.is_dir() and os.access(path, os.R_OK)):
        return None
    if "path" in parameters:
        parameters["path"] = path
    return plain.command, parameters


RUN_PROJECT_CODE = frozenset({"release", "resume", "abort", "inspect", "demo"})
"""Commands that may run the project's code (its build backend, its tests, git hooks), the rehearsal too."""


def _runs_project_code(arguments: list[str]) -> bool:
    return bool(arguments) and arguments[0] in RUN_PROJECT_CODE and not {"--plan", "--help"} & set(arguments)


def main() -> None:
    if _runs_project_code(sys.argv[1:]):
        from relsafe.tools.handover import withhold_credentials

        withhold_credentials()  # may re-execute relsafe without the shell's credentials in its environment
    try:
        try:
            plain = _plain_call(sys.argv[1:])
            if sys.argv[1:] in (["--help"], ["--version"]):
                _echo(_top_level_page(sys.argv[1]))
            elif plain is None:
                _app()()
            else:
                command, parameters = plain
                command(**parameters)
        finally:
            sys.stdout.flush()  # here, where a reader that went away is told apart from a failure
    except BrokenPipeError:  # the last flush, or a command without the guard (--help, --version)
        output_closed()
    except KeyboardInterrupt:  # before a command's own handling began: as typer ends it
        sys.exit(130)
    except SystemExit as exit_:
        if _click_saw_closed_output():
            output_closed()
        sys.exit(exit_.code)


def _top_level_page(option: str) -> str:
    """`relsafe --version` and `relsafe --help` as typer prints them, without typer (relsafe.cli.help_page)."""
    if option == "--version":
        return f"relsafe {__version__}"
    from relsafe.cli.help_page import render

    return render(SUMMARY, [("--version", VERSION_HELP), ("--help", "Show this message and exit.")], COMMANDS)


def _echo(page: str) -> None:
    """Print as click echoes: a stream that cannot encode the page (PYTHONIOENCODING=ascii) gets its UTF-8,
    where print would end in a traceback."""
    try:
        print(page)
    except UnicodeEncodeError:
        sys.stdout.flush()
        sys.stdout.buffer.write(f"{page}\n".encode())


def _click_saw_closed_output() -> bool:
    """click and typer end `--help` written to a closed pipe with exit 1, a failure; they wrap stdout in
    click's (_)PacifyFlushWrapper when they do."""
    return type(sys.stdout).__name__.lstrip("_") == "PacifyFlushWrapper"
