"""inspect and smoke stop what works from the source tree but not once built and installed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject
from tests.support.cli import RunRelsafe
from tests.support.files import write
from tests.support.git import commit_all, git

PYPI_TOKEN = "".join(["pypi-AgEIcHlwaS5vcmc", "A1b2C3d4E5" * 6])
TESTPYPI_TOKEN = "".join(["pypi-AgENdGVzdC5weXBpLm9yZw", "Z9y8X7w6V5" * 6])
GITHUB_TOKEN = "".join(["ghp_", "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5"])
AWS_KEY = "AKIA" + "QWERTYUIOPASDFGH"
# split in the source: relsafe's own sdist ships these tests and must pass its own secret scan
PRIVATE_KEY = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEowIBAAKCAQEAx\n-----END RSA " + "PRIVATE KEY-----\n"


def assert_stopped_before_tag(sample: SampleProject) -> None:
    assert git(sample.root, "tag", "--list") == ""
    assert git(sample.remote, "tag", "--list") == ""


@pytest.mark.slow
def test_a_healthy_package_passes_inspect_and_smoke(sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    released = run_relsafe("release", "minor", cwd=sample.root)
    assert released.returncode == 0, released.stdout + released.stderr
    assert "7 checks passed" in released.stdout
    assert re.search(r"\d+ passed", released.stdout)  # the sample's tests, run against the installed wheel


SECRETS: dict[str, tuple[str, str, str]] = {
    # name: (path inside the project, content, what the refusal must call it)
    "pypi token": ("src/relsafe_sample/settings.py", f'TOKEN = "{PYPI_TOKEN}"\n', "PyPI"),
    "testpypi token": ("src/relsafe_sample/settings.py", f'TOKEN = "{TESTPYPI_TOKEN}"\n', "TestPyPI"),
    "github token": ("src/relsafe_sample/settings.py", f'TOKEN = "{GITHUB_TOKEN}"\n', "GitHub"),
    "aws key": ("src/relsafe_sample/settings.py", f'KEY = "{AWS_KEY}"\n', "AWS"),
    "private key": ("src/relsafe_sample/key.txt", PRIVATE_KEY, "private key"),
    ".pypirc": (
        "src/relsafe_sample/.pypirc",
        "[pypi]\nusername = __token__\npassword = hunter2hunter2\n",
        ".pypirc",
    ),
    ".env": ("src/relsafe_sample/.env", "DATABASE_PASSWORD=hunter2hunter2\n", ".env"),
    ".pem": ("src/relsafe_sample/server.pem", "certificate-ish hunter2hunter2\n", ".pem"),
    "id_rsa": ("src/relsafe_sample/id_rsa", "not really a key hunter2hunter2\n", "id_rsa"),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(SECRETS))
def test_a_planted_secret_is_refused_without_being_shown(
    kind: str, sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    relative, content, called = SECRETS[kind]
    write(sample.root, relative, content)
    commit_all(sample, f"plant a {kind}")
    refused = run_relsafe("release", "minor", cwd=sample.root)
    output = refused.stdout + refused.stderr
    assert refused.returncode == 4, output
    assert Path(relative).name in output
    assert called.lower() in output.lower()
    secret = content.strip().splitlines()[-1] if kind != "private key" else "MIIEowIBAAKCAQEAx"
    for fragment in (
        PYPI_TOKEN,
        TESTPYPI_TOKEN,
        GITHUB_TOKEN,
        AWS_KEY,
        "hunter2hunter2",
        "MIIEowIBAAKCAQEAx",
    ):
        assert fragment not in output
    assert secret not in output
    assert_stopped_before_tag(sample)
    log = next((sample.root / ".git" / "relsafe" / "logs").glob("*.log")).read_text()
    for fragment in (PYPI_TOKEN, TESTPYPI_TOKEN, GITHUB_TOKEN, AWS_KEY):
        assert fragment not in log


@pytest.mark.slow
def test_an_allowed_path_passes_the_secret_scan(sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    write(sample.root, "src/relsafe_sample/fixtures/fake.pem", "a reviewed test certificate\n")
    with (sample.root / "release.toml").open("a", encoding="utf-8") as config:
        config.write('\n[inspect]\nallow = ["*/fixtures/fake.pem"]\n')
    commit_all(sample, "a reviewed fake certificate")
    released = run_relsafe("release", "minor", cwd=sample.root)
    assert released.returncode == 0, released.stdout + released.stderr


@pytest.mark.slow
def test_a_version_left_behind_is_refused(sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    module = sample.root / "src" / sample.module
    write(sample.root, f"src/{sample.module}/_meta.py", '__version__ = "0.1.0"\n')
    init = (module / "__init__.py").read_text(encoding="utf-8")
    (module / "__init__.py").write_text(
        init.replace('__version__ = "0.1.0"', "from ._meta import __version__  # noqa: F401"),
        encoding="utf-8",
    )
    with (sample.root / "release.toml").open("a", encoding="utf-8") as config:
        config.write('\n[version]\nfiles = ["pyproject.toml"]\n')
    commit_all(sample, "version kept in a file relsafe is not told about")
    failed = run_relsafe("release", "minor", cwd=sample.root)
    output = failed.stdout + failed.stderr
    assert failed.returncode == 1, output
    assert "__version__ is '0.1.0'" in output and "0.2.0" in output
    assert_stopped_before_tag(sample)


@pytest.mark.slow
def test_a_readme_that_does_not_render_is_refused(sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    write(sample.root, "README.rst", "Title\n=====\n\n.. this-directive-does-not-exist::\n\n   body\n")
    (sample.root / "README.md").unlink()
    pyproject = sample.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('readme = "README.md"', 'readme = "README.rst"'))
    commit_all(sample, "an rst README that does not render")
    refused = run_relsafe("release", "minor", cwd=sample.root)
    output = refused.stdout + refused.stderr
    assert refused.returncode == 4, output
    assert "twine check" in output
    assert_stopped_before_tag(sample)


@pytest.mark.slow
def test_a_failing_test_is_named(sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    write(sample.root, "tests/test_moon.py", "def test_greets_the_moon():\n    assert False, 'no moon'\n")
    commit_all(sample, "a failing test")
    failed = run_relsafe("release", "minor", cwd=sample.root)
    output = failed.stdout + failed.stderr
    assert failed.returncode == 1, output
    assert "test_moon.py::test_greets_the_moon" in output
    assert "relsafe abort" in output
    assert "full log:" in output
    assert_stopped_before_tag(sample)


SETUPTOOLS_WITH_DATA: dict[str, str] = {
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools>=64"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "relsafe-sample"
        version = "0.1.0"
        readme = "README.md"
        requires-python = ">=3.10"
        """,
    "src/relsafe_sample/__init__.py": '''
        """Greets from a data file that is not declared as package data."""
        import json
        from pathlib import Path

        __version__ = "0.1.0"


        def greet(name: str) -> str:
            greeting = json.loads((Path(__file__).parent / "greeting.json").read_text())["greeting"]
            return f"{greeting}, {name}!"
        ''',
    "src/relsafe_sample/greeting.json": '{"greeting": "Hello"}\n',
}


@pytest.mark.slow
def test_a_data_file_missing_from_the_wheel_stops_the_release_at_smoke(
    sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    for relative, text in SETUPTOOLS_WITH_DATA.items():
        write(sample.root, relative, text)
    commit_all(sample, "setuptools, with a data file it forgets to ship")
    # from the source tree it works
    assert (
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; sys.path.insert(0, 'src'); import relsafe_sample as m; print(m.greet('x'))",
            ],
            cwd=sample.root,
            capture_output=True,
            text=True,
        ).stdout.strip()
        == "Hello, x!"
    )
    failed = run_relsafe("release", "minor", cwd=sample.root)
    output = failed.stdout + failed.stderr
    assert failed.returncode == 1, output
    assert "the tests failed against the installed wheel" in output
    assert "greeting.json" in output or "FileNotFoundError" in output
    assert_stopped_before_tag(sample)
