"""Proof, taken while the tests run, that they imported the wheel and not the source tree.

Carrying the settings out of the repository prevents the usual ways of
importing the source tree; a test that edits sys.path itself, a plugin, or an
editable install left behind could still do it. So a `.pth` file in the test
venv loads a small recorder into every Python process started there (pytest,
its xdist workers, subprocesses of the tests). Inert unless relsafe's
variable names a record file, it notes at exit where each of the wheel's
modules came from; the suite run (suite.py) then refuses any that is
outside the venv's site-packages, naming the module and the place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

RECORD_VARIABLE = "RELSAFE_IMPORT_RECORD"
MODULES_VARIABLE = "RELSAFE_IMPORT_MODULES"
_RECORDER_MODULE = "_relsafe_import_recorder"

_RECORDER = f'''"""Written by relsafe into a test venv: records where the wheel's modules were imported from."""
import atexit
import json
import os
import sys


def _record():
    tops = [name for name in os.environ.get("{MODULES_VARIABLE}", "").split(",") if name]
    found = {{}}
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in tops and module is not None:
            where = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", None) or []), None)
            if where:
                found[name] = os.path.realpath(where)
    with open(os.environ["{RECORD_VARIABLE}"], "a", encoding="utf-8") as stream:
        stream.write(json.dumps({{"pid": os.getpid(), "modules": found}}) + "\\n")


if os.environ.get("{RECORD_VARIABLE}"):
    atexit.register(_record)
'''


@dataclass(frozen=True)
class ForeignImport:
    module: str
    location: str

    def describe(self) -> str:
        return f"{self.module} was imported from {self.location}, not from the installed wheel"


def install_recorder(site_packages: Path) -> None:
    """The recorder module and the .pth line that loads it at every interpreter start in this venv."""
    (site_packages / f"{_RECORDER_MODULE}.py").write_text(_RECORDER, encoding="utf-8")
    (site_packages / f"{_RECORDER_MODULE}.pth").write_text(f"import {_RECORDER_MODULE}\n", encoding="utf-8")


def recorder_environment(record: Path, modules: list[str]) -> dict[str, str]:
    return {RECORD_VARIABLE: str(record), MODULES_VARIABLE: ",".join(modules)}


def read_record(record: Path, site_packages: list[Path]) -> tuple[dict[str, str], list[ForeignImport]]:
    """(module → where it was imported from, those from outside site-packages) across every process that recorded."""
    inside = [folder.resolve() for folder in site_packages]
    imported: dict[str, str] = {}
    foreign: dict[str, ForeignImport] = {}
    lines = record.read_text(encoding="utf-8").splitlines() if record.is_file() else []
    for line in lines:
        for module, location in json.loads(line)["modules"].items():
            imported.setdefault(module, location)
            if not any(Path(location).is_relative_to(folder) for folder in inside):
                foreign.setdefault(module, ForeignImport(module, location))
    return imported, sorted(foreign.values(), key=lambda item: item.module)
