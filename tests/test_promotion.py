"""The publish workflow promotes exactly the tested files: its jobs' steps, run here with bash the way a runner
runs them, each job on a fresh "runner" (a clone of the bare remote at the tag), against the embedded index.

The jobs' `run:` steps read only environment variables, and their env values are limited to the tag, the commit,
the runner's temp folder and literals, so nothing here imitates GitHub but those few values, and the actions the
workflow uses: checkout (the clone), setup-python (this interpreter), upload-artifact and download-artifact (a
folder per artifact name, copied between jobs as GitHub's artifact store does).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from relsafe.app.sample import SampleProject, create_sample
from relsafe.model import manifest
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe
from tests.support.files import write
from tests.support.git import commit_all, git
from tests.support.processes import session_processes, wait_for
from tests.support.release_config import add_gate, rewrite_workflow
from tests.support.world import status_json

pytestmark = pytest.mark.slow

TAG = "v0.2.0"
PROMOTED = "python-package-distributions"  # the artifact the publish job downloads and uploads to PyPI
NO_ACTION = ("actions/setup-python",)  # the interpreter running these tests stands for it


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class WorkflowRun:
    """How a run of the jobs before the publish job ended: the last step run (the failing one, if any)."""

    job: str
    returncode: int
    stdout: str
    stderr: str
    artifacts: dict[str, Path] = field(default_factory=dict)

    @property
    def promoted(self) -> Path:
        """The files the publish job would upload."""
        return self.artifacts[PROMOTED]


def run_preparing_job(
    sample: SampleProject, base: Path, workflow_text: str | None = None, extra_env: dict[str, str] | None = None
) -> WorkflowRun:
    """Every job but the one holding `id-token` (the publish job), in `needs` order, with `extra_env` on top of
    the environment. A step ends here once every process it started has ended (on a runner they may outlive it:
    what the jobs check must not depend on when)."""
    shutil.rmtree(base, ignore_errors=True)
    text = workflow_text or (sample.root / ".github/workflows/relsafe-publish.yml").read_text(encoding="utf-8")
    jobs: dict[str, Any] = YAML(typ="safe").load(text)["jobs"]
    run = WorkflowRun("", 0, "", "")
    done: set[str] = set()
    while len(done) < len(jobs):
        ready = [job_id for job_id, job in jobs.items() if job_id not in done and set(_needs(job)) <= done]
        job_id = ready[0]
        done.add(job_id)
        if "id-token" in (jobs[job_id].get("permissions") or {}):
            continue
        run = _run_job(sample, base, job_id, jobs[job_id], run.artifacts, extra_env or {})
        if run.returncode != 0:
            return run
    return run


def _needs(job: dict[str, Any]) -> list[str]:
    needs = job.get("needs") or []
    return [needs] if isinstance(needs, str) else list(needs)


def _run_job(
    sample: SampleProject,
    base: Path,
    job_id: str,
    job: dict[str, Any],
    artifacts: dict[str, Path],
    extra_env: dict[str, str],
) -> WorkflowRun:
    workspace, runner_temp = base / job_id / "workspace", base / job_id / "runner-temp"
    runner_temp.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", str(sample.remote), str(workspace)], check=True)
    commit = git(workspace, "rev-parse", f"refs/tags/{TAG}^{{commit}}")
    git(workspace, "checkout", "-q", commit)
    git(workspace, "tag", "-f", TAG, commit)  # what checkout leaves: the tag made lightweight
    contexts = {"github.ref_name": TAG, "github.sha": commit, "runner.temp": str(runner_temp)}

    def expand(value: Any) -> str:
        return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda found: contexts[found[1]], str(value))

    job_env = {key: expand(value) for key, value in (job.get("env") or {}).items()}
    run = WorkflowRun(job_id, 0, "", "", dict(artifacts))
    for step in job["steps"]:
        action = str(step.get("uses", "")).split("@")[0]
        with_ = {key: expand(value) for key, value in (step.get("with") or {}).items()}
        if action == "actions/upload-artifact":
            stored = base / "artifacts" / with_["name"]
            assert not stored.exists(), f"an artifact named {with_['name']} exists already: the upload fails"
            shutil.copytree(with_["path"], stored)
            run.artifacts[with_["name"]] = stored
        elif action == "actions/download-artifact":
            shutil.copytree(run.artifacts[with_["name"]], Path(workspace, with_["path"]), dirs_exist_ok=True)
        elif action and action != "actions/checkout" and action not in NO_ACTION:
            raise AssertionError(f"job {job_id} uses {action}, which this runner cannot stand in for")
        if "run" not in step:
            continue
        assert "${{" not in step["run"], "a run step must read only its environment"
        env = {**os.environ, **job_env, **{key: expand(value) for key, value in (step.get("env") or {}).items()}}
        env |= extra_env
        proc = subprocess.Popen(
            ["bash", "-e", "-c", step["run"]],
            cwd=workspace,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        stdout, stderr = proc.communicate(timeout=600)
        wait_for(partial(_ended, proc.pid), 60, f"the processes of a step of {job_id} to end")
        run = WorkflowRun(job_id, proc.returncode, stdout, stderr, run.artifacts)
        if proc.returncode != 0:
            return run
    return run


def _ended(session: int) -> bool:
    return not session_processes(session)


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
    runs = tmp_path / "runs"
    carried = manifest.parse(git(released.root, "for-each-ref", "--format=%(contents)", f"refs/tags/{TAG}"))
    assert carried is not None and carried.staging_index == local_index.index_url
    staged = {path.name: sha256(path) for path in local_index.storage.iterdir()}
    assert dict(carried.files) == staged

    done = run_preparing_job(released, runs)
    assert done.returncode == 0, done.stdout + done.stderr
    assert {path.name: sha256(path) for path in done.promoted.iterdir()} == staged
    assert "exactly the tested ones" in done.stdout

    wheel = next(local_index.storage.glob("*.whl"))
    sdist = next(local_index.storage.glob("*.tar.gz"))
    original = wheel.read_bytes()

    wheel.write_bytes(original + b"\0")  # swapped: the same name, other bytes
    done = run_preparing_job(released, runs)
    assert done.returncode != 0 and f"{wheel.name} on the staging index is not the tested file" in done.stdout
    wheel.write_bytes(original)

    kept = sdist.read_bytes()
    sdist.unlink()  # missing
    done = run_preparing_job(released, runs)
    assert done.returncode != 0 and f"{sdist.name} is not on the staging index" in done.stdout
    sdist.write_bytes(kept)

    extra = local_index.storage / wheel.name.replace("py3-none-any", "py2.py3-none-any")
    extra.write_bytes(original)  # a file of this version that was never tested
    done = run_preparing_job(released, runs)
    assert done.returncode != 0 and f"holds {extra.name} for 0.2.0" in done.stdout
    extra.unlink()

    annotated = git(released.remote, "rev-parse", f"refs/tags/{TAG}")
    commit = git(released.remote, "rev-parse", f"refs/tags/{TAG}^{{commit}}")
    git(released.remote, "tag", "-f", TAG, commit)  # the manifest replaced by a second, lightweight tag
    done = run_preparing_job(released, runs)
    assert done.returncode != 0 and f"{TAG} is not an annotated tag" in done.stdout

    edited = carried.lines()
    edited[1] = "0" * 64 + edited[1][64:]  # an annotated tag whose manifest names other bytes
    retag(released, "\n".join(["Release 0.2.0", "", *edited]) + "\n")
    done = run_preparing_job(released, runs)
    assert done.returncode != 0 and "is not the tested file" in done.stdout

    git(released.remote, "update-ref", f"refs/tags/{TAG}", annotated)  # the real tag back: promoted again
    done = run_preparing_job(released, runs)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_preparing_job_refuses_a_tag_on_another_commit_than_the_one_its_files_were_built_from(
    sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe, tmp_path: Path
) -> None:
    """The issue's case: a release staged its files and was aborted; someone with tag rights tags another commit
    with a manifest naming those staged files. The manifest binds the commit they were built from."""
    add_gate(sample)
    stopped = run_relsafe("release", "minor", cwd=sample.root)
    assert stopped.returncode == 3, stopped.stdout + stopped.stderr  # waiting at the gate, the files staged
    record = status_json(sample)
    assert record is not None
    built_from = record["steps"]["bump"]["outputs"]["commit"]
    aborted = run_relsafe("abort", cwd=sample.root)
    assert aborted.returncode == 0, aborted.stdout + aborted.stderr
    staged = {path.name: sha256(path) for path in local_index.storage.iterdir()}
    assert len(staged) == 2
    main = git(sample.remote, "rev-parse", "refs/heads/main")
    assert main != built_from

    def tag_main(carried: manifest.Manifest) -> WorkflowRun:
        identity = ["-c", "user.name=x", "-c", "user.email=x@x.invalid"]
        git(sample.remote, *identity, "tag", "-f", "-a", TAG, "-m", carried.tag_message("0.2.0"), main)
        return run_preparing_job(sample, tmp_path / "runs")

    reused = tag_main(manifest.Manifest(staged, local_index.index_url, commit=built_from))
    assert reused.returncode != 0, reused.stdout
    assert f"{TAG} points at {main}, but its manifest says the files were built from {built_from}" in reused.stdout

    unbound = tag_main(manifest.Manifest(staged, local_index.index_url))
    assert unbound.returncode != 0, unbound.stdout
    assert f"the manifest of {TAG} does not name the commit its files were built from" in unbound.stdout

    # What relsafe cannot prove: a manifest forged to name the tag's own commit. Only who may make release tags
    # closes this (a tag ruleset, the environment's reviewers): docs/trusted-publishing.md says so.
    forged = tag_main(manifest.Manifest(staged, local_index.index_url, commit=main))
    assert forged.returncode == 0, forged.stdout + forged.stderr


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


WITHOUT_STAGING = '["preflight", "bump", "build", "inspect", "smoke", "tag", "push"]'

# A hatchling build hook that, when the variable is set (as malicious code would look for CI), leaves a process
# behind that rewrites the wheel once the build has ended: after any check the build's own job could make, before
# that job uploads its files. It first notes the wheel's sha256 as the build made it.
SWAPPING_HOOK = r'''
import os
import subprocess
import sys

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SWAPPER = """
import hashlib, os, pathlib, sys, time, zipfile
build, wheel, said = int(sys.argv[1]), pathlib.Path(sys.argv[2]), pathlib.Path(sys.argv[3])
while os.path.exists(f"/proc/{build}"):
    time.sleep(0.02)
built = hashlib.sha256(wheel.read_bytes()).hexdigest()
with zipfile.ZipFile(wheel, "a") as archive:
    archive.writestr("relsafe_sample/_payload.py", "print('never tested')")
said.write_text(built)
"""


class CustomBuildHook(BuildHookInterface):
    def finalize(self, version, build_data, artifact_path):
        said = os.environ.get("SWAP_AFTER_BUILD")
        if said and self.target_name == "wheel":
            command = [sys.executable, "-c", SWAPPER, str(os.getpid()), artifact_path, said]
            devnull = subprocess.DEVNULL
            subprocess.Popen(command, stdin=devnull, stdout=devnull, stderr=devnull)
'''


@dataclass(frozen=True)
class Rebuilt:
    sample: SampleProject
    carried: manifest.Manifest
    tested: dict[str, str]


def release_without_staging(base: Path, local_index: LocalIndex, run_relsafe: RunRelsafe, *, hook: bool) -> Rebuilt:
    """The sample released without staging (built in relsafe's own environment, tested with unittest)."""
    sample = create_sample(base, index=(local_index.upload_url, local_index.index_url), offline=True)
    config = sample.root / "release.toml"
    config.write_text(config.read_text(encoding="utf-8") + f"\n[release]\nsteps = {WITHOUT_STAGING}\n")
    if hook:
        write(sample.root, "hatch_build.py", SWAPPING_HOOK)
        pyproject = sample.root / "pyproject.toml"
        pyproject.write_text(pyproject.read_text() + "\n[tool.hatch.build.targets.wheel.hooks.custom]\n")
    rewrite_workflow(sample.root)  # without staging, relsafe's workflow rebuilds
    commit_all(sample, "Release without staging: the workflow rebuilds")
    done = run_relsafe("release", "minor", cwd=sample.root)
    assert done.returncode == 0, done.stdout + done.stderr
    carried = manifest.parse(git(sample.root, "for-each-ref", "--format=%(contents)", f"refs/tags/{TAG}"))
    assert carried is not None and carried.staging_index is None
    built = next((sample.root / ".git/relsafe/releases").glob("*/dist"))
    return Rebuilt(sample, carried, {path.name: sha256(path) for path in built.iterdir()})


def test_without_staging_a_job_that_runs_nothing_of_the_project_hands_on_the_rebuild_only_if_it_is_the_tested_bytes(
    tmp_path: Path, local_index: LocalIndex, loopback_only: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    """The rebuild job runs as written (a venv, the manifest's pins installed with `pip --require-hashes` from the
    session's loopback index, `python -m build --no-isolation`) and hands its files on unchecked; the check job
    only downloads them, checks them against the manifest and hands them on; the publish job needs only it."""
    released = release_without_staging(tmp_path, local_index, run_relsafe, hook=False)
    sample, carried = released.sample, released.carried
    pins = list(carried.build_requires)
    assert {pin.partition("==")[0] for pin in pins} >= {"build", "hatchling", "packaging", "pyproject-hooks"}
    assert any(pin.startswith(f"hatchling=={importlib.metadata.version('hatchling')} --hash=sha256:") for pin in pins)
    served = {path.name: sha256(path) for path in loopback_only.storage.iterdir()}
    for pin in pins:  # each hash is the sha256 of the very wheel the index serves for that pin
        name, _, rest = pin.partition("==")
        version, _, digest = rest.partition(" --hash=sha256:")
        assert served.get(f"{name.replace('-', '_')}-{version}-py3-none-any.whl") == digest, pin

    jobs = YAML(typ="safe").load((sample.root / ".github/workflows/relsafe-publish.yml").read_text())["jobs"]
    assert (jobs["build"].get("needs"), jobs["check"]["needs"], jobs["publish"]["needs"]) == (None, "build", "check")
    check_steps = jobs["check"]["steps"]
    assert [step.get("uses", "run").split("@")[0] for step in check_steps] == [
        "actions/checkout",
        "run",
        "actions/download-artifact",
        "run",
        "actions/upload-artifact",
    ], "nothing in the check job installs, sets up or builds anything"
    check_runs = [step["run"] for step in check_steps if "run" in step]
    assert check_runs[0].startswith("git fetch ") and check_runs[1].startswith("python3 -I - <<'PROMOTE'")

    runs = tmp_path / "runs"
    rebuilt = run_preparing_job(sample, runs)
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    assert rebuilt.job == "check" and "exactly the tested ones" in rebuilt.stdout
    assert {path.name: sha256(path) for path in rebuilt.promoted.iterdir()} == released.tested

    wheel = next(name for name in released.tested if name.endswith(".whl"))
    other = manifest.Manifest({**carried.files, wheel: "0" * 64}, None, carried.build_requires, carried.commit)
    retag(sample, other.tag_message("0.2.0"))  # the tag names bytes this commit does not rebuild to
    refused = run_preparing_job(sample, runs)
    assert (refused.job, refused.returncode) == ("check", 1)
    assert f"the rebuilt {wheel} is not the tested file" in refused.stdout
    assert PROMOTED not in refused.artifacts, "nothing reaches the publish job"

    retag(sample, manifest.Manifest(carried.files, commit=carried.commit).tag_message("0.2.0"))  # no pins
    refused = run_preparing_job(sample, runs)
    assert refused.job == "build" and "pins no build requirements" in refused.stdout

    unhashed = [line.split(" --hash=")[0] for line in carried.lines()]  # the versions alone: nothing to require
    smuggled = [*carried.lines(), "build-requires: --index-url=http://127.0.0.1:9/simple/"]  # a pip option
    for lines in (unhashed, smuggled):
        retag(sample, "\n".join(["Release 0.2.0", "", *lines]) + "\n")
        refused = run_preparing_job(sample, runs)
        assert refused.job == "build" and "pins something that is not name==version --hash=sha256:" in refused.stdout

    wrong = pins[0].rpartition(":")[0] + ":" + "0" * 64  # the pinned version's wheel, another sha256
    lines = [line.replace(pins[0], wrong) for line in carried.lines()]
    retag(sample, "\n".join(["Release 0.2.0", "", *lines]) + "\n")
    refused = run_preparing_job(sample, runs)
    assert refused.job == "build" and refused.returncode != 0
    assert "do not match the hashes" in (refused.stdout + refused.stderr).lower(), refused.stdout + refused.stderr


def test_a_build_hook_that_rewrites_the_wheel_after_the_build_is_caught_by_the_job_that_hands_files_on(
    tmp_path: Path, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    """Code that runs during the build can change the files until its job ends, after any check in that job;
    the check in a job of its own sees the bytes the rebuild job handed on, and refuses them."""
    released = release_without_staging(tmp_path, local_index, run_relsafe, hook=True)
    wheel = next(name for name in released.tested if name.endswith(".whl"))
    said = tmp_path / "built-wheel.sha256"

    run = run_preparing_job(released.sample, tmp_path / "runs", extra_env={"SWAP_AFTER_BUILD": str(said)})

    assert said.read_text() == released.tested[wheel], "the rebuild itself gave exactly the tested wheel"
    handed_on = run.artifacts["rebuilt-distributions"] / wheel
    assert sha256(handed_on) != released.tested[wheel], "and the hook rewrote it before its job uploaded it"
    assert (run.job, run.returncode) == ("check", 1), run.stdout + run.stderr
    assert f"the rebuilt {wheel} is not the tested file" in run.stdout
    assert PROMOTED not in run.artifacts, "the publish job gets nothing"
