"""The staging upload's credentials, found as twine finds them: the environment, keyring, ~/.pypirc.

"The environment" is the shell's, as relsafe was started with it: relsafe took
the credentials out of its own (core.withheld), so they are read from there.
They never reach an exception, a log line or the screen.
"""

from __future__ import annotations

import configparser
import os
import stat
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from relsafe.core import withheld
from relsafe.core.errors import StepFailed
from relsafe.core.redaction import DEFAULT_REDACTOR
from relsafe.tools.index.simple_api import is_pypi_host

# The repositories twine knows without a `repository` key in .pypirc.
TWINE_DEFAULT_REPOSITORIES = {
    "pypi": "https://upload.pypi.org/legacy/",
    "testpypi": "https://test.pypi.org/legacy/",
}


TOKEN_HINT = "use a TestPyPI API token with username __token__"


class NoCredentials(StepFailed):
    """Nowhere twine looks holds a login for the URL (a broken .pypirc is another error)."""


@dataclass(frozen=True)
class Credentials:
    """An index login; the password stays out of repr so it cannot leak through a debug print."""

    username: str
    password: str = field(repr=False)
    source: str


def resolve_credentials(
    repository_url: str,
    *,
    pypirc: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Find the login for an upload URL the way twine would, field by field.

    Username: TWINE_USERNAME, then the matching .pypirc section (`__token__` on
    PyPI/TestPyPI, where only tokens work). Password: TWINE_PASSWORD, then
    uv's UV_PUBLISH_PASSWORD or UV_PUBLISH_TOKEN (with UV_PUBLISH_USERNAME, or
    `__token__` for a token), then .pypirc, then keyring.
    """
    environ = withheld.credential_environment() if environ is None else environ
    pypirc = Path.home() / ".pypirc" if pypirc is None else pypirc
    section_name, section = _pypirc_section(pypirc, repository_url)
    username, password = environ.get("TWINE_USERNAME"), environ.get("TWINE_PASSWORD")
    sources = {"TWINE_USERNAME/TWINE_PASSWORD"} if username or password else set()
    if not password and (environ.get("UV_PUBLISH_PASSWORD") or environ.get("UV_PUBLISH_TOKEN")):
        token = environ.get("UV_PUBLISH_TOKEN")
        password = environ.get("UV_PUBLISH_PASSWORD") or token
        username = username or environ.get("UV_PUBLISH_USERNAME") or ("__token__" if token else None)
        sources.add("UV_PUBLISH_*")
    if (not username and section.get("username")) or (not password and section.get("password")):
        username = username or section.get("username")
        password = password or section.get("password")
        sources.add(f"{pypirc} [{section_name}]")
    if not username and is_pypi_host(repository_url):
        username = "__token__"
    if not password:
        username, password = _keyring_login(repository_url, username)
        sources.add("keyring")
    DEFAULT_REDACTOR.add_login(username, password)
    if not username or not password:
        raise NoCredentials(
            f"no credentials for {repository_url}",
            hint=(
                "set TWINE_USERNAME=__token__ and TWINE_PASSWORD to an API token, or add a section "
                f"for this URL to {pypirc} (chmod 600)"
            ),
        )
    return Credentials(username, password, " and ".join(sorted(sources)))


def warn_if_pypirc_exposed(path: Path) -> str | None:
    """A warning when a .pypirc holding a secret can be read by other users of the machine."""
    if os.name != "posix" or not path.is_file():
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return None
    config = _read_pypirc(path)
    if not any(config.get(name, "password", fallback="") for name in config.sections()):
        return None
    return f"{path} holds a password and is readable by other users (mode {mode:o}): run `chmod 600 {path}`"


def _read_pypirc(path: Path) -> configparser.RawConfigParser:
    """The parsed file, every password in it known to redaction before anything can quote it."""
    # Raw: a password may hold "%", which interpolation would reject.
    config = configparser.RawConfigParser()
    try:
        config.read(path, encoding="utf-8")
    except configparser.Error as error:
        raise StepFailed(f"{path} cannot be read: {_pypirc_problem(error)}", hint=PYPIRC_HINT) from None
    except (OSError, UnicodeDecodeError) as error:
        raise StepFailed(f"{path} cannot be read: {type(error).__name__}", hint=PYPIRC_HINT) from None
    for name in config.sections():
        DEFAULT_REDACTOR.add_login(
            config.get(name, "username", fallback=None), config.get(name, "password", fallback=None)
        )
    return config


PYPIRC_HINT = "fix that line of the file (see https://packaging.python.org/specifications/pypirc/)"


def _pypirc_problem(error: configparser.Error) -> str:
    """Where the file is malformed, without its text: configparser quotes the line, which may be a password."""
    if isinstance(error, configparser.MissingSectionHeaderError):
        return f"line {error.lineno} comes before any [section] header"
    if isinstance(error, configparser.ParsingError):
        lines = ", ".join(str(number) for number, _ in error.errors)
        return f"line {lines} is neither a [section] header nor a `key = value` line"
    if isinstance(error, configparser.DuplicateOptionError):
        return f"line {error.lineno}: key {error.option!r} is given twice in [{error.section}]"
    if isinstance(error, configparser.DuplicateSectionError):
        return f"line {error.lineno}: section [{error.section}] is given twice"
    return f"it is not a valid .pypirc ({type(error).__name__})"


def _pypirc_section(path: Path, repository_url: str) -> tuple[str, Mapping[str, str]]:
    """The .pypirc section whose repository is this URL, or an empty one."""
    if not path.is_file():
        return "", {}
    config = _read_pypirc(path)
    wanted = _normalise_url(repository_url)
    for name in config.sections():
        repository = config.get(name, "repository", fallback=TWINE_DEFAULT_REPOSITORIES.get(name, ""))
        if repository and _normalise_url(repository) == wanted:
            return name, config[name]
    return "", {}


def _normalise_url(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


KEYRING_SETTINGS = ("KEYRING_", "PYTHON_KEYRING_")
_settings_lock = threading.Lock()


@contextmanager
def _keyring_settings() -> Iterator[None]:
    """keyring's own variables (PYTHON_KEYRING_BACKEND, KEYRING_PROPERTY_*), which relsafe withheld from its
    environment, back in os.environ while keyring reads them. /proc shows the environment relsafe started
    with, which stays without them, and every child's environment leaves them out (core.environment)."""
    settings = {name: value for name, value in withheld.kept().items() if name.upper().startswith(KEYRING_SETTINGS)}
    with _settings_lock:
        added = [name for name in settings if name not in os.environ]
        os.environ.update({name: settings[name] for name in added})
        try:
            yield
        finally:
            for name in added:
                os.environ.pop(name, None)


def load_keyring() -> None:
    """Import keyring and choose its backend (a quarter of a second: it probes the system's libraries), so that
    the upload's credential lookup, later, asks at once. Asks for no credential; a broken keyring is the
    lookup's to ignore."""
    try:
        with _keyring_settings():
            import keyring

            keyring.get_keyring()
    except Exception:  # ImportError, or a backend's own error: the lookup meets it again and finds nothing
        return


def _keyring_login(repository_url: str, username: str | None) -> tuple[str | None, str | None]:
    """twine's keyring lookup (by URL, and username when known); a broken or absent keyring finds nothing."""
    try:
        import keyring
    except ImportError:
        return username, None
    try:
        with _keyring_settings():
            if username:
                return username, keyring.get_password(repository_url, username)
            credential = keyring.get_credential(repository_url, None)
    except Exception:  # keyring backends raise their own types, and none of them should stop a release
        return username, None
    return (credential.username, credential.password) if credential else (None, None)
