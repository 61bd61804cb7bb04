"""The optional watch step compares what production serves with what was tested; `relsafe init` sets up
Trusted Publishing from the GitHub remote."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from relsafe.runlog import RunLog
from relsafe.sample import SampleProject
from relsafe.security.redaction import Redactor
from relsafe.steps.watch import record_differences
from relsafe.tools.index import upload
from relsafe.tools.localindex import LocalIndex
from tests.conftest import RunRelsafe, git, relsafe_env


def with_watch(sample: SampleProject, production: LocalIndex) -> None:
    """Add watch to the steps and make a second local index play production."""
    text = (sample.root / "release.toml").read_text(encoding="utf-8")
    head, _, _ = text.partition("[production]")
    text = head + f'[production]\nindex-url = "{production.index_url}"\n'
    text += (
        '\n[release]\nsteps = ["preflight", "bump", "build", "inspect", "smoke", "stage", "verify-stage", '
        '"gate", "tag", "push", "watch"]\n\n[watch]\ntimeout = 60\ninterval = 0.5\n'
    )
    (sample.root / "release.toml").write_text(text, encoding="utf-8")
    git(sample.root, "commit", "-qam", "watch production")
    git(sample.root, "push", "-q", "origin", "main")


def built_wheel(sample: SampleProject) -> Path:
    return next((sample.root / ".git" / "relsafe" / "releases").glob("*/dist/*.whl"))


def rewrite_member(wheel: Path, destination: Path, member_suffix: str, extra: bytes) -> Path:
    """The same wheel with one file's content changed, RECORD updated as a build would write it."""
    import base64
    import hashlib

    target = destination / wheel.name
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out:
        contents = {name: source.read(name) for name in source.namelist()}
        changed = next(name for name in contents if name.endswith(member_suffix))
        contents[changed] += extra
        digest = base64.urlsafe_b64encode(hashlib.sha256(contents[changed]).digest()).rstrip(b"=").decode()
        record = next(name for name in contents if name.endswith(".dist-info/RECORD"))
        lines = [
            f"{changed},sha256={digest},{len(contents[changed])}" if line.startswith(changed + ",") else line
            for line in contents[record].decode().splitlines()
        ]
        contents[record] = ("\n".join(lines) + "\n").encode()
        for name, data in contents.items():
            out.writestr(name, data)
    return target


@pytest.mark.slow
def test_watch_times_out_resumably_then_passes_when_the_workflow_publishes_the_same_files(
    sample: SampleProject, tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    with LocalIndex(tmp_path / "production") as production:
        with_watch(sample, production)
        text = (sample.root / "release.toml").read_text().replace("timeout = 60", "timeout = 1")
        (sample.root / "release.toml").write_text(text)
        git(sample.root, "commit", "-qam", "short watch")
        git(sample.root, "push", "-q", "origin", "main")
        waited = run_relsafe("release", "minor", cwd=sample.root)
        assert waited.returncode == 1, waited.stdout + waited.stderr
        assert "did not appear" in waited.stderr
        # the workflow rebuilds and uploads; here, the identical files
        log = RunLog(None, Redactor())
        for path in built_wheel(sample).parent.iterdir():
            upload(path, repository_url=production.upload_url, credentials=production.credentials, log=log)
        resumed = run_relsafe("resume", cwd=sample.root)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "matches the tested wheel" in resumed.stdout


@pytest.mark.slow
def test_watch_reports_a_published_wheel_with_one_changed_file(
    sample: SampleProject, tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    with LocalIndex(tmp_path / "production") as production:
        with_watch(sample, production)
        text = (sample.root / "release.toml").read_text().replace("timeout = 60", "timeout = 1")
        (sample.root / "release.toml").write_text(text)
        git(sample.root, "commit", "-qam", "short watch")
        git(sample.root, "push", "-q", "origin", "main")
        assert run_relsafe("release", "minor", cwd=sample.root).returncode == 1
        tampered = rewrite_member(built_wheel(sample), tmp_path, "__init__.py", b"\nEVIL = True\n")
        upload(
            tampered,
            repository_url=production.upload_url,
            credentials=production.credentials,
            log=RunLog(None, Redactor()),
        )
        resumed = run_relsafe("resume", cwd=sample.root)
        output = resumed.stdout + resumed.stderr
        assert resumed.returncode == 1, output
        assert "differs from the tested wheel" in output
        assert "relsafe_sample/__init__.py: content differs" in output


def test_record_differences_of_identical_wheels_is_empty(tmp_path: Path) -> None:
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/__init__.py", "x = 1\n")
        archive.writestr("pkg-1.0.dist-info/RECORD", "pkg/__init__.py,sha256=abc,6\npkg-1.0.dist-info/RECORD,,\n")
    copy = tmp_path / "copy" / wheel.name
    copy.parent.mkdir()
    shutil.copy(wheel, copy)
    assert record_differences(wheel, copy) == []
    changed = rewrite_member(wheel, tmp_path / "copy", "__init__.py", b"y = 2\n")
    assert record_differences(wheel, changed) == [
        next(line for line in record_differences(wheel, changed) if line.startswith("pkg/__init__.py"))
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    "remote",
    [
        "https://github.com/acme/widget.git",
        "git@github.com:acme/widget.git",
        "ssh://git@github.com/acme/widget.git",
    ],
)
def test_init_writes_the_workflow_and_prints_the_publisher_values(
    remote: str, sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    root = sample.root
    git(root, "rm", "-q", "release.toml", ".github/workflows/publish.yml")
    git(root, "commit", "-qm", "start from nothing")
    git(root, "remote", "set-url", "origin", remote)
    done = run_relsafe("init", cwd=root, env=relsafe_env(COLUMNS="300"))
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert (root / ".github" / "workflows" / "publish.yml").is_file()
    assert (root / "release.toml").is_file()
    for label, value in (
        ("PyPI Project Name", "relsafe-sample"),
        ("Owner", "acme"),
        ("Repository name", "widget"),
        ("Workflow name", "publish.yml"),
        ("Environment name", "pypi"),
    ):
        assert any(label in line and value in line for line in out.splitlines()), (label, out)
    assert "tag ruleset" in out and "v*" in out
    assert "Revoke" in out
    audited = run_relsafe("audit", cwd=root)
    assert audited.returncode == 0, audited.stdout
    again = run_relsafe("init", cwd=root)
    assert again.returncode == 0 and "already up to date" in again.stdout
    (root / "release.toml").write_text("# mine\n", encoding="utf-8")
    refused = run_relsafe("init", cwd=root)
    assert refused.returncode == 4 and "--force" in refused.stderr
    forced = run_relsafe("init", "--force", cwd=root)
    assert forced.returncode == 0
