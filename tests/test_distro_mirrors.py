"""Distro mirrors for the package images: the packaging patch script, run by real shells on fixture trees shaped like
docker-ce-packaging's branches, and the RUN lines it inserts, run on the package sources the distro images ship.

The fixtures (tests/fixtures/distro-images) are shapes written for these tests, not copies: the FROM lines every
branch's Dockerfiles use (docs/packaging.md lists the real ones), apt sources in one-line and deb822 layouts, dnf
repo files with metalinks. What must hold: after the patch and its RUN lines, every apt source (`deb` line or
`URIs:`) and every dnf repository in use (`baseurl`, no metalink or mirrorlist left) points at the spec's mirror.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mobyci.families import lifecycle
from mobyci.load.reader import load_text
from mobyci.patch.packaging import render_packaging_patch
from mobyci.plan.build import build_plan
from mobyci.plan.distromirrors import DistroMirror, distro_mirrors
from tests.helpers import pipeline_tools as pc
from tests.helpers.packaging_trees import (
    ANCHOR,
    APT,
    BRANCHES,
    FEDORA,
    IMAGES,
    MIRRORS,
    PORTS,
    RASPBIAN,
    STREAM,
    UBUNTU,
    live,
    packaging_distros,
    packaging_tree,
    run_patch,
    shells,
    snapshot,
)

DEB822 = ("bookworm", "trixie", "noble", "plucky", "questing", "resolute")  # suites whose images use *.sources


def _spec(ref: str, rpm: tuple[str, ...], deb: tuple[str, ...], mirrors: str = MIRRORS) -> str:
    if ref == "v19.03.12":  # the engine's Debian buster is archived: validation insists on an archive mirror
        mirrors = mirrors.replace(
            f"apt: {APT}\n", f"apt: {{debian: 'http://{APT}/debian', archive: 'http://{APT}/debian-archive'}}\n"
        )
    return (
        f"version: 1\nmoby: {{ref: {ref}}}\n{mirrors}"
        f"targets: [{{name: rpm, distros: [{', '.join(rpm)}]}}, {{name: deb, distros: [{', '.join(deb)}]}}]\n"
        "ci: {gitlab: {runners: {arm: [arm32]}}}\n"
    )


# A day each branch's distros were still served (lifecycle.py refuses the others); None: today.
_DAYS = {"19.03": "2021-01-01", "20.10": "2022-06-01", "23.0": "2023-06-01", "24.0": "2023-12-01"}


def _blocks_after_from(dockerfile: str) -> list[list[str]]:
    """The lines each FROM of the distro image is followed by, up to the next blank line or instruction."""
    lines = dockerfile.splitlines()
    blocks = []
    for index, line in enumerate(lines):
        if ANCHOR.match(line):
            block = []
            for following in lines[index + 1 :]:
                if not following or (following.split(" ", 1)[0].isupper() and following.split(" ", 1)[0] != "RUN"):
                    break
                block.append(following)
            blocks.append(block)
    return blocks


def _image_sources(distro: str, image: Path) -> Path:
    """The package sources the distro image ships, for its suite, in a root of their own."""
    kind, _, release = distro.partition("-")
    if kind == "debian":
        layout = "debian-deb822" if release in DEB822 else "debian-list"
    elif kind == "ubuntu":
        layout = "ubuntu-deb822" if release in DEB822 else "ubuntu-list"
    elif kind == "centos":
        layout = "centos-stream"
    else:
        layout = kind
    shutil.copytree(IMAGES / layout, image)
    if kind == "ubuntu" and release in DEB822:
        # The same image on an arm64 runner: ports instead of the archive (a second file the lines also rewrite).
        ports = (IMAGES / "ubuntu-ports-deb822/etc/apt/sources.list.d/ubuntu.sources").read_text()
        (image / "etc/apt/sources.list.d/ports.sources").write_text(ports)
    for path in image.rglob("*"):
        if path.is_file():
            path.write_text(path.read_text().replace("SUITE", release))
    return image


def _run_lines(block: list[str], image: Path) -> None:
    """The block's RUN instructions, as the image build would run them, against `image` instead of /."""
    text = "\n".join(block[1:]).replace("\\\n", "")
    for instruction in text.split("\nRUN "):
        command = instruction.removeprefix("RUN ").replace("/etc/", f"{image}/etc/")
        subprocess.run(["sh", "-ec", command], check=True, capture_output=True, text=True)


def _apt_sources(image: Path) -> list[str]:
    urls = []
    for path in (image / "etc" / "apt").rglob("*"):
        if not path.is_file():
            continue
        for line in path.read_text().splitlines():
            words = line.split()
            if words[:1] == ["deb"]:
                urls.append(next(w for w in words[1:] if "://" in w))
            elif words[:1] == ["URIs:"]:
                urls += words[1:]
    return urls


def _dnf_repositories(image: Path) -> dict[str, dict[str, str]]:
    """Every repository section of the image's repo files: its uncommented keys."""
    sections: dict[str, dict[str, str]] = {}
    for path in sorted((image / "etc" / "yum.repos.d").glob("*.repo")):
        current: dict[str, str] = {}
        for line in path.read_text().splitlines():
            if line.startswith("["):
                current = sections.setdefault(line.strip("[]"), {})
            elif "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                current[key] = value
    return sections


def _http(url: str) -> str:
    return url.replace("https://", "http://", 1)


def _mirror_of(distro: str) -> tuple[str, ...]:
    """The URLs the distro's sources must point at: the spec's mirror, without tls.ca_certs in the http form of an
    https one for the deb images (no CA bundle before their first apt-get install)."""
    kind = distro.split("-", 1)[0]
    return {
        "debian": (f"http://{APT}/",),
        "ubuntu": (f"{_http(UBUNTU)}/", f"{_http(PORTS)}/"),
        "raspbian": (f"{_http(RASPBIAN)}/",),
        "fedora": (f"{FEDORA}/",),
        "centos": (f"{STREAM}/",),
    }[kind]


@pytest.mark.parametrize("branch", list(BRANCHES))
def test_every_source_of_every_mirrored_distro_points_at_the_mirror(
    tmp_path: Path, branch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if branch in _DAYS:
        monkeypatch.setenv(lifecycle.TODAY_VAR, _DAYS[branch])
    rpm, deb = (live(d) for d in packaging_distros(branch))
    loaded = load_text(_spec(BRANCHES[branch], rpm, deb), "mobyci.yaml")
    assert loaded.release.packaging.branch == branch
    blocks = distro_mirrors(loaded.spec.mirrors, [("rpm", d) for d in rpm] + [("deb", d) for d in deb], ca=False)
    mirrored = {b.distro for b in blocks}
    # Every distro of a family some key serves has its block; the others are listed with the hosts they reach.
    plan = build_plan(loaded)
    for package in plan.package_images:
        distro = package.job.split("-", 1)[1]
        assert (package.mirror is not None) == (distro in mirrored), package
        assert bool(package.hosts) == (distro not in mirrored), package
    # No key serves rhel-* (UBI), CentOS Linux 7 and 8, or archived Debian from a mirror host.
    unserved: tuple[str, ...] = ("rhel-", "centos-7", "centos-8", "debian-buster", "debian-stretch")
    if branch == "19.03":  # its spec names an archive mirror (the engine needs one), which serves them too
        unserved = ("rhel-", "centos-7", "centos-8")
    assert {d for d in (*rpm, *deb) if not d.startswith(unserved)} == mirrored

    script = tmp_path / "patch.sh"
    script.write_text(render_packaging_patch(blocks, branch))
    for shell in shells():
        tree = packaging_tree(tmp_path / shell / "packaging", rpm, deb)
        done = run_patch(script, tree, shell)
        assert done.returncode == 0, done.stderr
        for block in blocks:
            dockerfile = (tree / block.dockerfile).read_text()
            after = _blocks_after_from(dockerfile)
            assert after, dockerfile
            assert all(b == [block.marker, *block.lines] for b in after), dockerfile
            image = _image_sources(block.distro, tmp_path / shell / "images" / block.distro)
            _run_lines(after[0], image)
            _assert_points_at(block.distro, image, _mirror_of(block.distro))
        for distro in {*rpm, *deb} - mirrored:
            kind = "rpm" if distro in rpm else "deb"
            assert "# mobyci:" not in (tree / kind / distro / "Dockerfile").read_text()


def _assert_points_at(distro: str, image: Path, prefixes: tuple[str, ...]) -> None:
    if (image / "etc" / "apt").exists():
        urls = _apt_sources(image)
        assert urls
        assert all(url.startswith(prefixes) for url in urls), (distro, urls)
        return
    repositories = _dnf_repositories(image)
    # Enabled by the image, or by the Dockerfile (`dnf config-manager --set-enabled crb`).
    used = {name: keys for name, keys in repositories.items() if keys.get("enabled") == "1" or name == "crb"}
    assert used
    for name, keys in used.items():
        assert "metalink" not in keys, (distro, name, keys)
        assert "mirrorlist" not in keys, (distro, name, keys)
        assert keys["baseurl"].startswith(prefixes), (distro, name, keys)


def test_archived_debian_uses_the_archive_and_live_releases_are_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(lifecycle.TODAY_VAR, _DAYS["19.03"])
    mirrors = "mirrors:\n  apt: archive\n"
    loaded = load_text(_spec("v19.03.12", ("fedora-32",), ("debian-buster", "ubuntu-focal"), mirrors), "mobyci.yaml")
    blocks = distro_mirrors(loaded.spec.mirrors, [("deb", "debian-buster"), ("deb", "debian-bookworm")], ca=False)
    assert [b.distro for b in blocks] == ["debian-buster"]
    image = _image_sources("debian-buster", tmp_path / "buster")
    _run_lines([blocks[0].marker, *blocks[0].lines], image)
    assert _apt_sources(image) == ["http://archive.debian.org/debian", "http://archive.debian.org/debian-security"]
    assert "buster-updates" not in (image / "etc/apt/sources.list").read_text()  # not on the archive
    # Without a mirror of their own, the other package images reach their hosts: validate says so.
    assert any("ubuntu-focal" in w and "archive.ubuntu.com" in w for w in loaded.warnings)


def _two_blocks() -> tuple[list[DistroMirror], str]:
    loaded = load_text(_spec("v28.5.2", ("centos-9", "fedora-43"), ("ubuntu-noble",)), "mobyci.yaml")
    targets = [("rpm", "centos-9"), ("rpm", "fedora-43"), ("deb", "ubuntu-noble")]
    return distro_mirrors(loaded.spec.mirrors, targets, ca=False), "28.x"


@pytest.mark.parametrize("shell", shells())
def test_patch_is_idempotent_and_checks_every_file_before_writing(tmp_path: Path, shell: str) -> None:
    blocks, branch = _two_blocks()
    script = tmp_path / "patch.sh"
    script.write_text(render_packaging_patch(blocks, branch))
    tree = packaging_tree(tmp_path / "packaging", ("centos-9", "fedora-43", "rhel-9"), ("ubuntu-noble",))
    first = run_patch(script, tree, shell)
    assert first.returncode == 0, first.stderr
    patched = snapshot(tree)
    second = run_patch(script, tree, shell)
    assert second.returncode == 0, second.stderr
    assert snapshot(tree) == patched
    assert second.stdout.count("already applied") == len(blocks)

    # A tree whose last Dockerfile has no FROM of the distro image: nothing is written, not even the first file.
    fresh = packaging_tree(tmp_path / "fresh", ("centos-9", "fedora-43"), ("ubuntu-noble",))
    noble = fresh / "deb/ubuntu-noble/Dockerfile"
    noble.write_text(noble.read_text().replace("FROM ${BUILD_IMAGE}", "FROM ubuntu:noble"))
    before = snapshot(fresh)
    done = run_patch(script, fresh, shell)
    assert done.returncode == 1
    assert "deb/ubuntu-noble/Dockerfile: no FROM line of the distro image (BUILD_IMAGE)" in done.stderr
    assert snapshot(fresh) == before

    # Another branch (a distro missing), or a tree patched with other mirrors: refused, nothing written.
    (fresh / "deb/ubuntu-noble/Dockerfile").unlink()
    done = run_patch(script, fresh, shell)
    assert done.returncode == 1
    assert "deb/ubuntu-noble/Dockerfile: missing: the checkout is not branch 28.x" in done.stderr
    other = tmp_path / "other.sh"
    other.write_text(render_packaging_patch(blocks, branch).replace(FEDORA, "https://elsewhere.test/fedora"))
    done = run_patch(other, tree, shell)
    assert done.returncode == 1
    # The engine's own message, as moby's patch says it.
    assert (
        "rpm/fedora-43/Dockerfile:11: the block under '# mobyci:distro-mirror-fedora-43' differs from this spec: the "
        "tree was patched with a different spec; start from a clean checkout;"
    ) in done.stderr
    assert snapshot(tree) == patched
    done = run_patch(script, tmp_path, shell)
    assert done.returncode == 1
    assert "not a docker-ce-packaging checkout" in done.stderr


def test_rhel_stage_gets_the_block_after_its_named_from(tmp_path: Path) -> None:
    block = DistroMirror("rhel-9", "mirrors.test", "rpm/rhel-9/Dockerfile", ("RUN true",))
    script = tmp_path / "patch.sh"
    script.write_text(render_packaging_patch([block], "28.x"))
    tree = packaging_tree(tmp_path / "packaging", ("rhel-9",), ())
    done = run_patch(script, tree, "sh")
    assert done.returncode == 0, done.stderr
    lines = (tree / "rpm/rhel-9/Dockerfile").read_text().splitlines()
    at = lines.index("FROM ${BUILD_IMAGE} AS subscribed-image")
    assert lines[at + 1 : at + 3] == ["# mobyci:distro-mirror-rhel-9", "RUN true"]
    assert lines.count("# mobyci:distro-mirror-rhel-9") == 1  # not after `FROM subscribed-image`


def test_patch_script_passes_shellcheck() -> None:
    blocks, branch = _two_blocks()
    assert pc.shellcheck(render_packaging_patch(blocks, branch)) == ""


def test_dockerfile_lines_carry_the_mirror_literally() -> None:
    blocks, _ = _two_blocks()
    text = {b.distro: "\n".join(b.lines) for b in blocks}
    # The spec's https Ubuntu mirrors, in their http form: the image has no CA bundle yet (no tls.ca_certs).
    assert f"{_http(UBUNTU)}/#g" in text["ubuntu-noble"]
    assert f"{_http(PORTS)}/#g" in text["ubuntu-noble"]
    assert f"baseurl={FEDORA}/|" in text["fedora-43"]
    assert re.search(rf"baseurl={re.escape(STREAM)}/\$stream/CRB/", text["centos-9"])


# --- runners per architecture ------------------------------------------------------------------------------------

RASPBIAN_SPEC = """\
version: 1
moby: {ref: v28.5.2}
targets: [{name: deb, distros: [debian-bookworm, raspbian-bookworm]}]
"""
RUNNERS = """\
ci:
  gitlab: {tags: [amd64-runner], runners: {arm: [arm32, pi]}}
  buildkite: {queue: default-agents, runners: {arm: arm32-agents}}
  github: {runners: {arm: [self-hosted, ARM]}}
"""


def test_raspbian_without_an_arm_runner_is_refused_with_the_fix() -> None:
    from mobyci.errors import SpecError

    with pytest.raises(SpecError) as caught:
        load_text(RASPBIAN_SPEC, "mobyci.yaml")
    assert str(caught.value) == (
        "mobyci.yaml:3:50: targets[0].distros[1]: raspbian-bookworm packages build in balenalib/rpi-raspbian, an "
        "image only for 32-bit arm, and no runner takes them: add ci.gitlab.runners: {arm: [<runner tag>]}, "
        "ci.buildkite.runners: {arm: <agent queue>}, ci.github.runners: {arm: [<runs-on label>]} (a 32-bit arm "
        "runner, or an arm64 one whose CPU runs 32-bit code)"
    )
    # The spec renders for GitHub (outputs:) but only GitLab has an arm runner: refused for GitHub alone.
    with pytest.raises(SpecError, match=r"targets\[0\]\.distros\[1\]: .* add ci\.github\.runners: \{arm: "):
        load_text(
            RASPBIAN_SPEC + "ci: {gitlab: {runners: {arm: [arm32]}}}\noutputs: {github: .github/workflows/m.yml}\n"
        )


def test_render_refuses_a_system_without_the_runner() -> None:
    from mobyci.emit.render import render_pipeline
    from mobyci.errors import MobyciError

    loaded = load_text(RASPBIAN_SPEC + "ci: {gitlab: {runners: {arm: [arm32]}}}\n", "mobyci.yaml")
    assert "arm32" in render_pipeline(loaded, "gitlab")
    for fmt in ("buildkite", "github"):
        with pytest.raises(MobyciError, match=rf"^mobyci.yaml:3:50: targets\[0\]\.distros\[1\]: .*ci\.{fmt}\.runners"):
            render_pipeline(loaded, fmt)


def test_the_raspbian_job_runs_on_the_arm_runner_of_every_system() -> None:
    from mobyci.emit.render import render_pipeline
    from tests.helpers import buildkite_agent_standin as bc

    loaded = load_text(RASPBIAN_SPEC + RUNNERS, "mobyci.yaml")
    gitlab = pc.jobs(pc.load_yaml(render_pipeline(loaded, "gitlab")))
    doc = pc.load_yaml(render_pipeline(loaded, "gitlab"))
    assert doc["default"]["tags"] == ["amd64-runner"]
    assert gitlab["deb-raspbian-bookworm"]["tags"] == ["arm32", "pi"]
    assert "tags" not in gitlab["deb-debian-bookworm"]
    assert "tags" not in gitlab["packaging-sources"]
    assert pc.semantic_problems(doc) == []

    steps = pc.load_yaml(render_pipeline(loaded, "buildkite"))
    assert bc.semantic_problems(steps) == []
    queues = {s["key"]: s["agents"]["queue"] for s in steps["steps"]}
    assert queues["mobyci-deb-raspbian-bookworm"] == "arm32-agents"
    assert {q for k, q in queues.items() if k != "mobyci-deb-raspbian-bookworm"} == {"default-agents"}

    workflow = pc.load_yaml(render_pipeline(loaded, "github"))
    runs_on = {name: job["runs-on"] for name, job in workflow["jobs"].items()}
    assert runs_on["deb-raspbian-bookworm"] == ["self-hosted", "ARM"]
    assert {r for n, r in runs_on.items() if n != "deb-raspbian-bookworm"} == {"ubuntu-24.04"}

    # The Makefiles' ARCH is `uname -m` (aarch64 on an arm64 runner) and, from 27.x, the image is built and run
    # with --platform linux/$(ARCH): the raspbian job sets ARCH=arm, the other jobs leave it alone.
    jobs = {job.name: job for job in build_plan(loaded).jobs}
    assert any(
        line.startswith("make -C mobyci-pkg/packaging/deb ") and " ARCH=arm " in line
        for line in jobs["deb-raspbian-bookworm"].script
    )
    assert not any("ARCH=" in line for line in jobs["deb-debian-bookworm"].script)
    assert [(i.job, i.arch) for i in build_plan(loaded).package_images] == [
        ("deb-debian-bookworm", None),
        ("deb-raspbian-bookworm", "arm"),
    ]


def test_plan_lists_the_hosts_unmirrored_package_images_reach() -> None:
    from mobyci.report.view import plan_data, plan_text

    spec = (
        "version: 1\nmoby: {ref: v28.5.2}\nmirrors: {fedora: 'https://fedora.mirror.test/fedora'}\n"
        "targets: [{name: rpm, distros: [fedora-43, rhel-9]}, {name: deb, distros: [ubuntu-noble]}]\n"
    )
    loaded = load_text(spec, "mobyci.yaml")
    plan = build_plan(loaded)
    text = plan_text(plan, width=200).splitlines()
    section = text[text.index("Package images (runner; mirror; hosts reached directly)") + 1 :][:3]
    assert [line.split() for line in section] == [
        ["rpm-fedora-43", "default", "runner;", "mirrors.fedora;", "-"],
        ["rpm-rhel-9", "default", "runner;", "no", "mirror;", "cdn-ubi.redhat.com"],
        ["deb-ubuntu-noble", "default", "runner;", "no", "mirror;", "archive.ubuntu.com,", "security.ubuntu.com"],
    ]
    assert plan_data(plan)["package_images"][2] == {
        "job": "deb-ubuntu-noble",
        "runner_arch": None,
        "mirror": None,
        "hosts_reached": ["archive.ubuntu.com", "security.ubuntu.com"],
    }
    # The same two at validate, located at their distros entries.
    assert [w for w in loaded.warnings if "no mirror" in w] == [
        "mobyci.yaml:4:44: targets[0].distros[1]: warning: no mirror for rhel-9's archive: its package image "
        "reaches cdn-ubi.redhat.com directly: allow those hosts through the firewall or proxy",
        "mobyci.yaml:4:76: targets[1].distros[0]: warning: no mirror for ubuntu-noble's archive: its package image "
        "reaches archive.ubuntu.com, security.ubuntu.com directly: set mirrors.ubuntu.archive",
    ]


# --- https mirrors in deb package images, which have no CA bundle before their first apt-get install ---------------

_HTTPS_SPEC = """\
version: 1
moby: {ref: v28.5.2}
mirrors:
  ubuntu: {archive: "https://ubuntu.mirror.test/ubuntu", ports: "https://ubuntu.mirror.test:8443/ubuntu-ports"}
targets: [{name: deb, distros: [ubuntu-noble]}]
"""


def test_https_ubuntu_mirror_without_a_ca_is_reached_over_http_and_validate_says_so() -> None:
    loaded = load_text(_HTTPS_SPEC, "mobyci.yaml")
    head = (
        "the ubuntu-noble package image has no CA bundle before the Dockerfile's first `apt-get update && apt-get "
        "install … curl` (docker-ce-packaging 28.x deb/ubuntu-noble/Dockerfile:20), so apt there cannot verify "
    )
    assert (
        "mobyci.yaml:4:21: mirrors.ubuntu.archive: warning: " + head + "https://ubuntu.mirror.test/ubuntu: mobyci "
        "points it at http://ubuntu.mirror.test/ubuntu instead (apt verifies the signed Release files, not the "
        "connection); the mirror must serve http too, or name its CA in tls.ca_certs to keep https"
    ) in loaded.warnings
    # A port of its own is the https one: no http form to fall back to.
    assert (
        "mobyci.yaml:4:65: mirrors.ubuntu.ports: warning: " + head + "https://ubuntu.mirror.test:8443/ubuntu-ports, "
        "and its port is an https one: write the mirror's http URL, or name its CA in tls.ca_certs"
    ) in loaded.warnings
    (block,) = distro_mirrors(loaded.spec.mirrors, [("deb", "ubuntu-noble")], ca=False)
    text = "\n".join(block.lines)
    assert "#http://ubuntu.mirror.test/ubuntu/#g" in text
    assert "#https://ubuntu.mirror.test:8443/ubuntu-ports/#g" in text


def test_with_the_ca_in_the_package_images_the_https_mirror_stays() -> None:
    loaded = load_text(_HTTPS_SPEC + "tls: {ca_certs: [$CORP_CA_CERT]}\n", "mobyci.yaml")
    assert not [w for w in loaded.warnings if "CA bundle" in w]
    (block,) = distro_mirrors(loaded.spec.mirrors, [("deb", "ubuntu-noble")], ca=True)
    assert "#https://ubuntu.mirror.test/ubuntu/#g" in "\n".join(block.lines)
