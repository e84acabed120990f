"""The packaging patch runs moby's patch engine on docker-ce-packaging's Dockerfiles: the generated script (under dash
and busybox) ends in exactly the state, with the same output, that the Python reference
(tests/helpers/reference_patch.py run_packaging) does, for Dockerfiles of the branches' shapes (fixtures written
for these tests) and for arbitrary Dockerfiles and blocks (hypothesis)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobyci.load.reader import load_text
from mobyci.patch.packaging import dockerfile_rule, render_packaging_patch
from mobyci.plan.distromirrors import DockerfileBlock, distro_mirror, dockerfile_blocks
from mobyci.plan.packagingca import ca_block, ca_rule
from tests.helpers.packaging_trees import IMAGES, MIRRORS
from tests.helpers.reference_patch import run_packaging
from tests.helpers.shells import DASH, lines_of, make_busybox_bin, shells

# Shapes of real package Dockerfiles, written for these tests. 19.03 deb/debian-buster/Dockerfile:1-11 (no syntax
# line, GO_IMAGE without a default, the distro FROM unnamed); 28.x rpm/rhel-9/Dockerfile:10-23 (the distro FROM
# names a stage, then a RUN heredoc, then `FROM subscribed-image`, which is no anchor).
OLD_DEB = """\
ARG GO_IMAGE
ARG BUILD_IMAGE=debian:buster

FROM ${GO_IMAGE} AS golang

FROM ${BUILD_IMAGE}

RUN apt-get update && apt-get install -y curl git
COPY --from=golang /usr/local/go /usr/local/go
"""
RHEL_HEREDOC = """\
ARG BUILD_IMAGE=registry.access.redhat.com/ubi9/ubi
FROM ${GO_IMAGE} AS golang

FROM ${BUILD_IMAGE} AS subscribed-image
RUN <<-EOT
	if [ -f /run/secrets/rh-user ]; then
		subscription-manager register
	fi
EOT

FROM subscribed-image
RUN dnf install -y rpm-build
"""
SHAPES = {
    "deb": (IMAGES / "deb.Dockerfile").read_text(),
    "rpm": (IMAGES / "rpm.Dockerfile").read_text(),
    "rhel": (IMAGES / "rhel.Dockerfile").read_text(),
    "old-deb": OLD_DEB,
    "rhel-heredoc": RHEL_HEREDOC,
}
_SPEC = f"version: 1\nmoby: {{ref: v28.5.2}}\n{MIRRORS}targets: [{{name: deb, distros: [debian-bookworm]}}]\n"


@pytest.fixture(scope="module")
def busybox_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_busybox_bin(tmp_path_factory)


def _tree(root: Path, dockerfiles: dict[str, bytes]) -> Path:
    root.mkdir(parents=True)
    (root / "common.mk").write_text("ARCH=$(shell uname -m)\n")
    for rel, data in dockerfiles.items():
        (root / rel).parent.mkdir(parents=True)
        (root / rel).write_bytes(data)
    return root


def _run(script: Path, tree: Path, argv: list[str], extra: dict[str, str]) -> tuple[int, list[str], str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **extra}
    done = subprocess.run([*argv, str(script), str(tree)], capture_output=True, check=False, env=env)
    return done.returncode, lines_of(done.stdout.decode()), done.stderr.decode()


def _compare(blocks: list[DockerfileBlock], dockerfiles: dict[str, bytes], busybox_bin: Path) -> None:
    """The script under dash and busybox against the reference, run twice (the second run on the first's result)."""
    if DASH is None:
        pytest.skip("dash is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "mobyci-packaging-patch.sh"
        script.write_text(render_packaging_patch(blocks, "28.x"))
        reference = _tree(Path(tmp) / "reference", dockerfiles)
        others = {name: _tree(Path(tmp) / name, dockerfiles) for name, _, _ in shells(busybox_bin)}
        for _ in range(2):
            expected = run_packaging(blocks, reference, "28.x")
            for name, argv, extra in shells(busybox_bin):
                assert _run(script, others[name], argv, extra) == expected, name
                for rel in dockerfiles:
                    assert (others[name] / rel).read_bytes() == (reference / rel).read_bytes(), (name, rel)


def _bookworm_blocks(*, ca: bool) -> list[DockerfileBlock]:
    loaded = load_text(_SPEC, "mobyci.yaml")
    return dockerfile_blocks(loaded.spec.mirrors, [("deb", "debian-bookworm"), ("rpm", "fedora-43")], ca=ca)


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("ca", [False, True])
def test_fixture_shapes_match_the_reference(shape: str, ca: bool, busybox_bin: Path) -> None:
    blocks = _bookworm_blocks(ca=ca)
    data = SHAPES[shape].encode()
    _compare(blocks, {b.dockerfile: data for b in blocks}, busybox_bin)


def test_the_blocks_follow_the_distro_from_and_nothing_else(tmp_path: Path) -> None:
    """What the reference is held to, on the heredoc shape: the CA's block, then the mirror's, right after the
    distro image's FROM; the golang FROM and `FROM subscribed-image` untouched."""
    blocks = _bookworm_blocks(ca=True)
    tree = _tree(tmp_path / "t", {blocks[1].dockerfile: RHEL_HEREDOC.encode()})
    code, _, err = run_packaging(blocks[1:], tree, "28.x")
    assert (code, err) == (0, "")
    lines = (tree / blocks[1].dockerfile).read_text().splitlines()
    mirror = distro_mirror(load_text(_SPEC, "mobyci.yaml").spec.mirrors, "rpm", "fedora-43", ca=True)
    assert mirror is not None
    at = lines.index("FROM ${BUILD_IMAGE} AS subscribed-image")
    assert lines[at + 1 :][: len(ca_block("rpm")) + len(mirror.body)] == [*ca_block("rpm"), *mirror.body]
    assert lines[at + 1 + len(ca_block("rpm")) + len(mirror.body)] == "RUN <<-EOT"
    assert len(lines) == len(RHEL_HEREDOC.splitlines()) + len(ca_block("rpm")) + len(mirror.body)


# --- arbitrary Dockerfiles and blocks ------------------------------------------------------------------------------

_CA = ca_rule("deb", "deb/debian-bookworm/Dockerfile")
_ANCHORS = [
    "FROM ${BUILD_IMAGE}",
    "FROM ${BUILD_IMAGE} AS subscribed-image",
    "from ${BUILD_IMAGE} as x",
    "  FROM\t${BUILD_IMAGE}  ",
    "FROM ${BUILD_IMAGE}:tag",  # another image: no anchor
    "FROM ${BUILD_IMAGE} AS",  # no stage name: no anchor
    "FROM --platform=$TARGETPLATFORM ${BUILD_IMAGE}",  # not the branches' shape: no anchor
    "FROM ${GO_IMAGE} AS golang",
]
_CHARS = [*"ab/:.&\\|#%' \"$`*?[~-\t", "é"]
_text = st.text(alphabet=st.sampled_from(_CHARS), max_size=8)


@st.composite
def _cases(draw: st.DrawFn) -> tuple[list[DockerfileBlock], dict[str, bytes]]:
    lines = tuple(draw(st.lists(_text.filter(lambda t: not t.startswith("# mobyci:")), min_size=1, max_size=3)))
    mirror = dockerfile_rule("distro-mirror-x", "the x package image uses mirrors.test", lines, ("deb/x/Dockerfile",))
    rules = tuple(draw(st.sampled_from([(_CA, mirror), (mirror,), (_CA,)])))
    block = DockerfileBlock("x", "mirrors.test", "deb/x/Dockerfile", rules)
    # Lines of the file: anchors, text, and blocks as a run of the patch (or another spec's) wrote them.
    pieces = [
        *_ANCHORS,
        "# mobyci:ca",
        *ca_block("deb")[1:],
        "# mobyci:distro-mirror-x",
        *lines,
        "# mobyci:distro-mirror-y",
        "RUN apt-get update",
    ]
    content = draw(st.lists(st.one_of(st.sampled_from(pieces), _text), max_size=8))
    data = "\n".join(content) + draw(st.sampled_from(["\n", ""]))
    return [block], {block.dockerfile: data.encode()}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=_cases())
def test_script_equals_the_reference_on_arbitrary_dockerfiles(
    case: tuple[list[DockerfileBlock], dict[str, bytes]], busybox_bin: Path
) -> None:
    blocks, dockerfiles = case
    _compare(blocks, dockerfiles, busybox_bin)


def test_a_missing_dockerfile_and_two_distro_froms_are_refused_alike(busybox_bin: Path) -> None:
    blocks = _bookworm_blocks(ca=False)
    twice = (SHAPES["deb"] + "FROM ${BUILD_IMAGE}\n").encode()
    _compare(blocks, {blocks[0].dockerfile: twice}, busybox_bin)
    with tempfile.TemporaryDirectory() as tmp:
        tree = _tree(Path(tmp) / "t", {blocks[0].dockerfile: twice})
        code, _, err = run_packaging(blocks, tree, "28.x")
    assert code == 1
    assert "deb/debian-bookworm/Dockerfile: more than one FROM line of the distro image (BUILD_IMAGE);" in err
    assert "rpm/fedora-43/Dockerfile: missing: the checkout is not branch 28.x, or it has no fedora-43;" in err
