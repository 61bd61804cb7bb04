"""audit-deps: the dependencies the wheel was tested with, audited by pip-audit on a loopback OSV service.

The service (tests/support/osv_service.py) answers from real records of the PyPA advisory database; the samples
depend on real packages at real versions, served by the session's loopback index: sqlparse 0.4.3 (PYSEC-2023-87,
fixed in 0.4.4), sql-metadata 2.20.0 (which requires sqlparse), wheel 0.48.0 (PYSEC-2022-43017 was fixed in 0.38.1).
No test reaches the public service.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from packaging.markers import default_environment

from relsafe.app.sample import SampleProject, create_sample
from relsafe.core.errors import ConfigError
from relsafe.journal.records import Installed
from relsafe.journal.runlog import RunLog
from relsafe.model import dependency_lock, manifest
from relsafe.model.config import OSV_QUERY_URL, Config, load_config
from relsafe.model.dependency_lock import IndexedFile, LockedPackage
from relsafe.model.publish_workflow import DEFAULT_WORKFLOW
from relsafe.model.schema import AuditIgnore
from relsafe.security.workflow.publish_run import run_committed_workflow
from relsafe.steps.table import STEPS
from relsafe.tools import pip_audit
from relsafe.tools.github_job_types import Trigger
from relsafe.tools.localindex import LocalIndex
from relsafe.wheeltest.installed import files_digest, wheel_dependencies
from tests.support.cli import RunRelsafe
from tests.support.git import git
from tests.support.osv_service import OsvService, unused_port
from tests.support.processes import KILLED, session_processes, start, wait_for
from tests.support.world import journal_dir, status_json, world

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

SQLPARSE = "PYSEC-2023-87"
SQLPARSE_ALIASES = ("CVE-2023-30608", "GHSA-rrm6-wvj7-cwh2")


@pytest.fixture
def osv() -> Iterator[OsvService]:
    with OsvService() as service:
        yield service


# -- configuration ------------------------------------------------------------------------------------------------


def config_of(tmp_path: Path, text: str) -> Config:
    (tmp_path / "release.toml").write_text(textwrap.dedent(text), encoding="utf-8")
    return load_config(tmp_path, STEPS)


def test_the_step_runs_by_default_right_after_smoke_against_osv(tmp_path: Path) -> None:
    config = config_of(tmp_path, "")
    assert config.steps.index("audit-deps") == config.steps.index("smoke") + 1
    assert (config.audit_service, config.audit_osv_url, config.audit_ignores) == ("osv", OSV_QUERY_URL, ())


def test_ignores_are_read_with_their_reason_and_until(tmp_path: Path) -> None:
    config = config_of(
        tmp_path,
        """
        [audit-deps]
        osv-url = "http://127.0.0.1:8080/v1/query"

        [[audit-deps.ignore]]
        id = "PYSEC-2023-87"
        reason = "  only our own SQL is parsed  "
        until = 2027-01-31

        [[audit-deps.ignore]]
        id = "GHSA-j8r2-6x86-q33q"
        reason = "no proxy is used"
        """,
    )
    assert config.audit_ignores == (
        AuditIgnore("PYSEC-2023-87", "only our own SQL is parsed", "2027-01-31"),
        AuditIgnore("GHSA-j8r2-6x86-q33q", "no proxy is used", None),
    )
    assert config.audit_osv_url == "http://127.0.0.1:8080/v1/query"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('[[audit-deps.ignore]]\nid = "PYSEC-2023-87"\n', "audit-deps.ignore[0].reason: expected why PYSEC-2023-87"),
        ('[[audit-deps.ignore]]\nid = "PYSEC-2023-87"\nreason = " "\n', "audit-deps.ignore[0].reason"),
        ('[[audit-deps.ignore]]\nreason = "r"\n', "audit-deps.ignore[0].id: expected an advisory id"),
        ('[[audit-deps.ignore]]\nid = "PYSEC-2023-87"\nreason = "r"\nuntil = "soon"\n', 'expected a date "YYYY-MM-DD"'),
        ('[[audit-deps.ignore]]\nid = "X-1"\nreason = "r"\nwhy = "r"\n', "audit-deps.ignore[0].why: unknown key"),
        ('[[audit-deps.ignore]]\nid = "X-1"\nreason = "a\\nb"\n', "expected plain text on one line"),
        ('[[audit-deps.ignore]]\nid = "X-1"\nreason = "a"\n[[audit-deps.ignore]]\nid = "X-1"\nreason = "b"\n', "twice"),
        ('[audit-deps]\nservice = "snyk"\n', 'audit-deps.service: expected "osv" or "pypi"'),
        (
            '[audit-deps]\nosv-url = "https://user:' + 'pw@osv.example/v1/query"\n',
            "without credentials",
        ),  # split: no credential URL in the sdist
        ('[audit-deps]\nservice = "pypi"\nosv-url = "https://osv.example/v1/query"\n', 'with service = "osv" only'),
    ],
)
def test_a_wrong_audit_setting_is_refused_naming_the_key(tmp_path: Path, text: str, says: str) -> None:
    with pytest.raises(ConfigError) as refused:
        config_of(tmp_path, text)
    assert says in refused.value.message
    assert "pw@" not in refused.value.message


# -- what the wheel installed ---------------------------------------------------------------------------------------


def site_packages() -> list[Path]:
    return [Path(str(importlib.metadata.distribution("sqlparse").locate_file("")))]


def test_the_walk_follows_requirements_through_installed_metadata_and_says_what_brought_each() -> None:
    found = wheel_dependencies(site_packages(), "sql-metadata", [], default_environment())
    sqlparse = importlib.metadata.distribution("sqlparse")
    assert found == (Installed("sqlparse", "0.4.3", ("py3-none-any",), None, files_digest(sqlparse)),)
    assert found[0].files is not None, "the hashes its RECORD lists, which verify-stage compares"


def dist_info(site: Path, name: str, version: str, *requires: str, tag: str = "py3-none-any") -> None:
    folder = site / f"{name}-{version}.dist-info"
    folder.mkdir(parents=True)
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        *(f"Requires-Dist: {r}" for r in requires),
    ]
    (folder / "METADATA").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "WHEEL").write_text(f"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: {tag}\n", encoding="utf-8")


def test_the_walk_evaluates_markers_and_extras_with_the_tested_interpreters_values(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    dist_info(site, "My_Pkg", "1.0", 'old-only; python_version < "3.11"', "lib[fast]", 'db-driver; extra == "db"')
    dist_info(site, "old_only", "2.0")
    dist_info(site, "lib", "1.5", 'speedups; extra == "fast"', 'slow-thing; extra == "slow"')
    dist_info(site, "speedups", "0.3", tag="cp311-cp311-manylinux_2_17_x86_64")
    dist_info(site, "slow_thing", "9.9")
    dist_info(site, "db_driver", "4.0")
    dist_info(site, "pytest", "9.0")  # a test requirement nothing here requires
    values = default_environment()

    on_311 = wheel_dependencies([site], "my-pkg", [], {**values, "python_version": "3.11"})
    assert on_311 == (
        Installed("lib", "1.5", ("py3-none-any",), None),
        Installed("speedups", "0.3", ("cp311-cp311-manylinux_2_17_x86_64",), "lib"),
    )
    on_310 = wheel_dependencies([site], "my-pkg", ["DB"], {**values, "python_version": "3.10"})
    assert [item.name for item in on_310] == ["db-driver", "lib", "old-only", "speedups"]


# -- the lock -----------------------------------------------------------------------------------------------------

DIGEST = "a" * 64


def test_the_installed_file_is_the_wheel_with_its_tags_else_one_sharing_a_tag_else_the_sdist() -> None:
    universal = IndexedFile("six-1.16.0-py2.py3-none-any.whl", "http://i/six-1.16.0-py2.py3-none-any.whl", DIGEST)
    native = IndexedFile("m-1.0-cp311-cp311-manylinux_2_17_x86_64.whl", "http://i/m.whl", DIGEST)
    sdist = IndexedFile("m-1.0.tar.gz", "http://i/m-1.0.tar.gz", DIGEST)
    other = IndexedFile("m-1.1.tar.gz", "http://i/m-1.1.tar.gz", DIGEST)
    assert dependency_lock.installed_file([universal], "six", "1.16.0", ["py2-none-any", "py3-none-any"]) == universal
    assert dependency_lock.installed_file([universal], "six", "1.16.0", ["py3-none-any"]) == universal
    files = [native, sdist, other]
    assert dependency_lock.installed_file(files, "m", "1.0", ["cp311-cp311-manylinux_2_17_x86_64"]) == native
    assert dependency_lock.installed_file(files, "m", "1.0", ["cp311-cp311-linux_x86_64"]) == sdist, "built here"
    assert dependency_lock.installed_file([other], "m", "1.0", ["py3-none-any"]) is None


def test_a_package_of_some_tested_environments_only_carries_their_markers() -> None:
    environments = [
        {"implementation_name": "cpython", "python_full_version": "3.10.14", "sys_platform": "linux"},
        {"implementation_name": "cpython", "python_full_version": "3.11.9", "sys_platform": "linux"},
    ]
    tomli = IndexedFile("tomli-2.0.1-py3-none-any.whl", "http://i/tomli-2.0.1-py3-none-any.whl", DIGEST)
    wheel = IndexedFile("wheel-0.48.0-py3-none-any.whl", "http://i/wheel-0.48.0-py3-none-any.whl", DIGEST)
    text = dependency_lock.render(
        project="My_Pkg",
        version="1.0",
        wheel="my_pkg-1.0-py3-none-any.whl",
        wheel_sha256=DIGEST,
        environments=environments,
        packages=[
            LockedPackage("tomli", "2.0.1", tomli, frozenset({0})),
            LockedPackage("wheel", "0.48.0", wheel, frozenset({0, 1})),
        ],
        index_url="http://i/simple/",
    )
    lock = tomllib.loads(text)
    assert lock["lock-version"] == "1.0" and lock["created-by"] == "relsafe"
    assert lock["environments"][1] == (
        'implementation_name == "cpython" and python_full_version == "3.11.9" and sys_platform == "linux"'
    )
    own, tomli_entry, wheel_entry = lock["packages"]
    assert own == {
        "name": "my-pkg",
        "version": "1.0",
        "wheels": [
            {
                "name": "my_pkg-1.0-py3-none-any.whl",
                "path": "dist/my_pkg-1.0-py3-none-any.whl",
                "hashes": {"sha256": DIGEST},
            }
        ],
    }
    assert tomli_entry["marker"] == f"({lock['environments'][0]})"
    assert "marker" not in wheel_entry
    assert wheel_entry["wheels"] == [{"name": wheel.filename, "url": wheel.url, "hashes": {"sha256": DIGEST}}]


# -- the manifest ---------------------------------------------------------------------------------------------------


def test_the_manifest_carries_the_lock_and_the_ignores_after_what_the_publish_workflow_reads() -> None:
    ignore = "PYSEC-2023-87 sqlparse==0.4.3 until 2027-01-31: only our own SQL is parsed"
    carried = manifest.of_artifacts(
        {"p-1.0-py3-none-any.whl": DIGEST}, None, ["build==1.2.2"], tested_lock="b" * 64, audit_ignores=[ignore]
    )
    lines = carried.lines()
    assert lines[-2:] == ["tested-lock: sha256:" + "b" * 64, "audit-ignore: " + ignore]
    assert lines.index("build-requires: build==1.2.2") < len(lines) - 2, "the rebuild's awk stops at the first other"
    assert manifest.parse(carried.tag_message("1.0")) == carried


# -- pip-audit ------------------------------------------------------------------------------------------------------


def test_pip_audit_reports_each_advisory_with_aliases_and_fixes_and_fails_closed(
    tmp_path: Path, osv: OsvService
) -> None:
    log = RunLog(tmp_path / "run.log")
    audited = pip_audit.audit(
        [("sqlparse", "0.4.3"), ("wheel", "0.48.0")], service="osv", osv_url=osv.query_url, folder=tmp_path, log=log
    )
    assert [(p.name, p.version, [a.id for a in p.advisories]) for p in audited] == [
        ("sqlparse", "0.4.3", [SQLPARSE]),
        ("wheel", "0.48.0", []),
    ]
    found = audited[0].advisories[0]
    assert (found.aliases, found.fixed) == (SQLPARSE_ALIASES, ("0.4.4",))
    assert osv.requests == [("sqlparse", "0.4.3"), ("wheel", "0.48.0")] and osv.batch_requests == 0

    osv.mode = "error"
    with pytest.raises(pip_audit.ServiceFailed) as erroring:
        pip_audit.audit([("wheel", "0.48.0")], service="osv", osv_url=osv.query_url, folder=tmp_path, log=log)
    assert f"the OSV service at {osv.query_url} did not answer" in erroring.value.message
    assert "500 Server Error" in erroring.value.message

    nowhere = f"http://127.0.0.1:{unused_port()}/v1/query"
    with pytest.raises(pip_audit.ServiceFailed) as unreachable:
        pip_audit.audit([("wheel", "0.48.0")], service="osv", osv_url=nowhere, folder=tmp_path, log=log)
    assert f"the OSV service at {nowhere} did not answer" in unreachable.value.message
    assert unreachable.value.message.endswith("did not answer: connection refused")


# -- releases -------------------------------------------------------------------------------------------------------


@pytest.fixture
def audited_sample(
    tmp_path: Path, local_index: LocalIndex, loopback_only: LocalIndex, osv: OsvService
) -> SampleProject:
    """The sample, staging on a local index of its own, with the session's loopback index as its production index
    (what serves the dependencies, to smoke and to verify-stage) and the loopback OSV service as its advisories."""
    sample = create_sample(tmp_path, index=(local_index.upload_url, local_index.index_url))
    configure(sample, production=loopback_only.index_url, osv_url=osv.query_url)
    return sample


def configure(sample: SampleProject, *, production: str, osv_url: str) -> None:
    path = sample.root / "release.toml"
    text = re.sub(r'(\[production\]\s*index-url = )"[^"]*"', rf'\1"{production}"', path.read_text(encoding="utf-8"))
    commit(sample, "release.toml", text + f'\n[audit-deps]\nosv-url = "{osv_url}"\n')


def add_to_release_toml(sample: SampleProject, text: str) -> None:
    path = sample.root / "release.toml"
    commit(sample, "release.toml", path.read_text(encoding="utf-8") + "\n" + textwrap.dedent(text).lstrip())


def depend(sample: SampleProject, *requirements: str, extra: str | None = None) -> None:
    """Give the sample runtime requirements, or an extra of them that smoke installs ([test] extras)."""
    path = sample.root / "pyproject.toml"
    text = path.read_text(encoding="utf-8")
    listed = ", ".join(f'"{requirement}"' for requirement in requirements)
    if extra is None:
        text = text.replace('requires-python = ">=3.10"', f'requires-python = ">=3.10"\ndependencies = [{listed}]')
    else:
        text += f"\n[project.optional-dependencies]\n{extra} = [{listed}]\n"
        release = sample.root / "release.toml"
        release.write_text(release.read_text(encoding="utf-8") + f'\n[test]\nextras = ["{extra}"]\n', encoding="utf-8")
    commit(sample, "pyproject.toml", text)


def commit(sample: SampleProject, relative: str, text: str) -> None:
    (sample.root / relative).write_text(text, encoding="utf-8")
    git(sample.root, "add", "-A")
    git(sample.root, "commit", "-qm", f"set {relative}")
    git(sample.root, "push", "-q", "origin", "main")


def audit_record(sample: SampleProject) -> dict[str, Any]:
    status = status_json(sample)
    assert status is not None
    record: dict[str, Any] = status["steps"]["audit-deps"]
    return record


def lock_of(sample: SampleProject) -> Path:
    status = status_json(sample)
    assert status is not None
    return journal_dir(sample) / "releases" / status["id"] / "pylock.toml"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def staged(index: LocalIndex) -> list[str]:
    return sorted(path.name for path in index.storage.rglob("*") if path.is_file())


def tag_message(sample: SampleProject) -> list[str]:
    return git(sample.root, "for-each-ref", "--format=%(contents)", "refs/tags/v0.2.0").splitlines()


def test_the_plan_names_the_advisory_service_and_the_reviewed_ignores(
    audited_sample: SampleProject, osv: OsvService, run_relsafe: RunRelsafe
) -> None:
    add_to_release_toml(audited_sample, '[[audit-deps.ignore]]\nid = "PYSEC-2023-87"\nreason = "reviewed"\n')
    planned = run_relsafe("release", "minor", "--plan", cwd=audited_sample.root)
    assert planned.returncode == 0, planned.stderr
    assert "smoke → audit-deps → stage" in planned.stdout
    assert f"audit        the tested dependencies on the OSV service at {osv.query_url} (pip-audit); 1 reviewed" in (
        planned.stdout
    )


@pytest.mark.slow
def test_a_vulnerable_direct_dependency_refuses_before_anything_is_staged(
    audited_sample: SampleProject, local_index: LocalIndex, osv: OsvService, run_relsafe: RunRelsafe
) -> None:
    depend(audited_sample, "sqlparse>=0.4")
    proc = run_relsafe("release", "minor", cwd=audited_sample.root)

    assert proc.returncode == 4, proc.stdout + proc.stderr
    error = next(line for line in proc.stderr.splitlines() if line.startswith("error:"))
    assert "1 known vulnerability in the tested dependencies: sqlparse 0.4.3: PYSEC-2023-87 " in error
    assert "(CVE-2023-30608, GHSA-rrm6-wvj7-cwh2), fixed in 0.4.4" in error
    assert "[[audit-deps.ignore]]" in proc.stderr, "the hint says how to go on"
    assert staged(local_index) == [], "nothing is staged"
    assert osv.requests == [("sqlparse", "0.4.3")], "the wheel's dependencies only: not pytest, a test requirement"
    record = audit_record(audited_sample)
    assert record["status"] == "failed"
    assert record["outputs"]["advisories"] == [
        {
            "package": "sqlparse",
            "version": "0.4.3",
            "via": None,
            "id": SQLPARSE,
            "aliases": list(SQLPARSE_ALIASES),
            "fixed": ["0.4.4"],
            "ignored": False,
        }
    ]
    assert record["outputs"]["lock_sha256"] == sha256(lock_of(audited_sample)), "the lock is there to look at"
    assert audit_record(audited_sample) and status_json(audited_sample)["steps"]["stage"]["status"] == "pending"  # type: ignore[index]


@pytest.mark.slow
def test_a_vulnerable_dependency_of_a_dependency_in_a_tested_extra_refuses_naming_what_brings_it(
    audited_sample: SampleProject, local_index: LocalIndex, osv: OsvService, run_relsafe: RunRelsafe
) -> None:
    depend(audited_sample, "sql-metadata>=2", extra="db")
    proc = run_relsafe("release", "minor", cwd=audited_sample.root)

    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "sqlparse 0.4.3 (required by sql-metadata): PYSEC-2023-87" in proc.stderr
    assert sorted(osv.requests) == [("sql-metadata", "2.20.0"), ("sqlparse", "0.4.3")]
    assert staged(local_index) == []
    assert audit_record(audited_sample)["outputs"]["packages"] == ["sql-metadata==2.20.0", "sqlparse==0.4.3"]


@pytest.mark.slow
def test_a_fixed_version_passes_a_reviewed_ignore_is_shown_recorded_and_tagged_and_the_lock_is_what_was_tested(
    tmp_path: Path,
    audited_sample: SampleProject,
    local_index: LocalIndex,
    loopback_only: LocalIndex,
    osv: OsvService,
    run_relsafe: RunRelsafe,
) -> None:
    reason = "only SQL we write ourselves is parsed; the ReDoS needs untrusted input"
    add_to_release_toml(
        audited_sample,
        f"""
        [[audit-deps.ignore]]
        id = "CVE-2023-30608"
        reason = "{reason}"
        until = "2999-12-31"

        [[audit-deps.ignore]]
        id = "PYSEC-2018-28"
        reason = "requests is not a dependency any more"
        """,
    )
    depend(audited_sample, "wheel>=0.38.1", "sqlparse")
    proc = run_relsafe("release", "minor", cwd=audited_sample.root)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    shown = "ignored PYSEC-2023-87 (CVE-2023-30608, GHSA-rrm6-wvj7-cwh2) in sqlparse 0.4.3 until 2999-12-31"
    assert f"{shown}, reviewed: {reason}" in proc.stdout
    assert "[[audit-deps.ignore]] PYSEC-2018-28 matches no advisory found: remove it" in proc.stdout
    outputs = audit_record(audited_sample)["outputs"]
    packaging = importlib.metadata.version("packaging")  # wheel requires it
    assert outputs["packages"] == [f"packaging=={packaging}", "sqlparse==0.4.3", "wheel==0.48.0"]
    assert [(a["package"], a["id"], a["ignored"]) for a in outputs["advisories"]] == [("sqlparse", SQLPARSE, True)]
    ignore_line = f"PYSEC-2023-87 sqlparse==0.4.3 until 2999-12-31: {reason}"
    assert [entry["line"] for entry in outputs["ignored"]] == [ignore_line]
    assert outputs["unused_ignores"] == ["PYSEC-2018-28"]

    lock = lock_of(audited_sample)
    message = tag_message(audited_sample)
    assert f"tested-lock: sha256:{sha256(lock)}" in message
    assert f"audit-ignore: {ignore_line}" in message
    status = status_json(audited_sample)
    assert status is not None
    assert status["steps"]["tag"]["outputs"]["manifest"][-2:] == [
        f"tested-lock: sha256:{sha256(lock)}",
        f"audit-ignore: {ignore_line}",
    ]

    # the lock: the wheel beside it, and each dependency with the hash of the file the index served
    packages = {entry["name"]: entry for entry in tomllib.loads(lock.read_text(encoding="utf-8"))["packages"]}
    assert set(packages) == {"relsafe-sample", "packaging", "sqlparse", "wheel"}
    built = {a["kind"]: a for a in status["steps"]["build"]["outputs"]["artifacts"]}
    own = packages["relsafe-sample"]["wheels"][0]
    assert (own["path"], own["hashes"]["sha256"]) == (f"dist/{built['wheel']['name']}", built["wheel"]["sha256"])
    assert (lock.parent / own["path"]).is_file()
    served = {path.name: sha256(path) for path in loopback_only.storage.rglob("*.whl")}
    for name, version in (("packaging", packaging), ("sqlparse", "0.4.3"), ("wheel", "0.48.0")):
        (entry,) = packages[name]["wheels"]
        assert packages[name]["version"] == version
        assert entry["hashes"]["sha256"] == served[entry["name"]], name
        assert entry["url"].startswith(loopback_only.index_url.rsplit("/simple", 1)[0])

    # the publish workflow's preparing job still reads the manifest it promotes from
    commit = status["steps"]["bump"]["outputs"]["commit"]
    published = run_committed_workflow(
        text=git(audited_sample.root, "show", f"{commit}:{DEFAULT_WORKFLOW}"),
        workflow=DEFAULT_WORKFLOW,
        root=audited_sample.root,
        owned=True,
        trigger=Trigger("push", "v0.2.0", commit, str(audited_sample.remote)),
        stand_ins={},
        tested={artifact["name"]: artifact["sha256"] for artifact in built.values()},
        folder=tmp_path / "job",
        log=RunLog(None),
    ).summary
    assert "hands its upload exactly the tested files" in published, published

    # anyone can audit exactly what was tested again, from the lock
    again = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip_audit",
            "--locked",
            str(lock.parent),
            "--osv-url",
            osv.query_url,
            "-s",
            "osv",
            "-f",
            "json",
            "--progress-spinner",
            "off",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert again.returncode == 1, again.stdout + again.stderr  # the ignored advisory is found again
    assert SQLPARSE in again.stdout
    assert ("relsafe-sample", "0.2.0") in osv.requests, "the released wheel is in the lock too"


@pytest.mark.slow
def test_an_ignore_past_its_until_lapses_and_says_so(
    audited_sample: SampleProject, loopback_only: LocalIndex, osv: OsvService, run_relsafe: RunRelsafe
) -> None:
    yesterday = (datetime.date.today() - datetime.timedelta(days=1)).isoformat()
    add_to_release_toml(
        audited_sample,
        f'[[audit-deps.ignore]]\nid = "PYSEC-2023-87"\nreason = "reviewed last year"\nuntil = "{yesterday}"\n',
    )
    depend(audited_sample, "sqlparse")
    proc = run_relsafe("release", "minor", cwd=audited_sample.root)

    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "sqlparse 0.4.3: PYSEC-2023-87" in proc.stderr
    assert f"the ignore of PYSEC-2023-87 lapsed after {yesterday} (its until)" in proc.stderr
    outputs = audit_record(audited_sample)["outputs"]
    assert outputs["lapsed"] == [{"id": "PYSEC-2023-87", "until": yesterday, "reason": "reviewed last year"}]
    assert outputs["ignored"] == []


@pytest.mark.slow
@pytest.mark.parametrize("failure", ["unreachable", "erroring"])
def test_the_service_failing_stops_a_release_closed_and_it_resumes_once_the_service_answers(
    failure: str,
    tmp_path: Path,
    local_index: LocalIndex,
    loopback_only: LocalIndex,
    run_relsafe: RunRelsafe,
) -> None:
    sample = create_sample(tmp_path, index=(local_index.upload_url, local_index.index_url))
    port = unused_port()
    url = f"http://127.0.0.1:{port}/v1/query"
    configure(sample, production=loopback_only.index_url, osv_url=url)
    depend(sample, "wheel")
    # unreachable: nothing listens on the port until the service starts there, after the refusal
    service = OsvService(port=port).__enter__() if failure == "erroring" else None
    try:
        if service is not None:
            service.mode = "error"
        proc = run_relsafe("release", "minor", cwd=sample.root)
        assert proc.returncode == 4, proc.stdout + proc.stderr
        error = next(line for line in proc.stderr.splitlines() if line.startswith("error:"))
        assert f"the OSV service at {url} did not answer" in error
        assert ("connection refused" if failure == "unreachable" else "500 Server Error") in error
        assert "before anything is staged" in error
        assert "[audit-deps] osv-url" in proc.stderr, "the hint names the fix"
        assert staged(local_index) == []

        service = service or OsvService(port=port).__enter__()
        service.mode = "ok"
        resumed = run_relsafe("resume", cwd=sample.root)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert audit_record(sample)["outputs"]["summary"] == "2 package(s) audited: no known vulnerability"
        assert len(staged(local_index)) == 2
    finally:
        if service is not None:
            service.__exit__()


@pytest.mark.slow
def test_a_rehearsal_reports_the_advisory_as_a_blocker_and_changes_nothing(
    audited_sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    depend(audited_sample, "sqlparse")
    before = world(audited_sample)
    proc = run_relsafe("release", "minor", "--dry-run", cwd=audited_sample.root)

    assert proc.returncode == 4, proc.stdout + proc.stderr
    blockers = proc.stdout[proc.stdout.index("blocker(s)") :]
    assert re.search(
        r"audit-deps\s+4\s+1 known vulnerability in the tested dependencies: sqlparse 0.4.3: PYSEC-2023-87", blockers
    ), blockers
    assert world(audited_sample) == before
    assert staged(local_index) == []
    status = status_json(audited_sample)
    assert status is not None and status["rehearsal"] and status["status"] == "blocked"
    assert status["blockers"][0]["step"] == "audit-deps"


@pytest.mark.slow
def test_killed_once_the_lock_is_written_a_release_resumes_and_locks_the_same(
    audited_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    depend(audited_sample, "wheel")
    proc = start(audited_sample, "release", "minor", RELSAFE_FAILPOINT="audit-deps-locked")
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == KILLED, err
    wait_for(lambda: not session_processes(proc.pid), 120, "the killed run's children to exit")
    written = sha256(lock_of(audited_sample))

    resumed = run_relsafe("resume", cwd=audited_sample.root)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert audit_record(audited_sample)["outputs"]["lock_sha256"] == written == sha256(lock_of(audited_sample))
    assert f"tested-lock: sha256:{written}" in tag_message(audited_sample)
