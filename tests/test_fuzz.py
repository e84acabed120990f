"""Properties of valid specs (hypothesis): whatever a valid spec holds, every output renders, parses, passes its
platform's schema, carries the spec's strings exactly as written, and hands values to the shell intact.

The formats are the renderers that exist when the tests run (gitlab, buildkite, github), so a new renderer is
fuzzed as soon as it lands. Schemas are checked in-process with check-jsonschema's vendored copies.
"""

from __future__ import annotations

import shlex
from typing import Any

import pytest
from hypothesis import given
from ruamel.yaml import YAML

from mobyci.emit.render import make_plan
from tests.helpers.fuzz_specs import FUZZ, as_yaml, load, specs
from tests.helpers.outputs import FORMATS, meaning, render_all, schema_problems, shell_lines, strings, words_under_dash
from tests.helpers.pipeline_tools import load_yaml


def test_formats_are_found() -> None:
    assert "gitlab" in FORMATS


@FUZZ
@given(specs())
def test_every_output_renders_parses_and_passes_its_schema(spec: dict[str, Any]) -> None:
    loaded = load(spec)
    outputs = render_all(loaded)
    for fmt in FORMATS:
        assert schema_problems(fmt, outputs[fmt]) == [], (fmt, as_yaml(spec))
    assert isinstance(load_yaml(outputs["plan"]), dict)  # JSON is YAML
    assert outputs["patch"].startswith("#!/bin/sh")


@FUZZ
@given(specs())
def test_spec_strings_reach_the_outputs_exactly(spec: dict[str, Any]) -> None:
    loaded = load(spec)
    outputs = render_all(loaded)
    ci = spec["ci"]
    for fmt in FORMATS:
        doc = meaning(fmt, outputs[fmt])
        found = list(strings(doc))
        # The ref reaches the fetch line as one shell word, quoted only when it must be.
        assert any(f"origin {shlex.quote(spec['moby']['ref'])}" in s for s in found), fmt
        if fmt == "gitlab":
            # Names stay strings of the same text (no `yes` -> true, no `0o17` -> 15).
            assert doc["default"].get("tags", []) == ci["gitlab"]["tags"]
            if "registry" in spec.get("mirrors", {}) and ci["gitlab"]["runner"] == "dind":
                service = doc[".mobyci-docker"]["services"][0]
                assert service["command"] == [f"--registry-mirror={spec['mirrors']['registry']}"]
            mirrors = spec.get("mirrors", {})
            prefix = ci["gitlab"].get("image_prefix")
            if ci["gitlab"]["runner"] == "dind":
                image = doc[".mobyci-docker"]["image"]
                assert image == (f"{prefix}/" if prefix else "") + "docker:27.5.1-cli"
                if "alpine" in mirrors:
                    apk = doc[".mobyci-docker"]["before_script"][-1]  # after the proxy-variable guards
                    assert f'--repository {shlex.quote(mirrors["alpine"].rstrip("/"))}"/v' in apk
            if "pypi" in mirrors:
                install = next(line for line in doc["mobyci-check"]["script"] if " install " in line)
                assert f"--index-url {shlex.quote(mirrors['pypi'])} " in install
        if fmt == "buildkite":
            queues = {step["agents"]["queue"] for step in doc["steps"] if "agents" in step}
            assert queues == {ci["buildkite"]["queue"]}
        if fmt == "github":
            # The jobs without an architecture of their own run on the spec's labels: a list stays a list (one
            # label is written as a scalar, as GitHub reads both alike).
            labels = ci["github"]["runs_on"]
            if isinstance(labels, list):
                labels = labels[0] if len(labels) == 1 else labels
            assert labels in [job["runs-on"] for job in doc["jobs"].values()]
        for name, value in spec.get("proxy", {}).items():
            if name != "no_proxy" and not value.startswith("$"):
                assert any(value in s for s in found), (fmt, value)


@FUZZ
@given(specs())
def test_values_survive_shell_quoting_under_dash(spec: dict[str, Any]) -> None:
    loaded = load(spec)
    plan = make_plan(loaded)
    outputs = render_all(loaded)
    for fmt in FORMATS:
        lines = shell_lines(fmt, outputs[fmt])
        remote = next(line for line in lines if line.startswith("git -C moby remote add origin "))
        fetch = next(line for line in lines if line.startswith("git -C moby fetch "))
        assert words_under_dash(remote, "git") == ["-C", "moby", "remote", "add", "origin", plan.clone_url], fmt
        assert words_under_dash(fetch, "git")[-2:] == ["origin", spec["moby"]["ref"]], fmt


def yaml11(text: str) -> Any:
    """A pipeline as a YAML 1.1 reader (GitLab's Ruby Psych, Go yaml.v2) sees it."""
    return YAML(typ="safe", pure=True).load("%YAML 1.1\n---\n" + text)


@pytest.mark.parametrize("value", ["yes", "on", "no", "off", "12:30"])
def test_names_stay_strings_for_yaml_1_1_readers(value: str) -> None:
    spec = {
        "version": 1,
        "moby": {"ref": "v27.5.1"},
        "targets": ["binary"],
        "ci": {"gitlab": {"tags": [value]}, "buildkite": {"queue": value}, "github": {"runs_on": value}},
    }
    outputs = render_all(load(spec))
    assert yaml11(outputs["gitlab"])["default"]["tags"] == [value]
    if "buildkite" in FORMATS:
        steps = yaml11(outputs["buildkite"])["steps"]
        assert {s["agents"]["queue"] for s in steps} == {value}
