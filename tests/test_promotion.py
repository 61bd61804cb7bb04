"""The publish workflow promotes exactly the tested files: its preparing job's steps, run here with bash
the way a runner runs them, in a clone of the bare remote at the tag, against the embedded index (and, in a
rehearsal, by relsafe itself: tools.github_job).

The job's `run:` steps read only environment variables, and its env values are limited to the tag, the
commit, the runner's temp folder and literals, so nothing here imitates GitHub but those few values.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from relsafe.app.sample import SampleProject, create_sample
from relsafe.model import manifest
from relsafe.model.publish_workflow import render_publish_workflow
from relsafe.tools.localindex import LocalIndex
from tests.conftest import RunRelsafe, git
from tests.release_fixtures import rewrite_workflow
from tests.wheelhouse import wheelhouse

pytestmark = pytest.mark.slow

TAG = "v0.2.0"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_preparing_job(
    sample: SampleProject,
    workspace: Path,
    runner_temp: Path,
    workflow_text: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Check out the tag as actions/checkout leaves it (a lightweight tag), then run each `run:` step,
    with `extra_env` on top of the environment (pip's offline settings, for a rebuild)."""
    shutil.rmtree(workspace, ignore_errors=True)
    shutil.rmtree(runner_temp, ignore_errors=True)
    runner_temp.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", str(sample.remote), str(workspace)], check=True)
    commit = git(workspace, "rev-parse", f"refs/tags/{TAG}^{{commit}}")
    git(workspace, "checkout", "-q", commit)
    git(workspace, "tag", "-f", TAG, commit)  # what checkout leaves: the tag made lightweight
    contexts = {"github.ref_name": TAG, "github.sha": commit, "runner.temp": str(runner_temp)}

    def expand(value: Any) -> str:
        return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda found: contexts[found[1]], str(value))

    text = workflow_text or (sample.root / ".github/workflows/relsafe-publish.yml").read_text(encoding="utf-8")
    jobs = YAML(typ="safe").load(text)["jobs"]
    job = jobs["prepare"] if "prepare" in jobs else jobs["build"]
    job_env = {key: expand(value) for key, value in job["env"].items()}
    for step in job["steps"]:
        if "run" not in step:
            continue
        assert "${{" not in step["run"], "a run step must read only its environment"
        env = {**os.environ, **job_env, **{key: expand(value) for key, value in step.get("env", {}).items()}}
        env |= extra_env or {}
        done = subprocess.run(
            ["bash", "-e", "-c", step["run"]], cwd=workspace, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            return done
    return done


def retag(sample: SampleProject, message: str) -> None:
    """Replace the remote's release tag by another annotated tag on the same commit, with this message."""
    commit = git(sample.remote, "rev-parse", f"refs/tags/{TAG}^{{commit}}")
    identity = ["-c", "user.name=x", "-c", "user.email=x@x.invalid"]
    git(sample.remote, *identity, "tag", "-f", "-a", TAG, "-m", message, commit)


@pytest.fixture
def released(sample: SampleProject, run_relsafe: RunRelsafe) -> SampleProject:
    done = run_relsafe("release", "minor", "--yes", cwd=sample.root)
    assert done.returncode == 0, done.stdout + done.stderr
    return sample


def test_the_preparing_job_promotes_exactly_the_staged_files_and_refuses_any_other(
    released: SampleProject, local_index: LocalIndex, tmp_path: Path
) -> None:
    workspace, runner_temp = tmp_path / "workspace", tmp_path / "runner-temp"
    dist = runner_temp / "dist"
    carried = manifest.parse(git(released.root, "for-each-ref", "--format=%(contents)", f"refs/tags/{TAG}"))
    assert carried is not None and carried.staging_index == local_index.index_url
    staged = {path.name: sha256(path) for path in local_index.storage.iterdir()}
    assert dict(carried.files) == staged

    done = run_preparing_job(released, workspace, runner_temp)
    assert done.returncode == 0, done.stdout + done.stderr
    assert {path.name: sha256(path) for path in dist.iterdir()} == staged
    assert "exactly the tested ones" in done.stdout

    wheel = next(local_index.storage.glob("*.whl"))
    sdist = next(local_index.storage.glob("*.tar.gz"))
    original = wheel.read_bytes()

    wheel.write_bytes(original + b"\0")  # swapped: the same name, other bytes
    done = run_preparing_job(released, workspace, runner_temp)
    assert done.returncode != 0 and f"{wheel.name} on the staging index is not the tested file" in done.stdout
    wheel.write_bytes(original)

    kept = sdist.read_bytes()
    sdist.unlink()  # missing
    done = run_preparing_job(released, workspace, runner_temp)
    assert done.returncode != 0 and f"{sdist.name} is not on the staging index" in done.stdout
    sdist.write_bytes(kept)

    extra = local_index.storage / wheel.name.replace("py3-none-any", "py2.py3-none-any")
    extra.write_bytes(original)  # a file of this version that was never tested
    done = run_preparing_job(released, workspace, runner_temp)
    assert done.returncode != 0 and f"holds {extra.name} for 0.2.0" in done.stdout
    extra.unlink()

    annotated = git(released.remote, "rev-parse", f"refs/tags/{TAG}")
    commit = git(released.remote, "rev-parse", f"refs/tags/{TAG}^{{commit}}")
    git(released.remote, "tag", "-f", TAG, commit)  # the manifest replaced by a second, lightweight tag
    done = run_preparing_job(released, workspace, runner_temp)
    assert done.returncode != 0 and f"{TAG} is not an annotated tag" in done.stdout

    edited = carried.lines()
    edited[1] = "0" * 64 + edited[1][64:]  # an annotated tag whose manifest names other bytes
    retag(released, "\n".join(["Release 0.2.0", "", *edited]) + "\n")
    done = run_preparing_job(released, workspace, runner_temp)
    assert done.returncode != 0 and "is not the tested file" in done.stdout

    git(released.remote, "update-ref", f"refs/tags/{TAG}", annotated)  # the real tag back: promoted again
    done = run_preparing_job(released, workspace, runner_temp)
    assert done.returncode == 0, done.stdout + done.stderr


def test_status_shows_the_manifest_the_tag_carries(released: SampleProject, run_relsafe: RunRelsafe) -> None:
    shown = run_relsafe("status", cwd=released.root).stdout
    carried = manifest.parse(git(released.root, "for-each-ref", "--format=%(contents)", f"refs/tags/{TAG}"))
    assert carried is not None
    for line in carried.lines():
        assert line in shown


def test_a_rehearsal_runs_the_committed_workflow_against_its_sandbox(
    sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    """The pushed sandbox tag starts no workflow, so the rehearsal runs the committed workflow's jobs up to the
    upload, says how, and compares what the upload would get with the tested files."""
    done = run_relsafe("release", "minor", "--dry-run", cwd=sample.root)
    assert done.returncode == 0, done.stdout + done.stderr
    workflow = ".github/workflows/relsafe-publish.yml"
    assert (
        f"{workflow}, run here as committed, hands its upload exactly the tested files (2 file(s)); "
        "the upload itself was not run" in done.stdout
    )
    assert (
        "push: ran prepare: 2 `run:` step(s); emulated actions/checkout (the tag's commit fetched from " in done.stdout
    )
    assert "actions/upload-artifact (python-package-distributions: 2 file(s))" in done.stdout
    assert "push: ran publish: emulated actions/download-artifact (python-package-distributions)" in done.stdout
    assert "push: not run: publish: step 2, which uses pypa/gh-action-pypi-publish@" in done.stdout
    assert "stood for http://127.0.0.1:" in done.stdout, "the configured staging index stood for the embedded one"
    assert git(sample.remote, "tag", "--list") == ""


def test_a_release_that_builds_nothing_tags_without_a_manifest(
    release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    """Nothing was tested, so the tag names no files, and the preparing job would refuse it."""
    config = release_sample.root / "release.toml"
    config.write_text(config.read_text().replace('"build", ', ""), encoding="utf-8")
    git(release_sample.root, "commit", "-qam", "no build")
    git(release_sample.root, "push", "-q", "origin", "main")
    done = run_relsafe("release", "minor", cwd=release_sample.root)
    assert done.returncode == 0, done.stdout + done.stderr
    message = git(release_sample.remote, "for-each-ref", "--format=%(contents)", f"refs/tags/{TAG}")
    assert message == "Release 0.2.0"
    assert manifest.parse(message) is None


def test_without_staging_the_workflow_publishes_a_rebuild_only_when_it_is_the_tested_bytes(
    tmp_path: Path, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    """The rebuild step runs as written: a venv, the manifest's pins installed with pip (from wheels of what
    the tests run with, since PyPI is out of reach), `python -m build --no-isolation`; then the check."""
    sample = create_sample(tmp_path, index=(local_index.upload_url, local_index.index_url), offline=True)
    config = sample.root / "release.toml"
    steps = '["preflight", "bump", "build", "inspect", "smoke", "tag", "push"]'
    config.write_text(config.read_text(encoding="utf-8") + f"\n[release]\nsteps = {steps}\n", encoding="utf-8")
    rewrite_workflow(sample.root)  # without staging, relsafe's workflow rebuilds
    git(sample.root, "commit", "-qam", "release without staging")
    git(sample.root, "push", "-q", "origin", "main")
    done = run_relsafe("release", "minor", cwd=sample.root)
    assert done.returncode == 0, done.stdout + done.stderr
    carried = manifest.parse(git(sample.root, "for-each-ref", "--format=%(contents)", f"refs/tags/{TAG}"))
    assert carried is not None and carried.staging_index is None
    pins = list(carried.build_requires)
    assert {pin.partition("==")[0] for pin in pins} >= {"build", "hatchling", "packaging", "pyproject-hooks"}
    assert f"hatchling=={importlib.metadata.version('hatchling')}" in pins, "the versions the build ran with"
    offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse(pins, tmp_path / "wheelhouse"))}
    workflow = render_publish_workflow(project=sample.name)
    workspace, runner_temp = tmp_path / "workspace", tmp_path / "runner-temp"
    tested = {
        path.name: sha256(path) for path in next((sample.root / ".git/relsafe/releases").glob("*/dist")).iterdir()
    }

    rebuilt = run_preparing_job(sample, workspace, runner_temp, workflow, extra_env=offline)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert "exactly the tested ones" in rebuilt.stdout
    assert {path.name: sha256(path) for path in (runner_temp / "dist").iterdir()} == tested

    wheel = next(name for name in tested if name.endswith(".whl"))
    other = manifest.Manifest({**carried.files, wheel: "0" * 64}, None, carried.build_requires)
    retag(sample, other.tag_message("0.2.0"))  # the tag names bytes this commit does not rebuild to
    refused = run_preparing_job(sample, workspace, runner_temp, workflow, extra_env=offline)
    assert refused.returncode != 0 and f"the rebuilt {wheel} is not the tested file" in refused.stdout

    retag(sample, manifest.Manifest(carried.files).tag_message("0.2.0"))  # no pins: no rebuild to trust
    refused = run_preparing_job(sample, workspace, runner_temp, workflow, extra_env=offline)
    assert refused.returncode != 0 and "pins no build requirements" in refused.stdout

    smuggled = [*carried.lines(), "build-requires: --index-url=http://127.0.0.1:9/simple/"]
    retag(sample, "\n".join(["Release 0.2.0", "", *smuggled]) + "\n")  # a pip option where a pin belongs
    refused = run_preparing_job(sample, workspace, runner_temp, workflow, extra_env=offline)
    assert refused.returncode != 0 and "pins something that is not name==version" in refused.stdout
