"""`relsafe --help` without typer: the page typer prints, made from the same strings in half the time.

Importing typer and building its application (a pydantic-checked parameter
for every option of every command) is most of `relsafe --help`'s time; the
top-level page needs only the commands' names and docstrings. The layout
follows click's plain help formatter (the one typer uses with rich markup
off): width from the terminal, at most 78 and at least 50 columns, each
command's first sentence shortened to fit one line. tests/test_cli.py holds
this page to typer's own at several widths.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from collections.abc import Callable, Sequence

USAGE_ARGUMENTS = "[OPTIONS] COMMAND [ARGS]..."
MAX_COLUMNS = 80
MIN_WIDTH = 50
INDENT = "  "
SPACING = 2
FIRST_COLUMN_MAX = 30


def page_width() -> int:
    return max(min(shutil.get_terminal_size().columns, MAX_COLUMNS) - 2, MIN_WIDTH)


def program_name() -> str:
    """How relsafe was started, as click names it: `python -m relsafe` run as a module, else the script's name."""
    package = getattr(sys.modules.get("__main__"), "__package__", None)
    if not package:
        return os.path.basename(sys.argv[0])
    name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    return "python -m " + (package if name == "__main__" else f"{package}.{name}").lstrip(".")


def _usage(width: int) -> list[str]:
    """`Usage: PROGRAM ARGUMENTS`, the arguments wrapped beside the prefix, or under it when that is too long."""
    prefix = f"Usage: {program_name()} "
    if width >= len(prefix) + 20:
        return textwrap.wrap(USAGE_ARGUMENTS, width, initial_indent=prefix, subsequent_indent=" " * len(prefix))
    indent = " " * (len("Usage: ") + 4)
    return [prefix, *textwrap.wrap(USAGE_ARGUMENTS, width, initial_indent=indent, subsequent_indent=indent)]


def short_help(docstring: str, limit: int) -> str:
    """The docstring's first paragraph cut to `limit` characters: at the end of its first sentence if that
    fits, else at a word, with "..." (click's rule, so both ways print the same line)."""
    lines = docstring.strip().splitlines()
    blank = next((position for position, line in enumerate(lines) if not line.strip()), len(lines))
    words = " ".join(lines[:blank]).split()
    if words[:1] == ["\b"]:  # click's "do not rewrap" marker
        words = words[1:]
    length = 0
    for position, word in enumerate(words):
        length += len(word) + (position > 0)
        if length > limit:
            break
        if word.endswith("."):
            return " ".join(words[: position + 1])
        if length == limit and position != len(words) - 1:
            break
    else:
        return " ".join(words)
    length += len("...")
    while position > 0:
        length -= len(words[position]) + 1
        if length <= limit:
            break
        position -= 1
    return " ".join(words[:position]) + "..."


def command_name(command: Callable[..., object]) -> str:
    """The name typer gives a command made from a function: lower case, `_` as `-`."""
    return command.__name__.lower().replace("_", "-")


def _definitions(rows: Sequence[tuple[str, str]], width: int) -> list[str]:
    first_column = min(max(len(name) for name, _ in rows), FIRST_COLUMN_MAX) + SPACING
    text_width = max(width - first_column - 2, 10)
    lines = []
    for name, text in rows:
        if not text:
            lines.append(f"{INDENT}{name}")
            continue
        wrapped = textwrap.wrap(text, text_width, replace_whitespace=False)
        if len(name) <= first_column - SPACING:
            lines.append(f"{INDENT}{name}{' ' * (first_column - len(name))}{wrapped[0]}")
        else:
            lines += [f"{INDENT}{name}", f"{' ' * (first_column + len(INDENT))}{wrapped[0]}"]
        lines += [f"{' ' * (first_column + len(INDENT))}{line}" for line in wrapped[1:]]
    return lines


def render(summary: str, options: Sequence[tuple[str, str]], commands: Sequence[Callable[..., object]]) -> str:
    """The top-level help page: usage, summary, options, then each command with its shortened docstring."""
    width = page_width()
    limit = width - 6 - max(len(command_name(command)) for command in commands)
    rows = [(command_name(command), short_help(command.__doc__ or "", limit)) for command in commands]
    lines = [*_usage(width), "", *textwrap.wrap(summary, width, initial_indent=INDENT, subsequent_indent=INDENT)]
    lines += ["", "Options:", *_definitions(options, width), "", "Commands:", *_definitions(rows, width)]
    return "\n".join(lines)
