"""The patch rules a spec asks for, for its release family: plain data that the generated sh script (the
patch engine, patchscript.py) carries and executes; `mobyci plan` shows them.

Two kinds of rule:
- a rewrite: literal replacements in a set of files (single left-to-right pass; the steps are in apply.py), or
  whole lines replaced: each line that starts with a text (docker-ce-packaging's installers' `REPO=`);
- an insertion: a block of Dockerfile lines placed after the one `FROM … AS <stage>` line (moby's Dockerfile) or
  the one `FROM <image>` line (docker-ce-packaging's `FROM ${BUILD_IMAGE}`, patch/packaging.py), headed by a
  marker line `# mobyci:<rule id>` so that a second run recognises it.
Both run in the one engine (engine.py, engine.awk).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from mobyci.errors import MobyciError
from mobyci.families import ARCHIVED_DEBIAN
from mobyci.families.touchpoints import TOUCHPOINTS, Touchpoints
from mobyci.specmodel.apt import AptSources, apt_sources, apt_sources_for
from mobyci.specmodel.fields import var_ref_name

if TYPE_CHECKING:
    from mobyci.load.reader import LoadedSpec
    from mobyci.specmodel.compiled import Mirrors

MARKER_PREFIX = "# mobyci:"

# The token request of contrib/download-frozen-image-v2.sh (three times, identical in every release), and the
# header that sends the token. A mirror without Docker Hub's token flow needs neither.
# These are shell text, not secrets (S105).
_TOKEN_URL = '"$authBase/token?service=$authService&scope=repository:$image:pull"'  # noqa: S105
TOKEN_FETCH = f"token=\"$(curl -fsSL {_TOKEN_URL} | jq --raw-output '.token')\""
TOKEN_NONE = "token='' # mobyci:registry-tokens (the mirror serves no tokens)"  # noqa: S105
TOKEN_HEADER = '-H "Authorization: Bearer $token"'  # noqa: S105
TOKEN_HEADER_IF_SET = '${token:+-H "Authorization: Bearer $token"}'  # noqa: S105
REGISTRY_BASE = "registryBase='https://registry-1.docker.io'"


class Replacement(NamedTuple):
    """Replace `source` by `target`. A prefix source matches anywhere; an exact one (a whole repository URL)
    only where the next character cannot continue a URL path, and wins over prefixes at the same place."""

    source: str
    target: str
    exact: bool = False


class EnvValue(NamedTuple):
    """A value the patch reads from the environment when it runs (a CI variable): never written into the
    generated script. Written into the Dockerfile inside double quotes, escaped for them."""

    name: str
    setting: str  # the spec key it comes from, for messages


Piece = str | EnvValue


class Insertion(NamedTuple):
    stage: str  # the block goes right after the line `FROM … AS <stage>` (case-insensitive)...
    lines: tuple[tuple[Piece, ...], ...]  # the block's lines after the marker, each a run of pieces
    # ...or, when set, right after the line `FROM <image>` or `FROM <image> AS <name>` (the image word literal)
    image: str = ""

    @property
    def anchor(self) -> str:
        """The anchor line, as a person reads it in messages."""
        return f"FROM {self.image}" if self.image else f"FROM … AS {self.stage}"


# The CA bundle a pipeline assembles from tls.ca_certs at run time, and where the patch puts it in the tree:
# inside the build context, so that the inserted COPY line finds it.
CA_FILE_ENV = "MOBYCI_CA_FILE"
CA_TREE_FILE = ".mobyci/ca.crt"
_CA_TRUSTED = "/usr/local/share/ca-certificates/mobyci-ca.crt"


class Rule(NamedTuple):
    id: str  # stable: plan output, markers and messages use it
    title: str  # one line for people
    files: tuple[str, ...]  # paths or globs relative to the moby tree
    required: bool  # a required rule that matches nothing stops the whole patch
    replacements: tuple[Replacement, ...] = ()
    insertion: Insertion | None = None
    expected: str = ""  # what the rule looks for, as a person reads it in a "matched nothing" message
    notes: tuple[str, ...] = ()  # caveats worth showing in `mobyci plan`
    # A file the patch copies into the tree from the path in the environment variable CA_FILE_ENV.
    tree_file: str = ""
    # A whole-line rewrite: its one replacement's target replaces every line that starts with its source.
    whole_line: bool = False

    @property
    def kind(self) -> str:
        return "insert" if self.insertion is not None else "line" if self.whole_line else "rewrite"

    @property
    def env(self) -> tuple[EnvValue, ...]:
        """The environment variables the rule reads when it runs."""
        if self.insertion is None:
            return ()
        return tuple(p for line in self.insertion.lines for p in line if isinstance(p, EnvValue))


def dockerfile_dq(value: str) -> str:
    """`value` escaped for the inside of a Dockerfile double-quoted word (ENV), so it stays literal."""
    return re.sub(r'([\\"$])', r"\\\1", value)


def under_git_prefix(url: str, git: dict[str, str]) -> bool:
    """Whether a git prefix rule (a key ending in '/') would rewrite `url`."""
    return any(source.endswith("/") and url.startswith(source) for source in git)


def _quoted_list(values: list[str]) -> str:
    return " or ".join(f"'{v}'" for v in values)


def _rewrite_rule(
    rule_id: str, title: str, files: tuple[str, ...], mapping: dict[str, str], *, exact_keys: bool
) -> Rule:
    """`exact_keys`: a key not ending in "/" is a whole URL (git repositories); else every key is a prefix."""
    replacements = tuple(Replacement(s, t, exact=exact_keys and not s.endswith("/")) for s, t in mapping.items())
    return Rule(
        id=rule_id,
        title=title,
        files=files,
        required=True,
        replacements=replacements,
        expected=_quoted_list(list(mapping)),
    )


def _insert_rule(
    rule_id: str,
    title: str,
    tp: Touchpoints,
    *,
    stage: str,
    lines: list[tuple[Piece, ...]],
    notes: tuple[str, ...] = (),
) -> Rule:
    return Rule(
        id=rule_id,
        title=title,
        files=(tp.dockerfile,),
        required=True,
        insertion=Insertion(stage, tuple(lines)),
        expected=f"a line '{Insertion(stage, ()).anchor}'",
        notes=notes,
    )


def _sh_single(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _sed_repl(value: str) -> str:
    """`value` as the replacement of a sed `s#…#…#` command."""
    return re.sub(r"([\\&#])", r"\\\1", value)


# Debian's own hosts as the official images' sources name them: bullseye/bookworm use deb.debian.org for both
# repositories, buster images name security.debian.org; httpredir is the old name of deb.debian.org.
_DEBIAN_HOSTS = r"https?://(deb|httpredir|security)\.debian\.org"
_APT_FILES = "/etc/apt/sources.list /etc/apt/sources.list.d/debian.sources"
_VALID_UNTIL = "/etc/apt/apt.conf.d/99mobyci-archive"
# apt before 3.1.3 (bookworm's 2.6.1, in the golang:*-bookworm images moby 25-28 builds FROM) can wait forever
# after one transient failure: it retries after a delay (apt 2.6.1 apt-pkg/acquire-worker.cc:644-656), and when one
# InRelease is delayed while the others succeed, the indexes they queue sort before it and the queue is never cycled
# again (apt-pkg/acquire.cc:1007-1024; fixed by Debian apt commit 5378c38db, "Fix stuck acquire queues on partial
# server errors", in 3.1.3). Mirrors do fail transiently: apt-cacher-ng 3.7.4 closes kept-alive connections that
# apt must open again. Retrying at once, as apt did before 2.3, never hangs.
_RETRIES = "/etc/apt/apt.conf.d/99mobyci-retries"


def apt_sed_script(sources: AptSources) -> list[str]:
    """The sed -E expressions that point every Debian line of sources.list and debian.sources at `sources`.

    debian-security first: its URL starts with the debian one. `security.debian.org/` without a path (the
    oldest images) is the security repository too. For an archived release the -updates suites go: the archive
    keeps no Release file for them (a `deb` line is dropped, a deb822 Suites: field loses the word)."""
    security, debian = _sed_repl(sources.security), _sed_repl(sources.debian)
    script = [
        f"s#{_DEBIAN_HOSTS}/debian-security/?([[:space:]]|$)#{security}\\2#g",
        f"s#https?://security\\.debian\\.org/?([[:space:]]|$)#{security}\\1#g",
        f"s#https?://(deb|httpredir)\\.debian\\.org/debian/?([[:space:]]|$)#{debian}\\2#g",
    ]
    if sources.archived:
        script += [
            "/^deb(-src)?[[:space:]].*[[:space:]][a-z]+-updates([[:space:]]|$)/d",
            "/^Suites:/s#[[:space:]]+[a-z]+-updates([[:space:]]|$)#\\1#g",
        ]
    return script


def _apt_lines(sources: AptSources) -> list[tuple[Piece, ...]]:
    expressions = " ".join(f"-e {_sh_single(e)}" for e in apt_sed_script(sources))
    lines: list[tuple[Piece, ...]] = [
        (f"RUN for f in {_APT_FILES}; do \\",),
        (f'        if [ -f "$f" ]; then sed -E -i {expressions} "$f"; fi; \\',),
    ]
    lines.append(("    done \\",))
    if sources.archived:
        lines.append((f" && echo 'Acquire::Check-Valid-Until \"false\";' > {_VALID_UNTIL} \\",))
    lines.append((f" && echo 'Acquire::Retries::Delay \"false\";' > {_RETRIES}",))
    return lines


def debian_apt_lines(mirrors: Mirrors, suite: str, scheme: Callable[[str], str] = lambda url: url) -> list[str] | None:
    """The Dockerfile lines that point apt at `mirrors.apt` in an image of Debian `suite`, the same lines the moby
    patch inserts; None when that mirror cannot serve the suite ('archive' serves archived releases only).
    `scheme` maps each URL (the package images' http form of an https mirror)."""
    sources = apt_sources_for(mirrors, archived=suite in ARCHIVED_DEBIAN)
    if sources is None:
        return None
    sources = sources._replace(debian=scheme(sources.debian), security=scheme(sources.security))
    return ["".join(p for p in line if isinstance(p, str)) for line in _apt_lines(sources)]


def _proxy_value(value: str, setting: str) -> tuple[Piece, ...]:
    name = var_ref_name(value)  # the spec validated it: a reference is a valid name here
    if name is None:
        return (dockerfile_dq(value),)
    return (EnvValue(name, setting),)


def _env_line(name: str, pieces: tuple[Piece, ...]) -> tuple[Piece, ...]:
    return (f'ENV {name}="', *pieces, '"')


def _apt_rules(loaded: LoadedSpec, tp: Touchpoints) -> list[Rule]:
    sources = apt_sources(loaded.spec.mirrors, loaded.release)
    if sources is None:
        return []
    # A bare host reaches the family's own APT_MIRROR hook through the build arg (plan.py); every other form
    # needs URLs the hook cannot write (it swaps the host only), so mobyci's rewrite runs in base too.
    hooked = loaded.release.apt_build_arg is not None
    via_hook = sources.host_only and sources.debian.startswith("http://") and hooked
    stages = list(tp.apt_unhooked_stages)
    if not via_hook and tp.base_stage not in stages:
        stages.insert(0, tp.base_stage)
    where = f"{sources.debian} and {sources.security}"
    if sources.archived:
        where += f" (Debian {loaded.release.debian} is archived; expired Release files accepted)"
    return [
        _insert_rule(
            f"apt-{stage}", f"apt in the {stage} stage uses {where}", tp, stage=stage, lines=_apt_lines(sources)
        )
        for stage in stages
    ]


def _pypi_rules(pypi: str | None, tp: Touchpoints) -> list[Rule]:
    if pypi is None or not tp.pip_install:
        return []
    return [
        _insert_rule(
            "pypi",
            "pip in the dev image installs from the PyPI mirror (ENV PIP_INDEX_URL in the base stage)",
            tp,
            stage=tp.base_stage,
            lines=[_env_line("PIP_INDEX_URL", (dockerfile_dq(pypi),))],
        )
    ]


def _git_host_rule(git: dict[str, str], downloads: dict[str, str], tp: Touchpoints) -> Rule:
    # A download under a git prefix (GitHub's /archive/ tarballs) is a download, not a clone: its own
    # mirrors.downloads entry is a longer prefix and wins in the same pass (mapped to itself, it stays).
    rule = _rewrite_rule(
        "git-host", "git fetch URLs point at the git mirrors", tp.git_files, dict(git), exact_keys=True
    )
    extra = tuple(Replacement(s, t) for s, t in downloads.items() if under_git_prefix(s, git))
    return rule._replace(replacements=rule.replacements + extra)


def build_rules(loaded: LoadedSpec) -> list[Rule]:
    """Every rule the spec asks for, in the order they run and insert (stable for `mobyci plan`)."""
    spec, family = loaded.spec, loaded.release.family
    tp = TOUCHPOINTS[family.name]
    mirrors, proxy = spec.mirrors, spec.proxy
    rules: list[Rule] = []

    # First, so that the CA block sits right under each FROM, above every other block and network use.
    if spec.tls.ca_certs:
        rules += _ca_rules(tp)

    if mirrors.git:
        rules.append(_git_host_rule(mirrors.git, mirrors.downloads, tp))
    if mirrors.downloads:
        rules.append(
            _rewrite_rule(
                "downloads",
                "static docker CLI downloads point at the download mirror",
                tp.download_files,
                dict(mirrors.downloads),
                exact_keys=False,
            )
        )
    if mirrors.registry:
        base = mirrors.registry.rstrip("/")
        rules.append(
            Rule(
                id="registry",
                title="the frozen-image script pulls from the registry mirror",
                files=(tp.frozen_script,),
                required=True,
                replacements=(Replacement(REGISTRY_BASE, f"registryBase={_sh_single(base)}"),),
                expected=_quoted_list([REGISTRY_BASE]),
            )
        )
        if not mirrors.registry_tokens:
            rules.append(
                Rule(
                    id="registry-tokens",
                    title="the frozen-image script asks the mirror for no token",
                    files=(tp.frozen_script,),
                    required=True,
                    replacements=(
                        Replacement(TOKEN_FETCH, TOKEN_NONE),
                        Replacement(TOKEN_HEADER, TOKEN_HEADER_IF_SET),
                    ),
                    expected=_quoted_list([TOKEN_FETCH]),
                )
            )

    base_stage = tp.base_stage
    if proxy.mode == "dockerfile-env" and (proxy.http or proxy.https or proxy.no_proxy):
        lines: list[tuple[Piece, ...]] = []
        if proxy.http:
            lines.append(_env_line("http_proxy", _proxy_value(proxy.http, "proxy.http")))
        if proxy.https:
            lines.append(_env_line("https_proxy", _proxy_value(proxy.https, "proxy.https")))
        if proxy.no_proxy:
            pieces: list[Piece] = []
            for index, entry in enumerate(proxy.no_proxy):
                if index:
                    pieces.append(",")
                pieces.extend(_proxy_value(entry, f"proxy.no_proxy[{index}]"))
            lines.append(_env_line("no_proxy", tuple(_merge(pieces))))
        rules.append(
            _insert_rule(
                "proxy-env",
                "ENV http_proxy/https_proxy/no_proxy in the base stage (persists in the dev image)",
                tp,
                stage=base_stage,
                lines=lines,
                notes=("the proxy persists in the dev image and its history",),
            )
        )

    rules += _apt_rules(loaded, tp)

    if mirrors.goproxy or mirrors.gosumdb:
        go_lines: list[tuple[Piece, ...]] = []
        if mirrors.goproxy:
            go_lines.append(_env_line("GOPROXY", (dockerfile_dq(mirrors.goproxy),)))
        if mirrors.gosumdb:
            go_lines.append(_env_line("GOSUMDB", (dockerfile_dq(mirrors.gosumdb),)))
        rules.append(
            _insert_rule(
                "goproxy",
                "Go module downloads use the Go proxy (ENV in the base stage)",
                tp,
                stage=base_stage,
                lines=go_lines,
            )
        )

    if mirrors.goproxy and family.name == "20.10":
        rules += _pinned_goproxy_rules(loaded, mirrors.goproxy)

    rules += _pypi_rules(mirrors.pypi, tp)

    if family.gopath and mirrors.git:
        commands = [
            f"git config --global --add {shlex.quote(f'url.{target}.insteadOf')} {shlex.quote(source)}"
            for source, target in mirrors.git.items()
        ]
        git_lines: list[tuple[Piece, ...]] = []
        for index, command in enumerate(commands):
            lead = "RUN " if index == 0 else " && "
            tail = " \\" if index < len(commands) - 1 else ""
            git_lines.append((f"{lead}{command}{tail}",))
        rules.append(
            _insert_rule(
                "git-insteadof",
                "GOPATH-mode `go get` clones through the git mirrors (git url.<mirror>.insteadOf)",
                tp,
                stage=base_stage,
                lines=git_lines,
            )
        )
    return rules


# v20.10.6 to v20.10.12 build rootlesskit with `export GOPROXY="https://proxy.golang.org"` in its installer
# (rootlesskit.installer:38 at v20.10.6 and v20.10.12, "TODO remove GOPROXY override once we updated to Go 1.14+",
# :34-37), which overrides the base stage's ENV GOPROXY; v20.10.5 builds it without modules and v20.10.13 moved
# to `go install …@v0.14.4` (rootlesskit.installer:30), which reads the ENV.
PINNED_GOPROXY = 'export GOPROXY="https://proxy.golang.org"'
PINNED_GOPROXY_FILE = "hack/dockerfile/install/rootlesskit.installer"
PINNED_GOPROXY_RELEASES = ((20, 10, 6), (20, 10, 12))


def _pinned_goproxy_rules(loaded: LoadedSpec, goproxy: str) -> list[Rule]:
    """The installer's own GOPROXY, rewritten to the mirror: required on the releases that pin it, optional on a
    20.10 ref whose release is unknown (a branch or commit), absent on the other tags."""
    version = loaded.release.version
    known = version is not None and version.patch is not None
    first, last = PINNED_GOPROXY_RELEASES
    if version is not None and known and not first <= (version.major, version.minor or 0, version.patch or 0) <= last:
        return []
    return [
        Rule(
            id="goproxy-installer",
            title="rootlesskit's installer uses the Go proxy (it pins GOPROXY=https://proxy.golang.org)",
            files=(PINNED_GOPROXY_FILE,),
            required=known,
            replacements=(Replacement(PINNED_GOPROXY, f"export GOPROXY={_sh_single(goproxy)}"),),
            expected=_quoted_list([PINNED_GOPROXY]),
        )
    ]


# Debian's trust store when the image has ca-certificates (golang images do); else the bundle path that apt
# (GnuTLS), curl and Go read, which a later `apt-get install ca-certificates` rebuilds from
# /usr/local/share/ca-certificates -- this CA included (debian images, the frozen-images stage).
# The package images of docker-ce-packaging's deb/ Dockerfiles use the same lines (plan/packagingca.py).
DEBIAN_CA_LINES = (
    f"COPY {CA_TREE_FILE} {_CA_TRUSTED}",
    "RUN if command -v update-ca-certificates >/dev/null 2>&1; then update-ca-certificates; \\",
    f"    else mkdir -p /etc/ssl/certs && cat {_CA_TRUSTED} >> /etc/ssl/certs/ca-certificates.crt; fi",
)
_CA_LINES: list[tuple[Piece, ...]] = [(line,) for line in DEBIAN_CA_LINES]


def _ca_rules(tp: Touchpoints) -> list[Rule]:
    rules = []
    for index, stage in enumerate(tp.debian_roots):
        rules.append(
            _insert_rule(
                "ca" if index == 0 else f"ca-{stage}",
                f"the {stage} stage trusts the CA of tls.ca_certs (and every stage built on it)",
                tp,
                stage=stage,
                lines=list(_CA_LINES),
            )._replace(tree_file=CA_TREE_FILE if index == 0 else "")
        )
    return rules


def _merge(pieces: list[Piece]) -> list[Piece]:
    """Join neighbouring literal pieces, so equal lines have equal pieces."""
    merged: list[Piece] = []
    for piece in pieces:
        if isinstance(piece, str) and merged and isinstance(merged[-1], str):
            merged[-1] = merged[-1] + piece
        else:
            merged.append(piece)
    return merged


# A file pattern the script can use unquoted, as a glob and as a `case` pattern (and tests' fnmatch reads alike).
_FILE_PATTERN = re.compile(r"^[A-Za-z0-9._/*-]+$")


def check_rule(rule: Rule) -> None:
    """Refuse what the engine cannot do faithfully (specs are validated; this guards direct callers)."""
    for pattern in rule.files:
        if not _FILE_PATTERN.match(pattern):
            raise MobyciError(f"rule {rule.id}: file pattern {pattern!r} has characters the script cannot expand")
    if rule.whole_line and (len(rule.replacements) != 1 or rule.replacements[0].exact):
        raise MobyciError(f"rule {rule.id}: a whole-line rewrite has one replacement, a prefix")
    for rep in rule.replacements:
        if not rep.source:
            raise MobyciError(f"rule {rule.id}: an empty text cannot be replaced")
        if "\n" in rep.source or "\n" in rep.target or "\0" in rep.source or "\0" in rep.target:
            raise MobyciError(f"rule {rule.id}: a replacement spans lines or holds a NUL character")
    if rule.insertion is not None:
        for line in rule.insertion.lines:
            for piece in line:
                if isinstance(piece, str) and ("\n" in piece or "\0" in piece):
                    raise MobyciError(f"rule {rule.id}: an inserted line holds a newline or NUL character")
            if isinstance(line[0], str) and line[0].startswith(MARKER_PREFIX):
                raise MobyciError(f"rule {rule.id}: an inserted line looks like a marker")


def patterns_of(rules: Sequence[Rule]) -> list[str]:
    return list(dict.fromkeys(p for rule in rules for p in rule.files))


def ca_file_checks(src: str, die: str) -> tuple[str, ...]:
    """sh lines that read CA_FILE_ENV into the variable `src` and stop through the function `die` unless it names a
    readable PEM file of certificates, before anything is written: moby's patch and the packaging patch."""
    what = f"tls.ca_certs: {CA_FILE_ENV}"
    return (
        f"{src}=${{{CA_FILE_ENV}:-}}",
        f'[ -n "${src}" ] || {die} "{what} is not set: set it to the PEM file of the CA certificates (the generated '
        'pipelines do)"',
        f'[ -f "${src}" ] && [ -r "${src}" ] || {die} "{what} names no readable file: ${src}"',
        f'! grep -q \'PRIVATE KEY-----\' "${src}" || {die} "tls.ca_certs: ${src} holds a private key, not a '
        'certificate"',
        f'grep -q -e \'-----BEGIN CERTIFICATE-----\' "${src}" || {die} "tls.ca_certs: ${src} holds no PEM '
        'certificate (-----BEGIN CERTIFICATE-----)"',
    )
