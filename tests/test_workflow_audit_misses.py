"""What the audit used to miss: composite actions, secrets an outsider's event reaches, an outsider's text or code
reaching a script by a detour, caches and runners under other names; and zizmor rejecting a file fails closed.

Each case is a small repository (files by path) with the expected finding's line marked, and its safe twin.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from relsafe.journal.runlog import RunLog
from relsafe.security.workflow.audit import audit_workflows
from relsafe.security.workflow.report import AuditReport
from tests.support.cli import RunRelsafe

MARK = "# <-"
PIN = "0123456789abcdef0123456789abcdef01234567"  # a pin of the right shape, not a real commit
CHECKOUT = f"actions/checkout@{PIN}"
PUBLISH = f"pypa/gh-action-pypi-publish@{PIN}"
ACTION = ".github/actions/pull/action.yml"
WORKFLOW = ".github/workflows/ci.yml"


def job(steps: str, head: str = "", runs_on: str = "ubuntu-latest") -> str:
    """A job `a` with the given steps (each `- …` at 6 spaces), for a `jobs:` mapping."""
    return f"  a:\n    runs-on: {runs_on}\n{head}    steps:\n{textwrap.indent(textwrap.dedent(steps), '      ')}"


def workflow(trigger: str, *jobs: str, env: str = "") -> str:
    return f"on: {trigger}\npermissions: {{}}\n{env}jobs:\n" + "".join(jobs)


def publishing(*jobs: str) -> str:
    publish = (
        "  publish:\n    needs: a\n    runs-on: ubuntu-latest\n    environment: pypi\n"
        f"    permissions:\n      id-token: write\n    steps:\n      - uses: {PUBLISH}\n"
    )
    return workflow("\n  push:\n    tags: ['v*']", *jobs, publish)


def composite(steps: str, inputs: str = "") -> str:
    return f"name: pull\n{inputs}runs:\n  using: composite\n  steps:\n{textwrap.indent(textwrap.dedent(steps), '    ')}"


@pytest.fixture
def log(tmp_path: Path) -> RunLog:
    return RunLog(tmp_path / "run.log")


def build(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    (root / ".git").mkdir(exist_ok=True)
    return root


def audit(root: Path, log: RunLog) -> AuditReport:
    return audit_workflows([root / ".github" / "workflows"], log=log, use_zizmor=False)


def marked(root: Path, files: dict[str, str]) -> tuple[str, int]:
    for name, text in files.items():
        for number, line in enumerate(text.splitlines(), start=1):
            if MARK in line:
                return str(root / name), number
    raise AssertionError("no marked line")


INJECTED_PULL = "- shell: bash\n  run: git pull origin ${{ github.head_ref || github.ref }} " + MARK + "\n"
QUOTED_PULL = '- shell: bash\n  env:\n    REF: ${{ github.head_ref || github.ref }}\n  run: git pull origin "$REF"\n'
USES_PULL = "- uses: ./.github/actions/pull\n"
TITLE_ENV = "    env:\n      TITLE: ${{ github.event.issue.title }}\n"
TITLE_ENV_EVERYWHERE = "env:\n  TITLE: ${{ github.event.issue.title }}\n"
OUTPUT_JOB = "  b:\n    runs-on: ubuntu-latest\n    outputs:\n      {output}\n    steps:\n      - run: echo\n"
ARTIFACT = (
    f"- uses: actions/download-artifact@{PIN}\n  with:\n    name: pr\n    path: pr\n"
    "    run-id: ${{ github.event.workflow_run.id }}\n    github-token: ${{ github.token }}\n"
)

# (rule, severity, the dangerous repository, its safe twin)
TWINS: list[tuple[str, str, dict[str, str], dict[str, str]]] = [
    (  # the Ultralytics injection, inside a composite action a workflow uses
        "template-injection",
        "error",
        {ACTION: composite(INJECTED_PULL), WORKFLOW: workflow("pull_request_target", job(USES_PULL))},
        {ACTION: composite(QUOTED_PULL), WORKFLOW: workflow("pull_request_target", job(USES_PULL))},
    ),
    (  # an input pasted into the action's script is only as safe as its callers: a warning there
        "template-injection",
        "warning",
        {
            ACTION: composite("- shell: bash\n  run: echo ${{ inputs.note }} " + MARK + "\n", "inputs:\n  note: {}\n"),
            WORKFLOW: workflow("push", job(USES_PULL + "  with:\n    note: fixed\n")),
        },
        {
            ACTION: composite(
                '- shell: bash\n  env:\n    NOTE: ${{ inputs.note }}\n  run: echo "$NOTE"\n', "inputs:\n  note: {}\n"
            ),
            WORKFLOW: workflow("push", job(USES_PULL + "  with:\n    note: fixed\n")),
        },
    ),
    (  # … and an error in the workflow that passes it an outsider's text
        "template-injection",
        "error",
        {
            ACTION: composite("- shell: bash\n  run: echo ${{ inputs.note }}\n", "inputs:\n  note: {}\n"),
            WORKFLOW: workflow(
                "issues", job(USES_PULL + f"  with:\n    note: ${{{{ github.event.issue.title }}}} {MARK}\n")
            ),
        },
        {
            ACTION: composite("- shell: bash\n  run: echo ${{ inputs.note }}\n", "inputs:\n  note: {}\n"),
            WORKFLOW: workflow("issues", job(USES_PULL + "  with:\n    note: ${{ github.event.issue.number }}\n")),
        },
    ),
    (
        "secrets-to-branch-action",
        "error",
        {
            WORKFLOW: workflow(
                "pull_request_target",
                job(f"- uses: org/actions@main {MARK}\n  with:\n    token: ${{{{ secrets.BOT }}}}\n"),
            )
        },
        {
            WORKFLOW: workflow(
                "pull_request_target", job(f"- uses: org/actions@{PIN}\n  with:\n    token: ${{{{ secrets.BOT }}}}\n")
            )
        },
    ),
    (
        "secrets-to-branch-action",
        "error",
        {
            WORKFLOW: workflow(
                "issue_comment",
                job(f"- uses: org/actions@develop {MARK}\n", head="    env:\n      T: ${{ secrets.BOT }}\n"),
            )
        },
        {
            WORKFLOW: workflow(
                "push", job("- uses: org/actions@develop\n", head="    env:\n      T: ${{ secrets.BOT }}\n")
            )
        },
    ),
    (  # env set from event data, expanded back into the script
        "template-injection",
        "error",
        {WORKFLOW: workflow("issues", job(f"- run: echo ${{{{ env.TITLE }}}} {MARK}\n", head=TITLE_ENV))},
        {WORKFLOW: workflow("issues", job('- run: echo "$TITLE"\n', head=TITLE_ENV))},
    ),
    (  # … at the workflow level, and through a step's output
        "template-injection",
        "error",
        {
            WORKFLOW: workflow(
                "issues",
                job(
                    '- id: t\n  run: echo "title=$TITLE" >> "$GITHUB_OUTPUT"\n'
                    f"- run: echo ${{{{ steps.t.outputs.title }}}} {MARK}\n"
                ),
                env=TITLE_ENV_EVERYWHERE,
            )
        },
        {
            WORKFLOW: workflow(
                "issues",
                job(
                    '- id: t\n  run: echo "n=${{ github.event.issue.number }}" >> "$GITHUB_OUTPUT"\n'
                    "- run: echo ${{ steps.t.outputs.n }}\n"
                ),
            )
        },
    ),
    (  # through another job's output
        "template-injection",
        "error",
        {
            WORKFLOW: workflow(
                "pull_request_target",
                OUTPUT_JOB.format(output="ref: ${{ github.head_ref }}"),
                job(f"- run: git log ${{{{ needs.b.outputs.ref }}}} {MARK}\n", head="    needs: b\n"),
            )
        },
        {
            WORKFLOW: workflow(
                "pull_request_target",
                OUTPUT_JOB.format(output="sha: ${{ github.event.pull_request.head.sha }}"),
                job("- run: git log ${{ needs.b.outputs.sha }}\n", head="    needs: b\n"),
            )
        },
    ),
    (  # a pull request head fetched by number
        "dangerous-trigger",
        "error",
        {
            WORKFLOW: workflow(
                f"pull_request_target {MARK}",
                job(
                    "- run: git fetch origin pull/${{ github.event.pull_request.number }}/head:pr && git checkout pr\n"
                ),
            )
        },
        {
            WORKFLOW: workflow(
                "pull_request_target", job("- run: gh pr comment ${{ github.event.pull_request.number }} -b hi\n")
            )
        },
    ),
    (  # … or checked out through an env ref
        "dangerous-trigger",
        "error",
        {
            WORKFLOW: workflow(
                f"pull_request_target {MARK}",
                job(
                    f"- uses: {CHECKOUT}\n  with:\n    ref: ${{{{ env.HEAD }}}}\n",
                    head="    env:\n      HEAD: ${{ github.event.pull_request.head.ref }}\n",
                ),
            )
        },
        {
            WORKFLOW: workflow(
                "pull_request_target",
                job(
                    f"- uses: {CHECKOUT}\n  with:\n    ref: ${{{{ env.BASE }}}}\n",
                    head="    env:\n      BASE: ${{ github.event.pull_request.base.ref }}\n",
                ),
            )
        },
    ),
    (  # the triggering run's artifact executed
        "dangerous-trigger",
        "error",
        {
            WORKFLOW: workflow(
                f"\n  workflow_run: {MARK}\n    workflows: [ci]", job(ARTIFACT + "- run: bash ./pr/post.sh\n")
            )
        },
        {WORKFLOW: workflow("\n  workflow_run:\n    workflows: [ci]", job(ARTIFACT + "- run: cat pr/report.txt\n"))},
    ),
    (
        "release-cache",
        "error",
        {WORKFLOW: publishing(job(f"- uses: buildjet/cache@{PIN} {MARK}\n  with:\n    path: x\n    key: k\n"))},
        {WORKFLOW: workflow("push", job(f"- uses: buildjet/cache@{PIN}\n  with:\n    path: x\n    key: k\n"))},
    ),
    (
        "release-cache",
        "error",
        {
            WORKFLOW: publishing(
                job(f"- uses: mamba-org/setup-micromamba@{PIN} {MARK}\n  with:\n    cache-environment: true\n")
            )
        },
        {
            WORKFLOW: publishing(
                job(f"- uses: mamba-org/setup-micromamba@{PIN}\n  with:\n    cache-environment: false\n")
            )
        },
    ),
    (
        "release-cache",
        "error",
        {WORKFLOW: publishing(job(f"- uses: hynek/setup-cached-uv@{PIN} {MARK}\n"))},
        {WORKFLOW: publishing(job(f"- uses: astral-sh/setup-uv@{PIN}\n  with:\n    enable-cache: false\n"))},
    ),
    (  # a cache in a composite action the release workflow uses
        "release-cache",
        "error",
        {
            ACTION: composite(f"- uses: actions/cache@{PIN} {MARK}\n  with:\n    path: x\n    key: k\n"),
            WORKFLOW: publishing(job(USES_PULL)),
        },
        {
            ACTION: composite(f"- uses: actions/cache@{PIN}\n  with:\n    path: x\n    key: k\n"),
            WORKFLOW: workflow("push", job(USES_PULL)),
        },
    ),
    (
        "self-hosted-runner",
        "error",
        {
            WORKFLOW: publishing(
                job(
                    "- run: make\n",
                    head="    strategy:\n      matrix:\n        os: [ubuntu-latest, self-hosted]\n",
                    runs_on=f"${{{{ matrix.os }}}} {MARK}",
                )
            )
        },
        {
            WORKFLOW: publishing(
                job(
                    "- run: make\n",
                    head="    strategy:\n      matrix:\n        os: [ubuntu-latest, macos-latest]\n",
                    runs_on="${{ matrix.os }}",
                )
            )
        },
    ),
    (
        "self-hosted-runner",
        "error",
        {WORKFLOW: publishing(job("- run: make\n", runs_on=f"{{group: builders}} {MARK}"))},
        {WORKFLOW: publishing(job("- run: make\n", runs_on="[ubuntu-latest]"))},
    ),
]


@pytest.mark.parametrize(
    ("rule", "severity", "dangerous", "safe"), TWINS, ids=[f"{c[0]}-{i}" for i, c in enumerate(TWINS)]
)
def test_each_miss_is_caught_and_its_safe_twin_passes(
    tmp_path: Path, log: RunLog, rule: str, severity: str, dangerous: dict[str, str], safe: dict[str, str]
) -> None:
    bad = build(tmp_path / "bad", dangerous)
    report = audit(bad, log)
    assert (rule, severity, *marked(bad, dangerous)) in [
        (f.rule, f.severity, f.path, f.line) for f in report.findings
    ], report.to_json()
    good = build(tmp_path / "good", safe)
    report = audit(good, log)
    assert [f for f in report.findings if f.rule == rule and f.severity in {"error", severity}] == [], report.to_json()


def test_local_actions_are_audited_once_each_and_named_ones_are_not_refused(tmp_path: Path, log: RunLog) -> None:
    """Two workflows using one action: its finding once; an action named on the command line (action.yaml too)
    is audited as an action, not refused as a workflow."""
    files = {
        ACTION: composite(INJECTED_PULL),
        WORKFLOW: workflow("push", job(USES_PULL)),
        ".github/workflows/other.yml": workflow("pull_request", job(USES_PULL + USES_PULL)),
        "tools/setup/action.yaml": composite("- shell: bash\n  run: echo ${{ github.event.pull_request.title }}\n"),
    }
    root = build(tmp_path, files)
    found = [(Path(f.path).relative_to(root).as_posix(), f.rule) for f in audit(root, log).findings]
    assert found.count((ACTION, "template-injection")) == 1, found
    named = audit_workflows([root / "tools/setup/action.yaml", root / ACTION], log=log, use_zizmor=False)
    assert [(Path(f.path).name, f.rule, f.severity) for f in named.findings] == [
        ("action.yml", "template-injection", "error"),
        ("action.yaml", "template-injection", "error"),
    ]


def test_a_file_zizmor_rejects_among_others_fails_the_audit_closed(
    tmp_path: Path, log: RunLog, run_relsafe: RunRelsafe
) -> None:
    """A job with steps but no `runs-on:` is a workflow to relsafe and not to zizmor's schema: zizmor warns and
    audits the rest; the rejected file gets an error saying zizmor rejected it, and why."""
    good = workflow("push", job("- run: echo hi\n"))
    build(tmp_path, {WORKFLOW: good, ".github/workflows/broken.yml": good.replace("    runs-on: ubuntu-latest\n", "")})
    report = audit_workflows([tmp_path / ".github" / "workflows"], log=log)
    unavailable = [(Path(f.path).name, f.severity, f.line) for f in report.findings if f.rule == "zizmor-unavailable"]
    assert unavailable == [("broken.yml", "error", 1)], report.to_json()
    finding = next(f for f in report.findings if f.rule == "zizmor-unavailable")
    assert "rejected" in finding.message and "validate" in finding.message and "rejected" in finding.fix
    assert "Reinstall" not in finding.fix
    refused = run_relsafe("audit", cwd=tmp_path)
    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert "1 file(s) rejected" in refused.stdout
    (tmp_path / ".github/workflows/broken.yml").unlink()
    passed = run_relsafe("audit", cwd=tmp_path)
    assert passed.returncode == 0, passed.stdout + passed.stderr
