"""tls.ca_certs in docker-ce-packaging's package images: the packaging patch copies the CA into the build contexts
(deb/, rpm/) and inserts its trust lines right after every `FROM ${BUILD_IMAGE}`, before the first network use.

The patch is taken from the packaging-sources job of a built plan and run by real shells on fixture trees shaped like
every branch (tests/fixtures/distro-images), and on the real branch heads when a bare docker-ce-packaging clone is at
hand (MOBYCI_PACKAGING_GIT, default /work/.mirror/docker+docker-ce-packaging/repo; skipped otherwise). The inserted
lines then run under dash on a fake root: Debian's real update-ca-certificates (pointed at the fake root) for the
deb images, and for the rpm images the fallback and a recording stand-in of update-ca-trust.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
from io import BytesIO
from pathlib import Path

import pytest

from mobyci.plan.packagingca import CONTEXT_FILE, MARKER, ca_block
from tests.helpers import ROOT
from tests.helpers import pipeline_tools as pc
from tests.helpers.packaging_trees import (
    ANCHOR,
    BRANCHES,
    MIRRORS,
    live,
    packaging_distros,
    packaging_patch_of,
    packaging_tree,
    shells,
    snapshot,
)

CA = ROOT / "tests" / "fixtures" / "public-ca.pem"
PACKAGING_GIT = Path(os.environ.get("MOBYCI_PACKAGING_GIT", "/work/.mirror/docker+docker-ce-packaging/repo"))
CA_SPEC = "tls: {ca_certs: [$CORP_CA_CERT]}\n"
# A day each older branch's distros were still served (lifecycle.py refuses the others).
_DAYS = {"19.03": "2021-01-01", "20.10": "2022-06-01", "23.0": "2023-06-01", "24.0": "2023-12-01"}
# Instructions that reach the network inside a package image build.
_NETWORK = re.compile(r"\b(apt-get|dnf|yum|yum-builddep|mk-build-deps|subscription-manager|curl|git)\b")


def _spec(ref: str, rpm: tuple[str, ...], deb: tuple[str, ...], extra: str = CA_SPEC) -> str:
    mirrors = MIRRORS
    if ref == "v19.03.12":  # the engine's Debian buster is archived: validation insists on an archive mirror
        mirrors = mirrors.replace("apt: mirrors.example.test\n", "apt: {archive: 'http://mirrors.example.test/a'}\n")
    kinds = [f"{{name: {k}, distros: [{', '.join(d)}]}}" for k, d in (("rpm", rpm), ("deb", deb)) if d]
    return (
        f"version: 1\nmoby: {{ref: {ref}}}\n{mirrors}{extra}targets: [{', '.join(kinds)}]\n"
        "ci: {gitlab: {runners: {arm: [arm32]}}}\n"
    )


def _run(script: Path, tree: Path, shell: str = "dash", ca: Path | None = CA) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "MOBYCI_CA_FILE"}
    if ca is not None:
        env["MOBYCI_CA_FILE"] = str(ca)
    command = [shell, "sh", str(script), str(tree)] if shell == "busybox" else [shell, str(script), str(tree)]
    return subprocess.run(command, capture_output=True, text=True, check=False, env=env)


def _assert_trusted_first(dockerfile: str, kind: str, name: str) -> None:
    """Every FROM of the distro image is followed at once by the CA block, and no instruction before the first
    block reaches the network."""
    lines = dockerfile.splitlines()
    anchors = [i for i, line in enumerate(lines) if ANCHOR.match(line)]
    assert anchors, name
    block = list(ca_block(kind))
    for at in anchors:
        assert lines[at + 1 : at + 1 + len(block)] == block, (name, lines[at : at + 6])
    first_use = next((i for i, line in enumerate(lines) if _NETWORK.search(line) and not line.startswith("#")), None)
    if first_use is not None:
        assert first_use > anchors[0] + len(block), (name, lines[first_use])


def _branch_script(
    tmp_path: Path, branch: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, tuple[str, ...], tuple[str, ...]]:
    """The packaging patch of a spec with the CA and every live distro of `branch`: (script, rpm, deb)."""
    from mobyci.families import lifecycle

    if branch in _DAYS:
        monkeypatch.setenv(lifecycle.TODAY_VAR, _DAYS[branch])
    rpm, deb = (live(d) for d in packaging_distros(branch))
    text = packaging_patch_of(_spec(BRANCHES[branch], rpm, deb))
    assert text is not None
    script = tmp_path / "patch.sh"
    script.write_text(text)
    return script, rpm, deb


@pytest.mark.parametrize("branch", list(BRANCHES))
def test_every_package_image_of_every_branch_trusts_the_ca_first(
    tmp_path: Path, branch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    script, rpm, deb = _branch_script(tmp_path, branch, monkeypatch)
    tree = packaging_tree(tmp_path / "packaging", rpm, deb)
    done = _run(script, tree)
    assert done.returncode == 0, done.stderr
    for kind, distros in (("rpm", rpm), ("deb", deb)):
        assert (tree / kind / CONTEXT_FILE).read_bytes() == CA.read_bytes()
        for distro in distros:
            dockerfile = (tree / kind / distro / "Dockerfile").read_text()
            _assert_trusted_first(dockerfile, kind, f"{branch} {kind}/{distro}")
            # The distro mirror's block, where one serves it, follows the CA's.
            if "# mobyci:distro-mirror-" in dockerfile:
                lines = dockerfile.splitlines()
                at = next(i for i, line in enumerate(lines) if ANCHOR.match(line))
                assert lines[at + 1 + len(ca_block(kind))].startswith("# mobyci:distro-mirror-")
    patched = snapshot(tree)
    again = _run(script, tree)
    assert again.returncode == 0, again.stderr
    assert snapshot(tree) == patched
    assert again.stdout.count("already applied") == len(rpm) + len(deb) + 2


def _branch_tree(branch: str, root: Path) -> Path:
    """deb/, rpm/ and common.mk of the branch head, from the bare clone (not kept)."""
    archive = subprocess.run(
        ["git", "--git-dir", str(PACKAGING_GIT), "archive", "--format=tar", branch, "common.mk", "deb", "rpm"],
        capture_output=True,
        check=True,
    ).stdout
    root.mkdir(parents=True)
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(root, filter="data")
    return root


@pytest.mark.parametrize("branch", list(BRANCHES))
def test_real_branch_heads_get_the_ca_before_any_network_use(
    tmp_path: Path, branch: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not (PACKAGING_GIT / "HEAD").exists():
        pytest.skip(f"no docker-ce-packaging clone at {PACKAGING_GIT} (set MOBYCI_PACKAGING_GIT)")
    script, rpm, deb = _branch_script(tmp_path, branch, monkeypatch)
    tree = _branch_tree(branch, tmp_path / "packaging")
    done = _run(script, tree)
    assert done.returncode == 0, done.stderr
    for kind, distros in (("rpm", rpm), ("deb", deb)):
        assert (tree / kind / CONTEXT_FILE).read_bytes() == CA.read_bytes()
        for distro in distros:
            _assert_trusted_first((tree / kind / distro / "Dockerfile").read_text(), kind, f"{branch} {distro}")
    patched = snapshot(tree)
    assert _run(script, tree).returncode == 0
    assert snapshot(tree) == patched


def test_without_ca_certs_nothing_of_the_ca_is_written(tmp_path: Path) -> None:
    text = packaging_patch_of(_spec("v28.5.2", ("fedora-43", "rhel-9"), ("debian-bookworm",), extra=""))
    assert text is not None
    assert "MOBYCI_CA_FILE" not in text
    assert MARKER not in text
    script = tmp_path / "patch.sh"
    script.write_text(text)
    tree = packaging_tree(tmp_path / "packaging", ("fedora-43", "rhel-9"), ("debian-bookworm",))
    assert _run(script, tree, ca=None).returncode == 0
    assert not list(tree.rglob(".mobyci"))
    assert MARKER not in (tree / "rpm/rhel-9/Dockerfile").read_text()
    # No mirror and no CA: no patch at all.
    bare = "version: 1\nmoby: {ref: v28.5.2}\ntargets: [{name: rpm, distros: [rhel-9]}]\n"
    assert packaging_patch_of(bare) is None


@pytest.mark.parametrize("shell", shells())
def test_a_bad_ca_file_is_refused_before_anything_is_written(tmp_path: Path, shell: str) -> None:
    # rhel-9 has no mirror: its Dockerfile gets the CA block alone.
    text = packaging_patch_of(_spec("v28.5.2", ("centos-9", "rhel-9"), ("ubuntu-noble",)))
    assert text is not None
    script = tmp_path / "patch.sh"
    script.write_text(text)
    key = tmp_path / "key.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMG\n-----END PRIVATE KEY-----\n")
    der = tmp_path / "ca.der"
    der.write_bytes(b"\x30\x82\x01\x0a")
    tree = packaging_tree(tmp_path / "packaging", ("centos-9", "rhel-9"), ("ubuntu-noble",))
    before = snapshot(tree)
    for ca, message in (
        (None, "tls.ca_certs: MOBYCI_CA_FILE is not set: set it to the PEM file of the CA certificates"),
        (tmp_path / "none.pem", f"tls.ca_certs: MOBYCI_CA_FILE names no readable file: {tmp_path / 'none.pem'}"),
        (key, f"tls.ca_certs: {key} holds a private key, not a certificate"),
        (der, f"tls.ca_certs: {der} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"),
    ):
        done = _run(script, tree, shell, ca)
        assert done.returncode == 1, (ca, done.stdout)
        assert message in done.stderr
        assert snapshot(tree) == before

    # A tree the mirror-only patch of another spec changed. Its distro-mirror blocks are recognised by their marker
    # (centos-9's is the same: the CA's goes above it), but ubuntu-noble's differs: without the CA its image reached
    # the https mirror in its http form. Refused, nothing is written.
    mirror_only = tmp_path / "mirror-only.sh"
    mirror_text = packaging_patch_of(_spec("v28.5.2", ("centos-9", "rhel-9"), ("ubuntu-noble",), extra=""))
    assert mirror_text is not None
    mirror_only.write_text(mirror_text)
    assert _run(mirror_only, tree, shell, None).returncode == 0
    before = snapshot(tree)
    done = _run(script, tree, shell)
    assert done.returncode == 1
    assert (
        "deb/ubuntu-noble/Dockerfile:11: the block under '# mobyci:distro-mirror-ubuntu-noble' differs from this spec"
    ) in done.stderr
    assert "centos-9" not in done.stderr
    assert snapshot(tree) == before

    # A CA that changed since the last run (a new corporate CA): the context file follows, the Dockerfiles stay.
    fresh = packaging_tree(tmp_path / "fresh", ("centos-9", "rhel-9"), ("ubuntu-noble",))
    assert _run(script, fresh, shell).returncode == 0
    newer = tmp_path / "newer.pem"
    newer.write_text(CA.read_text() + CA.read_text())
    done = _run(script, fresh, shell, newer)
    assert done.returncode == 0, done.stderr
    assert (fresh / "rpm" / CONTEXT_FILE).read_text() == newer.read_text()
    assert done.stdout.count("already applied") == 3


def test_patch_with_the_ca_passes_shellcheck() -> None:
    text = packaging_patch_of(_spec("v28.5.2", ("centos-9", "rhel-9"), ("ubuntu-noble",)))
    assert text is not None
    assert pc.shellcheck(text) == ""


# --- the inserted lines, run on a fake root ------------------------------------------------------------------------


def _bin(tmp_path: Path, *tools: str) -> Path:
    """A PATH holding only `tools` (and what the test adds): the real update-ca-* must never run on this machine."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in tools:
        found = shutil.which(name)
        assert found is not None, name
        (bin_dir / name).symlink_to(found)
    return bin_dir


def _build(block: tuple[str, ...], root: Path, path: Path, ca: Path = CA) -> None:
    """The block's COPY and RUN instructions as the image build runs them, with / at `root`."""
    text = "\n".join(block[1:]).replace("\\\n", "")
    for instruction in text.split("\n"):
        word, _, rest = instruction.partition(" ")
        if word == "COPY":
            source, dest = rest.split()
            assert source == CONTEXT_FILE
            (root / dest.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ca, root / dest.lstrip("/"))
        else:
            assert word == "RUN", instruction
            command = re.sub(r"(?<![\w/.])/(etc|usr)/", f"{root}/\\1/", rest)
            subprocess.run([pc.tool("dash"), "-ec", command], check=True, env={"PATH": str(path)}, capture_output=True)


def _update_ca_certificates(root: Path, bin_dir: Path) -> None:
    """Debian's real update-ca-certificates, pointed at the fake root, as the image's own command."""
    real = shutil.which("update-ca-certificates", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    if real is None:
        why = "update-ca-certificates (Debian's ca-certificates) is not installed"
        if os.environ.get("MOBYCI_REQUIRE_EXTERNAL") == "1":
            pytest.fail(why)
        pytest.skip(why)
    for d in ("etc/ssl/certs", "usr/share/ca-certificates", "usr/local/share/ca-certificates", "etc/ca-certificates"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "etc/ca-certificates/update.d").mkdir(exist_ok=True)
    wrapper = bin_dir / "update-ca-certificates"
    wrapper.write_text(
        f"#!/bin/sh\nPATH=/usr/sbin:/usr/bin:/sbin:/bin exec {real} --certsconf {root}/etc/ca-certificates.conf "
        f"--certsdir "
        f"{root}/usr/share/ca-certificates --localcertsdir {root}/usr/local/share/ca-certificates --etccertsdir "
        f"{root}/etc/ssl/certs --hooksdir {root}/etc/ca-certificates/update.d\n"
    )
    wrapper.chmod(0o755)


def _distro_root(root: Path) -> str:
    """The distribution's own CA, as the ca-certificates package ships it (a second copy of the fixture, named
    differently, stands for it)."""
    (root / "usr/share/ca-certificates/mozilla").mkdir(parents=True, exist_ok=True)
    shutil.copy(CA, root / "usr/share/ca-certificates/mozilla/Distro_Root.crt")
    (root / "etc/ca-certificates.conf").write_text("mozilla/Distro_Root.crt\n")
    return CA.read_text()


def test_deb_lines_on_an_image_with_ca_certificates(tmp_path: Path) -> None:
    root = tmp_path / "root"
    bin_dir = _bin(tmp_path, "cat", "mkdir")
    _update_ca_certificates(root, bin_dir)
    _distro_root(root)
    _build(ca_block("deb"), root, bin_dir)
    bundle = (root / "etc/ssl/certs/ca-certificates.crt").read_text()
    # Both the distribution's root and the CA: apt (GnuTLS), curl, git and Go read this file.
    assert bundle.count("-----BEGIN CERTIFICATE-----") == 2


def test_deb_lines_on_a_bare_image_then_apt_installs_ca_certificates(tmp_path: Path) -> None:
    """debian:*, ubuntu:* have no ca-certificates: the CA goes straight into the bundle apt reads, and the package,
    once the Dockerfile's own apt-get installs it, rebuilds the bundle with the CA still in it."""
    root = tmp_path / "root"
    bin_dir = _bin(tmp_path, "cat", "mkdir")
    _build(ca_block("deb"), root, bin_dir)
    assert (root / "etc/ssl/certs/ca-certificates.crt").read_text() == CA.read_text()
    # `apt-get install … curl … git` brings ca-certificates, whose postinst runs update-ca-certificates.
    _update_ca_certificates(root, bin_dir)
    _distro_root(root)
    subprocess.run([str(bin_dir / "update-ca-certificates")], check=True, capture_output=True)
    bundle = (root / "etc/ssl/certs/ca-certificates.crt").read_text()
    assert bundle.count("-----BEGIN CERTIFICATE-----") == 2


def test_rpm_lines_run_update_ca_trust_extract_on_the_anchor(tmp_path: Path) -> None:
    root = tmp_path / "root"
    bin_dir = _bin(tmp_path, "cat", "mkdir", "ls")
    # A recording stand-in for update-ca-trust: what it was called with, and the anchors it would read then.
    record = tmp_path / "update-ca-trust-standin.log"
    standin = bin_dir / "update-ca-trust"
    standin.write_text(f'#!/bin/sh\necho "$*" > {record}\nls {root}/etc/pki/ca-trust/source/anchors >> {record}\n')
    standin.chmod(0o755)
    _build(ca_block("rpm"), root, bin_dir)
    assert record.read_text().splitlines() == ["extract", "mobyci-ca.crt"]
    assert (root / "etc/pki/ca-trust/source/anchors/mobyci-ca.crt").read_text() == CA.read_text()


def test_rpm_lines_without_update_ca_trust_append_to_the_bundle(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc/pki/tls/certs").mkdir(parents=True)
    (root / "etc/pki/tls/certs/ca-bundle.crt").write_text("# the image's roots\n")
    _build(ca_block("rpm"), root, _bin(tmp_path, "cat", "mkdir"))
    assert (root / "etc/pki/tls/certs/ca-bundle.crt").read_text() == "# the image's roots\n" + CA.read_text()
