"""Questions asked on a terminal (gate checklists)."""

from __future__ import annotations


def ask_yes_no(question: str) -> bool:
    from rich.prompt import Confirm

    return Confirm.ask(question, default=False)
