"""The optional watch step compares what production serves with what was tested; `relsafe init` sets up
Trusted Publishing from the GitHub remote."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject
from relsafe.artifacts.comparison import record_differences
from relsafe.core.redaction import Redactor
from relsafe.journal.runlog import RunLog
from relsafe.tools.index.transfer import upload
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe, relsafe_env
from tests.support.git import git
from tests.support.static_index import StaticIndex
from tests.support.wheels import repack, wheel_files, with_record, write_wheel


def with_watch(sample: SampleProject, production: LocalIndex | StaticIndex) -> None:
    """Add watch to the steps and make a second index play production."""
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
    members = wheel_files(wheel)
    changed = next(name for name in members if name.endswith(member_suffix))
    return repack(wheel, destination / wheel.name, {changed: members[changed] + extra})


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
        assert "byte for byte the tested ones" in resumed.stdout


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
        sdist = next(built_wheel(sample).parent.glob("*.tar.gz"))
        for path in (tampered, sdist):
            log = RunLog(None, Redactor())
            upload(path, repository_url=production.upload_url, credentials=production.credentials, log=log)
        resumed = run_relsafe("resume", cwd=sample.root)
        output = resumed.stdout + resumed.stderr
        assert resumed.returncode == 1, output
        assert f"production serves other files than were tested: {tampered.name}: sha256" in output
        assert "relsafe_sample/__init__.py: content differs" in output


def test_record_differences_of_identical_wheels_is_empty(tmp_path: Path) -> None:
    files = with_record({"pkg/__init__.py": b"x = 1\n"}, "pkg-1.0.dist-info/RECORD")
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", files)
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
    """A project the production index does not know gets a pending publisher; a maintainer's
    release.toml is kept and its settings used while the missing workflow is written."""
    root = sample.root
    git(root, "rm", "-q", ".github/workflows/relsafe-publish.yml")
    git(root, "commit", "-qm", "no workflow yet")
    git(root, "remote", "set-url", "origin", remote)
    config = (root / "release.toml").read_text(encoding="utf-8")
    done = run_relsafe("init", cwd=root, env=relsafe_env(COLUMNS="300"))
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert f"wrote {root / '.github' / 'workflows' / 'relsafe-publish.yml'}" in out
    assert f"kept {root / 'release.toml'}: your settings were used" in out
    assert (root / "release.toml").read_text(encoding="utf-8") == config
    assert "relsafe-sample is not there yet: add a pending publisher (http://127.0.0.1:" in out
    for label, value in (
        ("PyPI Project Name", "relsafe-sample"),
        ("Owner", "acme"),
        ("Repository name", "widget"),
        ("Workflow name", "relsafe-publish.yml"),
        ("Environment name", "pypi"),
    ):
        assert any(label in line and value in line for line in out.splitlines()), (label, out)
    assert "tag ruleset" in out and "v*" in out
    assert "Revoke" in out
    audited = run_relsafe("audit", cwd=root)
    assert audited.returncode == 0, audited.stdout
    forced = run_relsafe("init", "--force", cwd=root)
    assert forced.returncode == 2, forced.stdout + forced.stderr
    assert "`relsafe init --force` is gone" in forced.stderr
    assert (root / "release.toml").read_text(encoding="utf-8") == config, "an edited release.toml is never reset"


def configure_production(sample: SampleProject, index_url: str) -> None:
    """Only [production] in release.toml, as a maintainer might keep it."""
    (sample.root / "release.toml").write_text(f'[production]\nindex-url = "{index_url}"\n', encoding="utf-8")


@pytest.mark.slow
def test_init_for_a_project_the_index_knows_says_trusted_publisher_and_names_other_publishers(
    sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    root = sample.root
    configure_production(sample, local_index.index_url)
    (local_index.storage / "relsafe_sample-0.1.0.tar.gz").write_bytes(b"released before relsafe")
    workflows = root / ".github" / "workflows"
    legacy = (workflows / "relsafe-publish.yml").read_text(encoding="utf-8")
    (workflows / "relsafe-publish.yml").unlink()
    (workflows / "release.yml").write_text(legacy.replace("ubuntu-latest", "ubuntu-22.04"), encoding="utf-8")
    (workflows / "nightly.yml").write_text(legacy, encoding="utf-8")
    with (root / "release.toml").open("a", encoding="utf-8") as config:
        config.write('\n[publish]\nworkflow = ".github/workflows/release.yml"\n')
    git(root, "add", "-A")
    git(root, "commit", "-qm", "publishing the old way")
    git(root, "remote", "set-url", "origin", "git@github.com:acme/widget.git")

    done = run_relsafe("init", cwd=root, env=relsafe_env(COLUMNS="300"))
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    site = local_index.index_url.removesuffix("/simple/")
    assert (
        "relsafe-sample exists: add a trusted publisher in the project's Publishing settings "
        f"({site}/manage/project/relsafe-sample/settings/publishing/)" in out
    )
    assert "pending" not in out
    assert "PyPI Project Name" not in out, "an existing project's publisher form has no project name"
    assert (
        f"kept {workflows / 'release.yml'}: it is not relsafe's workflow for release.toml "
        "(jobs.prepare.runs-on is `ubuntu-22.04` where relsafe writes `ubuntu-latest`), so a release refuses it; "
        "`relsafe init --update` rewrites it" in out
    ), out
    assert "also publishes to PyPI: .github/workflows/nightly.yml, a second path to PyPI" in out
    assert any("Workflow name" in line and "release.yml" in line for line in out.splitlines()), out
    assert not (workflows / "relsafe-publish.yml").exists(), "nothing is written beside the workflow PyPI trusts"
    assert (workflows / "nightly.yml").read_text(encoding="utf-8") == legacy, "init never changes another workflow"


def closed_port() -> int:
    """A loopback port nothing listens on: connections are refused at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_init_when_the_index_cannot_say_gives_both_ways(sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    root = sample.root
    configure_production(sample, f"http://127.0.0.1:{closed_port()}/simple/")
    git(root, "remote", "set-url", "origin", "https://github.com/acme/widget.git")
    done = run_relsafe("init", cwd=root, env=relsafe_env(COLUMNS="300"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "the index could not say whether relsafe-sample exists" in done.stdout
    assert "/manage/project/relsafe-sample/settings/publishing/" in done.stdout
    assert "add a pending publisher" in done.stdout and "PyPI Project Name" in done.stdout


@pytest.mark.slow
def test_init_with_tool_relsafe_in_pyproject_writes_no_release_toml(
    sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    root = sample.root
    (root / "release.toml").unlink()
    with (root / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
        pyproject.write(f'\n[tool.relsafe.production]\nindex-url = "{local_index.index_url}"\n')
    (root / ".github" / "workflows" / "relsafe-publish.yml").unlink()
    git(root, "remote", "set-url", "origin", "https://github.com/acme/widget.git")
    done = run_relsafe("init", cwd=root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not (root / "release.toml").exists(), "pyproject.toml's [tool.relsafe] stays the only configuration"
    assert (root / ".github" / "workflows" / "relsafe-publish.yml").is_file()
    assert run_relsafe("audit", cwd=root).returncode == 0


@pytest.mark.slow
def test_watch_refuses_files_another_repository_published_and_names_ours(
    sample: SampleProject, tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    """PEP 740 provenance names who published each file: only this repository's publish workflow may have."""
    with StaticIndex() as production:
        with_watch(sample, production)
        text = (sample.root / "release.toml").read_text().replace("timeout = 60", "timeout = 1")
        (sample.root / "release.toml").write_text(text)
        git(sample.root, "commit", "-qam", "short watch")
        git(sample.root, "push", "-q", "origin", "main")
        # the remote reads as GitHub's, as the publisher names it; git still reaches the bare remote
        git(sample.root, "config", f"url.{sample.remote}.insteadOf", "https://github.com/acme/widget.git")
        git(sample.root, "remote", "set-url", "origin", "https://github.com/acme/widget.git")
        waited = run_relsafe("release", "minor", "--yes", cwd=sample.root)
        assert waited.returncode == 1 and "did not appear" in waited.stderr, waited.stdout + waited.stderr

        tested = sorted(built_wheel(sample).parent.iterdir())
        fork = {
            "kind": "GitHub",
            "repository": "mallory/widget",
            "workflow": "relsafe-publish.yml",
            "environment": "pypi",
        }
        production.publish("relsafe-sample", tested, fork)
        refused = run_relsafe("resume", cwd=sample.root)
        assert refused.returncode == 4, refused.stdout + refused.stderr
        assert (
            "was published by GitHub mallory/widget, workflow relsafe-publish.yml, not by acme/widget" in refused.stderr
        )

        production.publish("relsafe-sample", tested, {**fork, "repository": "acme/widget"})
        resumed = run_relsafe("resume", cwd=sample.root)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert "byte for byte the tested ones" in resumed.stdout
