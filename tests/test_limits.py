"""Platform limits: a spec whose pipeline GitLab or Buildkite would reject is refused by `mobyci validate`, at the
key that causes it. Today a cross target has at most 8 platforms, so the limits are also tested on shapes
directly, and the shape mobyci counts is checked against the pipelines it renders."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mobyci import formats
from mobyci.errors import SpecError
from mobyci.generator.render import make_plan
from mobyci.schemas.checks import Shape, limit_findings, pipeline_shape
from mobyci.schemas.load import load_text
from tests.helpers import EXAMPLES, ROOT
from tests.helpers.outputs import FORMATS, meaning, render_all

PLATFORMS = ("targets", 0, "platforms")


def test_shapes_within_every_limit_pass() -> None:
    shape = Shape(jobs=500, matrices=((PLATFORMS, (20,)), (("x",), (10, 20)), (("y",), (2,) * 6)), needs=(((), 50),))
    assert limit_findings(shape) == []


def test_gitlab_matrix_of_more_than_200_jobs() -> None:
    assert limit_findings(Shape(jobs=10, matrices=((PLATFORMS, (15, 14)),))) == [
        (
            PLATFORMS,
            "makes a matrix of 210 jobs; GitLab creates at most 200 jobs per parallel:matrix: list fewer platforms",
        )
    ]


def test_buildkite_matrix_dimension_of_more_than_20_values() -> None:
    assert limit_findings(Shape(jobs=30, matrices=((PLATFORMS, (21,)),))) == [
        (PLATFORMS, "lists 21 values; a Buildkite matrix dimension holds at most 20: list fewer platforms")
    ]


def test_buildkite_matrix_of_more_than_6_dimensions() -> None:
    assert limit_findings(Shape(jobs=200, matrices=((PLATFORMS, (2,) * 7),))) == [
        (PLATFORMS, "makes a matrix of 7 dimensions; a Buildkite matrix has at most 6")
    ]


def test_gitlab_needs_of_more_than_50_jobs() -> None:
    assert limit_findings(Shape(jobs=60, needs=((("targets",), 51),))) == [
        (
            ("targets",),
            "a job would need 51 jobs; GitLab allows at most 50 needs per job: build fewer targets or platforms",
        )
    ]


def test_buildkite_upload_of_more_than_500_jobs() -> None:
    assert limit_findings(Shape(jobs=501)) == [
        (
            ("targets",),
            "the pipeline has 501 jobs; Buildkite creates at most 500 jobs per pipeline upload: build fewer "
            "targets or platforms",
        )
    ]


def test_every_broken_limit_is_reported() -> None:
    shape = Shape(jobs=900, matrices=((PLATFORMS, (300,)),), needs=((("targets",), 302),))
    assert [message.split(";")[1].split(":")[0].strip() for _, message in limit_findings(shape)] == [
        "GitLab creates at most 200 jobs per parallel",
        "a Buildkite matrix dimension holds at most 20",
        "GitLab allows at most 50 needs per job",
        "Buildkite creates at most 500 jobs per pipeline upload",
    ]


def test_a_spec_over_a_limit_is_refused_at_its_platforms(monkeypatch: pytest.MonkeyPatch) -> None:
    # No family has more than 8 platforms: lower the limits to see the wiring from spec to message.
    gitlab = formats.FORMATS["gitlab"]
    lowered = tuple(limit._replace(most={"matrix_jobs": 2, "needs": 3}[limit.what]) for limit in gitlab.limits)
    monkeypatch.setitem(formats.FORMATS, "gitlab", gitlab._replace(limits=lowered))
    text = (
        "version: 1\nmoby: {ref: v27.5.1}\ntargets:\n  - binary\n  - name: cross\n"
        "    platforms: [linux/arm64, linux/arm/v7, linux/s390x]\n"
    )
    with pytest.raises(SpecError) as caught:
        load_text(text)
    assert [str(p) for p in caught.value.problems] == [
        "mobyci.yaml:4:3: targets: a job would need 4 jobs; GitLab allows at most 3 needs per job: build fewer "
        "targets or platforms",
        "mobyci.yaml:6:16: targets[1].platforms: makes a matrix of 3 jobs; GitLab creates at most 2 jobs per "
        "parallel:matrix: list fewer platforms",
    ]


# --- the shape mobyci counts is the pipeline it renders -----------------------------------------------------------

SPECS = sorted([*EXAMPLES.glob("*/mobyci.yaml"), *(ROOT / "tests" / "golden").glob("*/spec.yaml")])
EXTRA = {
    "all-platforms": "version: 1\nmoby: {ref: v27.5.1}\ntargets: [binary, dynbinary, cross]\n",
    "some-platforms": "version: 1\nmoby: {ref: v20.10.27}\ntargets: [{name: cross, platforms: [linux/arm64]}]\n",
    "packages-only": "version: 1\nmoby: {ref: v27.5.1}\ntargets: [binary, {name: rpm, distros: [centos-9]}]\n",
}


def _texts() -> dict[str, str]:
    texts = {str(p.relative_to(ROOT)): p.read_text() for p in SPECS}
    texts.update(EXTRA)
    return texts


@pytest.mark.parametrize(("text"), list(_texts().values()), ids=list(_texts()))
def test_shape_matches_the_plan_and_the_rendered_pipelines(text: str) -> None:
    loaded = load_text(text)
    shape = pipeline_shape(loaded.spec, loaded.release)
    plan = make_plan(loaded)
    sizes = {job.name: math.prod(len(values) for _, values in job.matrix) for job in plan.jobs}
    assert shape.jobs == sum(sizes.values())
    assert [dims for _, dims in shape.matrices] == [
        tuple(len(values) for _, values in job.matrix) for job in plan.jobs if job.matrix
    ]
    widest_needs = max((sum(sizes[n] for n in job.needs) for job in plan.jobs), default=0)
    assert max((count for _, count in shape.needs), default=0) == widest_needs
    outputs = render_all(loaded)
    gitlab = meaning("gitlab", outputs["gitlab"])
    for job in plan.jobs:
        if job.matrix:
            (entry,) = gitlab[job.name]["parallel"]["matrix"]
            assert math.prod(len(v) for v in entry.values()) == sizes[job.name]
    if "buildkite" in FORMATS:
        steps = meaning("buildkite", outputs["buildkite"])["steps"]
        jobs = sum(math.prod(len(v) for v in s.get("matrix", {}).get("setup", {}).values()) or 1 for s in steps)
        assert jobs == shape.jobs - 1  # the spec check runs in the bootstrap step, not in the upload


def test_examples_exist() -> None:
    assert SPECS
    assert all(isinstance(p, Path) for p in SPECS)
