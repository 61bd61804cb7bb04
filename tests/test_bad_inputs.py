"""A table of bad inputs: each gets exit 2 or 4, one clear line, no traceback, and a repository left
byte-for-byte as it was (working tree, HEAD, every ref, the remote's refs)."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject, create_sample
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe, relsafe_env
from tests.support.git import git

Mutation = Callable[[Path], None]


def _write(relative: str, text: str, commit: bool = True) -> Mutation:
    def mutate(root: Path) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if commit:
            git(root, "add", "-A")
            git(root, "commit", "-qm", f"set {relative}")
            git(root, "push", "-q", "origin", "main")

    return mutate


def _append_release_toml(text: str) -> Mutation:
    """Keep the sample's local-index tables and add the bad part after them."""

    def mutate(root: Path) -> None:
        current = (root / "release.toml").read_text(encoding="utf-8")
        _write("release.toml", current + "\n" + text + "\n")(root)

    return mutate


def _pyproject_extra(text: str) -> Mutation:
    def mutate(root: Path) -> None:
        current = (root / "pyproject.toml").read_text(encoding="utf-8")
        (root / "release.toml").unlink()
        _write("pyproject.toml", current + "\n" + text + "\n")(root)

    return mutate


def _shell(*commands: tuple[str, ...]) -> Mutation:
    def mutate(root: Path) -> None:
        for command in commands:
            subprocess.run(command, cwd=root, check=True, capture_output=True)

    return mutate


def _nothing(root: Path) -> None:
    """The repository is fine; the arguments are not."""


def _replace(relative: str, how: str) -> Mutation:
    """Put something that is not a readable file where relsafe reads one (left uncommitted: git cannot hold
    a folder or a dangling symlink in its place, and the file is read before the tree is checked)."""

    def mutate(root: Path) -> None:
        path = root / relative
        path.unlink()
        if how == "folder":
            path.mkdir()
            (path / "inside.txt").write_text("x\n", encoding="utf-8")
        elif how == "dangling":
            path.symlink_to("no-such-file.toml")
        else:  # a Latin-1 byte in a value: not UTF-8, which TOML requires
            path.write_bytes(b'[release]\nbranch = "r\xe9lease"\n')

    return mutate


@dataclass(frozen=True)
class Case:
    name: str
    mutate: Mutation
    args: tuple[str, ...]
    exit_code: int
    says: str  # a fragment the error line must contain


def release_toml(name: str, text: str, says: str) -> Case:
    return Case(name, _append_release_toml(text), ("release", "minor"), 2, says)


CASES = [
    # configuration: exit 2, naming the file and the key
    release_toml("unknown table", "[relese]\nbranch = 'main'", "did you mean 'release'"),
    release_toml("unknown key", "[release]\nbrnch = 'main'", "release.brnch"),
    release_toml("wrong type bool", "[release]\nsign-tags = 'yes'", "release.sign-tags"),
    release_toml("tag-format without version", "[release]\ntag-format = 'v'", "release.tag-format"),
    release_toml("tag-format other placeholder", "[release]\ntag-format = '{foo}{version}'", "release.tag-format"),
    release_toml("unknown step", "[release]\nsteps = ['preflight', 'bumpp']", "did you mean 'bump'"),
    release_toml("steps out of order", "[release]\nsteps = ['preflight', 'tag', 'bump']", "pipeline order"),
    release_toml("steps repeated", "[release]\nsteps = ['preflight', 'bump', 'bump']", "pipeline order"),
    release_toml("steps without preflight", "[release]\nsteps = ['bump', 'tag']", "preflight"),
    release_toml("steps not a list", "[release]\nsteps = 'preflight'", "release.steps"),
    release_toml("remote not a string", "[release]\nremote = 1", "release.remote"),
    release_toml("test paths a string", "[test]\npaths = 'tests'", "test.paths"),
    release_toml("test requires not strings", "[test]\nrequires = [1]", "test.requires"),
    release_toml("inspect allow a string", "[inspect]\nallow = 'x'", "inspect.allow"),
    release_toml("publish unknown key", "[publish]\nworkfow = 'x.yml'", "did you mean 'workflow'"),
    release_toml("watch timeout negative", "[watch]\ntimeout = -1", "watch.timeout"),
    release_toml("watch interval a string", "[watch]\ninterval = 'soon'", "watch.interval"),
    release_toml("gate without name", "[[gate]]\nitems = ['x']", "gate[0].name"),
    release_toml("gate without items", "[[gate]]\nname = 'g'", "gate[0].items"),
    release_toml("gate before unknown step", "[[gate]]\nname = 'g'\nbefore = 'tga'\nitems = ['x']", "gate[0].before"),
    release_toml(
        "gate before a step that does not run",
        "[release]\nsteps = ['preflight', 'bump', 'build', 'gate', 'tag', 'push']\n"
        "[[gate]]\nname = 'g'\nbefore = 'stage'\nitems = ['x']",
        "gate[0].before",
    ),
    release_toml("gate unknown key", "[[gate]]\nname = 'g'\nitem = ['x']", "did you mean 'items'"),
    release_toml("gate twice", "[[gate]]\nname = 'g'\nitems = ['x']\n[[gate]]\nname = 'g'\nitems = ['y']", "twice"),
    Case(
        "gate not an array of tables",
        _write("release.toml", "gate = 'x'\n"),
        ("release", "minor"),
        2,
        "[[gate]]",
    ),
    release_toml("release as an array", "[[release]]\nbranch = 'main'", "expected a table"),
    release_toml("staging is production", "[staging]\nrepository-url = 'https://upload.pypi.org/legacy/'", "staging"),
    Case(
        "bad TOML",
        _write("release.toml", "[release\nbranch = 'main'\n"),
        ("release", "minor"),
        2,
        "release.toml",
    ),
    Case(
        "pyproject unknown key",
        _pyproject_extra("[tool.relsafe.release]\nbrnch = 'main'"),
        ("release", "minor"),
        2,
        "tool.relsafe.release.brnch",
    ),
    Case(
        "pyproject wrong type",
        _pyproject_extra("[tool.relsafe.release]\nsign-tags = 1"),
        ("release", "minor"),
        2,
        "tool.relsafe.release.sign-tags",
    ),
    Case(
        "pyproject not a table",
        _pyproject_extra("[tool]\nrelsafe = 1"),
        ("release", "minor"),
        2,
        "tool.relsafe",
    ),
    Case(
        "credentials in an index URL",
        _write("release.toml", "[production]\nindex-url = 'https://user:" + "s3cretvalue@example.invalid/simple/'\n"),
        ("release", "minor"),
        2,
        "without credentials",
    ),
    # refused before the first side effect (issue 13): what would fail only after a bump, a build or staging
    release_toml("tag-format attribute access", "[release]\ntag-format = 'v{version.__class__}'", "only the {version}"),
    release_toml("tag-format format spec", "[release]\ntag-format = 'v{version:>20}'", "only the {version}"),
    release_toml("tag-format a full ref", "[release]\ntag-format = 'refs/tags/v{version}'", "no leading refs/"),
    release_toml("tag-format too long", "[release]\ntag-format = '" + "x" * 400 + "{version}'", "at most 64"),
    release_toml("stage without build", "[release]\nsteps = ['preflight', 'bump', 'stage']", "'stage' needs 'build'"),
    release_toml("push without tag", "[release]\nsteps = ['preflight', 'bump', 'build', 'push']", "'push' needs 'tag'"),
    release_toml("tag without bump", "[release]\nsteps = ['preflight', 'tag', 'push']", "'tag' without 'bump'"),
    release_toml("test command unbalanced", "[test]\ncommand = 'pytest \"-k x'", "test.command"),
    release_toml("test command empty", "[test]\ncommand = '   '", "test.command"),
    release_toml("test path absolute", "[test]\npaths = ['/etc']", "test.paths"),
    release_toml("test path escaping", "[test]\npaths = ['tests/../../elsewhere']", "test.paths"),
    release_toml("watch timeout infinite", "[watch]\ntimeout = inf", "finite positive"),
    release_toml("watch interval nan", "[watch]\ninterval = nan", "finite positive"),
    Case("version too long", _nothing, ("release", "1." + "0" * 600), 2, "at most 64"),
    Case("version number overflows", _nothing, ("release", "1." + "9" * 30), 2, "more than 18 digits"),
    Case(
        "sign-tags without a key",
        _shell(
            ("git", "config", "gpg.format", "ssh"),
            ("git", "config", "user.signingkey", "/nonexistent/relsafe-key"),
            ("sh", "-c", "printf '\n[release]\nsign-tags = true\n' >> release.toml"),
            ("git", "commit", "-qam", "sign"),
            ("git", "push", "-q", "origin", "main"),
        ),
        ("release", "minor"),
        4,
        "signing key /nonexistent/relsafe-key does not exist",
    ),
    # files relsafe reads that are not readable files: exit 2, naming the file (issue 13)
    Case(
        "release.toml a folder",
        _replace("release.toml", "folder"),
        ("release", "minor"),
        2,
        "release.toml: expected a file, found a folder",
    ),
    Case(
        "release.toml dangling",
        _replace("release.toml", "dangling"),
        ("release", "minor"),
        2,
        "release.toml: expected a file, found a symlink",
    ),
    Case(
        "release.toml not UTF-8",
        _replace("release.toml", "latin-1"),
        ("release", "minor"),
        2,
        "release.toml: expected UTF-8 text",
    ),
    Case(
        "pyproject a folder",
        _replace("pyproject.toml", "folder"),
        ("release", "minor"),
        2,
        "pyproject.toml: expected a file, found a folder",
    ),
    Case(
        "pyproject dangling",
        _replace("pyproject.toml", "dangling"),
        ("release", "minor"),
        2,
        "pyproject.toml: expected a file, found a symlink",
    ),
    Case(
        "pyproject not UTF-8",
        _replace("pyproject.toml", "latin-1"),
        ("release", "minor"),
        2,
        "pyproject.toml: expected UTF-8 text",
    ),
    Case(
        "pyproject a folder, plan",
        _replace("pyproject.toml", "folder"),
        ("release", "minor", "--plan"),
        2,
        "pyproject.toml: expected a file",
    ),
    # what a person reads or confirms must be plain: exit 2, naming the key
    Case(
        "project name not a distribution name",
        _shell(
            ("sed", "-i", 's/^name = .*/name = "relsafe sample!"/', "pyproject.toml"), ("git", "commit", "-qam", "x")
        ),
        ("release", "minor"),
        2,
        "pyproject.toml: project.name: expected a valid distribution name",
    ),
    Case(
        "project name with markup",
        _shell(("sed", "-i", 's/^name = .*/name = "[bold]sample"/', "pyproject.toml"), ("git", "commit", "-qam", "x")),
        ("release", "minor", "--plan"),
        2,
        "project.name",
    ),
    release_toml(
        "gate item markup",
        "[[gate]]\nname = 'g'\nitems = ['[bold red]all fine[/]']",
        "gate[0].items[0]: expected plain text",
    ),
    release_toml(
        "gate item ANSI escape",
        '[[gate]]\nname = "g"\nitems = ["ok\\u001b[2K"]',
        "gate[0].items[0]: expected plain text",
    ),
    release_toml(
        "gate item newline", '[[gate]]\nname = "g"\nitems = ["one\\ntwo"]', "gate[0].items[0]: expected plain text"
    ),
    release_toml("gate item bidi override", '[[gate]]\nname = "g"\nitems = ["ok\\u202e"]', "U+202E"),
    release_toml(
        "gate name markup",
        "[[gate]]\nname = '[link=https://x.invalid]g'\nitems = ['x']",
        "gate[0].name: expected plain text",
    ),
    release_toml("gate name control", '[[gate]]\nname = "g\\tx"\nitems = ["x"]', "gate[0].name: expected plain text"),
    # arguments: exit 2
    Case("confirm names no gate", _nothing, ("release", "minor", "--confirm", "nope"), 2, "no gate named 'nope'"),
    Case("misspelt part", _nothing, ("release", "mjor"), 2, "PART|VERSION"),
    Case("not a version", _nothing, ("release", "one.two"), 2, "PART|VERSION"),
    Case("unknown option", _nothing, ("status", "--bogus"), 2, "bogus"),
    Case("audit format", _nothing, ("audit", "--format", "xml"), 2, "--format"),
    Case("audit missing path", _nothing, ("audit", "no/such/workflow.yml"), 2, "no/such/workflow.yml"),
    Case("resume with nothing in progress", _nothing, ("resume",), 2, "nothing to resume"),
    Case("abort with nothing in progress", _nothing, ("abort",), 2, "nothing to abort"),
    # repository states: exit 4, nothing changed
    Case(
        "dirty tree",
        _write("src/relsafe_sample/extra.py", "x = 1\n", commit=False),
        ("release", "minor"),
        4,
        "not clean",
    ),
    Case("detached HEAD", _shell(("git", "checkout", "-q", "--detach")), ("release", "minor"), 4, "detached"),
    Case("wrong branch", _shell(("git", "checkout", "-q", "-b", "feature")), ("release", "minor"), 4, "feature"),
    Case("lower version", _nothing, ("release", "0.0.1"), 4, "not above"),
    Case("same version", _nothing, ("release", "0.1.0"), 4, "not above"),
    Case("release of a final version", _nothing, ("release", "release"), 4, "not a pre-release"),
    Case("tag exists", _shell(("git", "tag", "-a", "v0.2.0", "-m", "x")), ("release", "minor"), 4, "v0.2.0"),
    Case(
        "no publish workflow",
        _shell(("git", "rm", "-q", ".github/workflows/relsafe-publish.yml"), ("git", "commit", "-qm", "rm")),
        ("release", "minor"),
        4,
        "relsafe init",
    ),
    Case(
        "dangerous publish workflow",
        _shell(
            ("sed", "-i", "s/^  push:/  pull_request_target:\\n  push:/", ".github/workflows/relsafe-publish.yml"),
            ("git", "commit", "-qam", "danger"),
        ),
        ("release", "minor"),
        4,
        "dangerous-trigger",
    ),
    # project shapes relsafe cannot handle: exit 2
    Case(
        "no project name",
        _shell(("sed", "-i", "/^name = /d", "pyproject.toml"), ("git", "commit", "-qam", "x")),
        ("release", "minor"),
        2,
        "no project name",
    ),
    Case(
        "no version anywhere",
        _shell(
            ("sed", "-i", "/version/d", "pyproject.toml", "src/relsafe_sample/__init__.py"),
            ("git", "commit", "-qam", "x"),
        ),
        ("release", "minor"),
        2,
        "current version",
    ),
    Case(
        "invalid current version",
        _shell(
            ("sed", "-i", "s/0.1.0/banana/", "pyproject.toml", "src/relsafe_sample/__init__.py"),
            ("git", "commit", "-qam", "x"),
        ),
        ("release", "minor"),
        2,
        "banana",
    ),
    Case(
        "pyproject project not a table",
        _shell(("sed", "-i", "-e", "s/^\\[project\\]$/[elsewhere]/", "-e", '1i project = "x"', "pyproject.toml")),
        ("release", "minor"),
        2,
        "pyproject.toml: project: expected a table",
    ),
    Case(
        "pyproject tool not a table",
        _shell(("sed", "-i", "1i tool = 1", "pyproject.toml")),
        ("release", "minor"),
        2,
        "pyproject.toml: tool: expected a table",
    ),
    Case(
        "pyproject dynamic not an array",
        _shell(("sed", "-i", '/^\\[project\\]$/a dynamic = "version"', "pyproject.toml")),
        ("release", "minor", "--plan"),
        2,
        "pyproject.toml: project.dynamic: expected an array",
    ),
    Case(
        "pyproject not TOML",
        _write("pyproject.toml", "[project\nname = 'x'\n"),
        ("release", "minor"),
        2,
        "pyproject.toml",
    ),
]


REPOSITORY_STATES = [
    # (name, mutation, --path relative to the sample, what the error says)
    ("no commits", _shell(("git", "init", "-q", "../empty")), "../empty", "has no commits yet"),
    ("bare repository", _nothing, "../relsafe-sample-remote.git", "a bare repository"),
    ("path missing", _nothing, "../missing", "option --path: "),
    ("path a file", _nothing, "README.md", "expected a folder, found a file"),
    ("not a repository", _shell(("mkdir", "../plain")), "../plain", "not a git repository"),
]
COMMANDS = {
    "release": ("release", "minor"),
    "resume": ("resume",),
    "status": ("status",),
    "abort": ("abort",),
    "plan": ("release", "minor", "--plan"),
    "dry-run": ("release", "minor", "--dry-run"),
}
CASES += [
    Case(f"{state}: {command}", mutate, (*args, "--path", path), 2, says)
    for state, mutate, path, says in REPOSITORY_STATES
    for command, args in COMMANDS.items()
]


def snapshot(sample: SampleProject) -> dict[str, str]:
    """Every working-tree file's hash, HEAD, every ref, the status, and the remote's refs."""
    root = sample.root
    state = {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }
    state["<HEAD>"] = git(root, "rev-parse", "HEAD")
    state["<symbolic>"] = subprocess.run(
        ["git", "symbolic-ref", "-q", "HEAD"], cwd=root, capture_output=True, text=True
    ).stdout
    state["<refs>"] = git(root, "for-each-ref")
    state["<status>"] = git(root, "status", "--porcelain")
    state["<remote>"] = git(sample.remote, "for-each-ref")
    return state


def test_the_corpus_is_large_enough() -> None:
    assert len(CASES) >= 110
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.fixture
def quiet_sample(tmp_path: Path, empty_index: LocalIndex) -> SampleProject:
    """The sample against the session's empty index: every case is refused before anything is uploaded."""
    return create_sample(tmp_path, index=(empty_index.upload_url, empty_index.index_url))


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_is_refused_cleanly(case: Case, quiet_sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    sample = quiet_sample
    case.mutate(sample.root)
    before = snapshot(sample)
    proc = run_relsafe(*case.args, cwd=sample.root)
    output = proc.stdout + proc.stderr
    assert proc.returncode == case.exit_code, output
    assert "Traceback" not in output
    assert "internal error" not in output, "a known bad input must be refused, not reach the last-resort guard"
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:") or line.startswith("Error")]
    assert len(errors) == 1 or (case.exit_code == 2 and "Usage:" in proc.stderr), output
    assert case.says in output, output
    assert snapshot(sample) == before


@pytest.mark.slow
def test_preflight_lists_every_reason_with_an_unreachable_index(sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    """An index that is down does not hide a dirty tree: both are listed, and the refusal decides the exit."""
    text = (sample.root / "release.toml").read_text(encoding="utf-8")
    start = text.index("[production]")
    (sample.root / "release.toml").write_text(
        text[:start] + '[production]\nindex-url = "http://127.0.0.1:9/simple/"\n', encoding="utf-8"
    )
    git(sample.root, "commit", "-qam", "production index down")
    git(sample.root, "push", "-q", "origin", "main")
    (sample.root / "stray.txt").write_text("x\n", encoding="utf-8")
    before = snapshot(sample)

    refused = run_relsafe("release", "minor", cwd=sample.root)

    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert "not clean" in refused.stderr and "index unreachable at http://127.0.0.1:9/" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert snapshot(sample) == before


@pytest.mark.slow
def test_a_release_is_refused_when_zizmor_cannot_audit_the_publish_workflow(
    quiet_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    """The audit fails closed: no zizmor, no release, and nothing changed."""
    before = snapshot(quiet_sample)
    missing = relsafe_env(RELSAFE_ZIZMOR=str(quiet_sample.root.parent / "no-such-zizmor"))

    refused = run_relsafe("release", "minor", cwd=quiet_sample.root, env=missing)

    output = refused.stdout + refused.stderr
    assert refused.returncode == 4, output
    assert (
        ".github/workflows/relsafe-publish.yml:1: zizmor-unavailable: zizmor did not audit this workflow" in output
    ), output
    assert "Traceback" not in output
    assert snapshot(quiet_sample) == before
