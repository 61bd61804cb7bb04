"""PEP 735 dependency groups: named lists of requirements in pyproject.toml's [dependency-groups].

Resolved here rather than with a library because the format is small:
each group is a list of PEP 508 strings and `{include-group = "name"}`
tables. Names compare normalized, like project names. Only the groups asked
for (and what they include) are validated, as the PEP allows, so a broken
group the release does not use cannot block it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from relsafe.core.errors import ConfigError

TABLE = "dependency-groups"
VALID_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)


class DependencyGroups:
    """The [dependency-groups] table of one pyproject.toml; `where` names that file in messages."""

    def __init__(self, table: Any, where: str = "pyproject.toml") -> None:
        self.where = where
        if table is None:
            table = {}
        if not isinstance(table, Mapping):
            raise self._error(TABLE, "expected a table of groups")
        self._groups: dict[str, tuple[str, Any]] = {}  # normalized name -> (name as written, entries)
        for name, entries in table.items():
            key = canonicalize_name(name)
            if key in self._groups:
                raise self._error(
                    TABLE, f"groups {self._groups[key][0]!r} and {name!r} are the same name once normalized"
                )
            self._groups[key] = (name, entries)

    @classmethod
    def of(cls, pyproject: Mapping[str, Any], where: str = "pyproject.toml") -> DependencyGroups:
        return cls(pyproject.get(TABLE), where)

    @property
    def names(self) -> list[str]:
        """The groups as the file spells them, in its order."""
        return [name for name, _entries in self._groups.values()]

    def __contains__(self, name: str) -> bool:
        return canonicalize_name(name) in self._groups

    def describe(self) -> str:
        """What exists, for a message about a group that does not."""
        if not self._groups:
            return f"{self.where} has no [{TABLE}]"
        return f"{self.where} [{TABLE}] has: {', '.join(self.names)}"

    def requirements(self, names: Iterable[str]) -> list[str]:
        """The requirement strings of these groups, includes expanded, each once, in the order written."""
        found: list[str] = []
        for name in names:
            for requirement in self._expand(name, ()):
                if requirement not in found:
                    found.append(requirement)
        return found

    def _expand(self, name: str, chain: tuple[str, ...]) -> list[str]:
        key = canonicalize_name(name)
        if key not in self._groups:
            if not chain:
                raise self._error(TABLE, f"no group {name!r}; {self.describe()}")
            raise self._error(f"{TABLE}.{chain[-1]}", f"includes {name!r}, which is not a group; {self.describe()}")
        written, entries = self._groups[key]
        if key in map(canonicalize_name, chain):
            cycle = " -> ".join((*chain[list(map(canonicalize_name, chain)).index(key) :], written))
            raise self._error(f"{TABLE}.{written}", f"include cycle {cycle}")
        where = f"{TABLE}.{written}"
        if not VALID_NAME.match(written):
            raise self._error(where, "expected a group name of letters, digits, '-', '_' and '.'")
        if not isinstance(entries, list):
            raise self._error(where, f"expected a list of requirements and include-group tables, got {entries!r}")
        found: list[str] = []
        for entry in entries:
            if isinstance(entry, str):
                try:
                    Requirement(entry)
                except InvalidRequirement as error:
                    raise self._error(where, f"{entry!r} is not a valid requirement: {error}") from None
                found.append(entry)
            elif (
                isinstance(entry, Mapping)
                and set(entry) == {"include-group"}
                and isinstance(entry["include-group"], str)
            ):
                found.extend(self._expand(entry["include-group"], (*chain, written)))
            else:
                raise self._error(where, f'expected a requirement string or {{include-group = "name"}}, got {entry!r}')
        return found

    def _error(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"{self.where}: {key}: {message}")
