"""The workflow audit on real workflow files: each rule, the generated workflow, and zizmor."""

from __future__ import annotations

import json
import re
import textwrap
from importlib import metadata
from pathlib import Path

import pytest

from relsafe.core.errors import ToolFailed, UsageError
from relsafe.journal.runlog import RunLog
from relsafe.model.config import TESTPYPI_INDEX_URL, Config
from relsafe.model.publish_workflow import render_publish_workflow
from relsafe.security.workflow.audit import audit_workflows
from relsafe.security.workflow.report import SAME_CONCERN, UNAVAILABLE, AuditReport, Finding
from relsafe.tools.zizmor import Ahead, find_zizmor, run_zizmor
from tests.support.cli import RunRelsafe, relsafe_env
from tests.support.world import zizmor_runs

REPO = Path(__file__).resolve().parent.parent
SEVERITIES = ("error", "warning", "info")
MARK = "# <-"  # marks the line a case expects its finding on

CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683"
SETUP_PYTHON = "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065"
DOWNLOAD = "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093"
PUBLISH = "pypa/gh-action-pypi-publish@ed0c53931b1dc9bd32cbe73a98c7f6766f8a527e"
SHAPE_ONLY = "0123456789abcdef0123456789abcdef01234567"  # a pin of the right shape, not a real commit


@pytest.fixture
def log(tmp_path: Path) -> RunLog:
    return RunLog(tmp_path / "run.log")


def write(folder: Path, text: str, name: str = "workflow.yml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def marked_line(path: Path) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, start=1) if MARK in line)


def audit(path: Path, log: RunLog, **options: str) -> AuditReport:
    return audit_workflows([path], log=log, use_zizmor=False, **options)


def rules(report: AuditReport) -> set[str]:
    return {finding.rule for finding in report.findings}


def publish_job(extra_steps: str = "", job_extra: str = "") -> str:
    """A correct publish job, indented for a `jobs:` mapping, to which a case adds its mistake."""
    return f"""
  publish:
    needs: build
    runs-on: ubuntu-latest
    environment: pypi
    permissions:
      id-token: write{job_extra}
    steps:
      - uses: {DOWNLOAD} # v4.3.0
      - uses: {PUBLISH} # v1.13.0{extra_steps}
"""


def build_job(extra_steps: str = "") -> str:
    return f"""
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: {CHECKOUT} # v4.2.2
        with:
          persist-credentials: false{extra_steps}
      - run: python -m build
"""


def publishing(body: str, trigger: str = "push:\n    tags: ['v*']") -> str:
    return f"on:\n  {trigger}\npermissions: {{}}\njobs:{body}"


# One case per rule: (rule, severity, workflow text with the expected line marked).
CASES: list[tuple[str, str, str]] = [
    (
        "dangerous-trigger",
        "error",
        publishing(publish_job(), trigger=f"pull_request_target: {MARK}"),
    ),
    (
        "dangerous-trigger",
        "error",
        f"on:\n  workflow_run: {MARK}\n    workflows: [ci]\npermissions: {{}}\njobs:"
        + build_job().replace(
            "persist-credentials: false",
            "persist-credentials: false\n          ref: ${{ github.event.workflow_run.head_sha }}",
        ),
    ),
    (
        "template-injection",
        "error",
        publishing(
            build_job('\n      - run: |\n          echo start\n          echo "${{ github.head_ref }}" ' + MARK)
            + publish_job()
        ),
    ),
    (
        "template-injection",
        "error",
        "on:\n  workflow_dispatch:\n    inputs:\n      note: {type: string}\npermissions: {}\njobs:"
        + build_job(f"\n      - run: echo ${{{{ inputs.note }}}} {MARK}"),
    ),
    (
        "template-injection",
        "error",
        "on: issues\npermissions: {}\njobs:"
        + build_job(
            f"\n      - uses: actions/github-script@{SHAPE_ONLY}\n        with:\n          script: |"
            f"\n            console.log('${{{{ github.event.issue.title }}}}') {MARK}"
        ),
    ),
    (
        "id-token-scope",
        "error",
        f"on:\n  push:\n    tags: ['v*']\npermissions:\n  id-token: write {MARK}\njobs:{build_job()}" + publish_job(),
    ),
    (
        "id-token-scope",
        "error",
        publishing(
            build_job().replace(
                "runs-on: ubuntu-latest",
                f"runs-on: ubuntu-latest\n    permissions:\n      id-token: write {MARK}",
            )
            + publish_job()
        ),
    ),
    (
        "write-all-permissions",
        "error",
        f"on: [push]\npermissions: write-all {MARK}\njobs:{build_job()}",
    ),
    (
        "write-all-permissions",
        "error",
        "on: [push]\npermissions: {}\njobs:"
        + build_job().replace("runs-on: ubuntu-latest", f"permissions: write-all {MARK}\n    runs-on: ubuntu-latest"),
    ),
    (
        "missing-permissions",
        "warning",
        f"# CI {MARK}\non: [push]\njobs:{build_job()}",
    ),
    (
        "missing-permissions",
        "error",
        f"# release {MARK}\non:\n  push:\n    tags: ['v*']\njobs:{build_job()}{publish_job()}",
    ),
    (
        "publish-environment",
        "error",
        publishing(build_job() + publish_job().replace("environment: pypi", f"environment: release {MARK}")),
    ),
    (
        "publish-environment",
        "error",
        publishing(
            build_job() + publish_job().replace("    environment: pypi\n", "").replace("publish:", f"publish: {MARK}")
        ),
    ),
    (
        "publish-needs",
        "error",
        publishing(
            build_job() + publish_job().replace("    needs: build\n", "").replace("publish:", f"publish: {MARK}")
        ),
    ),
    (
        "rebuild-unverified",
        "warning",
        publishing(build_job().replace("- run: python -m build", f"- run: python -m build {MARK}") + publish_job()),
    ),
    (
        "build-in-publish-job",
        "error",
        publishing(build_job() + publish_job().replace("    steps:\n", f"    steps:\n      - run: uv build {MARK}\n")),
    ),
    (
        "stored-credentials",
        "error",
        publishing(
            build_job() + publish_job(f"\n        with:\n          password: ${{{{ secrets.PYPI_TOKEN }}}} {MARK}")
        ),
    ),
    (
        "stored-credentials",
        "error",
        publishing(
            build_job()
            + publish_job(
                f"\n      - run: twine upload dist/* {MARK}\n        env:\n          TWINE_USERNAME: __token__"
            )
        ),
    ),
    (
        "stored-credentials",
        "error",
        f"on: [push]\npermissions: {{}}\nenv:\n  TWINE_PASSWORD: ${{{{ secrets.TOKEN }}}} {MARK}\njobs:{build_job()}",
    ),
    (
        "unpinned-action",
        "error",
        publishing(
            build_job()
            + publish_job().replace(f"{PUBLISH} # v1.13.0", f"pypa/gh-action-pypi-publish@release/v1 {MARK}")
        ),
    ),
    (
        "unpinned-action",
        "warning",
        "on: [push]\npermissions: {}\njobs:" + build_job(f"\n      - uses: actions/setup-python@v5 {MARK}"),
    ),
    (
        "release-cache",
        "error",
        publishing(build_job(f"\n      - uses: actions/cache@{SHAPE_ONLY} {MARK}") + publish_job()),
    ),
    (
        "release-cache",
        "error",
        publishing(
            build_job(f"\n      - uses: {SETUP_PYTHON} {MARK}\n        with:\n          cache: pip") + publish_job()
        ),
    ),
    (
        "release-cache",
        "error",
        publishing(build_job(f"\n      - uses: astral-sh/setup-uv@{SHAPE_ONLY} {MARK}") + publish_job()),
    ),
    (
        "checkout-credentials",
        "error",
        publishing(
            build_job()
            .replace("        with:\n          persist-credentials: false\n", "")
            .replace("# v4.2.2", f"# v4.2.2 {MARK}")
            + publish_job()
        ),
    ),
    (
        "checkout-credentials",
        "warning",
        f"on: [push]\npermissions: {{}}\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n"
        f"      - uses: {CHECKOUT} # v4.2.2 {MARK}\n",
    ),
    (
        "weakened-publish",
        "error",
        publishing(build_job() + publish_job(f"\n        with:\n          attestations: false {MARK}")),
    ),
    (
        "weakened-publish",
        "error",
        publishing(build_job() + publish_job(f"\n        with:\n          verify-metadata: 'false' {MARK}")),
    ),
    (
        "weakened-publish",
        "error",
        publishing(build_job() + publish_job(f"\n        with:\n          skip-existing: true {MARK}")),
    ),
    (
        "reusable-publish",
        "error",
        publishing(build_job() + publish_job(), trigger=f"workflow_call: {MARK}"),
    ),
    (
        "tag-mismatch",
        "error",
        publishing(build_job() + publish_job(), trigger=f"push:\n    tags: ['release-*'] {MARK}"),
    ),
    (
        "tag-mismatch",
        "warning",
        publishing(build_job() + publish_job(), trigger=f"push:\n    tags: ['v[0-9]+.[0-9]+.[0-9]+'] {MARK}"),
    ),
    (
        "no-tag-trigger",
        "warning",
        publishing(build_job() + publish_job(), trigger="release:\n    types: [published]").replace(
            "on:", f"on: {MARK}", 1
        ),
    ),
    (
        "no-tag-trigger",
        "warning",
        publishing(build_job() + publish_job(), trigger="workflow_dispatch:").replace("on:", f"on: {MARK}", 1),
    ),
    (
        "branch-push-publish",
        "error",
        publishing(build_job() + publish_job(), trigger=f"push:\n    branches: [main] {MARK}"),
    ),
    (
        "branch-push-publish",
        "error",
        publishing(build_job() + publish_job(), trigger=f"push:\n    tags: ['v*']\n    branches-ignore: [dev] {MARK}"),
    ),
    (
        "branch-push-publish",
        "error",
        publishing(build_job() + publish_job(), trigger=f"push: {MARK}\n    paths: ['src/**']"),
    ),
    (
        "branch-push-publish",
        "error",
        f"on: [pull_request, push] {MARK}\npermissions: {{}}\njobs:" + build_job() + publish_job(),
    ),
]


@pytest.mark.parametrize(("rule", "severity", "text"), CASES, ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_each_rule_catches_its_mistake_on_the_right_line(
    tmp_path: Path, log: RunLog, rule: str, severity: str, text: str
) -> None:
    path = write(tmp_path, text)
    report = audit(path, log)
    expected = Finding(rule, severity, str(path), marked_line(path), "", "")
    found = [(f.rule, f.severity, f.path, f.line) for f in report.findings]
    assert (expected.rule, expected.severity, expected.path, expected.line) in found, report.to_json()


# The new rules as twins: (rule, severity, the dangerous workflow with its line marked, the safe one beside it).
LABELER = "actions/labeler@8558fd74291d67161a8a78ce36a881fa63b766a9"
ATTEST = "actions/attest-build-provenance@e8998f949152b193b063cb0ec769d69d929409be"
NOTIFY = f"\n      - uses: owner/notify@{SHAPE_ONLY}\n        with:\n          text: "
COMMENT_THROUGH_ENV = '\n      - env:\n          BODY: ${{ github.event.comment.body }}\n        run: echo "$BODY"'
SHARED_DOCS = f"org/shared/.github/workflows/docs.yml@{SHAPE_ONLY}"
SHARED_BUILD = f"org/shared/.github/workflows/build.yml@{SHAPE_ONLY}"
LABELER_WORKFLOW = (
    "on:\n  pull_request_target:\npermissions:\n  contents: read\n  pull-requests: write\njobs:\n"
    f"  label:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: {LABELER} # v5.0.0\n"
)
TWINS: list[tuple[str, str, str, str]] = [
    (
        "untrusted-trigger",
        "error",
        publishing(
            build_job('\n      - run: echo "NOTE=1" >> "$GITHUB_ENV"') + publish_job(),
            trigger="issue_comment:\n  push:\n    tags: ['v*']",
        ).replace("issue_comment:", f"issue_comment: {MARK}"),
        "on: issue_comment\npermissions: {}\njobs:" + build_job(COMMENT_THROUGH_ENV),
    ),
    (
        "untrusted-trigger",
        "error",
        publishing(build_job() + publish_job(), trigger=f"issues: {MARK}\n  push:\n    tags: ['v*']"),
        publishing(build_job() + publish_job()),
    ),
    (
        "untrusted-trigger",
        "warning",
        f"on: [pull_request_review, discussion] {MARK}\npermissions: {{}}\njobs:"
        + build_job(f"{NOTIFY}${{{{ github.event.review.body }}}}"),
        "on: [pull_request_review, discussion]\npermissions: {}\njobs:"
        + build_job(f"{NOTIFY}${{{{ github.event.review.id }}}}" + COMMENT_THROUGH_ENV),
    ),
    (
        "secrets-inherit",
        "error",
        publishing(f"\n  build:\n    uses: {SHARED_BUILD} {MARK}\n    secrets: inherit" + publish_job()),
        publishing(
            f"\n  build:\n    uses: {SHARED_BUILD}\n    secrets:\n      CODECOV: ${{{{ secrets.CODECOV }}}}"
            + publish_job()
        ),
    ),
    (  # the repository's own workflow, at the commit that runs: least privilege, not a way in
        "secrets-inherit",
        "warning",
        publishing(f"\n  build:\n    uses: $/.github/workflows/build.yml {MARK}\n    secrets: inherit" + publish_job()),
        publishing("\n  build:\n    uses: $/.github/workflows/build.yml" + publish_job()),
    ),
    (
        "secrets-inherit",
        "warning",
        f"on: [push]\npermissions: {{}}\njobs:\n  docs:\n    uses: {SHARED_DOCS} {MARK}\n    secrets: inherit\n",
        f"on: [push]\npermissions: {{}}\njobs:\n  docs:\n    uses: {SHARED_DOCS}\n",
    ),
    (
        "self-hosted-runner",
        "error",
        publishing(
            build_job() + publish_job().replace("runs-on: ubuntu-latest", f"runs-on: [self-hosted, x64] {MARK}")
        ),
        publishing(build_job() + publish_job()),
    ),
    (
        "self-hosted-runner",
        "error",
        publishing(
            "\n  lint:\n    runs-on: {labels: [self-hosted]} "
            + MARK
            + "\n    steps:\n      - run: ruff check"
            + build_job().replace("  build:\n", "  build:\n    needs: lint\n")
            + publish_job()
        ),
        publishing(
            "\n  lint:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ruff check"
            + build_job().replace("  build:\n", "  build:\n    needs: lint\n")
            + publish_job()
            + "  other:\n    runs-on: self-hosted\n    steps:\n      - run: echo unrelated\n"
        ),
    ),
    (
        "release-cache",
        "error",
        publishing(
            build_job(f"\n      - uses: actions/setup-node@{SHAPE_ONLY} {MARK}\n        with:\n          cache: npm")
            + publish_job()
        ),
        publishing(
            build_job(
                f"\n      - uses: actions/setup-node@{SHAPE_ONLY}"
                "\n        with:\n          package-manager-cache: false"
            )
            + publish_job()
        ),
    ),
    (
        "release-cache",
        "error",
        publishing(build_job(f"\n      - uses: actions/setup-go@{SHAPE_ONLY} {MARK}") + publish_job()),
        publishing(
            build_job(f"\n      - uses: actions/setup-go@{SHAPE_ONLY}\n        with:\n          cache: false")
            + publish_job()
        ),
    ),
    (
        "release-cache",
        "error",
        publishing(
            build_job()
            + publish_job()
            + "  docs:\n    runs-on: ubuntu-latest\n    steps:\n"
            + f"      - uses: actions/setup-java@{SHAPE_ONLY} {MARK}\n        with:\n          cache: maven\n"
        ),
        f"on: [push]\npermissions: {{}}\njobs:\n  docs:\n    runs-on: ubuntu-latest\n    steps:\n"
        f"      - uses: actions/setup-java@{SHAPE_ONLY}\n        with:\n          cache: maven\n",
    ),
    (
        "stored-credentials",
        "error",
        publishing(build_job() + publish_job(f"\n      - run: python -m tox -e release {MARK}")),
        publishing(build_job() + publish_job("\n      - run: python -m tox -e py312")),
    ),
    (
        "dangerous-trigger",
        "error",
        f"on:\n  pull_request_target: {MARK}\npermissions: {{}}\njobs:"
        + build_job().replace(
            "persist-credentials: false",
            "persist-credentials: false\n          ref: ${{ github.event.pull_request.head.sha }}",
        ),
        LABELER_WORKFLOW,
    ),
    (
        "dangerous-trigger",
        "error",
        f"on:\n  workflow_run: {MARK}\n    workflows: [ci]\npermissions: {{}}\njobs:"
        + build_job('\n      - run: gh pr checkout "$PR"'),
        f"on:\n  workflow_run:\n    workflows: [ci]\npermissions: {{}}\njobs:{build_job()}",
    ),
    (
        "id-token-scope",
        "error",
        publishing(
            build_job().replace(
                "runs-on: ubuntu-latest", f"runs-on: ubuntu-latest\n    permissions:\n      id-token: write {MARK}"
            )
            + publish_job()
        ),
        publishing(
            build_job(f"\n      - uses: {ATTEST} # v2.4.0\n        with:\n          subject-path: dist/*").replace(
                "runs-on: ubuntu-latest",
                "runs-on: ubuntu-latest\n    permissions:\n      id-token: write\n      attestations: write",
            )
            + publish_job()
        ),
    ),
]


@pytest.mark.parametrize(
    ("rule", "severity", "dangerous", "safe"), TWINS, ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(TWINS)]
)
def test_each_new_rule_catches_the_dangerous_twin_and_passes_the_safe_one(
    tmp_path: Path, log: RunLog, rule: str, severity: str, dangerous: str, safe: str
) -> None:
    bad = write(tmp_path, dangerous, "dangerous.yml")
    found = [(f.rule, f.severity, f.line) for f in audit(bad, log).findings]
    assert (rule, severity, marked_line(bad)) in found, audit(bad, log).to_json()
    good = write(tmp_path, safe, "safe.yml")
    assert rule not in rules(audit(good, log)), audit(good, log).to_json()


def test_a_labeler_on_pull_request_target_gets_no_finding(tmp_path: Path, log: RunLog) -> None:
    path = write(tmp_path, LABELER_WORKFLOW, "labeler.yml")
    assert audit(path, log).findings == []


def test_an_attesting_ci_workflow_is_not_a_publishing_one(tmp_path: Path, log: RunLog) -> None:
    """id-token: write to sign attestations makes neither a scope error nor the strict rules of publishing."""
    job = build_job(f"\n      - uses: {ATTEST} # v2.4.0\n        with:\n          subject-path: dist/*").replace(
        "runs-on: ubuntu-latest",
        "runs-on: ubuntu-latest\n    permissions:\n      id-token: write\n      attestations: write",
    )
    lint = "  lint:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ruff check\n"
    path = write(tmp_path, f"# CI {MARK}\non: [push]\njobs:{job}{lint}", "ci.yml")
    assert [(f.rule, f.severity, f.line) for f in audit(path, log).findings] == [
        ("missing-permissions", "warning", marked_line(path))
    ]


def test_a_branch_push_that_calls_a_reusable_publish_workflow_publishes(tmp_path: Path, log: RunLog) -> None:
    write(tmp_path, publishing(build_job() + publish_job(), trigger="workflow_call:"), "publish.yml")
    caller = write(
        tmp_path,
        f"on:\n  push:\n    branches: [main] {MARK}\npermissions: {{}}\njobs:\n"
        "  release:\n    uses: ./.github/workflows/publish.yml\n",
        "caller.yml",
    )
    found = [(f.rule, f.severity, f.line) for f in audit(caller, log).findings]
    assert ("branch-push-publish", "error", marked_line(caller)) in found
    (tmp_path / "publish.yml").write_text(f"on: [workflow_call]\npermissions: {{}}\njobs:{build_job()}")
    assert "branch-push-publish" not in rules(audit(caller, log))


def test_a_publish_job_only_tags_reach_is_not_branch_push_publish(tmp_path: Path, log: RunLog) -> None:
    """PyPA's guide: `on: push` with the publish job guarded by `if: startsWith(github.ref, 'refs/tags/')`."""
    guarded = publish_job().replace(
        "    needs: build\n", "    needs: build\n    if: startsWith(github.ref, 'refs/tags/')\n"
    )
    path = write(tmp_path, publishing(build_job() + guarded, trigger="push:\n    branches: [main]"))
    assert "branch-push-publish" not in rules(audit(path, log))
    widened = guarded.replace("refs/tags/')", "refs/tags/') || github.ref == 'refs/heads/main'")
    path = write(tmp_path, publishing(build_job() + widened, trigger="push:\n    branches: [main]"))
    assert "branch-push-publish" in rules(audit(path, log))


def test_a_publish_job_only_a_release_reaches_is_not_branch_push_publish(tmp_path: Path, log: RunLog) -> None:
    """black's: `on: release` and `push: branches` together, the publish job guarded by the event's name."""
    guarded = publish_job().replace("    needs: build\n", "    needs: build\n    if: github.event_name == 'release'\n")
    trigger = "release:\n    types: [published]\n  push:\n    branches: [main]"
    path = write(tmp_path, publishing(build_job() + guarded, trigger=trigger))
    assert "branch-push-publish" not in rules(audit(path, log))
    widened = guarded.replace("== 'release'", "!= 'pull_request'")
    path = write(tmp_path, publishing(build_job() + widened, trigger=trigger))
    assert "branch-push-publish" in rules(audit(path, log))


def test_generated_workflow_has_no_findings(tmp_path: Path, log: RunLog) -> None:
    path = write(tmp_path, render_publish_workflow(project="sample-pkg"), "publish.yml")
    report = audit(path, log)
    assert report.findings == []
    assert not report.has_errors


@pytest.mark.slow
def test_generated_workflow_passes_zizmor(tmp_path: Path, log: RunLog) -> None:
    path = write(tmp_path, render_publish_workflow(project="sample-pkg"), "publish.yml")
    report = audit_workflows([path], log=log)
    assert report.zizmor_status.startswith("zizmor ")
    assert not report.has_errors
    assert [f for f in report.findings if f.severity != "info"] == []
    direct = run_zizmor([path], log=log)
    assert [f.ident for f in direct.findings if f.severity in {"Medium", "High"}] == []


REBUILD_JOB = (
    "  build:\n"
    "    name: Rebuild the tagged commit (its files are checked in the next job)\n"
    "    runs-on: ubuntu-latest\n"
)
# The generated workflow with one rule's mistake put back: (rule, old text, new text).
MISTAKES: list[tuple[str, str, str]] = [
    ("dangerous-trigger", "on:\n  push:", "on:\n  pull_request_target:\n  push:"),
    (
        "template-injection",
        'python3 -m venv "$BUILD_ENV"\n',
        'python3 -m venv "$BUILD_ENV"\n          echo "${{ github.ref_name }}"\n',
    ),
    ("id-token-scope", "permissions: {}", "permissions:\n  id-token: write"),
    ("id-token-scope", "contents: read # to check out the tag", "contents: read\n      id-token: write"),
    ("write-all-permissions", "permissions: {}", "permissions: write-all"),
    (  # no top-level permissions, and a job without its own: it gets the repository's default token
        "missing-permissions",
        f"permissions: {{}}\n\njobs:\n{REBUILD_JOB}    permissions:\n      contents: read # to check out the tag\n",
        f"\njobs:\n{REBUILD_JOB}",
    ),
    ("publish-environment", "      name: pypi\n", "      name: release\n"),
    ("publish-needs", "    needs: check\n", ""),
    (
        "build-in-publish-job",
        "    steps:\n      - uses: actions/download",
        "    steps:\n      - run: pip wheel .\n      - uses: actions/download",
    ),
    ("stored-credentials", "# v1.13.0", "# v1.13.0\n        with:\n          password: ${{ secrets.PYPI }}"),
    (
        "unpinned-action",
        "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093",
        "actions/download-artifact@v4",
    ),
    ("release-cache", 'python-version: "3.x"', 'python-version: "3.x"\n          cache: pip'),
    (
        "checkout-credentials",
        "          persist-credentials: false\n",
        "          persist-credentials: true\n",
    ),
    ("weakened-publish", "# v1.13.0", "# v1.13.0\n        with:\n          attestations: false"),
    ("reusable-publish", "on:\n  push:", "on:\n  workflow_call:\n  push:"),
    ("tag-mismatch", "- 'v*'", "- 'release-*'"),
    ("no-tag-trigger", "  push:\n    tags:\n      - 'v*'", "  workflow_dispatch:"),
]


@pytest.mark.parametrize(("rule", "old", "new"), MISTAKES, ids=[f"{m[0]}-{i}" for i, m in enumerate(MISTAKES)])
def test_generated_workflow_with_a_mistake_put_back_is_caught(
    tmp_path: Path, log: RunLog, rule: str, old: str, new: str
) -> None:
    text = render_publish_workflow(project="sample-pkg")
    assert old in text
    path = write(tmp_path, text.replace(old, new, 1), "publish.yml")
    assert rule in rules(audit(path, log))


def test_safe_expressions_and_typed_inputs_are_not_injection(tmp_path: Path, log: RunLog) -> None:
    path = write(
        tmp_path,
        """
        on:
          workflow_dispatch:
            inputs:
              dry: {type: boolean}
        permissions: {}
        jobs:
          test:
            runs-on: ubuntu-latest
            steps:
              - run: |
                  echo ${{ github.sha }} ${{ github.run_id }} ${{ github.workspace }}
                  echo ${{ inputs.dry }} ${{ github.event.pull_request.number }} ${{ secrets.X }}
              - env:
                  TITLE: ${{ github.event.issue.title }}
                run: echo "$TITLE"
        """,
    )
    assert "template-injection" not in rules(audit(path, log))


def test_local_and_digest_pinned_actions_are_not_unpinned(tmp_path: Path, log: RunLog) -> None:
    path = write(
        tmp_path,
        """
        on: [push]
        permissions: {}
        jobs:
          test:
            runs-on: ubuntu-latest
            steps:
              - uses: ./.github/actions/setup
              - uses: docker://alpine@sha256:4bcff63911fcb4448bd4fdacec207030997caf25e9bea4045fa6c8c44de311d1
              - uses: docker://alpine:3.20 # <-
        """,
    )
    unpinned = [f for f in audit(path, log).findings if f.rule == "unpinned-action"]
    assert [f.line for f in unpinned] == [marked_line(path)]


def test_testpypi_job_needs_an_environment_but_any_name_and_may_skip_existing(tmp_path: Path, log: RunLog) -> None:
    testpypi = "\n          repository-url: https://test.pypi.org/legacy/\n          skip-existing: true"
    job = publish_job("\n        with:" + testpypi).replace("environment: pypi", "environment: testpypi")
    path = write(tmp_path, publishing(build_job() + job))
    assert [finding for finding in audit(path, log).findings if finding.rule != "rebuild-unverified"] == []


@pytest.mark.parametrize(
    ("patterns", "tag_format", "expected"),
    [
        ("['v*']", "v{version}", set()),
        ("['**']", "v{version}", set()),
        ("['*']", "{version}", set()),
        ("['v[0-9]*']", "v{version}", set()),
        ("['releases/*']", "releases/{version}", set()),
        ("['*']", "releases/{version}", {"tag-mismatch"}),
        ("['v*', '!v1.*']", "v{version}", {"tag-mismatch"}),
        ("['v*', '!v1.*', 'v1.2.*']", "v{version}", set()),
        ("['v1.2.3']", "v{version}", {"tag-mismatch"}),
    ],
)
def test_tag_filters_follow_github_glob_semantics(
    tmp_path: Path, log: RunLog, patterns: str, tag_format: str, expected: set[str]
) -> None:
    path = write(tmp_path, publishing(build_job() + publish_job(), trigger=f"push:\n    tags: {patterns}"))
    found = rules(audit(path, log, tag_format=tag_format)) & {"tag-mismatch", "no-tag-trigger"}
    assert found == expected


def test_tags_ignore_excludes_release_tags(tmp_path: Path, log: RunLog) -> None:
    trigger = "push:\n    tags: ['v*']\n    tags-ignore: ['v1.*']"
    path = write(tmp_path, publishing(build_job() + publish_job(), trigger=trigger))
    assert "tag-mismatch" in rules(audit(path, log))


def test_configured_environment_is_the_one_expected(tmp_path: Path, log: RunLog) -> None:
    path = write(tmp_path, render_publish_workflow(project="sample-pkg", environment="release"))
    assert audit(path, log, environment="release").findings == []
    assert "publish-environment" in rules(audit(path, log))


def test_yaml_1_1_on_key_parsed_as_true_still_counts(tmp_path: Path, log: RunLog) -> None:
    text = "%YAML 1.1\n---\n" + publishing(build_job() + publish_job(), trigger="pull_request_target:")
    path = write(tmp_path, text)
    findings = [f for f in audit(path, log).findings if f.rule == "dangerous-trigger"]
    assert [(f.severity, f.line) for f in findings] == [("error", 4)]


def test_ignore_comment_silences_only_the_named_rules_on_its_line(tmp_path: Path, log: RunLog) -> None:
    text = publishing(build_job() + publish_job().replace(PUBLISH, "pypa/gh-action-pypi-publish@release/v1"))
    path = write(tmp_path, text)
    assert "unpinned-action" in rules(audit(path, log))
    path.write_text(text.replace("@release/v1", "@release/v1 # relsafe: ignore[unpinned-action]"), encoding="utf-8")
    assert "unpinned-action" not in rules(audit(path, log))
    path.write_text(text.replace("@release/v1", "@release/v1 # relsafe: ignore[release-cache]"), encoding="utf-8")
    assert "unpinned-action" in rules(audit(path, log))
    both = "permissions: write-all # relsafe: ignore[write-all-permissions, id-token-scope]"
    path.write_text(text.replace("permissions: {}", both), encoding="utf-8")
    assert "write-all-permissions" not in rules(audit(path, log))


def test_json_output_parses(tmp_path: Path, log: RunLog) -> None:
    path = write(tmp_path, f"on: [push]\npermissions: write-all\njobs:{build_job()}")
    report = audit(path, log)
    data = json.loads(report.to_json())
    assert report.has_errors
    assert data["zizmor"] == "zizmor skipped"
    assert data["counts"]["error"] == sum(f["severity"] == "error" for f in data["findings"])
    assert {"rule", "severity", "path", "line", "message", "fix", "source"} <= set(data["findings"][0])


def test_directories_are_searched_for_yml_and_yaml(tmp_path: Path, log: RunLog) -> None:
    write(tmp_path, f"on: [push]\njobs:{build_job()}", "a.yml")
    write(tmp_path, f"on: [push]\njobs:{build_job()}", "b.yaml")
    write(tmp_path, "not: [a workflow", "notes.txt")
    report = audit_workflows([tmp_path], log=log, use_zizmor=False)
    assert {Path(f.path).name for f in report.findings if f.rule == "missing-permissions"} == {
        "a.yml",
        "b.yaml",
    }


def test_missing_path_is_a_usage_error(tmp_path: Path, log: RunLog) -> None:
    with pytest.raises(UsageError, match=r"nope\.yml"):
        audit(tmp_path / "nope.yml", log)
    with pytest.raises(UsageError, match="no workflow files"):
        audit(tmp_path, log)


def test_unparsable_yaml_names_the_file_and_line(tmp_path: Path, log: RunLog) -> None:
    path = write(tmp_path, "on: [push]\njobs:\n  a:\n    steps: [\n      - run: x\n")
    with pytest.raises(UsageError, match=rf"{path.name}:\d+: not valid YAML"):
        audit(path, log)


def test_a_file_that_is_not_a_workflow_is_a_usage_error(tmp_path: Path, log: RunLog) -> None:
    path = write(tmp_path, "- just\n- a list\n")
    with pytest.raises(UsageError, match="not a GitHub workflow"):
        audit(path, log)


def test_projects_own_workflows_pass_the_audit(log: RunLog) -> None:
    report = audit_workflows([REPO / ".github" / "workflows"], log=log, use_zizmor=False)
    assert report.findings == []


def test_projects_publish_workflow_is_the_rendered_template() -> None:
    """relsafe stages on TestPyPI (its release.toml keeps the default), so its workflow promotes from there."""
    text = (REPO / ".github" / "workflows" / "publish.yml").read_text(encoding="utf-8")
    expected = render_publish_workflow(project="relsafe", tag_format="v{version}", staging_index_url=TESTPYPI_INDEX_URL)
    assert text == expected


@pytest.mark.slow
def test_projects_own_workflows_pass_zizmor(log: RunLog) -> None:
    report = audit_workflows([REPO / ".github" / "workflows"], log=log)
    assert report.zizmor_status.startswith("zizmor ")
    assert [f for f in report.findings if f.severity != "info"] == []


@pytest.mark.slow
def test_zizmor_findings_carry_rule_line_and_source(tmp_path: Path, log: RunLog) -> None:
    step = f"\n      - uses: actions/setup-python@v5 {MARK}"
    path = write(tmp_path, f"on: [push]\npermissions: {{}}\njobs:{build_job(step)}")
    report = audit_workflows([path], log=log)
    on_line = [(f.rule, f.also, f.source, f.severity) for f in report.findings if f.line == marked_line(path)]
    assert on_line == [("unpinned-action", "unpinned-uses", "relsafe+zizmor", "warning")], report.to_json()
    assert find_zizmor() is not None


@pytest.mark.slow
def test_a_zizmor_run_started_ahead_is_taken_only_for_exactly_the_audited_files(tmp_path: Path) -> None:
    """The audit takes an early run on its own files; on other files it runs zizmor again and reports on all."""
    trusted = write(tmp_path, render_publish_workflow(project="sample-pkg"), "publish.yml")
    step = f"\n      - uses: actions/setup-python@v5 {MARK}"
    other = write(tmp_path, f"on: [push]\npermissions: {{}}\njobs:{build_job(step)}", "ci.yml")

    taken_log = RunLog(tmp_path / "taken.log")
    taken = audit_workflows([trusted], log=taken_log, zizmor_ahead=Ahead([trusted], log=taken_log))
    assert zizmor_runs(read_log(taken_log)) == [(str(trusted),)]
    assert taken == audit_workflows([trusted], log=RunLog(None))

    missed_log = RunLog(tmp_path / "missed.log")
    ahead = Ahead([trusted], log=missed_log)
    missed = audit_workflows([trusted, other], log=missed_log, zizmor_ahead=ahead)
    ahead.report()  # its command is logged however late it started
    assert sorted(zizmor_runs(read_log(missed_log))) == [(str(trusted),), (str(trusted), str(other))]
    on_other = {(f.rule, f.source) for f in missed.findings if f.path == str(other)}
    assert ("unpinned-action", "relsafe+zizmor") in on_other, missed.to_json()


def read_log(log: RunLog) -> str:
    assert log.path is not None
    return log.path.read_text(encoding="utf-8")


def test_a_missing_zizmor_fails_the_audit_closed(tmp_path: Path, log: RunLog, monkeypatch: pytest.MonkeyPatch) -> None:
    """A workflow zizmor could not check gets an error that no ignore comment silences."""
    text = render_publish_workflow(project="sample-pkg")
    path = write(tmp_path, "# relsafe: ignore[zizmor-unavailable]\n" + text, "publish.yml")
    monkeypatch.setenv("RELSAFE_ZIZMOR", str(tmp_path / "no-such-zizmor"))
    assert find_zizmor() is None
    report = audit_workflows([path], log=log)
    assert [(f.rule, f.severity, f.line) for f in report.findings] == [("zizmor-unavailable", "error", 1)]
    assert "not found" in report.zizmor_status and "refuses" in report.zizmor_status
    monkeypatch.delenv("RELSAFE_ZIZMOR")
    assert not audit_workflows([path], log=log).has_errors


def test_audit_command_refuses_with_exit_4_when_zizmor_cannot_run(tmp_path: Path, run_relsafe: RunRelsafe) -> None:
    write(tmp_path, render_publish_workflow(project="sample-pkg"), "publish.yml")
    missing = relsafe_env(RELSAFE_ZIZMOR=str(tmp_path / "no-such-zizmor"))
    refused = run_relsafe("audit", "publish.yml", cwd=tmp_path, env=missing)
    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert "zizmor-unavailable" in refused.stdout and "zizmor did not audit this workflow" in refused.stdout
    assert "Traceback" not in refused.stdout + refused.stderr
    passed = run_relsafe("audit", "publish.yml", cwd=tmp_path)
    assert passed.returncode == 0, passed.stdout + passed.stderr


def test_zizmor_is_found_through_its_installed_distribution() -> None:
    found = find_zizmor()
    assert found is not None
    listed = [file for file in metadata.distribution("zizmor").files or [] if file.name == found.name]
    assert [Path(str(file.locate())).resolve() for file in listed] == [found]


@pytest.mark.slow
def test_zizmor_medium_findings_block_a_publishing_workflow_only(tmp_path: Path, log: RunLog) -> None:
    """excessive-permissions on a job left the default token is medium, and zizmor's alone (relsafe names the
    missing top-level `permissions:` on line 1): an error where the workflow can publish, a warning elsewhere."""
    release = write(tmp_path, publishing(build_job() + publish_job()).replace("permissions: {}\n", ""), "release.yml")
    ci = write(tmp_path, f"on: [push]\njobs:{build_job()}", "ci.yml")
    report = audit_workflows([release, ci], log=log)
    excessive = {
        (Path(f.path).name, f.severity, f.source) for f in report.findings if f.rule == "excessive-permissions"
    }
    assert excessive == {("release.yml", "error", "zizmor"), ("ci.yml", "warning", "zizmor")}, report.to_json()


@pytest.mark.slow
def test_relsafe_and_zizmor_findings_of_one_concern_on_one_line_are_one(tmp_path: Path, log: RunLog) -> None:
    """Each pair is shown once, under relsafe's id with zizmor's beside it, at relsafe's severity; either id
    silences it."""
    steps = (
        f"\n      - uses: actions/setup-python@v5 {MARK}"
        f"\n      - uses: actions/cache@{SHAPE_ONLY}"
        '\n      - run: echo "${{ github.head_ref }}"'
    )
    keeps_token = build_job(steps).replace("        with:\n          persist-credentials: false\n", "")
    release = write(tmp_path, publishing(keeps_token + publish_job()), "release.yml")
    ci = write(tmp_path, f"on: [push]\npermissions: {{}}\njobs:{keeps_token}", "ci.yml")
    report = audit_workflows([release, ci], log=log)
    pairs = {(Path(f.path).name, f.rule, f.also, f.severity) for f in report.findings if f.source == "relsafe+zizmor"}
    assert pairs == {
        ("release.yml", "checkout-credentials", "artipacked", "error"),
        ("release.yml", "unpinned-action", "unpinned-uses", "error"),
        ("release.yml", "release-cache", "cache-poisoning", "error"),
        ("release.yml", "template-injection", "template-injection", "error"),
        ("ci.yml", "checkout-credentials", "artipacked", "warning"),
        ("ci.yml", "unpinned-action", "unpinned-uses", "warning"),
        ("ci.yml", "template-injection", "template-injection", "error"),
    }, report.to_json()
    concerns = [(f.path, f.line, SAME_CONCERN.get(f.rule, f.rule)) for f in report.findings]
    assert len(concerns) == len(set(concerns)), report.to_json()
    line = marked_line(ci)
    silenced = ci.read_text(encoding="utf-8").replace(MARK, "# relsafe: ignore[unpinned-uses]")
    ci.write_text(silenced, encoding="utf-8")
    assert [f for f in audit_workflows([ci], log=log).findings if f.line == line] == []


def test_one_rule_on_one_line_is_reported_once(tmp_path: Path, log: RunLog) -> None:
    path = write(tmp_path, publishing(build_job() + publish_job(), trigger=f"[issues, issue_comment, push] {MARK}"))
    path.write_text(path.read_text(encoding="utf-8").replace("on:\n  [", "on: ["), encoding="utf-8")
    found = [f.line for f in audit(path, log).findings if f.rule == "untrusted-trigger"]
    assert found == [marked_line(path)]


@pytest.mark.slow
def test_audit_strict_refuses_on_warnings_too(tmp_path: Path, run_relsafe: RunRelsafe) -> None:
    write(
        tmp_path, f"on: [push]\npermissions: {{}}\njobs:{build_job(chr(10) + '      - uses: actions/setup-python@v5')}"
    )
    lenient = run_relsafe("audit", "workflow.yml", cwd=tmp_path)
    assert lenient.returncode == 0, lenient.stdout + lenient.stderr
    assert "unpinned-action (relsafe, and zizmor as unpinned-uses)" in lenient.stdout
    strict = run_relsafe("audit", "--strict", "workflow.yml", cwd=tmp_path)
    assert strict.returncode == 4, strict.stdout + strict.stderr


def test_running_a_missing_zizmor_says_so(tmp_path: Path, log: RunLog) -> None:
    path = write(tmp_path, f"on: [push]\npermissions: {{}}\njobs:{build_job()}")
    with pytest.raises(ToolFailed, match="not found"):
        run_zizmor([path], log=log, executable=tmp_path / "no-such-zizmor")


def test_a_rebuild_checked_in_a_job_of_its_own_and_a_build_that_publishes_nothing_are_not_unverified(
    tmp_path: Path, log: RunLog
) -> None:
    check = "\n      - run: |\n          git cat-file tag \"$TAG\" | sed -n '/^relsafe-manifest: 1$/,$p' | sha256sum -c"
    check_job = f"""
  check:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - uses: {CHECKOUT} # v4.2.2
        with:
          persist-credentials: false{check}
"""
    verified = write(
        tmp_path,
        publishing(build_job() + check_job + publish_job().replace("needs: build", "needs: check")),
        "verified.yml",
    )
    same_job = write(tmp_path, publishing(build_job(check) + publish_job()), "same-job.yml")
    ci_only = write(tmp_path, f"on: [pull_request]\npermissions: {{}}\njobs:{build_job()}", "ci.yml")
    assert "rebuild-unverified" not in rules(audit(verified, log))
    assert "rebuild-unverified" in rules(audit(same_job, log)), "the build could change the files after the check"
    assert "rebuild-unverified" not in rules(audit(ci_only, log))


def corpus() -> dict[str, str]:
    """Every workflow these tests audit, by name: the cases, both twins of the new rules, the generated workflow
    with each mistake put back, the generated workflows themselves and a labeler."""
    texts = {f"case{i:02d}-{rule}": text for i, (rule, _severity, text) in enumerate(CASES)}
    for i, (rule, _severity, dangerous, safe) in enumerate(TWINS):
        texts[f"twin{i:02d}-{rule}-dangerous"] = dangerous
        texts[f"twin{i:02d}-{rule}-safe"] = safe
    generated = render_publish_workflow(project="sample-pkg")
    for i, (rule, old, new) in enumerate(MISTAKES):
        texts[f"mistake{i:02d}-{rule}"] = generated.replace(old, new, 1)
    texts["generated-rebuild-safe"] = generated
    texts["generated-staged-safe"] = render_publish_workflow(project="sample-pkg", staging_index_url=TESTPYPI_INDEX_URL)
    texts["labeler-safe"] = LABELER_WORKFLOW
    return texts


@pytest.mark.slow
def test_corpus_counts_per_source(tmp_path: Path, log: RunLog, capsys: pytest.CaptureFixture[str]) -> None:
    """The whole corpus through relsafe's rules and zizmor: each prints how many findings it makes (run with -s
    to read them); every dangerous workflow is refused and no safe one is."""
    texts = corpus()
    for name, text in texts.items():
        write(tmp_path, text, f"{name}.yml")
    report = audit_workflows([tmp_path], log=log)
    assert report.zizmor_status.startswith("zizmor "), report.zizmor_status
    by_file: dict[str, list[Finding]] = {name: [] for name in texts}
    for finding in report.findings:
        by_file[Path(finding.path).stem].append(finding)
    for name, found in by_file.items():
        if name.startswith(("generated-", "labeler-")):
            assert found == [], (name, found)
        elif name.endswith("-safe"):
            assert [f for f in found if f.severity == "error"] == [], (name, found)
        else:
            assert any(f.severity in {"error", "warning"} and f.source != "zizmor" for f in found), name
    relsafe = [f for f in report.findings if f.source != "zizmor"]
    zizmor = [f for f in report.findings if f.source != "relsafe"]
    both = [f for f in report.findings if f.source == "relsafe+zizmor"]
    with capsys.disabled():
        print(f"\ncorpus: {len(texts)} workflows; {report.zizmor_status}")
        for label, findings in (
            ("relsafe's rules", relsafe),
            ("zizmor", zizmor),
            ("both (one finding)", both),
            ("relsafe only", [f for f in relsafe if not f.also]),
            ("zizmor only", [f for f in zizmor if f.source == "zizmor"]),
        ):
            counts = ", ".join(f"{sum(f.severity == level for f in findings)} {level}" for level in SEVERITIES)
            print(f"{label:>20}: {len(findings):3} ({counts})")
    assert both and len(relsafe) > len(both)


def test_docs_list_every_rule() -> None:
    """docs/commands/audit.md has a table row for each rule the code can report, and a section for each own rule."""
    code = " ".join(path.read_text(encoding="utf-8") for path in (REPO / "src/relsafe/security/workflow").glob("*.py"))
    ids = set(re.findall(r'finding\(\s*"([a-z-]+)"', code)) | {UNAVAILABLE}
    docs = (REPO / "docs" / "commands" / "audit.md").read_text(encoding="utf-8")
    table = set(re.findall(r"^\| `([a-z-]+)` \| [^|]+ \| [^|]+ \|$", docs, re.MULTILINE))
    sections = set(re.findall(r"^### `([a-z-]+)`$", docs, re.MULTILINE))
    assert len(ids) > 20
    assert table == ids
    assert sections == ids - {UNAVAILABLE}


def test_a_job_given_an_upload_credential_publishes_whatever_script_it_runs(tmp_path: Path, log: RunLog) -> None:
    """httpx's shape: `run: scripts/publish` with TWINE_PASSWORD; its hygiene mistakes are then errors."""
    text = f"""
        on:
          push:
            tags: ['*']
        jobs:
          publish:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/checkout@v4 {MARK}
              - run: scripts/publish
                env:
                  TWINE_USERNAME: __token__
                  TWINE_PASSWORD: ${{{{ secrets.PYPI_TOKEN }}}}
        """
    path = write(tmp_path, text)
    found = {(f.rule, f.severity) for f in audit(path, log).findings if f.line == marked_line(path)}
    assert ("unpinned-action", "error") in found
    renamed = write(tmp_path, text.replace("TWINE_PASSWORD", "COVERAGE_TOKEN"), "renamed.yml")
    found = {(f.rule, f.severity) for f in audit(renamed, log).findings if f.line == marked_line(renamed)}
    assert ("unpinned-action", "error") in found, "a PyPI token under another name is still an upload token"
    quiet = write(tmp_path, text.replace("TWINE_PASSWORD", "COVERAGE_TOKEN").replace("PYPI", "CODECOV"), "ci.yml")
    found = {(f.rule, f.severity) for f in audit(quiet, log).findings if f.line == marked_line(quiet)}
    assert ("unpinned-action", "warning") in found, "no credential, no upload: hygiene only"


def test_the_rebuild_workflow_without_its_check_step_is_unverified_though_it_reads_the_pins(
    tmp_path: Path, log: RunLog
) -> None:
    """The rebuild step reads the manifest too, for its hashed build-requires pins; only the check of the files,
    in a job of its own, verifies."""
    text = render_publish_workflow(project="sample-pkg")
    start = text.index("      - name: Check every rebuilt file")
    end = text.index("      - uses: actions/upload-artifact", start)
    assert "relsafe-manifest: 1" in text[:start], "the pins step reads the manifest"
    unchecked = write(tmp_path, text[:start] + text[end:], "publish.yml")
    assert "rebuild-unverified" in rules(audit(unchecked, log))
    assert "rebuild-unverified" not in rules(audit(write(tmp_path, text, "whole.yml"), log))
    build_upload = text.index("      - uses: actions/upload-artifact")
    in_the_build_job = text[:build_upload] + text[start:end] + text[build_upload:start] + text[end:]
    assert "rebuild-unverified" in rules(audit(write(tmp_path, in_the_build_job, "same-job.yml"), log)), (
        "a check in the job that ran the build checks nothing the build could not change afterwards"
    )


# Issue 25, false errors: each class of verdict a maintainer could not trust, as (rule, severity, the dangerous
# workflow with its line marked, its safe twin that must not get that rule's error). The safe twins are the shapes
# real projects have (Scorecard, a credential broker, crates.io, `uv publish` with Trusted Publishing, …).
SCORECARD = f"ossf/scorecard-action@{SHAPE_ONLY}"
BROKER = f"octo-sts/action@{SHAPE_ONLY}"
CRATES_AUTH = f"rust-lang/crates-io-auth-action@{SHAPE_ONLY}"
SETUP_UV = f"astral-sh/setup-uv@{SHAPE_ONLY}"


def oidc_job(name: str, step: str, mark: str = "") -> str:
    """A job that asks for an OIDC token (its `id-token:` line marked with `mark`) for the step given."""
    return (
        f"\n  {name}:\n    runs-on: ubuntu-latest\n    permissions:\n      contents: read\n"
        f"      id-token: write {mark}\n    steps:\n      - {step}\n"
    )


def bot(body: str, trigger: str = "schedule:\n    - cron: '0 6 * * *'") -> str:
    """A workflow that uploads nothing: whatever its jobs hold, PyPI trusts none of its tokens."""
    return f"on:\n  {trigger}\npermissions: {{}}\njobs:{body}"


UV_PUBLISH = "\n      - run: uv publish dist/*"
VERDICT_TWINS: list[tuple[str, str, str, str]] = [
    (  # a job of the publishing workflow that nothing known asks the token for
        "id-token-scope",
        "error",
        publishing(build_job() + publish_job() + oidc_job("lint", "run: ruff check", MARK)),
        bot(oidc_job("analysis", f"uses: {SCORECARD} # v2.4.0")),
    ),
    (  # a credential broker in a bot that pushes: the token is the broker's
        "id-token-scope",
        "error",
        publishing(build_job() + publish_job() + oidc_job("sync", "run: ./sync.sh", MARK)),
        bot(oidc_job("sync", f"uses: {BROKER}\n        with:\n          scope: org/repo") + "  # for the broker\n"),
    ),
    (  # crates.io trusted publishing beside PyPI's: PyPI accepts that job's token too, unless its environment differs
        "id-token-scope",
        "warning",
        publishing(build_job() + publish_job() + oidc_job("crates", f"uses: {CRATES_AUTH}", MARK)),
        bot(oidc_job("crates", f"uses: {CRATES_AUTH}"), trigger="push:\n    tags: ['v*']"),
    ),
    (  # id-token for every job of a workflow that uploads nothing is hygiene, not a path to PyPI
        "id-token-scope",
        "warning",
        f"on: [push]\npermissions:\n  id-token: write {MARK}\njobs:" + oidc_job("analysis", f"uses: {SCORECARD}"),
        bot(oidc_job("analysis", f"uses: {SCORECARD}")),
    ),
    (  # a cache in a workflow that can publish; the same cache in a bot with id-token, which cannot
        "release-cache",
        "error",
        publishing(build_job(f"\n      - uses: {SETUP_UV} {MARK}") + publish_job()),
        bot(oidc_job("sync", f"uses: {SETUP_UV}\n      - uses: {BROKER}")),
    ),
    (  # a manual publishing workflow; a manual bot with id-token publishes nothing, so needs no tag trigger
        "no-tag-trigger",
        "warning",
        publishing(build_job() + publish_job(), trigger="workflow_dispatch:").replace("on:", f"on: {MARK}", 1),
        bot(oidc_job("sync", f"uses: {BROKER}"), trigger="workflow_dispatch:"),
    ),
    (  # `uv publish` handed a token; without one it trades the job's OIDC token (Trusted Publishing)
        "stored-credentials",
        "error",
        publishing(
            build_job()
            + publish_job(f"{UV_PUBLISH} {MARK}\n        env:\n          UV_PUBLISH_TOKEN: ${{{{ secrets.PYPI }}}}")
        ),
        publishing(build_job() + publish_job(UV_PUBLISH)),
    ),
    (  # `uv publish` in a job without id-token can only use a stored token
        "stored-credentials",
        "error",
        publishing(build_job() + publish_job(f"{UV_PUBLISH} {MARK}").replace("id-token: write", "contents: read")),
        publishing(build_job() + publish_job("\n      - run: python -m twine upload dist/*")),
    ),
    (  # a reusable workflow that uploads to PyPI; one that uses OIDC for crates.io publishes nothing to PyPI
        "reusable-publish",
        "error",
        publishing(build_job() + publish_job(), trigger=f"workflow_call: {MARK}"),
        bot(oidc_job("crates", f"uses: {CRATES_AUTH}"), trigger="workflow_call:"),
    ),
    (  # a job left the default token; where every job declares its own, no job is
        "missing-permissions",
        "warning",
        f"# CI {MARK}\non: [push]\njobs:" + oidc_job("analysis", f"uses: {SCORECARD}") + build_job(),
        "on: [push]\njobs:" + oidc_job("analysis", f"uses: {SCORECARD}"),
    ),
    (  # the self-repository form names this repository's own code at the running commit, like `./`
        "unpinned-action",
        "warning",
        f"on: [push]\npermissions: {{}}\njobs:\n  docs:\n    uses: {SHARED_DOCS.split('@')[0]}@main {MARK}\n",
        "on: [push]\npermissions: {}\njobs:\n  docs:\n    uses: $/.github/workflows/docs.yml\n",
    ),
    (  # text an outsider chose; expressions whose value is a boolean or a literal carry nothing
        "template-injection",
        "error",
        "on: [pull_request]\npermissions: {}\njobs:"
        + build_job(f"\n      - run: echo ${{{{ github.head_ref || 'main' }}}} {MARK}"),
        "on:\n  pull_request:\n  workflow_dispatch:\n    inputs:\n      plan: {type: string}\npermissions: {}\njobs:"
        + build_job(
            "\n      - run: |"
            "\n          echo ${{ github.event_name == 'push' }} ${{ github.event.pull_request.head.repo.fork }}"
            "\n          echo ${{ contains(github.event.pull_request.labels.*.name, 'ci: full') }}"
            "\n          echo ${{ fromJSON(inputs.plan) && 'release' || '' }} ${{ !startsWith(github.head_ref, 'x') }}"
        ),
    ),
    (  # zizmor's ignore comment on the step's `run:` line, for the same concern, silences relsafe's twin too
        "template-injection",
        "error",
        "on: [pull_request]\npermissions: {}\njobs:"
        + build_job(
            "\n      - run: | # zizmor: ignore[artipacked]\n          echo start\n"
            f'          echo "${{{{ github.head_ref }}}}" {MARK}'
        ),
        "on: [pull_request]\npermissions: {}\njobs:"
        + build_job(
            "\n      - run: | # zizmor: ignore[template-injection] - checked\n          echo start\n"
            '          echo "${{ github.head_ref }}"'
        ),
    ),
    (  # a branch push that uploads to PyPI; one that uploads to TestPyPI only tests the upload
        "branch-push-publish",
        "error",
        publishing(build_job() + publish_job(), trigger=f"push:\n    branches: [main] {MARK}"),
        publishing(
            build_job()
            + publish_job("\n        with:\n          repository-url: https://test.pypi.org/legacy/").replace(
                "environment: pypi", "environment: testpypi"
            ),
            trigger="push:\n    branches: [main]",
        ),
    ),
    (  # a publish job with nothing to need; in a reusable workflow of publish jobs alone, the caller orders it
        "publish-needs",
        "error",
        publishing(publish_job().replace("    needs: build\n", "").replace("publish:", f"publish: {MARK}")),
        publishing(publish_job().replace("    needs: build\n", ""), trigger="workflow_call:"),
    ),
]


@pytest.mark.parametrize(
    ("rule", "severity", "dangerous", "safe"),
    VERDICT_TWINS,
    ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(VERDICT_TWINS)],
)
def test_each_false_error_class_keeps_the_dangerous_case_and_clears_the_safe_twin(
    tmp_path: Path, log: RunLog, rule: str, severity: str, dangerous: str, safe: str
) -> None:
    """The safe twin gets no finding of the rule at the dangerous one's severity, nor above it."""
    bad = write(tmp_path, dangerous, "dangerous.yml")
    found = [(f.rule, f.severity, f.line) for f in audit(bad, log).findings]
    assert (rule, severity, marked_line(bad)) in found, audit(bad, log).to_json()
    good = write(tmp_path, safe, "safe.yml")
    as_bad = SEVERITIES[: SEVERITIES.index(severity) + 1]
    assert [f for f in audit(good, log).findings if f.rule == rule and f.severity in as_bad] == [], audit(
        good, log
    ).to_json()


def test_oidc_for_another_consumer_does_not_make_a_workflow_publish(tmp_path: Path, log: RunLog) -> None:
    """A bot that pushes with a broker's token: no rule of publishing is an error there, each is what it is in CI."""
    text = bot(oidc_job("sync", f"uses: {BROKER}\n      - uses: {CHECKOUT}\n      - uses: actions/setup-python@v5"))
    findings = audit(write(tmp_path, text, "sync.yml"), log).findings
    assert {(f.rule, f.severity) for f in findings} == {
        ("checkout-credentials", "warning"),
        ("unpinned-action", "warning"),
    }, [f.rule for f in findings]


def test_a_step_naming_pypis_upload_endpoint_publishes_and_a_registry_login_does_not(
    tmp_path: Path, log: RunLog
) -> None:
    upload = "run: curl -F content=@dist/x.whl https://upload.pypi.org/legacy/"
    login = f"uses: docker/login-action@{SHAPE_ONLY}\n        with:\n          password: ${{{{ secrets.DOCKERHUB }}}}"
    for step, publishes in ((upload, True), (login, False)):
        text = f"on: [push]\npermissions: {{}}\njobs:\n  up:\n    runs-on: ubuntu-latest\n    steps:\n      - {step}\n"
        found = rules(audit(write(tmp_path, text, "up.yml"), log))
        assert ("publish-environment" in found) is publishes, (step, found)


def test_the_workflows_environment_stands_when_none_is_configured(tmp_path: Path, log: RunLog) -> None:
    """No [publish] environment: the workflow's own (`release-pypi`) is the one registered on PyPI."""
    path = write(tmp_path, publishing(build_job() + publish_job().replace("environment: pypi", "environment: publish")))
    assert "publish-environment" not in rules(audit_workflows([path], log=log, use_zizmor=False, environment=None))
    assert "publish-environment" in rules(audit_workflows([path], log=log, use_zizmor=False, environment="pypi"))
    unprotected = write(tmp_path, publishing(build_job() + publish_job().replace("    environment: pypi\n", "")))
    assert "publish-environment" in rules(audit_workflows([unprotected], log=log, use_zizmor=False, environment=None))
    assert Config().configured_environment is None
    assert Config(publish_environment="release-pypi").configured_environment == "release-pypi"


def test_audit_command_outside_a_configured_project_takes_the_workflows_environment(
    tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    text = publishing(build_job() + publish_job().replace("environment: pypi", "environment: release-pypi"))
    write(tmp_path, text, "publish.yml")
    result = run_relsafe("audit", "--format", "json", "publish.yml", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "publish-environment" not in {f["rule"] for f in json.loads(result.stdout)["findings"]}


def test_a_branch_push_caller_of_a_self_repository_publish_workflow_is_followed(tmp_path: Path, log: RunLog) -> None:
    """`uses: $/.github/workflows/publish.yml` resolves to this repository at the running commit, as `./` does."""
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    write(folder, publishing(build_job() + publish_job(), trigger="workflow_call:"), "publish.yml")
    for form in ("./", "$/"):
        caller = write(
            folder,
            f"on:\n  push:\n    branches: [main] {MARK}\npermissions: {{}}\njobs:\n"
            f"  release:\n    uses: {form}.github/workflows/publish.yml\n",
            "caller.yml",
        )
        found = [(f.rule, f.severity, f.line) for f in audit(caller, log).findings]
        assert ("branch-push-publish", "error", marked_line(caller)) in found, (form, found)
        assert "unpinned-action" not in {rule for rule, _severity, _line in found}


def test_a_zizmor_ignore_comment_in_another_step_silences_nothing(tmp_path: Path, log: RunLog) -> None:
    steps = (
        "\n      - run: echo checked # zizmor: ignore[template-injection]"
        f'\n      - run: echo "${{{{ github.head_ref }}}}" {MARK}'
    )
    path = write(tmp_path, "on: [pull_request]\npermissions: {}\njobs:" + build_job(steps))
    found = [(f.rule, f.line) for f in audit(path, log).findings]
    assert ("template-injection", marked_line(path)) in found


@pytest.mark.slow
def test_relsafe_and_zizmor_on_two_lines_of_one_step_are_one_finding(tmp_path: Path, log: RunLog) -> None:
    """zizmor puts artipacked on a named step's first line, relsafe on its `uses:`: one step, one concern, one
    finding; two zizmor findings of one line are not mistaken for a relsafe twin."""
    steps = (
        f"\n      - name: Check out\n        uses: {CHECKOUT} # v4.2.2 {MARK}\n        with:\n          fetch-depth: 0"
    )
    path = write(
        tmp_path, f"on: [push]\npermissions: {{}}\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:{steps}\n"
    )
    report = audit_workflows([path], log=log)
    credentials = [(f.rule, f.also, f.line) for f in report.findings if "artipacked" in (f.rule, f.also)]
    assert credentials == [("checkout-credentials", "artipacked", marked_line(path))], report.to_json()
    assert all(f.source != "relsafe+zizmor" or f.rule in SAME_CONCERN for f in report.findings), report.to_json()
