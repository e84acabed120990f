"""Distro mirrors (and the CA of tls.ca_certs, plan/packagingca.py) for docker-ce-packaging's package images, and
the sh script that patches their Dockerfiles.

Every deb/<distro>/Dockerfile and rpm/<distro>/Dockerfile builds `FROM ${BUILD_IMAGE}` (the distro image) and then
runs apt-get or dnf against the distro's own archives (docs/packaging.md lists the lines per branch). The patch
inserts, right after every such FROM, a marked block of RUN lines that rewrite the image's package sources to the
spec's mirror. As with moby's own patch: the text is literal, a second run changes nothing, every file is checked
before any is written, and the tree must be the packaging branch the spec builds with (each Dockerfile there).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from typing import NamedTuple

from mobyci.families import distros
from mobyci.families.packaging_data import RASPBIAN_HOSTS, http_form, plain_http_apt, serving_setting
from mobyci.patch.rules import CA_FILE_ENV, MARKER_PREFIX, ca_file_checks, debian_apt_lines
from mobyci.plan.packagingca import CONTEXT_FILE, ca_block
from mobyci.plan.shell import write_heredoc
from mobyci.spec.compiled import Mirrors

PATCH_FILE = "mobyci-packaging-patch.sh"
_BLOCK_EOF = "MOBYCI_BLOCK_EOF"
# The FROM of the distro image, as every branch writes it (rhel-* name the stage).
_ANCHOR_ERE = r"^FROM[ \t]+[$][{]BUILD_IMAGE[}]([ \t]+AS[ \t]+[A-Za-z0-9_.-]+)?[ \t]*$"
ANCHOR = re.compile(_ANCHOR_ERE.replace("[$][{]", r"\$\{").replace("[}]", r"\}"))

# CentOS Stream repositories enabled by default or by the Dockerfiles (crb), as the metalink names them, and their
# directory on a mirror laid out like mirror.stream.centos.org.
_STREAM_REPOS = (
    ("baseos", "$stream/BaseOS/$basearch/os/"),
    ("appstream", "$stream/AppStream/$basearch/os/"),
    ("crb", "$stream/CRB/$basearch/os/"),
    ("extras-sig-extras-common", "SIGs/$stream/extras/$basearch/extras-common/"),
)


class DistroMirror(NamedTuple):
    distro: str
    setting: str  # the spec key that serves it
    dockerfile: str  # relative to the packaging checkout
    lines: tuple[str, ...]  # inserted after the marker, after every FROM of the distro image

    @property
    def marker(self) -> str:
        return f"{MARKER_PREFIX}distro-mirror-{self.distro}"

    @property
    def body(self) -> tuple[str, ...]:
        return (self.marker, *self.lines)


class DockerfileBlock(NamedTuple):
    """Everything the patch inserts after every FROM of the distro image in one Dockerfile: marked sections, the
    CA's first (tls.ca_certs), then the distro mirror's."""

    distro: str
    setting: str  # what the patch reports when it writes the file
    dockerfile: str
    body: tuple[str, ...]


class InstallerRepo(NamedTuple):
    """A plugins/<name>.installer (19.03, 20.10) whose `REPO=` line the patch points at the git mirror: the package
    build runs it inside the package container (deb/common/rules `bash $${installer} build`), where it clones
    REPO from github.com (20.10 plugins/buildx.installer:8 `REPO=https://${PKG}.git`, :14 `git clone`)."""

    path: str  # relative to the packaging checkout
    url: str  # the mirrored repository
    setting: str = "mirrors.git"


# One `REPO=` line in the installer, replaced by the mirror's; exit 2 when there is not exactly one.
_INSTALLER_AWK = '/^REPO=/ { print "REPO=" ENVIRON["MOBYCI_REPO"]; n++; next } { print } END { if (n != 1) exit 2 }'


def dockerfile_blocks(mirrors: Mirrors, targets: list[tuple[str, str]], *, ca: bool) -> list[DockerfileBlock]:
    """The block of every Dockerfile the patch changes, in spec order: the distro mirror's where one serves it and,
    with `ca`, the CA's in every one."""
    out = []
    for kind, distro in targets:
        mirror = distro_mirror(mirrors, kind, distro, ca=ca)
        sections = (ca_block(kind) if ca else ()) + (mirror.body if mirror else ())
        settings = (["tls.ca_certs"] if ca else []) + ([mirror.setting] if mirror else [])
        if sections:
            out.append(DockerfileBlock(distro, ", ".join(settings), f"{kind}/{distro}/Dockerfile", sections))
    return out


def distro_mirror(mirrors: Mirrors, kind: str, distro: str, *, ca: bool) -> DistroMirror | None:
    """The block that points `distro`'s package image at the spec's mirror, or None when no mirror serves it.
    `ca`: the image trusts tls.ca_certs (a bundle its apt can verify https with); without it, a deb image reaches an
    https mirror in its http form (packaging_data.plain_http_apt)."""
    found = distros.distro(distro)
    assert found is not None, distro  # validated: a distro of the branch
    family, release = found.vendor.name, found.release
    setting = serving_setting(mirrors, distro)

    def url(value: str) -> str:
        return (http_form(value) or value) if plain_http_apt(distro, ca=ca) else value

    lines: list[str] | None = None
    if family == "debian" and mirrors.apt is not None:
        lines = debian_apt_lines(mirrors, release, url)
    elif family == "raspbian" and mirrors.raspbian is not None:
        hosts = "|".join(re.escape(h) for h in RASPBIAN_HOSTS)
        lines = _sed_run(
            ("/etc/apt/sources.list", "/etc/apt/sources.list.d/*.list"),
            [f"s#https?://({hosts})/raspbian/?#{_repl(url(mirrors.raspbian))}/#g"],
        )
    elif family == "ubuntu" and mirrors.ubuntu is not None and mirrors.ubuntu.archive is not None:
        exprs = [rf"s#https?://(archive|security)\.ubuntu\.com/ubuntu/?#{_repl(url(mirrors.ubuntu.archive))}/#g"]
        if mirrors.ubuntu.ports is not None:
            exprs.append(rf"s#https?://ports\.ubuntu\.com/ubuntu-ports/?#{_repl(url(mirrors.ubuntu.ports))}/#g")
        # jammy and older: sources.list; noble and later: deb822 ubuntu.sources.
        lines = _sed_run(
            ("/etc/apt/sources.list", "/etc/apt/sources.list.d/*.list", "/etc/apt/sources.list.d/*.sources"), exprs
        )
    elif family == "fedora" and mirrors.fedora is not None:
        # fedora.repo and fedora-updates.repo carry a metalink and a commented baseurl on download.example.
        lines = _sed_run(
            ("/etc/yum.repos.d/fedora.repo", "/etc/yum.repos.d/fedora-updates.repo"),
            [
                "s|^metalink=|#metalink=|",
                f"s|^#baseurl=http://download[.]example/pub/fedora/linux/|baseurl={_repl(mirrors.fedora, '|')}/|",
            ],
        )
        # fedora-cisco-openh264.repo (enabled, a metalink too) is not on Fedora's mirrors: Cisco's CDN serves its
        # rpms (Fedora release engineering, "Generating Openh264 Composes"); no package build needs it: disabled.
        lines += _sed_run(("/etc/yum.repos.d/fedora-cisco-openh264.repo",), ["s|^enabled=1|enabled=0|"])
    elif family == "centos" and setting is not None and mirrors.centos_stream is not None:
        base = _repl(mirrors.centos_stream, "|")
        lines = _sed_run(
            ("/etc/yum.repos.d/centos.repo", "/etc/yum.repos.d/centos-addons.repo"),
            [
                f"s|^metalink=https://mirrors[.]centos[.]org/metalink[?]repo=centos-{repo}-[$]stream&.*|"
                f"baseurl={base}/{path}|"
                for repo, path in _STREAM_REPOS
            ],
        )
    if lines is None or setting is None:
        return None
    return DistroMirror(distro, setting, f"{kind}/{distro}/Dockerfile", tuple(lines))


def _repl(url: str, delimiter: str = "#") -> str:
    """`url` (without a trailing slash) as the replacement of a sed `s` command with `delimiter`."""
    return re.sub(rf"([\\&{re.escape(delimiter)}])", r"\\\1", url.rstrip("/"))


def _sed_run(files: tuple[str, ...], exprs: list[str]) -> list[str]:
    options = " ".join(f"-e {shlex.quote(e)}" for e in exprs)
    return [
        f"RUN for f in {' '.join(files)}; do \\",
        f'        if [ -f "$f" ]; then sed -E -i {options} "$f"; fi; \\',
        "    done",
    ]


def distro_mirrors(mirrors: Mirrors, targets: list[tuple[str, str]], *, ca: bool) -> list[DistroMirror]:
    """The blocks for every (kind, distro) the spec packages that a mirror serves, in spec order."""
    found = (distro_mirror(mirrors, kind, distro, ca=ca) for kind, distro in targets)
    return [m for m in found if m is not None]


# The engine, per Dockerfile: the block file's lines go after every FROM of the distro image, unless the marker
# and the same lines are already there. Exit 2: no such FROM; 3: a mobyci block that differs (another spec).
_AWK = (
    r"""
BEGIN { n = 0; while ((getline l < block) > 0) b[++n] = l; close(block) }
{ line[NR] = $0 }
END {
	anchors = 0
	for (i = 1; i <= NR; i++) {
		print line[i]
		if (line[i] !~ /ANCHOR/) continue
		anchors++
		if (substr(line[i + 1], 1, MARKLEN) != MARK) {
			for (k = 1; k <= n; k++) print b[k]
			continue
		}
		for (k = 1; k <= n; k++) if (line[i + k] != b[k]) exit 3
		for (k = 1; k <= n; k++) print line[i + k]
		i += n
	}
	if (anchors == 0) exit 2
}
""".replace("ANCHOR", _ANCHOR_ERE)
    .replace("MARKLEN", str(len(MARKER_PREFIX)))
    .replace("MARK", f'"{MARKER_PREFIX}"')
)


def render_packaging_patch(
    blocks: Sequence[DistroMirror | DockerfileBlock],
    branch: str,
    ca_contexts: tuple[str, ...] = (),
    installers: Sequence[InstallerRepo] = (),
) -> str:
    """A POSIX sh script: `sh mobyci-packaging-patch.sh [PACKAGING_DIR]` patches the checkout of `branch`.
    `ca_contexts`: the build contexts (deb, rpm) that get the CA file of $MOBYCI_CA_FILE for the blocks' COPY;
    `installers`: plugin installers whose clone goes to the git mirror."""
    if "'" in _AWK:
        raise ValueError("the awk program must not contain a single quote")
    out = [
        "#!/bin/sh",
        f"# Points the package images of docker-ce-packaging (branch {branch}) at the spec's distro mirrors"
        + (" and its plugin installers at the git mirror." if installers else ".")
        if not ca_contexts
        else f"# Makes the package images of docker-ce-packaging (branch {branch}) trust the CA of tls.ca_certs "
        f"(${CA_FILE_ENV},\n# copied into their build contexts) and use the spec's distro mirrors"
        + (" and git mirror." if installers else "."),
        "# Every Dockerfile is checked before any is written; a second run changes nothing.",
        "set -eu",
        "LC_ALL=C",
        "export LC_ALL",
        "me=mobyci-packaging-patch",
        'die() { printf \'%s: %s\\n\' "$me" "$1" >&2; exit 1; }',
        'dir="${1:-.}"',
        '[ -f "$dir/common.mk" ] || die "$dir: not a docker-ce-packaging checkout (no common.mk)"',
        'tmp="$(mktemp -d)"',
        "trap 'rm -rf \"$tmp\"' EXIT",
        "# shellcheck disable=SC2016 # an awk program: its $ are awk's",
        f"awk_prog='{_AWK}'",
        *_ca_checks(ca_contexts),
        "problems=",
    ]
    for n, block in enumerate(blocks, 1):
        path = shlex.quote(block.dockerfile)
        out += [
            write_heredoc(f'"$tmp/b{n}"', "\n".join(block.body), _BLOCK_EOF),
            f'if [ ! -f "$dir"/{path} ]; then',
            f'\tproblems="$problems {block.dockerfile}: missing: the checkout is not branch {branch}, or it has no '
            f'{block.distro};"',
            f'elif awk -v block="$tmp/b{n}" "$awk_prog" "$dir"/{path} > "$tmp/o{n}"; then :',
            f'elif [ "$?" -eq 2 ]; then problems="$problems {block.dockerfile}: no FROM line of the distro image '
            '(BUILD_IMAGE);"',
            f'else problems="$problems {block.dockerfile}: its mobyci block differs (patched with another spec);"',
            "fi",
        ]
    for n, installer in enumerate(installers, 1):
        path = shlex.quote(installer.path)
        out += [
            f'if [ ! -f "$dir"/{path} ]; then',
            f'\tproblems="$problems {installer.path}: missing: the checkout is not branch {branch};"',
            f"elif MOBYCI_REPO={shlex.quote(shlex.quote(installer.url))} awk {shlex.quote(_INSTALLER_AWK)} "
            f'"$dir"/{path} > "$tmp/i{n}"; then :',
            f'else problems="$problems {installer.path}: not one REPO= line (another branch);"',
            "fi",
        ]
    out += [
        'if [ -n "$problems" ]; then die "nothing changed:$problems"; fi',
    ]
    for context in ca_contexts:
        out.append(f'mkdir -p "$dir"/{shlex.quote(context)}/{shlex.quote(CONTEXT_FILE.rsplit("/", 1)[0])}')
        out += _install('"$ca_src"', f"{context}/{CONTEXT_FILE}", "tls.ca_certs")
    for n, block in enumerate(blocks, 1):
        out += _install(f'"$tmp/o{n}"', block.dockerfile, block.setting)
    for n, installer in enumerate(installers, 1):
        out += _install(f'"$tmp/i{n}"', installer.path, installer.setting)
    return "\n".join(out) + "\n"


def _install(source: str, relative: str, what: str) -> list[str]:
    """Lines that put `source` (shell text) at `relative` in the checkout, replaced whole, and say so: `what`, or
    "already applied" when the file holds it already."""
    path = shlex.quote(relative)
    return [
        f'if cmp -s {source} "$dir"/{path}; then echo "$me: {relative}: already applied"; else',
        f'\tcp {source} "$dir"/{path}.mobyci-new && mv "$dir"/{path}.mobyci-new "$dir"/{path}',
        f'\techo "$me: {relative}: {what}"',
        "fi",
    ]


def _ca_checks(contexts: tuple[str, ...]) -> list[str]:
    """Lines that refuse a missing, unreadable or wrong CA file before anything is written (as moby's patch does)."""
    if not contexts:
        return []
    return list(ca_file_checks("ca_src", "die"))
