"""How a workflow step publishes to PyPI: the publish action or a fork of it, an upload command in any
spelling, a composite action that holds one, an upload credential handed to it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from relsafe.security.workflow.references import is_local, local_path

PUBLISH_ACTION = "pypa/gh-action-pypi-publish"


# The publish action's repository name: a fork (`someone/gh-action-pypi-publish`) or its image
# (`docker://ghcr.io/pypa/gh-action-pypi-publish:release-v1`) uploads the same way.
PUBLISH_ACTION_NAME = "gh-action-pypi-publish"


# What an upload tool reads its login from: a job or step given one of these uploads.
UPLOAD_CREDENTIALS = re.compile(
    r"TWINE_PASSWORD|UV_PUBLISH_TOKEN|UV_PUBLISH_PASSWORD|POETRY_PYPI_TOKEN_\w+|HATCH_INDEX_AUTH|FLIT_PASSWORD"
)


# A secret named for an index upload (`${{ secrets.PYPI_API_TOKEN }}`, `secrets.TWINE_PASSWORD`): handed to a step
# in any variable or input, it is a token that step can upload with, whatever the step runs.
UPLOAD_SECRET = re.compile(
    r"\bsecrets\s*\.\s*\w*(?:PYPI|TWINE|UV_PUBLISH|FLIT_PASSWORD|HATCH_INDEX|POETRY_PYPI)\w*", re.IGNORECASE
)


# An upload endpoint of PyPI or TestPyPI, or the endpoint that trades an OIDC token for an upload token: a step that
# names one in its script, `env:` or `with:` (`curl -F … https://upload.pypi.org/legacy/`, `UV_PUBLISH_URL: …`)
# uploads, whatever tool it runs. Index pages (`pypi.org/simple`) only install.
PYPI_UPLOAD_URL = re.compile(r"\bupload\.pypi\.org\b|\btest\.pypi\.org/legacy\b|\bpypi\.org/_/oidc\b", re.IGNORECASE)


# Actions that log into a container registry: their `password:` input is the registry's, not an index upload's.
REGISTRY_LOGINS = frozenset(
    {"docker/login-action", "azure/docker-login", "redhat-actions/podman-login", "aws-actions/amazon-ecr-login"}
)


# The upload commands of the packaging tools: tool -> its subcommands that upload.
UPLOAD_TOOLS = {
    "twine": frozenset({"upload"}),
    "uv": frozenset({"publish"}),
    "hatch": frozenset({"publish"}),
    "poetry": frozenset({"publish"}),
    "flit": frozenset({"publish"}),
    "pdm": frozenset({"publish"}),
    "maturin": frozenset({"publish", "upload"}),
}


# Options of those tools (and of the launchers before them) that take a value as the next word.
_VALUE_OPTIONS = frozenset(
    {
        "--directory",
        "--project",
        "--config-file",
        "--cache-dir",
        "--color",
        "--python",
        "--python-preference",
        "--allow-insecure-host",
        "--config",
        "--data-dir",
        "--env",
        "--repository",
        "-C",
        "-P",
        "-c",
        "-e",
        "-p",
        "-r",
    }
)


# Where one shell command ends and the next begins: `a && b`, `a; b`, `a | b`, `$(a)`, a new line.
_COMMAND_BREAK = re.compile(r"\|\||&&|[;|&\n()`]|\$\(")


# A tox environment or nox session named for releasing: `tox -e release`, `tox run -e py,publish`, `nox -s publish`,
# `tox -e pypi-upload`; not one that merely mentions it (`tox -e prepare-release-pr` opens a pull request).
PUBLISH_SESSION = re.compile(
    r"\b(?:tox|nox)\b[^\n;&|]*?\s(?:-e|-s|--sessions?)(?:\s+|=)['\"]?(?:[\w.-]+,)*"
    r"(?:(?:test)?pypi[-_])?(?:release|publish|upload|deploy)(?:[-_](?:(?:test)?pypi|test))?(?![\w.-])",
    re.IGNORECASE,
)


def publishes(step: Any, root: Path | None = None) -> bool:
    """Does this step upload a distribution? What makes a job a publish job and a workflow one that publishes."""
    return publishing_reason(step, root) is not None


def publishing_reason(step: Any, root: Path | None = None, _seen: frozenset[Path] = frozenset()) -> str | None:
    """How this step uploads a distribution, in a few words; None when it does not.

    The publish action or a fork of it; an upload command in a `run:` script
    (`uv publish` however it is spelt: split over lines with `\\`, behind
    `pipx run`, `uvx` or `python -m`, with options before the subcommand); a
    tox/nox session named for releasing; PyPI's upload or token-minting endpoint
    named in its script, `env:` or `with:`; an upload credential or a secret
    named for one handed to the step (`TWINE_PASSWORD`, `password:`,
    `${{ secrets.PYPI_TOKEN }}`), whatever it runs; a local composite action
    (`uses: ./.github/actions/x` or `$/.github/actions/x`, read from the
    repository at `root`) with such a step inside.
    """
    if is_publish_action(step):
        return f"uses {step.get('uses')}"
    run = step.get("run")
    if isinstance(run, str):
        found = upload_command(run) or _session(run)
        if found:
            return f"runs `{found}`"
    with_ = step.get("with")
    url = _upload_url(step)
    if url:
        return f"names PyPI's upload endpoint `{url}`"
    if isinstance(with_, dict) and "password" in with_ and not _registry_login(step):
        return f"gives {step.get('uses') or 'the step'} a `password:`"
    credential = handed_credential(step.get("env")) or handed_credential(with_)
    if credential:
        return f"is handed {credential}"
    uses = step.get("uses")
    if root is not None and is_local(uses):
        return _composite_reason(root, str(uses), _seen)
    return None


def is_publish_action(step: Any) -> bool:
    """pypa/gh-action-pypi-publish, a fork of it under any owner, or its container image."""
    uses = step.get("uses")
    if not isinstance(uses, str):
        return False
    if uses.lower().startswith("docker://"):
        return PUBLISH_ACTION_NAME in uses.lower()
    parts = uses.partition("@")[0].lower().split("/")
    return len(parts) >= 2 and parts[1] == PUBLISH_ACTION_NAME


def upload_command(run: str) -> str | None:
    """The upload command a script runs (`uv publish`, `python -m twine upload`), as written without its options;
    None when it runs none. A command split over lines with `\\` counts as one line."""
    text = re.sub(r"\\\r?\n", " ", run)
    for command in _COMMAND_BREAK.split(text):
        words = [word.strip("'\"") for word in command.split() if word != "\\"]
        for index, word in enumerate(words):
            tool = word.rsplit("/", 1)[-1]
            if tool.endswith("setup.py") and "upload" in words[index + 1 :]:
                return "setup.py upload"
            subcommand = _subcommand(words[index + 1 :])
            if subcommand is not None and subcommand in UPLOAD_TOOLS.get(tool, ()):
                return f"{tool} {subcommand}"
    return None


def _subcommand(words: list[str]) -> str | None:
    """The first word that is not an option (nor an option's value)."""
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in _VALUE_OPTIONS:
            skip = True
        elif not word.startswith("-"):
            return word
    return None


def _registry_login(step: Any) -> bool:
    """Is the step a container registry's login action, whose `password:` is that registry's (a secret named for
    PyPI handed to it still counts)?"""
    uses = step.get("uses")
    return isinstance(uses, str) and uses.partition("@")[0].lower() in REGISTRY_LOGINS


def _upload_url(step: Any) -> str | None:
    """The PyPI upload endpoint a step's script, `env:` or `with:` names, if any."""
    texts = [step.get("run")]
    for key in ("env", "with"):
        mapping = step.get(key)
        texts += list(mapping.values()) if isinstance(mapping, dict) else []
    for text in texts:
        found = PYPI_UPLOAD_URL.search(str(text)) if text is not None else None
        if found:
            return found.group(0)
    return None


def _session(run: str) -> str | None:
    found = PUBLISH_SESSION.search(re.sub(r"\\\r?\n", " ", run))
    return " ".join(found.group(0).split()) if found else None


def handed_credential(mapping: Any) -> str | None:
    """`NAME` of an upload credential, or the secret named for an upload, that a step's or job's `env:` or `with:`
    hands over; None when it hands none."""
    if not isinstance(mapping, dict):
        return None
    for name, value in mapping.items():
        if UPLOAD_CREDENTIALS.fullmatch(str(name)):
            return f"`{name}`"
        secret = UPLOAD_SECRET.search(str(value))
        if secret:
            return f"`{''.join(secret.group(0).split())}` (as `{name}`)"
    return None


def holds_upload_credential(env: Any) -> bool:
    return handed_credential(env) is not None


def _composite_reason(root: Path, uses: str, seen: frozenset[Path]) -> str | None:
    """Does the local action a step uses contain a publishing step? Only composite actions can be read."""
    folder = (root / str(local_path(uses))).resolve()
    if folder in seen:
        return None
    for name in ("action.yml", "action.yaml"):
        path = folder / name
        if not path.is_file():
            continue
        try:
            doc = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, YAMLError):
            return None
        runs = doc.get("runs") if isinstance(doc, dict) else None
        steps = runs.get("steps") if isinstance(runs, dict) else None
        for step in steps if isinstance(steps, list) else []:
            inner = publishing_reason(step, root, seen | {folder}) if isinstance(step, dict) else None
            if inner:
                return f"uses {uses}, a composite action whose step {inner}"
        return None
    return None
