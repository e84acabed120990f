"""The packaging patch: the sh script that points docker-ce-packaging's package images at the spec's mirrors and CA,
running the one patch engine (engine.py) that moby's patch script runs.

Every deb/<distro>/Dockerfile and rpm/<distro>/Dockerfile of every branch builds `FROM ${BUILD_IMAGE}` (rhel-*:
`FROM ${BUILD_IMAGE} AS subscribed-image`), once per file (docs/packaging.md lists the lines per branch). What to
insert there is decided in plan/ (plan/distromirrors.py, plan/packagingca.py) and arrives here as insertion rules
anchored on that line; the engine places each missing block after it, recognises blocks a run already wrote by
their marker, and refuses a block another spec wrote. The plugin installers' `REPO=` lines (19.03, 20.10) go
through the same engine as whole-line rules. As with moby's patch, every file is checked before any is written,
and a second run changes nothing.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import NamedTuple, Protocol

from mobyci.patch.engine import engine_awk, rule_data
from mobyci.patch.rules import CA_FILE_ENV, CA_TREE_FILE, Insertion, Replacement, Rule, ca_file_checks

# The image word of the FROM line every packaging Dockerfile builds its package image from.
PACKAGE_IMAGE = "${BUILD_IMAGE}"


def dockerfile_rule(rule_id: str, title: str, lines: Sequence[str], dockerfiles: Sequence[str] = ()) -> Rule:
    """The insertion of `lines` (after the marker `# mobyci:<rule_id>`) right after `FROM ${BUILD_IMAGE}`."""
    return Rule(
        id=rule_id,
        title=title,
        files=tuple(dockerfiles),
        required=True,
        insertion=Insertion("", tuple((line,) for line in lines), image=PACKAGE_IMAGE),
        expected=f"a line '{Insertion('', (), image=PACKAGE_IMAGE).anchor}'",
    )


class PatchedDockerfile(Protocol):
    """One packaging Dockerfile the patch changes."""

    @property
    def distro(self) -> str: ...
    @property
    def setting(self) -> str: ...  # what the patch reports when it writes the file
    @property
    def dockerfile(self) -> str: ...  # relative to the packaging checkout
    @property
    def rules(self) -> tuple[Rule, ...]: ...  # its insertions, in the order their blocks go


class InstallerRepo(NamedTuple):
    """A plugins/<name>.installer (19.03, 20.10) whose `REPO=` line the patch points at the git mirror: the package
    build runs it inside the package container (deb/common/rules `bash $${installer} build`), where it clones
    REPO from github.com (20.10 plugins/buildx.installer:8 `REPO=https://${PKG}.git`, :14 `git clone`)."""

    path: str  # relative to the packaging checkout
    url: str  # the mirrored repository
    setting: str = "mirrors.git"


# Runs the engine on one file ($1, relative to the checkout) with the rules numbered $2, the new content into $3
# (a copy of the file first: the engine writes it only when something changes); records any problem, and in
# $lines how many lines a whole-line rule found there.
_ENGINE_CALL = r"""engine() {
	cp "$dir/$1" "$3"
	rep=$(MOBYCI_RULES=$2 MOBYCI_REL=$1 MOBYCI_OUT=$3 MOBYCI_CHECK=0 awk "$mobyci_awk" <"$dir/$1") \
		|| die "$1: awk failed"
	anchors=
	lines=0
	while IFS= read -r l; do
		case $l in
			'ERR '*) problems="$problems ${l#ERR };" ;;
			'INS '*' missing '*) anchors="no FROM line of the distro image (BUILD_IMAGE)" ;;
			'INS '*' ambiguous '*) anchors="more than one FROM line of the distro image (BUILD_IMAGE)" ;;
			'HIT '* | 'SEEN '*) lines=$((lines + ${l##* })) ;;
		esac
	done <<EOF
$rep
EOF
	[ -z "$anchors" ] || problems="$problems $1: $anchors;"
}"""


def installer_rule(installer: InstallerRepo) -> Rule:
    """The installer's `REPO=` line replaced whole by the mirror's. The lines differ per installer
    (`REPO=https://${PKG}.git`, `REPO=https://github.com/docker/app.git`): the rule matches the line's start."""
    name = installer.path.rsplit("/", 1)[-1].removesuffix(".installer")
    return Rule(
        id=f"installer-{name}",
        title=f"{installer.path} clones from {installer.setting}",
        files=(installer.path,),
        required=True,
        replacements=(Replacement("REPO=", f"REPO={shlex.quote(installer.url)}"),),
        expected="a line 'REPO=…'",
        whole_line=True,
    )


def packaging_rules(files: Sequence[PatchedDockerfile]) -> list[Rule]:
    """Every distinct rule of `files`, in order, each with the files it applies to."""
    rules: list[Rule] = []
    for file in files:
        for rule in file.rules:
            key = rule._replace(files=())
            same = next((i for i, r in enumerate(rules) if r._replace(files=()) == key), None)
            if same is None:
                rules.append(rule._replace(files=(file.dockerfile,)))
            else:
                rules[same] = rules[same]._replace(files=(*rules[same].files, file.dockerfile))
    return rules


def render_packaging_patch(
    files: Sequence[PatchedDockerfile],
    branch: str,
    ca_contexts: tuple[str, ...] = (),
    installers: Sequence[InstallerRepo] = (),
) -> str:
    """A POSIX sh script: `sh mobyci-packaging-patch.sh [PACKAGING_DIR]` patches the checkout of `branch`.
    `ca_contexts`: the build contexts (deb, rpm) that get the CA file of $MOBYCI_CA_FILE for the rules' COPY;
    `installers`: plugin installers whose clone goes to the git mirror."""
    rules = packaging_rules(files)
    keys = [rule._replace(files=()) for rule in rules]
    installer_rules = [installer_rule(installer) for installer in installers]
    out = [
        "#!/bin/sh",
        "# The rule data below is literal text (URLs, shell and Dockerfile lines) quoted on purpose:",
        "# shellcheck disable=SC1003,SC2016,SC2089,SC2090",
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
        *(ca_file_checks("ca_src", "die") if ca_contexts else ()),
        "# The rules, as data for the engine (mobyci/patch/engine.awk), which moby's patch script runs too.",
        *rule_data([*rules, *installer_rules]),
        f"mobyci_awk='\n{engine_awk()}'",
        _ENGINE_CALL,
        "problems=",
    ]
    for n, file in enumerate(files, 1):
        path = shlex.quote(file.dockerfile)
        active = " ".join(str(keys.index(r._replace(files=())) + 1) for r in file.rules)
        out += [
            f'if [ ! -f "$dir"/{path} ]; then',
            f'\tproblems="$problems {file.dockerfile}: missing: the checkout is not branch {branch}, or it has no '
            f'{file.distro};"',
            f'else engine {path} {shlex.quote(active)} "$tmp/o{n}"',
            "fi",
        ]
    for n, installer in enumerate(installers, 1):
        path = shlex.quote(installer.path)
        out += [
            f'if [ ! -f "$dir"/{path} ]; then',
            f'\tproblems="$problems {installer.path}: missing: the checkout is not branch {branch};"',
            f'else engine {path} {len(rules) + n} "$tmp/i{n}"',
            f'\t[ "$lines" = 1 ] || problems="$problems {installer.path}: not one REPO= line (another branch);"',
            "fi",
        ]
    out += [
        'if [ -n "$problems" ]; then die "nothing changed:$problems"; fi',
    ]
    for context in ca_contexts:
        out.append(f'mkdir -p "$dir"/{shlex.quote(context)}/{shlex.quote(CA_TREE_FILE.rsplit("/", 1)[0])}')
        out += _install('"$ca_src"', f"{context}/{CA_TREE_FILE}", "tls.ca_certs")
    for n, file in enumerate(files, 1):
        out += _install(f'"$tmp/o{n}"', file.dockerfile, file.setting)
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
