"""The command line: parse, call the library, map errors to exit codes. No release logic lives here.

Heavy modules (git, build, twine, bump-my-version) are imported inside the
commands so that `relsafe --help` and `--version` stay fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer

from relsafe import __version__

app = typer.Typer(
    name="relsafe",
    help="Release a Python package safely: bump, build, test the wheel, stage, gate, tag and push — resumably.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

T = TypeVar("T")
ConfirmOption = Annotated[
    list[str] | None,
    typer.Option("--confirm", metavar="GATE", help="Confirm every item of this gate without a prompt (repeatable)."),
]
YesOption = Annotated[bool, typer.Option("--yes", help="Confirm every gate without a prompt.")]


def _version_callback(value: bool) -> None:
    if value:
        print(f"relsafe {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """relsafe: a release pipeline that can be rehearsed and resumed."""


def _exit(code: int) -> NoReturn:
    raise typer.Exit(code)


@contextmanager
def _reported(log_hint: Callable[[], object | None] = lambda: None) -> Iterator[None]:
    """Turn every RelsafeError into one clear message and its exit code; Ctrl-C into a resumable stop."""
    from relsafe.console import make_console, show_error
    from relsafe.errors import RelsafeError

    try:
        yield
    except RelsafeError as error:
        show_error(make_console(stderr=True), error, getattr(error, "log_path", None) or log_hint())
        _exit(int(error.exit_code))
    except KeyboardInterrupt:
        make_console(stderr=True).print("interrupted; run `relsafe resume` to go on, or `relsafe abort`")
        _exit(130)


def _options(confirm: list[str] | None, yes: bool) -> object:
    from relsafe.console import is_interactive
    from relsafe.prompt import ask_yes_no
    from relsafe.releaser import Options

    return Options(
        confirmed_gates=frozenset(confirm or ()),
        confirm_all=yes,
        ask=ask_yes_no if is_interactive() else None,
    )


def _drive(action: Callable[[object], T]) -> T:
    """Run a pipeline action under the live step view."""
    from relsafe.console import StepView, make_console

    with StepView(make_console()) as view:
        return action(view)


@app.command()
def release(
    part: Annotated[
        str,
        typer.Argument(
            metavar="PART|VERSION",
            help="major, minor, patch, alpha, beta, rc, release, or an explicit PEP 440 version.",
        ),
    ],
    confirm: ConfirmOption = None,
    yes: YesOption = False,
    path: Annotated[Path, typer.Option("--path", "-C", help="The repository (default: the current folder).")] = Path(),
) -> None:
    """Start a release: preflight, bump, build, verify, stage, gates, tag and push."""
    from relsafe import releaser
    from relsafe.console import make_console

    with _reported():
        options = _options(confirm, yes)
        outcome = _drive(lambda view: releaser.start(path, part, view, options))  # type: ignore[arg-type]
        make_console().print(
            f"[green]released {outcome.release.version}[/]: {outcome.release.tag} pushed to {outcome.release.remote}"
        )


@app.command()
def resume(
    confirm: ConfirmOption = None,
    yes: YesOption = False,
    path: Annotated[Path, typer.Option("--path", "-C", help="The repository (default: the current folder).")] = Path(),
) -> None:
    """Continue the release in progress from its first unfinished step."""
    from relsafe import releaser
    from relsafe.console import make_console

    with _reported():
        options = _options(confirm, yes)
        outcome = _drive(lambda view: releaser.resume(path, view, options))  # type: ignore[arg-type]
        make_console().print(f"[green]released {outcome.release.version}[/]: {outcome.release.tag} pushed")


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print the journal record as JSON.")] = False,
    path: Annotated[Path, typer.Option("--path", "-C", help="The repository (default: the current folder).")] = Path(),
) -> None:
    """Show the release in progress, or the last one."""
    from relsafe import releaser
    from relsafe.console import make_console, release_table

    with _reported():
        found = releaser.last_release(path)
        if as_json:
            print(json.dumps(found.to_dict() if found else None, indent=2, sort_keys=True))
            return
        if found is None:
            make_console().print("no release yet")
            return
        make_console().print(release_table(found))


@app.command()
def abort(
    path: Annotated[Path, typer.Option("--path", "-C", help="The repository (default: the current folder).")] = Path(),
) -> None:
    """End the release in progress, undoing what is safely local."""
    from relsafe import releaser
    from relsafe.console import make_console

    with _reported():
        outcome = releaser.abort(path)
        console = make_console()
        console.print(f"aborted the release of {outcome.release.version}")
        for note in outcome.notes:
            console.print(f"- {note}", markup=False)


@app.command()
def demo(
    keep: Annotated[bool, typer.Option("--keep", help="Keep the sample project and print where it is.")] = False,
) -> None:
    """Rehearse a full release of a generated sample package, offline, on the embedded defaults."""
    from relsafe import demo as demo_module
    from relsafe.console import make_console

    with _reported():
        console = make_console()
        result = _drive(lambda view: demo_module.run_demo(view, keep=keep))  # type: ignore[arg-type]
        for line in result.summary():
            console.print(line, markup=False)


def main() -> None:
    try:
        app()
    except SystemExit as exit_:
        sys.exit(exit_.code)
