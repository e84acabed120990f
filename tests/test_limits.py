"""Platform limits: a spec whose pipeline GitLab or Buildkite would reject is refused by `mobyci validate`, at the
key that causes it. Today a cross target has at most 8 platforms, so the limits are also tested on shapes
directly, and the shape counted on the Plan is checked against the pipelines it renders."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from mobyci import formats
from mobyci.emit.render import make_plan
from mobyci.errors import SpecError
from mobyci.load.reader import load_text
from mobyci.plan.limits import Shape, check, limit_findings, shape
from tests.helpers import EXAMPLES, ROOT
from tests.helpers.outputs import FORMATS, meaning, render_all

PLATFORMS = ("targets", 0, "platforms")


def test_shapes_within_every_limit_pass() -> None:
    given = Shape(jobs=500, matrices=((PLATFORMS, (20,)), (("x",), (10, 20)), (("y",), (2,) * 6)), needs=(((), 50),))
    assert limit_findings(given) == []


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
    given = Shape(jobs=900, matrices=((PLATFORMS, (300,)),), needs=((("targets",), 302),))
    assert [message.split(";")[1].split(":")[0].strip() for _, message in limit_findings(given)] == [
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
    loaded = load_text(text)  # loading alone does not count jobs: the plan does
    with pytest.raises(SpecError) as caught:
        check(loaded)
    with pytest.raises(SpecError) as rendered:
        make_plan(loaded, "github")  # render and plan build the plan: the same check, whatever the format
    assert rendered.value.problems == caught.value.problems
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


def _gitlab_shape(doc: dict[str, Any]) -> Shape:
    """The shape GitLab would see: jobs are the top-level mappings with a script; a matrix counts in full."""
    jobs = {name: body for name, body in doc.items() if isinstance(body, dict) and "script" in body}
    dims = {
        name: tuple(len(v) if isinstance(v, list) else 1 for v in body["parallel"]["matrix"][0].values())
        for name, body in jobs.items()
        if "parallel" in body
    }
    sizes = {name: math.prod(dims.get(name, ())) for name in jobs}
    needs = [sum(sizes[n if isinstance(n, str) else n["job"]] for n in body.get("needs", ())) for body in jobs.values()]
    widest = max(needs, default=0)
    return Shape(
        jobs=sum(sizes.values()),
        matrices=tuple((("targets",), d) for d in dims.values()),
        needs=((("targets",), widest),) if widest else (),
    )


@pytest.mark.parametrize(("text"), list(_texts().values()), ids=list(_texts()))
def test_the_shape_counted_on_the_plan_is_the_rendered_pipelines(text: str) -> None:
    loaded = load_text(text)
    counted = shape(make_plan(loaded))
    outputs = render_all(loaded)
    seen = _gitlab_shape(meaning("gitlab", outputs["gitlab"]))
    assert (counted.jobs, [d for _, d in counted.matrices], [n for _, n in counted.needs]) == (
        seen.jobs,
        [d for _, d in seen.matrices],
        [n for _, n in seen.needs],
    )
    if "buildkite" in FORMATS:
        steps = meaning("buildkite", outputs["buildkite"])["steps"]
        jobs = sum(math.prod(len(v) for v in s.get("matrix", {}).get("setup", {}).values()) or 1 for s in steps)
        assert jobs == counted.jobs - 1  # the spec check runs in the bootstrap step, not in the upload


def test_a_matrix_is_reported_at_the_platforms_it_comes_from() -> None:
    plan = make_plan(load_text("version: 1\nmoby: {ref: v27.5.1}\ntargets: [binary, cross]\n"))
    assert shape(plan).matrices == ((("targets", 1, "platforms"), (len(plan.release.cross_platforms),)),)


def test_examples_exist() -> None:
    assert SPECS
    assert all(isinstance(p, Path) for p in SPECS)
