"""Facts and checks of one built file, on real builds and on hand-made archives."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from relsafe.artifacts.distribution import (
    Distribution,
    compare_wheel_file_lists,
    layout_problems,
    metadata_version,
    sha256_file,
    version_problems,
    wheel_members,
)
from relsafe.core.errors import StepFailed
from tests.support import projects
from tests.support.sdists import write_sdist
from tests.support.wheels import write_wheel

WHEEL = "pkg-1.0-py3-none-any.whl"
SDIST = "pkg-1.0.tar.gz"


def metadata(version: str = "1.0") -> bytes:
    return f"Metadata-Version: 2.1\nName: pkg\nVersion: {version}\n\nThe README.\n".encode()


def dist_info(version: str = "1.0", folder: str = "pkg-1.0.dist-info") -> dict[str, bytes]:
    return {
        f"{folder}/METADATA": metadata(version),
        f"{folder}/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{folder}/RECORD": b"",
    }


def build_project(root: Path, *build_args: str, sdist_exclude: str = "") -> list[Path]:
    """Build a real hatchling project with a data file; return its dist files, wheel first.

    `sdist_exclude` leaves one file out of the sdist, as a forgotten MANIFEST entry would."""
    return projects.build_project(
        root,
        {
            "README.md": "# Sample\n\nA sample package.\n",
            "LICENSE": "MIT License\n",
            "src/sample/data/table.json": "{}\n",
        },
        *build_args,
        name="Sample.Pkg",
        project='license = "MIT"\nlicense-files = ["LICENSE"]\n',
        tool=f'[tool.hatch.build.targets.sdist]\nexclude = ["{sdist_exclude}"]\n' if sdist_exclude else "",
    )


@pytest.mark.slow
def test_facts_and_checks_of_a_real_build(tmp_path: Path) -> None:
    wheel, sdist = build_project(tmp_path / "project")

    wheel_dist, sdist_dist = Distribution.read(wheel), Distribution.read(sdist)

    assert (wheel_dist.kind, wheel_dist.name, wheel_dist.version) == ("wheel", "sample-pkg", "1.2.3")
    assert (sdist_dist.kind, sdist_dist.name, sdist_dist.version) == ("sdist", "sample-pkg", "1.2.3")
    for dist, path in ((wheel_dist, wheel), (sdist_dist, sdist)):
        assert dist.path == path
        assert dist.size == path.stat().st_size
        assert dist.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        assert metadata_version(path) == "1.2.3"
        assert version_problems(path, "1.2.3") == []
        assert version_problems(path, "1.2.3.0") == []  # equal as Versions
        problems = version_problems(path, "1.3.0")
        assert len(problems) == 2
        assert all(p.startswith(f"{path.name}: ") and "1.3.0" in p for p in problems)
    assert layout_problems(wheel) == []
    assert "sample/data/table.json" in wheel_members(wheel)


@pytest.mark.slow
def test_a_file_left_out_of_the_sdist_shows_against_a_wheel_built_from_the_tree(tmp_path: Path) -> None:
    left_out = "src/sample/data/table.json"
    (from_tree,) = build_project(tmp_path / "tree", "--wheel", sdist_exclude=left_out)
    from_sdist, _ = build_project(tmp_path / "sdist", sdist_exclude=left_out)  # build's default: through the sdist
    complete, _ = build_project(tmp_path / "complete")

    assert compare_wheel_file_lists(from_sdist, from_tree) == [
        f"sample/data/table.json is in a wheel built from the source tree but not in {from_sdist.name}: "
        "the sdist lacks it"
    ]
    assert compare_wheel_file_lists(complete, from_tree) == []


def test_file_lists_ignore_what_legitimately_varies(tmp_path: Path) -> None:
    package = {"sample/__init__.py": b"", "sample/data/": b""}
    released = write_wheel(
        tmp_path / "a" / "Sample.Pkg-1.0-py3-none-any.whl",
        {**package, **dist_info(folder="Sample.Pkg-1.0.dist-info"), "Sample.Pkg-1.0.data/scripts/run": b""},
    )
    rebuilt = write_wheel(
        tmp_path / "b" / "sample_pkg-1.0-py3-none-any.whl",
        {
            "sample/__init__.py": b"",
            **dist_info(folder="sample_pkg-1.0.dist-info"),
            "sample_pkg-1.0.dist-info/RECORD.jws": b"{}",
            "sample_pkg-1.0.data/scripts/run": b"",
        },
    )
    assert compare_wheel_file_lists(released, rebuilt) == []


def test_file_lists_report_files_on_either_side(tmp_path: Path) -> None:
    released = write_wheel(
        tmp_path / "a" / WHEEL,
        {
            "pkg/__init__.py": b"",
            "pkg/py.typed": b"",
            **dist_info(),
            "pkg-1.0.dist-info/licenses/LICENSE": b"",
        },
    )
    from_tree = write_wheel(
        tmp_path / "b" / WHEEL, {"pkg/__init__.py": b"", "pkg/_build_stamp.txt": b"", **dist_info()}
    )
    assert compare_wheel_file_lists(released, from_tree) == [
        f"pkg/_build_stamp.txt is in a wheel built from the source tree but not in {WHEEL}: the sdist lacks it",
        f"pkg-1.0.dist-info/licenses/LICENSE is only in {WHEEL}, not in a wheel built from the source tree",
        f"pkg/py.typed is only in {WHEEL}, not in a wheel built from the source tree",
    ]


def test_wheel_members_are_sorted_files_without_folder_entries(tmp_path: Path) -> None:
    wheel = write_wheel(tmp_path / WHEEL, {"pkg/b.py": b"", "pkg/": b"", "pkg/a.py": b"", **dist_info()})
    assert wheel_members(wheel) == [
        "pkg-1.0.dist-info/METADATA",
        "pkg-1.0.dist-info/RECORD",
        "pkg-1.0.dist-info/WHEEL",
        "pkg/a.py",
        "pkg/b.py",
    ]


def test_a_sound_wheel_has_no_layout_problems(tmp_path: Path) -> None:
    wheel = write_wheel(
        tmp_path / WHEEL,
        {"pkg/__init__.py": b"", "pkg/tests/test_x.py": b"", "pkg-1.0.data/scripts/tool": b"", **dist_info()},
    )
    assert layout_problems(wheel) == []


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"pkg/__pycache__/a.cpython-311.pyc": b"", "pkg/b.pyo": b""}, "contains compiled bytecode: "),
        ({"tests/test_pkg.py": b""}, "installs a top-level 'tests' into site-packages"),
        ({"docs/index.md": b""}, "installs a top-level 'docs' into site-packages"),
        ({"src/pkg/__init__.py": b""}, "installs a top-level 'src' into site-packages"),
        ({"pkg-1.0.data/purelib/test/x.py": b""}, "installs a top-level 'test' into site-packages"),
        ({"__init__.py": b""}, "installs __init__.py at the top of site-packages"),
    ],
)
def test_layout_problems_are_named(tmp_path: Path, extra: dict[str, bytes], expected: str) -> None:
    wheel = write_wheel(tmp_path / WHEEL, {"pkg/__init__.py": b"", **extra, **dist_info()})
    problems = layout_problems(wheel)
    assert len(problems) == 1
    assert problems[0].startswith(f"{WHEEL} {expected}")


def test_many_bytecode_files_make_one_short_line(tmp_path: Path) -> None:
    wheel = write_wheel(tmp_path / WHEEL, {**{f"pkg/m{i}.pyc": b"" for i in range(10)}, "pkg/a.py": b"", **dist_info()})
    (problem,) = layout_problems(wheel)
    assert problem.endswith("pkg/m0.pyc, pkg/m1.pyc, pkg/m2.pyc and 7 more")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (dist_info(), "is empty: it has no files besides its .dist-info folder"),
        ({"pkg-1.0.data/scripts/tool": b"", **dist_info()}, "installs nothing into site-packages"),
        ({"pkg/__init__.py": b""}, "has 0 .dist-info folders, expected exactly one"),
        (
            {"pkg/__init__.py": b"", **dist_info(), **dist_info(folder="other-2.0.dist-info")},
            "has 2 .dist-info folders",
        ),
        ({"pkg/__init__.py": b"", "pkg-1.0.dist-info/METADATA": metadata()}, "lacks pkg-1.0.dist-info/WHEEL"),
    ],
)
def test_broken_wheels_are_named(tmp_path: Path, files: dict[str, bytes], expected: str) -> None:
    problems = layout_problems(write_wheel(tmp_path / WHEEL, files))
    assert problems[0].startswith(f"{WHEEL} {expected}")


def test_version_inside_the_wheel_must_match_the_file_name_and_the_release(tmp_path: Path) -> None:
    wheel = write_wheel(tmp_path / WHEEL, {"pkg/__init__.py": b"", **dist_info(version="1.1")})
    assert metadata_version(wheel) == "1.1"
    assert version_problems(wheel, "1.0") == [f"{WHEEL}: METADATA says version 1.1, the release is 1.0"]
    assert version_problems(wheel, "1.1") == [f"{WHEEL}: the file name says version 1.0, the release is 1.1"]


def test_an_invalid_or_missing_metadata_version_is_a_problem(tmp_path: Path) -> None:
    invalid = write_wheel(tmp_path / "a" / WHEEL, {"pkg/__init__.py": b"", **dist_info(version="one")})
    missing = write_wheel(tmp_path / "b" / WHEEL, {"pkg/__init__.py": b""})
    no_field = write_sdist(tmp_path / SDIST, {"PKG-INFO": b"Metadata-Version: 2.1\nName: pkg\n"})

    assert version_problems(invalid, "1.0") == [f"{WHEEL}: METADATA has version 'one', which is not a valid version"]
    assert version_problems(missing, "1.0") == [f"{WHEEL} has 0 .dist-info/METADATA files, expected one"]
    assert version_problems(no_field, "1.0") == [f"{SDIST}: PKG-INFO has no Version field"]
    with pytest.raises(StepFailed, match="no Version field"):
        metadata_version(no_field)


def test_the_sdist_version_comes_from_the_top_level_pkg_info(tmp_path: Path) -> None:
    sdist = write_sdist(
        tmp_path / SDIST,
        {
            "src/pkg.egg-info/PKG-INFO": metadata("0.9"),
            "PKG-INFO": metadata("1.0"),
            "src/pkg/__init__.py": b"",
        },
    )
    assert metadata_version(sdist) == "1.0"
    assert version_problems(sdist, "1.0") == []
    assert version_problems(sdist, "2.0") == [
        f"{SDIST}: the file name says version 1.0, the release is 2.0",
        f"{SDIST}: PKG-INFO says version 1.0, the release is 2.0",
    ]


def test_an_sdist_without_pkg_info_is_a_problem(tmp_path: Path) -> None:
    sdist = write_sdist(tmp_path / SDIST, {"setup.py": b""})
    assert version_problems(sdist, "1.0") == [f"{SDIST} has no PKG-INFO in its top folder"]


def test_sha256_file_streams_a_file_larger_than_one_read(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 5)
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("name", ["notes.txt", "pkg.zip", "not-a-wheel.whl", "nohyphen.tar.gz"])
def test_unknown_or_malformed_file_names_are_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(StepFailed, match=name):
        Distribution.read(path)


def test_a_damaged_wheel_is_a_step_failure(tmp_path: Path) -> None:
    path = tmp_path / WHEEL
    path.write_bytes(b"not a zip file")
    with pytest.raises(StepFailed, match="cannot read"):
        wheel_members(path)
    with pytest.raises(StepFailed, match="cannot read"):
        metadata_version(path)
