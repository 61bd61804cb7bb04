"""The environment relsafe's subprocesses inherit: everything but the credentials.

A maintainer's shell often holds TWINE_PASSWORD, a GitHub token or cloud
keys. Without care every command relsafe starts would inherit them: the
project's own tests, its build backend, git hooks, pip. A variable is
withheld from every child when its name says it is (or points at) a
credential, or when its value is shaped like one (a URL with a login in it,
a well-known token). Only the upload gets the staging login, explicitly; a
suite that really needs a variable names it in `[test] env`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping

from relsafe.core.credential_shapes import holds_credential

SECRET_PREFIXES = (
    "TWINE_",
    "PYPI_",
    "KEYRING_",
    "PYTHON_KEYRING_",
    "UV_PUBLISH_",
    "FLIT_",
    "HATCH_INDEX_",
    "POETRY_PYPI_",
    "POETRY_HTTP_BASIC_",
    "GH_",
    "AWS_",
    "AZURE_",
    "GOOGLE_",
    "GCP_",
    "GCLOUD_",
    "CLOUDSDK_",
    "DIGITALOCEAN_",
    "ALIBABA_CLOUD_",
    "ALICLOUD_",
    "OCI_CLI_",
    "IBMCLOUD_",
    "OP_SESSION_",
    "OP_CONNECT_",
    "VAULT_",
    "ACTIONS_ID_TOKEN_",
)
"""Publishing tools' logins, keyring's settings, GitHub's CLI, the cloud providers' SDKs, secret managers."""

SECRET_NAMES = frozenset(
    {
        "KEYRING",
        "NETRC",
        "SSH_AUTH_SOCK",
        "GNUPGHOME",
        "GPG_AGENT_INFO",
        "GIT_ASKPASS",
        "SSH_ASKPASS",
        "SUDO_ASKPASS",
        "DOCKER_CONFIG",
        "KUBECONFIG",
    }
)
"""Names that hold, or point at, a credential: a file of logins, an agent's socket, a program that answers
password prompts, a folder of keys."""

_SECRET_WORDS = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|CREDENTIAL|APIKEY|PRIVATE_?KEY|AUTH(?!OR)|_KEY$|_PAT$")
"""*TOKEN*, *PASSWORD*, *SECRET*, *CREDENTIAL*, *AUTH* (not GIT_AUTHOR_*), *_KEY: names that say a credential."""

_SECRET_VALUE_WORDS = re.compile(r"TOKEN|PASSWORD|PASSWD|SECRET|APIKEY|PRIVATE_?KEY|_KEY$|_PAT$|AUTH$")
"""The names whose value itself is the secret, which redaction must know. TWINE_USERNAME is `__token__`,
which hints quote; SSH_AUTH_SOCK and GNUPGHOME are paths; a URL's login is masked by its shape."""

HELPERS_FOR_GIT = (
    "SSH_AUTH_SOCK",
    "GNUPGHOME",
    "GPG_AGENT_INFO",
    "GIT_ASKPASS",
    "SSH_ASKPASS",
    "GH_TOKEN",
    "GITHUB_TOKEN",
    "GH_ENTERPRISE_TOKEN",
    "GITHUB_ENTERPRISE_TOKEN",
)
"""What git itself may need to reach a remote or sign a tag: the SSH agent, GnuPG's home and agent, the
password-prompt programs, and the tokens GitHub's CLI answers git's credential requests with. Only git's
network and signing commands get them back (see tools.git)."""


def is_secret_name(name: str) -> bool:
    """True for a variable whose name says it may hold, or lead to, a credential."""
    upper = name.upper()
    return upper in SECRET_NAMES or upper.startswith(SECRET_PREFIXES) or bool(_SECRET_WORDS.search(upper))


def is_credential(name: str, value: str) -> bool:
    """True for a variable no child that runs the project's code may see: by its name, or by its value (a URL
    with a login in it, a token of a known shape), whatever it is called (a PIP_INDEX_URL naming a user and a
    password before the host)."""
    return is_secret_name(name) or holds_credential(value)


def withheld(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of the environment (default: this process's) that are credentials, with their values."""
    source = os.environ if environ is None else environ
    return {name: value for name, value in source.items() if is_credential(name, value)}


def scrubbed(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of the environment (default: this process's) without any variable that may hold a credential."""
    source = os.environ if environ is None else environ
    return {name: value for name, value in source.items() if not is_credential(name, value)}


def secret_values(environ: Mapping[str, str] | None = None) -> Iterator[str]:
    """The values of the variables whose value is a secret (*_TOKEN, *_PASSWORD, *_KEY…): what redaction must
    know. Not every withheld variable is one: TWINE_USERNAME is `__token__`, TWINE_REPOSITORY_URL a URL the
    screen must show, SSH_AUTH_SOCK a path; a login inside a URL is masked by its shape wherever it appears."""
    for name, value in (os.environ if environ is None else environ).items():
        if value and _SECRET_VALUE_WORDS.search(name.upper()):
            yield value
