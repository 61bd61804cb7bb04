"""The release diff: what changed since the previous release, on real builds; the release compares with its
previous release on a real local index (pypiserver), refuses a start-up hook not accepted and a previous file
that is not what the index lists; `relsafe diff` and `relsafe inspect` through the real command line."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from packaging.specifiers import SpecifierSet

from relsafe.app.sample import SampleProject
from relsafe.artifacts.differ import compare_specifiers, release_diff
from relsafe.model.release_diff import ReleaseDiff
from relsafe.tools.index.previous import previous_release
from relsafe.tools.index.simple_api import (
    IndexFile,
    ProjectPage,
    ProjectStatus,
    files_for,
    parse_simple_html,
    parse_simple_json,
)
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe
from tests.support.fault_server import FaultServer
from tests.support.files import write_files
from tests.support.git import commit_all, git
from tests.support.projects import build, hatchling_project
from tests.support.world import status_json

ELF = b"\x7fELF\x02\x01\x01\x00" + bytes(56)

OLD_PROJECT = """\
requires-python = ">=3.9"
license = "MIT"
dependencies = ["requests>=2.20,<3", "urllib3<2", "idna>=2"]
[project.optional-dependencies]
fast = ["orjson>=3"]
[project.scripts]
sample = "sample.cli:main"
"""

NEW_PROJECT = """\
requires-python = ">=3.8"
license = "Apache-2.0"
dependencies = ["requests>=2.20", "urllib3>=1.26,<3", "idna>=3", "colorama>=0.4"]
[project.optional-dependencies]
fast = ["orjson>=3", "ujson"]
cli = ["rich"]
[project.scripts]
sample = "sample.extra:main"
sample-helper = "sample.cli:other"
[project.entry-points.pytest11]
sample = "sample.plugin"
"""

NEW_TOOL = """\
[tool.hatch.build.targets.wheel.force-include]
"boot.pth" = "boot.pth"
"sitecustomize.py" = "sitecustomize.py"
"helper_top.py" = "helper_top.py"
[tool.hatch.build.targets.wheel.shared-data]
"share" = "share"
[tool.hatch.build.targets.wheel.shared-scripts]
"scripts/sample-tool" = "sample-tool"
"""


def sample_project(root: Path, version: str, new: bool) -> list[Path]:
    """The `sample` package as released at `version`, built by hatchling: `new` adds one of every change."""
    files = {"src/sample/cli.py": "def main():\n    pass\n\n\ndef other():\n    pass\n"}
    if new:
        files |= {
            "src/sample/extra.py": "def main():\n    pass\n",
            "boot.pth": "import sample\n",
            "sitecustomize.py": "import sample\n",
            "helper_top.py": "",
            "share/sample/data.json": "{}\n",
            "scripts/sample-tool": "#!/bin/sh\necho tool\n",
            "tests/test_new.py": "",
        }
    else:
        files |= {"src/sample/legacy.py": "", "tests/test_old.py": ""}
    hatchling_project(
        root, files, version=version, project=NEW_PROJECT if new else OLD_PROJECT, tool=NEW_TOOL if new else ""
    )
    if new:
        (root / "src/sample/_speed.so").write_bytes(ELF)
        (root / "tests/fixtures").mkdir(parents=True)
        (root / "tests/fixtures/blob.bin").write_bytes(ELF)
        (root / "scripts/sample-tool").chmod(0o755)
    return build(root)


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    """Two releases of `sample`, real builds: 1.0.0, and 1.1.0 with one of every kind of change."""
    base = tmp_path_factory.mktemp("releases")
    return {
        "old": sample_project(base / "old", "1.0.0", new=False),
        "new": sample_project(base / "new", "1.1.0", new=True),
    }


@pytest.fixture(scope="module")
def report(releases: dict[str, list[Path]]) -> ReleaseDiff:
    return release_diff(releases["new"], releases["old"])


EXPECTED = {
    "pth": "refused: start-up hook added: boot.pth (a .pth file, whose import lines Python's site module runs at "
    "every start-up); not accepted ([inspect] accept-pth)",
    "startup module": "refused: start-up hook added: sitecustomize.py (the sitecustomize module, which Python's site "
    "module imports at every start-up); not accepted ([inspect] accept-pth)",
    "console script changed": "warning: console script changed: sample = sample.extra:main (was sample.cli:main)",
    "console script added": "warning: console script added: sample-helper = sample.cli:other",
    "entry point added": "warning: entry point added: [pytest11] sample = sample.plugin",
    "top-level name": "warning: top-level name added to site-packages: helper_top.py (importable as helper_top)",
    "outside the package": "warning: file installed outside the package added: data/share/sample/data.json "
    "(into the environment's prefix)",
    "native library": "warning: native library (ELF) added: sample/_speed.so",
    "script on PATH": "warning: script installed on PATH added: sample_pkg-1.1.0.data/scripts/sample-tool",
    "native in the sdist": "warning: native binary (ELF) added to the sdist: tests/fixtures/blob.bin",
    "dependency added": "warning: dependency added: colorama>=0.4",
    "dependency added to an extra": "warning: dependency added (extra 'fast'): ujson; extra == 'fast'",
    "dependency of a new extra": "warning: dependency added (extra 'cli'): rich; extra == 'cli'",
    "dependency loosened": "warning: dependency loosened: requests <3,>=2.20 → >=2.20",
    "dependency changed": "warning: dependency changed: urllib3 <2 → <3,>=1.26",
    "dependency tightened": "info: dependency tightened: idna >=2 → >=3",
    "requires-python": "warning: Requires-Python loosened: >=3.9 → >=3.8",
    "license": "warning: license changed (License-Expression): MIT → Apache-2.0",
    "extra added": "info: extra added: cli",
    "wheel file added": "info: wheel file added: sample/extra.py",
    "wheel file removed": "info: wheel file removed: sample/legacy.py",
    "sdist file added": "info: sdist file added (not in the wheel): tests/test_new.py",
    "sdist file removed": "info: sdist file removed (not in the wheel): tests/test_old.py",
    "files changed": "info: wheel files changed: ",
    "wheel size": "wheel: sample_pkg-1.0.0-py3-none-any.whl → sample_pkg-1.1.0-py3-none-any.whl, ",
    "sdist size": "sdist: sample_pkg-1.0.0.tar.gz → sample_pkg-1.1.0.tar.gz, ",
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(EXPECTED))
def test_each_kind_of_change_is_reported_in_its_words(report: ReleaseDiff, kind: str) -> None:
    lines = [line.strip() for line in report.lines(limit=None)]
    assert any(line.startswith(EXPECTED[kind]) for line in lines), "\n".join(lines)


@pytest.mark.slow
def test_the_report_is_worst_first_and_says_what_it_compared(report: ReleaseDiff) -> None:
    lines = report.lines(limit=None)
    assert lines[0].startswith("release diff of sample-pkg 1.0.0 → 1.1.0: 2 refused, ")
    severities = [
        line.strip().split(":")[0] for line in lines if line.strip().startswith(("refused", "warning", "info"))
    ]
    assert severities == sorted(severities, key=["refused", "warning", "info"].index)
    assert lines[-1] == f"  digest sha256:{report.digest}"
    assert report.tag_line().startswith(f"release-diff: sha256:{report.digest} against 1.0.0 (2 refused, ")
    # a file that is in the wheel is not reported again among the sdist's own
    assert not any("sdist file added (not in the wheel): src/sample/extra.py" in line for line in lines)


@pytest.mark.slow
def test_the_other_way_round_removals_and_tightening_are_information(releases: dict[str, list[Path]]) -> None:
    backwards = release_diff(releases["old"], releases["new"])
    lines = [line.strip() for line in backwards.lines(limit=None)]
    for expected in (
        "info: console script removed: sample-helper (was sample.cli:other)",
        "info: entry point removed: [pytest11] sample (was sample.plugin)",
        "info: dependency removed: colorama>=0.4",
        "info: dependency tightened: requests >=2.20 → <3,>=2.20",
        "info: extra removed: cli",
        "info: wheel file removed: boot.pth",
        "warning: Requires-Python tightened: >=3.8 → >=3.9",
        "warning: dependency loosened: idna >=3 → >=2",
    ):
        assert expected in lines, "\n".join(lines)
    assert not backwards.refused  # the hooks were removed


@pytest.mark.slow
def test_accepted_hooks_are_shown_every_time_and_a_hook_already_there_is_still_refused(
    releases: dict[str, list[Path]],
) -> None:
    accepted = release_diff(releases["new"], releases["old"], accept_pth=["boot.pth", "sitecustomize.py"])
    assert not accepted.refused
    assert [change.subject for change in accepted.accepted] == ["boot.pth", "sitecustomize.py"]
    assert accepted.accepted[0].line().startswith("accepted: start-up hook boot.pth (a .pth file")
    assert accepted.accepted[0].line().endswith(", new): accepted by [inspect] accept-pth")
    again = release_diff(releases["new"], releases["new"][:1], accept_pth=["sitecustomize.py"])
    assert [change.subject for change in again.refused] == ["boot.pth"]
    assert again.refused[0].message.startswith("start-up hook: boot.pth (a .pth file, whose import lines")
    assert ", already in 1.1.0); not accepted" in again.refused[0].message


@pytest.mark.slow
def test_a_first_release_says_so_and_still_refuses_a_hook(releases: dict[str, list[Path]]) -> None:
    first = release_diff(releases["new"], [], index_url="https://pypi.org/simple/")
    assert first.first_release
    assert first.summary() == (
        "release diff: first release: no version of sample-pkg below 1.1.0 on https://pypi.org/simple/ to compare "
        "with; 2 refused"
    )
    assert [change.kind for change in first.changes] == ["startup-hook", "startup-hook"]
    assert first.tag_line().endswith("first release (2 refused)")


@pytest.mark.parametrize(
    ("old", "new", "judged"),
    [
        (">=1.2,<2", ">=1.2", "loosened"),
        (">=1.2", ">=1.1", "loosened"),
        ("==1.2.3", ">=1.2.3", "loosened"),
        (">=1.2", "", "loosened"),
        ("<2", "<3", "loosened"),
        (">=1.2", ">=1.3", "tightened"),
        ("", ">=1", "tightened"),
        ("<2", ">=1.26,<3", "changed"),
        ("~=1.2", ">=1.2,<2", "same"),
        (">=1.2,<2", "<2,>=1.2", "same"),
        ("==1.*", ">=1,<2", "same"),
    ],
)
def test_specifiers_are_judged_by_the_versions_they_admit(old: str, new: str, judged: str) -> None:
    assert compare_specifiers(SpecifierSet(old), SpecifierSet(new)) == judged


# `relsafe diff` and `relsafe inspect` through the command line


@pytest.mark.slow
def test_relsafe_diff_of_two_built_files_is_a_report_exit_0(
    releases: dict[str, list[Path]], tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    old_wheel, new_wheel = releases["old"][0], releases["new"][0]
    text = run_relsafe("diff", str(old_wheel), str(new_wheel), cwd=tmp_path)
    as_json = run_relsafe("diff", str(old_wheel), str(new_wheel), "--format", "json", cwd=tmp_path)
    accepted = run_relsafe(
        "diff",
        str(old_wheel),
        str(new_wheel),
        "--accept-pth",
        "boot.pth",
        "--accept-pth",
        "sitecustomize.py",
        cwd=tmp_path,
    )

    assert text.returncode == 0, text.stdout + text.stderr
    assert text.stdout.startswith("release diff of sample-pkg 1.0.0 → 1.1.0: 2 refused, ")
    assert EXPECTED["console script added"] in text.stdout
    assert "sdist" not in text.stdout.split("\n", 2)[1]  # two wheels: one pair
    report = json.loads(as_json.stdout)
    assert as_json.returncode == 0
    assert [pair["kind"] for pair in report["pairs"]] == ["wheel"]
    assert report["pairs"][0]["old"]["name"] == old_wheel.name and report["previous"] == "1.0.0"
    assert {change["kind"] for change in report["changes"]} >= {"startup-hook", "console-script-added", "native-added"}
    assert report["digest"] == ReleaseDiff.from_dict(report).digest
    assert accepted.returncode == 0 and "refused" not in accepted.stdout
    assert "accepted: start-up hook boot.pth" in accepted.stdout


@pytest.mark.parametrize(
    "arguments",
    [
        ["only-one.whl"],
        ["missing-1.0-py3-none-any.whl", "other-1.0-py3-none-any.whl"],
        ["not a spec", "pkg==1.0"],
        ["pkg==not-a-version", "pkg==1.0"],
        ["OLD_WHEEL", "OLD_SDIST"],
        ["OLD_WHEEL", "OLD_WHEEL", "--format", "yaml"],
    ],
)
def test_relsafe_diff_refuses_bad_arguments_with_exit_2(
    arguments: list[str], releases: dict[str, list[Path]], tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    named = {"OLD_WHEEL": str(releases["old"][0]), "OLD_SDIST": str(releases["old"][1])}
    refused = run_relsafe("diff", *(named.get(argument, argument) for argument in arguments), cwd=tmp_path)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "Traceback" not in refused.stderr


@pytest.mark.slow
def test_relsafe_inspect_names_every_pth_and_refuses_a_hook_unless_accepted(
    releases: dict[str, list[Path]], tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    new_wheel, new_sdist = releases["new"]
    found = run_relsafe("inspect", str(new_wheel), str(new_sdist), cwd=tmp_path)
    accepted = run_relsafe(
        "inspect", str(new_wheel), "--accept-pth", "boot.pth", "--accept-pth", "sitecustomize.py", cwd=tmp_path
    )

    assert found.returncode == 4, found.stdout + found.stderr
    assert f"{new_wheel.name}: boot.pth: startup: start-up hook: a .pth file" in found.stdout
    assert f"{new_wheel.name}: sitecustomize.py: startup: start-up hook: the sitecustomize module" in found.stdout
    assert f"note: {new_sdist.name}: boot.pth: .pth file in the sdist" in found.stdout
    assert accepted.returncode == 0, accepted.stdout
    assert f"note: {new_wheel.name}: boot.pth: accepted start-up hook: a .pth file" in accepted.stdout


# the release: the previous release on the test's production index (a real pypiserver)


def publish_previous(sample: SampleProject, index: LocalIndex, out: Path) -> list[Path]:
    """The sample as it is now (0.1.0), built and put on the index as its previous release."""
    built = build(sample.root, out=out)
    for path in built:
        shutil.copy(path, index.storage / path.name)
    assert set(files_for(index.index_url, sample.name, "0.1.0")) == {path.name for path in built}
    return built


def configure(sample: SampleProject, steps: list[str], *, production: str | None = None, extra: str = "") -> None:
    """release.toml: `steps`, built with the backend beside relsafe, staged on the sample's index, production
    there too unless `production` says otherwise."""
    config = sample.root / "release.toml"
    text = config.read_text(encoding="utf-8")
    staging = re.search(r'index-url = "([^"]+)"', text)
    assert staging is not None
    upload = re.search(r'repository-url = "([^"]+)"', text)
    assert upload is not None
    config.write_text(
        "[release]\nsteps = [" + ", ".join(f'"{step}"' for step in steps) + "]\n\n"
        "[build]\nisolation = false\n\n"
        f'[staging]\nrepository-url = "{upload.group(1)}"\nindex-url = "{staging.group(1)}"\n\n'
        f'[production]\nindex-url = "{production or staging.group(1)}"\n' + extra,
        encoding="utf-8",
    )


def add_novelties(sample: SampleProject, *, pth: bool) -> None:
    """A console script and a dependency; with `pth`, a .pth file at the top of site-packages."""
    pyproject = sample.root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8").replace(
        'requires-python = ">=3.10"', 'requires-python = ">=3.10"\ndependencies = ["packaging>=20"]'
    )
    text += f'\n[project.scripts]\ngreet = "{sample.module}.cli:main"\n'
    if pth:
        text += (
            '\n[tool.hatch.build.targets.wheel.force-include]\n"relsafe_sample_boot.pth" = "relsafe_sample_boot.pth"\n'
        )
        write_files(sample.root, {"relsafe_sample_boot.pth": "import os\n"})
    pyproject.write_text(text, encoding="utf-8")
    write_files(sample.root, {f"src/{sample.module}/cli.py": "def main():\n    print('hello')\n"})


def inspect_record(sample: SampleProject) -> dict[str, Any]:
    record = status_json(sample)
    assert record is not None
    inspect: dict[str, Any] = record["steps"]["inspect"]
    return inspect


@pytest.mark.slow
def test_a_release_shows_its_diff_at_the_gate_records_it_and_tags_its_digest(
    sample: SampleProject, local_index: LocalIndex, tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    publish_previous(sample, local_index, tmp_path / "previous")
    gate = '\n[[gate]]\nname = "checklist"\nitems = ["The release diff is what we meant to ship"]\n'
    accept = '\n[inspect]\naccept-pth = ["relsafe_sample_boot.pth"]\n'
    configure(sample, ["preflight", "bump", "build", "inspect", "stage", "gate", "tag"], extra=gate + accept)
    add_novelties(sample, pth=True)
    commit_all(sample, "A greet command, packaging, and a reviewed start-up hook")

    released = run_relsafe("release", "minor", "--confirm", "checklist", cwd=sample.root)

    output = released.stdout
    assert released.returncode == 0, output + released.stderr
    asked = output.index("… Gate: checklist")
    shown = output.index("release diff of relsafe-sample 0.1.0 → 0.2.0", asked)
    assert shown < output.index("✓ Gate: checklist")
    assert "warning: console script added: greet = relsafe_sample.cli:main" in output[shown:]
    assert "warning: dependency added: packaging>=20" in output[shown:]
    assert "accepted: start-up hook relsafe_sample_boot.pth (a .pth file" in output[shown:]
    record = inspect_record(sample)
    diff = ReleaseDiff.from_dict(record["outputs"]["diff"])
    assert diff.previous == "0.1.0" and [pair.kind for pair in diff.pairs] == ["wheel", "sdist"]
    assert record["outputs"]["summary"].endswith(
        "release diff of relsafe-sample 0.1.0 → 0.2.0: 2 warnings, 1 accepted, 4 info"
    )
    state = status_json(sample)
    assert state is not None
    assert state["steps"]["gate:checklist"]["outputs"]["release_diff"] == f"sha256:{diff.digest}"
    message = git(sample.root, "for-each-ref", "--format=%(contents)", "refs/tags/v0.2.0")
    assert message.splitlines()[:3] == ["Release 0.2.0", "", diff.tag_line()]
    assert "relsafe-manifest: 1" in message  # the manifest still follows, for the publish workflow
    shown_status = run_relsafe("status", cwd=sample.root).stdout
    assert diff.summary() in shown_status and "warning: console script added: greet" in shown_status
    # the same two releases compared by `relsafe diff` from the index give the digest the tag carries
    again = run_relsafe(
        "diff",
        "relsafe-sample==0.1.0",
        "relsafe-sample==0.2.0",
        "--index-url",
        local_index.index_url,
        "--accept-pth",
        "relsafe_sample_boot.pth",
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["digest"] == diff.digest


@pytest.mark.slow
def test_a_pth_file_refuses_the_release_before_staging_until_accept_pth_lists_it(
    sample: SampleProject, local_index: LocalIndex, tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    publish_previous(sample, local_index, tmp_path / "previous")
    configure(sample, ["preflight", "bump", "build", "inspect", "stage"])
    add_novelties(sample, pth=True)
    commit_all(sample, "A start-up hook")

    refused = run_relsafe("release", "minor", cwd=sample.root)

    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert "release diff: start-up hook added: relsafe_sample_boot.pth" in refused.stderr
    assert "[inspect] accept-pth" in refused.stderr
    assert files_for(local_index.index_url, sample.name, "0.2.0") == {}  # nothing staged
    record = inspect_record(sample)
    assert record["status"] == "failed"
    assert ReleaseDiff.from_dict(record["outputs"]["diff"]).refused  # recorded although refused

    assert run_relsafe("abort", cwd=sample.root).returncode == 0
    configure(
        sample,
        ["preflight", "bump", "build", "inspect", "stage"],
        extra='\n[inspect]\naccept-pth = ["relsafe_sample_boot.pth"]\n',
    )
    commit_all(sample, "The start-up hook is reviewed")
    accepted = run_relsafe("release", "minor", cwd=sample.root)

    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "release diff: accepted: start-up hook relsafe_sample_boot.pth" in accepted.stdout
    assert len(files_for(local_index.index_url, sample.name, "0.2.0")) == 2


@pytest.mark.slow
def test_a_first_release_rehearsal_says_there_is_nothing_to_compare_with(
    sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    configure(sample, ["preflight", "bump", "build", "inspect", "stage"])
    commit_all(sample, "Release configuration")

    rehearsed = run_relsafe("release", "minor", "--dry-run", cwd=sample.root)

    assert rehearsed.returncode == 0, rehearsed.stdout + rehearsed.stderr
    assert (
        f"release diff: first release: no version of relsafe-sample below 0.2.0 on {local_index.index_url} "
        "to compare with" in rehearsed.stdout
    )
    assert rehearsed.stdout.index("release diff: first release") < rehearsed.stdout.index("rehearsal passed")


@pytest.mark.slow
def test_a_rehearsal_shows_the_diff_and_the_refusal_among_its_blockers(
    sample: SampleProject, local_index: LocalIndex, tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    publish_previous(sample, local_index, tmp_path / "previous")
    configure(sample, ["preflight", "bump", "build", "inspect", "stage"])
    add_novelties(sample, pth=True)
    commit_all(sample, "A start-up hook")

    rehearsed = run_relsafe("release", "minor", "--dry-run", cwd=sample.root)

    output = rehearsed.stdout
    assert rehearsed.returncode == 4, output + rehearsed.stderr
    assert "release diff of relsafe-sample 0.1.0 → 0.2.0" in output
    assert "refused: start-up hook added: relsafe_sample_boot.pth" in output
    assert "warning: console script added: greet = relsafe_sample.cli:main" in output
    assert "info: wheel file added: relsafe_sample/cli.py" in output
    assert "1 blocker(s)" in output


@pytest.mark.slow
def test_a_previous_release_changed_on_the_index_after_the_fact_is_refused(
    sample: SampleProject, local_index: LocalIndex, tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    """The index answers with the sha256 it listed at upload (as PyPI does), the file has been replaced since."""
    previous = publish_previous(sample, local_index, tmp_path / "previous")
    with FaultServer(local_index.index_url.removesuffix("/simple/")).running() as production:
        production.mode, production.faulty = "frozen", ("GET",)
        listed = files_for(production.url + "/simple/", sample.name, "0.1.0")  # the listing, as at upload
        wheel = previous[0]
        (local_index.storage / wheel.name).write_bytes(wheel.read_bytes() + b"\0")  # replaced by other bytes
        assert hashlib.sha256((local_index.storage / wheel.name).read_bytes()).hexdigest() != listed[wheel.name]
        configure(sample, ["preflight", "bump", "build", "inspect", "stage"], production=production.url + "/simple/")
        commit_all(sample, "Production behind a mirror")

        refused = run_relsafe("release", "minor", cwd=sample.root)

    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert (
        f"the previous release's {wheel.name} on the production index {production.url}/simple/ is not the file the "
        f"index lists" in refused.stderr
    )
    assert f"listed {listed[wheel.name]}" in refused.stderr
    assert files_for(local_index.index_url, sample.name, "0.2.0") == {}


def test_the_previous_release_is_the_highest_version_below_that_is_not_yanked() -> None:
    def entry(name: str, yanked: bool = False) -> IndexFile:
        return IndexFile(name, f"https://files.example/{name}", "0" * 64, yanked=yanked)

    page = ProjectPage(
        [
            entry("pkg-1.0.tar.gz"),
            entry("pkg-1.0-py3-none-any.whl"),
            entry("pkg-1.1.tar.gz", yanked=True),  # yanked for what it shipped: never the baseline
            entry("pkg-1.1-py3-none-any.whl", yanked=True),
            entry("pkg-2.0rc1-py3-none-any.whl"),
            entry("pkg-3.0-py3-none-any.whl"),
        ],
        ProjectStatus(),
    )
    assert previous_release(page, "1.2").version == "1.0"  # type: ignore[union-attr]
    assert previous_release(page, "2.0").version == "2.0rc1"  # type: ignore[union-attr]
    assert previous_release(page, "1.0") is None


def test_yanked_files_are_read_from_both_forms_of_the_simple_api() -> None:
    body = json.dumps(
        {
            "files": [
                {"filename": "pkg-1.0.tar.gz", "url": "pkg-1.0.tar.gz", "hashes": {"sha256": "a" * 64}},
                {
                    "filename": "pkg-1.1.tar.gz",
                    "url": "pkg-1.1.tar.gz",
                    "hashes": {"sha256": "b" * 64},
                    "yanked": "bad",
                },
            ]
        }
    )
    html = (
        f'<a href="pkg-1.0.tar.gz#sha256={"a" * 64}">pkg-1.0.tar.gz</a>'
        f'<a href="pkg-1.1.tar.gz#sha256={"b" * 64}" data-yanked="">pkg-1.1.tar.gz</a>'
    )
    base = "https://index.example/simple/pkg/"
    assert [f.yanked for f in parse_simple_json(body, base)] == [False, True]
    assert [f.yanked for f in parse_simple_html(html, base)] == [False, True]
