"""Whether `git tag -s` can sign: asked at preflight, before anything changes, never by signing.

A signature could wait on a passphrase prompt, so nothing is signed here.
What git itself would use is asked instead: `gpg.format` picks the program
(`gpg.openpgp.program` or `gpg.program`, `gpg.x509.program`,
`gpg.ssh.program`) and `user.signingkey` the key. Without `user.signingkey`
git does not take the keyring's default key: it asks for the committer's
identity (`Name <email>`), so that is what must be found. OpenPGP and X.509
keys must be listed as secret keys that can sign and are neither expired nor
revoked; an SSH key must be a file that exists, a literal public key, or
what `gpg.ssh.defaultKeyCommand` gives. Anything else is a reason, one line,
naming the setting.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from relsafe.core import withheld
from relsafe.core.errors import ToolFailed
from relsafe.journal.runlog import RunLog
from relsafe.tools import process

Config = Callable[[str], "str | None"]

FORMATS = ("openpgp", "x509", "ssh")
_SSH_LITERAL = ("key::", "ssh-", "ecdsa-", "sk-")  # a public key written into the setting itself
# --with-colons validity: expired, revoked, invalid, disabled
_UNUSABLE = {"e": "expired", "r": "revoked", "i": "invalid", "d": "disabled"}
_SECRET_RECORDS = {"openpgp": "sec", "x509": "crs"}  # gpg's secret key; gpgsm's certificate with its secret key
_TIMEOUT = 30.0


def signing_problem(config: Config, committer: str | None, log: RunLog) -> str | None:
    """Why `git tag -s` would fail with this git configuration; None when git has a key it can sign with.

    `committer`: git's committer identity, `Name <email>`, which git signs as when `user.signingkey` is unset.
    """
    kind = config("gpg.format") or "openpgp"
    key = config("user.signingkey")
    if kind not in FORMATS:
        return f"sign-tags is on, but gpg.format is {kind!r}; expected one of {', '.join(FORMATS)}"
    if kind == "ssh":
        return _ssh_problem(config, key, log)
    settings = [f"gpg.{kind}.program", *(["gpg.program"] if kind == "openpgp" else [])]  # the second: legacy
    setting = next((name for name in settings if config(name)), settings[0])
    program = config(setting) or ("gpg" if kind == "openpgp" else "gpgsm")
    return _keyring_problem(kind, program, setting, key, committer, log)


def _keyring_problem(
    kind: str, program: str, setting: str, key: str | None, committer: str | None, log: RunLog
) -> str | None:
    if shutil.which(program) is None:
        return f"sign-tags is on, but the signing program {program!r} ({setting}) is not installed"
    wanted = key or committer
    if not wanted:
        return "sign-tags is on, but git has no user.signingkey and no committer identity to sign as"
    command = [program, "--batch", "--with-colons", "--list-secret-keys", wanted]
    try:
        listed = process.run(  # the agent and the real home, as git's own signing gets them (tools.git)
            command,
            log=log,
            check=False,
            timeout=_TIMEOUT,
            what=f"{program} --list-secret-keys",
            credentials=withheld.git_helpers(),
            real_home=True,
        )
    except ToolFailed as error:
        return f"sign-tags is on, but {program} could not list its secret keys: {error.message}"
    records = [line.split(":") for line in listed.output.splitlines()]
    keys = [fields for fields in records if fields[0] == _SECRET_RECORDS[kind] and len(fields) > 11]
    if listed.returncode != 0 or not keys:
        if key:
            return f"sign-tags is on, but {program} holds no secret key {key} (user.signingkey) to sign with"
        return (
            f"sign-tags is on, but {program} holds no secret key for {committer}, the committer git signs as "
            "without user.signingkey; set user.signingkey or import a key"
        )
    unusable = [_unusable(fields) for fields in keys]
    if all(unusable):
        return f"sign-tags is on, but {program}'s key {key or _key_id(keys[0])} cannot sign: {unusable[0]}"
    return None


def _key_id(fields: list[str]) -> str:
    return fields[4] or "(unnamed)"


def _unusable(fields: list[str]) -> str | None:
    """Why a listed key cannot sign, from its colon record: its validity and the whole key's capabilities."""
    validity = _UNUSABLE.get(fields[1])
    if validity:
        return validity
    if "S" not in fields[11]:  # upper case: what the key with its subkeys can still do
        return "it has no usable signing (sub)key"
    return None


def _ssh_problem(config: Config, key: str | None, log: RunLog) -> str | None:
    program = config("gpg.ssh.program") or "ssh-keygen"
    if shutil.which(program) is None:
        return f"sign-tags is on, but the SSH signing program {program!r} (gpg.ssh.program) is not installed"
    if key is not None:
        if key.startswith(_SSH_LITERAL) or Path(key).expanduser().is_file():
            return None
        return f"sign-tags is on, but the SSH signing key {key} does not exist (user.signingkey)"
    command = config("gpg.ssh.defaultKeyCommand")
    if command is None:
        return "sign-tags is on, but no SSH signing key is set (git config user.signingkey)"
    try:
        given = process.run(
            ["sh", "-c", command],
            log=log,
            check=False,
            timeout=_TIMEOUT,
            what=command,
            credentials=withheld.git_helpers(),
            real_home=True,
        )
    except ToolFailed as error:
        return f"sign-tags is on, but gpg.ssh.defaultKeyCommand failed: {error.message}"
    if given.returncode != 0 or not any(line.startswith(_SSH_LITERAL) for line in given.output.splitlines()):
        return f"sign-tags is on, but gpg.ssh.defaultKeyCommand ({command}) gives no key to sign with"
    return None
