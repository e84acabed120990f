"""The drop-in outputs for an existing pipeline: GitLab jobs to include:, one Buildkite group step to upload.

The GitLab fragment is merged into a host `.gitlab-ci.yml` with its own stages, default image and scripts, and
global variables, the way the README tells users to include it; gitlab-ci-local resolves the merge (`--list-json`
for the jobs, `--preview` for the merged configuration each job gets).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from mobyci.emit.gitlab_include import stage_names
from mobyci.emit.render import make_plan, render_pipeline
from mobyci.load.reader import load_text
from tests.helpers import ROOT
from tests.helpers import buildkite_agent_standin as bk
from tests.helpers import pipeline_tools as pc
from tests.helpers.fuzz_specs import FUZZ, specs
from tests.helpers.fuzz_specs import load as fuzz_load
from tests.helpers.outputs import schema_problems

HOST = """\
include:
  - local: .gitlab/mobyci.yml
stages: [build, test, mobyci-check, mobyci-prepare, mobyci-build, mobyci-publish]
default:
  image: node:22
  before_script: [npm ci]
  interruptible: false
variables:
  DOCKER_HOST: tcp://host-docker:2375
  VERSION: host-version
  APP_ENV: production
build:
  stage: build
  script: [npm run build]
test:
  stage: test
  script: [npm test]
"""
HOST_JOBS = {"build": "build", "test": "test"}

SPECS = {
    "dind": ROOT / "examples" / "release-27" / "mobyci.yaml",
    "shell": ROOT / "examples" / "fork-29-shell" / "mobyci.yaml",
    "19.03": ROOT / "examples" / "seed-19.03" / "mobyci.yaml",
    "dind-ca": ROOT / "tests" / "golden" / "28-dind-ca" / "spec.yaml",
    "shell-ca": ROOT / "tests" / "golden" / "23.0-shell-ca" / "spec.yaml",
}


def _loaded(name: str) -> Any:
    return load_text(SPECS[name].read_text(), "mobyci.yaml")


def test_the_readme_shows_the_host_stages_the_fragment_needs() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "stages: [build, test, mobyci-check, mobyci-prepare, mobyci-build, mobyci-publish]" in readme
    assert stage_names(make_plan(_loaded("dind"))) == [
        "mobyci-check",
        "mobyci-prepare",
        "mobyci-build",
        "mobyci-publish",
    ]


@pytest.mark.parametrize("name", list(SPECS))
def test_the_gitlab_fragment_merges_into_a_host_pipeline(tmp_path: Path, name: str) -> None:
    loaded = _loaded(name)
    fragment = render_pipeline(loaded, "gitlab-include")
    doc = pc.load_yaml(fragment)
    assert not {"workflow", "default", "stages", "variables", "include", "image", "services"} & set(doc)
    full = pc.load_yaml(render_pipeline(loaded, "gitlab"))
    own = {f"mobyci-{n}" if not n.startswith("mobyci-") else n: job for n, job in pc.jobs(full).items()}
    assert set(pc.jobs(doc)) == set(own)

    repo = pc.gitlab_ci_local_repo(tmp_path / "project", HOST, {".gitlab/mobyci.yml": fragment, "mobyci.yaml": ""})
    listed = pc.gitlab_ci_local(repo, "--list-json")
    assert listed.returncode == 0, listed.stderr
    jobs = {job["name"].split(":")[0]: job for job in json.loads(listed.stdout)}
    # Both pipelines' jobs, each in its own stages; mobyci's needs point at mobyci's jobs.
    assert {n: jobs[n]["stage"] for n in HOST_JOBS} == HOST_JOBS
    for job_name, job in own.items():
        assert jobs[job_name]["stage"] == f"mobyci-{job['stage']}"
        assert [need["job"] for need in jobs[job_name]["needs"] or []] == [
            f"mobyci-{n}" if not n.startswith("mobyci-") else n for n in job["needs"]
        ]

    merged = pc.load_yaml(pc.gitlab_ci_local(repo, "--preview").stdout)
    # Nothing of the host's is overwritten...
    assert merged["stages"][1:-1] == ["build", "test", *stage_names(make_plan(loaded))]
    assert merged["variables"] == {
        "DOCKER_HOST": "tcp://host-docker:2375",
        "VERSION": "host-version",
        "APP_ENV": "production",
    }
    for host_job in HOST_JOBS:
        assert merged[host_job]["image"] == {"name": "node:22"}
        assert merged[host_job]["before_script"] == ["npm ci"]
        assert not set(merged[host_job].get("variables") or {}) & set(full["variables"])
    # ...and nothing of the host's reaches mobyci's jobs: they get what the whole pipeline would give them.
    for job_name, job in own.items():
        got = merged[job_name]
        expected = pc.resolved(full, job)
        assert got.get("variables", {}) == {**full["variables"], **expected.get("variables", {})}
        assert got.get("before_script") == expected.get("before_script")
        assert (got.get("image") or {}).get("name") == expected.get("image")
        assert got.get("interruptible") is True
        assert got.get("timeout") == full["default"]["timeout"]


def test_the_fragment_is_valid_for_gitlab_and_its_check_job_checks_the_fragment() -> None:
    fragment = render_pipeline(_loaded("dind"), "gitlab-include")
    assert pc.schema_errors(fragment) == []
    doc = pc.load_yaml(fragment)
    script = doc["mobyci-check"]["script"]
    assert "mobyci_current .gitlab/mobyci.yml" in script
    assert "regenerate it with: mobyci render mobyci.yaml --format gitlab-include -o .gitlab/mobyci.yml" in script[-4]
    assert doc["mobyci-check"]["rules"] == [{"changes": ["mobyci.yaml", "mobyci.schema.json", ".gitlab/mobyci.yml"]}]


@pytest.mark.parametrize("name", list(SPECS))
def test_the_buildkite_group_is_the_pipeline_in_one_group_step(name: str) -> None:
    loaded = _loaded(name)
    text = render_pipeline(loaded, "buildkite-group")
    assert pc.schema_errors(text, "vendor.buildkite") == []
    doc = pc.load_yaml(text)
    assert bk.semantic_problems(doc) == []
    assert list(doc) == ["steps"]  # no top-level env: the upload changes nothing else of the host's build
    (group,) = doc["steps"]
    assert group["key"] == "mobyci"
    full = pc.load_yaml(render_pipeline(loaded, "buildkite"))
    # The same steps, each with the pipeline-wide env it had: a host step key can only clash with mobyci-*.
    assert [s["key"] for s in group["steps"]] == [s["key"] for s in full["steps"]]
    assert all(s["key"].startswith("mobyci-") for s in group["steps"])
    for inside, alone in zip(group["steps"], full["steps"], strict=True):
        env = {**full.get("env", {}), **alone.get("env", {})}
        assert inside == ({**alone, "env": env} if env else alone)


def _fragment_job(doc: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """A fragment job with its extends chain merged as GitLab does for these keys (variables merge, others win)."""
    merged: dict[str, Any] = {}
    parent = job.get("extends")
    if parent is not None:
        merged = _fragment_job(doc, doc[parent])
    for key, value in job.items():
        if key == "variables":
            merged["variables"] = {**merged.get("variables", {}), **value}
        elif key != "extends":
            merged[key] = value
    return merged


def _as_full(line: str) -> str:
    """A fragment's check-job line as the whole pipeline's says it (each names the file it lives in)."""
    return line.replace(" --format gitlab-include -o .gitlab/mobyci.yml", " -o .gitlab-ci.yml").replace(
        "mobyci_current .gitlab/mobyci.yml", "mobyci_current .gitlab-ci.yml"
    )


@FUZZ
@given(specs())
def test_drop_ins_are_the_whole_pipelines_reshaped(spec: dict[str, Any]) -> None:
    loaded = fuzz_load(spec)
    fragment_text = render_pipeline(loaded, "gitlab-include")
    assert schema_problems("gitlab", fragment_text) == []
    fragment, full = pc.load_yaml(fragment_text), pc.load_yaml(render_pipeline(loaded, "gitlab"))
    for name, job in pc.jobs(full).items():
        got = _fragment_job(fragment, fragment[name if name.startswith("mobyci-") else f"mobyci-{name}"])
        expected = pc.resolved(full, job)
        assert got["stage"] == f"mobyci-{expected['stage']}"
        # The check job checks its own file: the fragment, not .gitlab-ci.yml.
        assert [_as_full(line) for line in got["script"]] == expected["script"]
        assert got.get("image") == expected.get("image")
        assert got["variables"] == {**full["variables"], **expected.get("variables", {})}
        assert got["inherit"] == {"default": False, "variables": False}
        assert {k: got[k] for k in full["default"]} == full["default"]
    group_text = render_pipeline(loaded, "buildkite-group")
    assert schema_problems("buildkite", group_text) == []
    (group,) = pc.load_yaml(group_text)["steps"]
    whole = pc.load_yaml(render_pipeline(loaded, "buildkite"))
    assert [s["key"] for s in group["steps"]] == [s["key"] for s in whole["steps"]]
