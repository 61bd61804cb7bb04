"""`relsafe init`'s logic: remote parsing, the rendered workflow and release.toml, the set-up data."""

from __future__ import annotations

import re
import sys
from pathlib import Path, PurePosixPath

import pytest
from ruamel.yaml import YAML

from relsafe.core.errors import ConfigError, UsageError
from relsafe.journal.runlog import RunLog
from relsafe.model.config import Config, load_config
from relsafe.model.publish_workflow import (
    DEFAULT_WORKFLOW,
    GitHubRepository,
    InitWrite,
    parse_github_remote,
    plan_init,
    render_publish_workflow,
    render_release_toml,
    tag_pattern,
    write_init,
)
from relsafe.model.schema import SCHEMA
from relsafe.model.tag_convention import DEFAULT_FORMAT
from relsafe.security.workflow.audit import audit_workflows
from relsafe.steps.table import DEFAULT_STEPS, STEPS

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/octo-org/my.pkg",
        "https://github.com/octo-org/my.pkg.git",
        "https://github.com/octo-org/my.pkg/",
        "https://someone@github.com/octo-org/my.pkg.git",
        "git@github.com:octo-org/my.pkg.git",
        "git@github.com:octo-org/my.pkg",
        "ssh://git@github.com/octo-org/my.pkg.git",
        "ssh://git@github.com:22/octo-org/my.pkg.git",
        "  https://github.com/octo-org/my.pkg.git\n",
    ],
)
def test_github_remote_forms_give_owner_and_repository(url: str) -> None:
    assert parse_github_remote(url) == GitHubRepository("octo-org", "my.pkg")


@pytest.mark.parametrize(
    "url",
    [
        "https://gitlab.com/octo-org/pkg.git",
        "git@example.com:octo-org/pkg.git",
        "https://github.com/octo-org",
        "https://github.com/octo-org/pkg/tree/main",
        "/srv/git/pkg.git",
    ],
)
def test_other_remotes_are_usage_errors(url: str) -> None:
    with pytest.raises(UsageError, match="not a GitHub repository URL"):
        parse_github_remote(url)


def test_a_credential_in_a_bad_remote_is_not_repeated() -> None:
    with pytest.raises(UsageError) as caught:
        parse_github_remote("https://user:" + "hunter2secret@gitlab.com/o/r.git")
    assert "hunter2secret" not in caught.value.message


@pytest.mark.parametrize(
    ("tag_format", "pattern"),
    [
        ("v{version}", "v*"),
        ("{version}", "*"),
        ("release-{version}", "release-*"),
        ("pkg+{version}", r"pkg\+*"),
    ],
)
def test_tag_pattern_follows_the_tag_format(tag_format: str, pattern: str) -> None:
    assert tag_pattern(tag_format) == pattern


@pytest.mark.parametrize("tag_format", ["v1", "{version}-{version}"])
def test_tag_format_without_one_version_is_a_config_error(tag_format: str) -> None:
    with pytest.raises(ConfigError, match="tag-format"):
        tag_pattern(tag_format)


@pytest.mark.parametrize(
    ("staging", "handing_on", "actions"),
    [("https://test.pypi.org/simple/", "prepare", 4), (None, "check", 8)],
    ids=["staged", "rebuilt"],
)
def test_rendered_workflow_has_the_pypa_shape(staging: str | None, handing_on: str, actions: int) -> None:
    """Only the publish job holds id-token; it needs the one job that checks the bytes (without staging, a job
    that runs nothing of the project, after the rebuild), and runs only the download and PyPA's action."""
    text = render_publish_workflow(project="sample-pkg", tag_format="release-{version}", staging_index_url=staging)
    doc = YAML(typ="safe").load(text)
    assert doc["on"] == {"push": {"tags": ["release-*"]}}
    assert doc["permissions"] == {}
    publish = doc["jobs"]["publish"]
    assert [job_id for job_id, job in doc["jobs"].items() if "id-token" in (job.get("permissions") or {})] == [
        "publish"
    ]
    assert publish["needs"] == handing_on
    assert publish["environment"] == {"name": "pypi", "url": "https://pypi.org/p/sample-pkg"}
    assert publish["permissions"] == {"id-token": "write"}
    assert [step["uses"].split("@")[0] for step in publish["steps"]] == [
        "actions/download-artifact",
        "pypa/gh-action-pypi-publish",
    ]
    checkout = doc["jobs"][handing_on]["steps"][0]
    assert checkout["uses"].startswith("actions/checkout@")
    assert checkout["with"]["persist-credentials"] is False
    uses = [line.strip() for line in text.splitlines() if "uses:" in line]
    assert len(uses) == actions
    for line in uses:
        assert re.fullmatch(r"- uses: [\w.-]+/[\w.-]+@[0-9a-f]{40} # v\d+\.\d+\.\d+", line), line


def test_rendered_workflow_with_other_settings_passes_the_audit(tmp_path: Path) -> None:
    path = tmp_path / "release.yml"
    path.write_text(
        render_publish_workflow(project="sample-pkg", tag_format="rel/{version}", environment="release"),
        encoding="utf-8",
    )
    report = audit_workflows(
        [path], environment="release", tag_format="rel/{version}", log=RunLog(None), use_zizmor=False
    )
    assert report.findings == []


@pytest.mark.parametrize(
    ("options", "match"),
    [({"project": "bad name"}, "project name"), ({"project": "ok", "environment": "a b"}, "environment")],
)
def test_bad_names_are_refused_before_rendering(options: dict[str, str], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        render_publish_workflow(**options)


def test_release_toml_with_defaults_only_sets_nothing(tmp_path: Path) -> None:
    text = render_release_toml()
    data = tomllib.loads(text)
    assert all(table == {} for table in data.values())
    (tmp_path / "release.toml").write_text(text, encoding="utf-8")
    assert load_config(tmp_path, STEPS) == Config(source="release.toml", steps=DEFAULT_STEPS)


def test_release_toml_writes_only_values_that_differ(tmp_path: Path) -> None:
    text = render_release_toml(
        {
            "release": {"branch": "trunk", "remote": "origin", "sign-tags": True},
            "test": {"paths": ["tests", "it"]},
        }
    )
    data = tomllib.loads(text)
    assert data["release"] == {"branch": "trunk", "sign-tags": True}
    assert data["test"] == {"paths": ["tests", "it"]}
    assert '# remote = "origin"' in text
    (tmp_path / "release.toml").write_text(text, encoding="utf-8")
    config = load_config(tmp_path, STEPS)
    assert (config.branch, config.sign_tags, config.test_paths) == ("trunk", True, ("tests", "it"))


def test_release_toml_template_shows_the_real_defaults() -> None:
    """The commented values are what relsafe uses when a key is absent."""
    defaults = Config()
    shown = {}
    table = ""
    for line in render_release_toml().splitlines():
        header = re.match(r"^\[([a-z-]+)\]", line)
        table = header[1] if header else table
        commented = re.match(r"^# ([a-z-]+) = (.*?)(\s+#.*)?$", line)
        if commented and table in SCHEMA and commented[1] in SCHEMA[table]:
            shown[(table, commented[1])] = tomllib.loads(f"x = {commented[2]}")["x"]
    assert {(t, k) for t in SCHEMA for k in SCHEMA[t]} == set(shown)
    for (table, key), value in shown.items():
        actual = getattr(defaults, SCHEMA[table][key].attribute)
        if (table, key) == ("release", "steps"):
            assert tuple(value) == DEFAULT_STEPS
        elif (table, key) == ("release", "tag-format"):
            assert actual is None and value == DEFAULT_FORMAT, "no tag-format: read from the tags, else the default"
        elif (table, key) == ("publish", "workflow"):
            assert actual is None and value == DEFAULT_WORKFLOW, "no workflow: relsafe's own file"
        else:
            assert (list(actual) if isinstance(actual, tuple) else actual) == value, f"{table}.{key}"


def test_release_toml_refuses_an_unknown_setting() -> None:
    with pytest.raises(ValueError, match=r"release\.colour"):
        render_release_toml({"release": {"colour": "blue"}})


def test_plan_init_gives_files_and_pending_publisher_values() -> None:
    plan = plan_init(
        project="sample-pkg",
        remote_url="git@github.com:octo-org/sample.git",
        tag_format="{version}",
        workflow=".github/workflows/release.yml",
    )
    assert set(plan.files) == {PurePosixPath(".github/workflows/release.yml"), PurePosixPath("release.toml")}
    config = tomllib.loads(plan.files[PurePosixPath("release.toml")])
    assert config["release"] == {"tag-format": "{version}"}
    assert config["publish"] == {"workflow": ".github/workflows/release.yml"}
    setup = plan.setup
    assert dict(setup.pypi_fields) == {
        "PyPI Project Name": "sample-pkg",
        "Owner": "octo-org",
        "Repository name": "sample",
        "Workflow name": "release.yml",
        "Environment name": "pypi",
    }
    assert setup.pypi_url == "https://pypi.org/manage/account/publishing/"
    assert setup.github_environment_url == "https://github.com/octo-org/sample/settings/environments"
    assert setup.github_rulesets_url == "https://github.com/octo-org/sample/settings/rules"
    assert any("'*'" in step for step in setup.github_steps)


@pytest.mark.parametrize("workflow", ["/etc/publish.yml", "../publish.yml", ".github/workflows/publish.txt"])
def test_plan_init_refuses_a_workflow_outside_the_repository(workflow: str) -> None:
    with pytest.raises(UsageError, match="publish workflow"):
        plan_init(project="p", remote_url="https://github.com/o/r", workflow=workflow)


def test_write_init_writes_once_and_keeps_edits_file_by_file(tmp_path: Path) -> None:
    plan = plan_init(project="sample-pkg", remote_url="https://github.com/octo-org/sample.git")
    done = write_init(tmp_path, plan)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in done.written) == [
        ".github/workflows/relsafe-publish.yml",
        "release.toml",
    ]
    assert write_init(tmp_path, plan) == InitWrite([], [])
    workflow = tmp_path / ".github" / "workflows" / "relsafe-publish.yml"
    workflow.write_text("edited\n", encoding="utf-8")
    (tmp_path / "release.toml").unlink()
    assert write_init(tmp_path, plan) == InitWrite([tmp_path / "release.toml"], [workflow])
    assert workflow.read_text(encoding="utf-8") == "edited\n"
    (tmp_path / "release.toml").write_text('# mine\n[release]\nbranch = "trunk"\n', encoding="utf-8")
    edited = plan_init(
        project="sample-pkg",
        remote_url="https://github.com/octo-org/sample.git",
        settings={"release": {"branch": "main"}, "test": {"groups": ["tests"]}},
    )
    config = tmp_path / "release.toml"
    assert write_init(tmp_path, edited) == InitWrite([], [workflow], {config: ['[test] groups = ["tests"]']})
    merged = config.read_text(encoding="utf-8")
    assert merged.startswith('# mine\n[release]\nbranch = "trunk"\n'), "the maintainer's value and comment stay"
    assert tomllib.loads(merged)["test"] == {"groups": ["tests"]}
    workflow.write_text(plan.files[PurePosixPath(".github/workflows/relsafe-publish.yml")], encoding="utf-8")
    report = audit_workflows([workflow], log=RunLog(None), use_zizmor=False)
    assert report.findings == []
