"""Property: for arbitrary texts as sources, targets, inserted lines and CI variable values, the generated
script (under dash and under busybox) ends in exactly the state the Python reference (tests/helpers/reference_patch.py)
does, with the same output."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobyci.errors import MobyciError
from mobyci.patch.rules import EnvValue, Insertion, Replacement, Rule
from mobyci.patch.script import render_script
from tests.helpers.reference_patch import run_rules
from tests.helpers.shells import DASH, Outcome, lines_of, make_busybox_bin, run_script, shells

CHARS = [*"ab/:.&\\|#%' \"$`*?[~-\t\r", "é", "中", "🙂"]
text = st.text(alphabet=st.sampled_from(CHARS), max_size=8)
source = st.text(alphabet=st.sampled_from(CHARS), min_size=1, max_size=8)
env_value = st.text(alphabet=st.sampled_from(CHARS), min_size=1, max_size=12)

SKELETON = {
    "Makefile": "binary:\n",
    "hack/make.sh": "#!/bin/sh\n",
    "contrib/download-frozen-image-v2.sh": "#!/bin/sh\n",
    "docker-bake.hcl": 'target "binary" {}\n',
}


@pytest.fixture(scope="module")
def busybox_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_busybox_bin(tmp_path_factory)


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[Rule], bytes, str]:
    rules = []
    for number in range(draw(st.integers(1, 2))):
        # A whole-line rule (the packaging installers' `REPO=`) has one prefix replacement.
        whole_line = draw(st.booleans())
        reps = draw(
            st.lists(
                st.tuples(source, text, st.just(False) if whole_line else st.booleans()),
                min_size=1,
                max_size=1 if whole_line else 3,
                unique_by=lambda r: r[0],
            )
        )
        rules.append(
            Rule(
                id=f"r{number}",
                title="t",
                files=("Dockerfile",),
                required=False,
                replacements=tuple(Replacement(s, t, exact=x) for s, t, x in reps),
                expected="x",
                whole_line=whole_line,
            )
        )
    # The insertion's anchor: moby's stage line, or the packaging Dockerfiles' `FROM ${BUILD_IMAGE}` (the one engine
    # serves both).
    stage, image, anchor = draw(
        st.sampled_from([("base", "", "FROM golang AS base"), ("", "${BUILD_IMAGE}", "FROM ${BUILD_IMAGE}")])
    )
    if draw(st.booleans()):
        body = draw(st.lists(text.filter(lambda line: not line.startswith("# mobyci:")), min_size=1, max_size=3))
        lines: list[tuple[str | EnvValue, ...]] = [(line,) for line in body]
        lines.append(("ENV v=", EnvValue("MOBYCI_TEST_VALUE", "proxy.http"), ";"))
        rules.append(
            Rule(
                id="ins",
                title="t",
                files=("Dockerfile",),
                required=True,
                insertion=Insertion(stage, tuple(lines), image=image),
                expected="x",
            )
        )
    pieces = [r.source for rule in rules for r in rule.replacements]
    pieces += [r.target for rule in rules for r in rule.replacements]
    part = st.one_of(st.sampled_from(pieces), text)
    content = draw(st.lists(st.lists(part, max_size=5).map("".join), max_size=6))
    for _ in range(draw(st.sampled_from([1, 1, 1, 0, 2]))):  # the anchor: usually once, sometimes not or twice
        content.insert(draw(st.integers(0, len(content))), anchor)
    data = "\n".join(content) + draw(st.sampled_from(["\n", ""]))
    return rules, data.encode(), draw(env_value)


def _tree(root: Path, dockerfile: bytes) -> Path:
    tree = root / "tree"
    for rel, content in SKELETON.items():
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(content)
    (tree / "Dockerfile").write_bytes(dockerfile)
    return tree


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
@pytest.mark.parametrize("check", [False, True])
def test_script_equals_the_reference(case: tuple[list[Rule], bytes, str], check: bool, busybox_bin: Path) -> None:
    rules, dockerfile, value = case
    if DASH is None:
        pytest.skip("dash is not installed")
    script = render_script(rules, family="25-28", spec_path="prop.yaml", spec_desc="prop")
    env = {"MOBYCI_TEST_VALUE": value}
    with tempfile.TemporaryDirectory() as tmp:
        tree = _tree(Path(tmp) / "reference", dockerfile)
        try:
            report = run_rules(rules, tree, family="25-28", spec_desc="prop", check=check, environ=env)
            expected = Outcome(1 if check and report.changed else 0, report.lines, [])
        except MobyciError as exc:
            expected = Outcome(1, [], lines_of(str(exc)))
        result = (tree / "Dockerfile").read_bytes()
        for name, argv, extra in shells(busybox_bin):
            other = _tree(Path(tmp) / name, dockerfile)
            got = run_script(script, other, argv, {**extra, **env}, check=check)
            assert got == expected, name
            assert (other / "Dockerfile").read_bytes() == result, name
