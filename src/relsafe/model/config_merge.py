"""Settings added to a configuration the maintainer already has, never one of theirs replaced.

`relsafe init` on a project that has a release.toml (or [tool.relsafe] in
pyproject.toml) adds only the keys it has a value for and the file lacks;
tomlkit keeps every comment, value and the order as they were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import AoT, Table

from relsafe.core.errors import ConfigError


def merge_settings(
    text: str,
    settings: Mapping[str, Mapping[str, Any]],
    defaults: Mapping[tuple[str, str], Any],
    *,
    under: Sequence[str] = (),
    name: str = "release.toml",
    notes: Mapping[tuple[str, str], str] | None = None,
) -> tuple[str, list[str]]:
    """`text` with each setting that differs from its default and that the file does not set added, and the
    added lines as `[table] key = value`. `under` is where the tables live (("tool", "relsafe") in
    pyproject.toml); `notes` a comment for an added key (where its value was read)."""
    try:
        document = tomlkit.parse(text)
    except TOMLKitError as error:
        raise ConfigError(f"{name}: not valid TOML: {error}") from None
    container: Any = document
    for key in under:
        container = container[key]
    added: list[str] = []
    for table_name, keys in settings.items():
        for key, value in keys.items():
            if value == defaults.get((table_name, key)):
                continue
            table = container.get(table_name)
            if isinstance(table, AoT) or (table is not None and not isinstance(table, (Table, dict))):
                continue  # not a table of settings: the validator names it
            if table is not None and key in table:
                continue  # the maintainer's value stays
            if table is None:
                container.add(table_name, tomlkit.table())
                table = container[table_name]
            item = tomlkit.item(value)
            note = (notes or {}).get((table_name, key))
            if note:
                item.comment(f"added by relsafe init: {note}")
            table.add(key, item)
            added.append(f"[{table_name}] {key} = {tomlkit.item(value).as_string()}")
    return (tomlkit.dumps(document) if added else text), added
