"""A HOME of its own for the project's code: no ~/.pypirc, ~/.netrc, ~/.git-credentials, cloud configuration.

Every command relsafe starts, but git (which needs the user's configuration,
credential helpers and signing keys), runs with HOME (and the XDG folders)
pointed at a scratch folder in the run's temp folder. What installs need to
stay fast is pointed at explicitly: pip's and uv's caches, virtualenv's
app-data, rustup's toolchains. The user's own pip.conf, uv.toml and git
configuration are copied into the scratch home when they hold no credential
(an index URL with a login, a token, a password line), and left out when they
do. `[release] scratch-home = false` gives the children the real HOME again.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import sys
import tempfile
import threading
from pathlib import Path

from relsafe.core.credential_shapes import holds_credential

_enabled = True
_homes: dict[str, Path] = {}
_lock = threading.Lock()

_CREDENTIAL_LINE = re.compile(r"(?im)^\s*[\w.-]*(?:password|passwd|token|secret|auth)[\w.-]*\s*[=:]\s*\S")
"""A configuration line that gives a credential a value (`password = …`, `token: …`, `http-auth = …`)."""


def use_scratch_home(enabled: bool) -> None:
    """`[release] scratch-home`: whether the project's code gets a HOME of its own (the default) or the user's."""
    global _enabled
    _enabled = enabled


def environment() -> dict[str, str]:
    """The variables that give a child the scratch home, to put over its environment (none when switched off,
    and on Windows, where programs find the user's folders through the system, not HOME)."""
    if not _enabled or os.name != "posix":
        return {}
    real = Path(os.environ.get("HOME") or Path.home())
    home = _scratch(real)
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "XDG_CACHE_HOME": str(home / ".cache"),
    }
    for name, folder in _shared_folders(real).items():
        if folder is not None:
            env[name] = str(folder)
    return env


def _scratch(real: Path) -> Path:
    """This run's scratch home (one per temp folder: a run's own, tools.leftovers), made on first use."""
    key = tempfile.gettempdir()
    with _lock:
        home = _homes.get(key)
        if home is None or not home.is_dir():
            home = Path(tempfile.mkdtemp(prefix="relsafe-home-"))
            _copy_clean_configuration(real, home)
            _homes[key] = home
        return home


@atexit.register
def _remove_scratch_homes() -> None:
    """A run's scratch home goes with its temp folder; one made outside a run (a library call) goes here."""
    for home in _homes.values():
        shutil.rmtree(home, ignore_errors=True)


def _cache_home(real: Path) -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or real / ".cache")


def _shared_folders(real: Path) -> dict[str, Path | None]:
    """The real folders installs reuse: caches (wheels, built wheels, HTTP responses), virtualenv's seed
    wheels, rustup's toolchains; a variable the shell set already stays as it is."""
    mac = sys.platform == "darwin"
    caches = real / "Library" / "Caches" if mac else _cache_home(real)
    data = Path(os.environ.get("XDG_DATA_HOME") or real / ".local" / "share")
    if mac:
        data = real / "Library" / "Application Support"
    wanted: dict[str, Path | None] = {
        "PIP_CACHE_DIR": caches / "pip",
        "UV_CACHE_DIR": _cache_home(real) / "uv",
        "VIRTUALENV_OVERRIDE_APP_DATA": data / "virtualenv",
        "RUSTUP_HOME": real / ".rustup",
        "CARGO_HOME": _cargo_home(real),
    }
    return {
        name: Path(os.environ[name]) if os.environ.get(name) else folder
        for name, folder in wanted.items()
        if os.environ.get(name) or (folder is not None and (folder.is_dir() or name.endswith("CACHE_DIR")))
    }


def _cargo_home(real: Path) -> Path | None:
    """~/.cargo holds cargo's registry cache, and its credentials file when one logged in: kept only without."""
    folder = real / ".cargo"
    if any((folder / name).exists() for name in ("credentials", "credentials.toml")):
        return None
    return folder


CONFIGURATION = (
    ".config/pip/pip.conf",
    ".pip/pip.conf",
    "Library/Application Support/pip/pip.conf",
    ".config/uv/uv.toml",
    ".gitconfig",
    ".config/git/config",
)
"""The user's own configuration of pip, uv and git, which the project's installs and tests expect."""


def _copy_clean_configuration(real: Path, home: Path) -> None:
    for relative in CONFIGURATION:
        source = real / relative
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        if holds_credential(text) or _CREDENTIAL_LINE.search(text):
            continue
        target = home / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
