"""The patch rules a spec asks for, for its release family: plain data that the generated sh script (the
patch engine, patchscript.py) carries and executes; `mobyci plan` shows them.

Two kinds of rule:
- a rewrite: literal replacements in a set of files (single left-to-right pass; the steps are in patch.py);
- an insertion: a block of Dockerfile lines placed after the `FROM … AS <stage>` line, headed by a marker
  line `# mobyci:<rule id>` so that a second run recognises it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from mobyci.errors import MobyciError
from mobyci.families.packaging_data import ARCHIVED_DEBIAN
from mobyci.families.touchpoints import TOUCHPOINTS, Touchpoints

if TYPE_CHECKING:
    from mobyci.schemas.load import LoadedSpec

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

_VAR_REF = re.compile(r"^\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))$")


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
    stage: str  # the block goes right after the line `FROM … AS <stage>`
    lines: tuple[tuple[Piece, ...], ...]  # the block's lines after the marker, each a run of pieces


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

    @property
    def kind(self) -> str:
        return "insert" if self.insertion is not None else "rewrite"

    @property
    def env(self) -> tuple[EnvValue, ...]:
        """The environment variables the rule reads when it runs."""
        if self.insertion is None:
            return ()
        return tuple(p for line in self.insertion.lines for p in line if isinstance(p, EnvValue))


def dockerfile_dq(value: str) -> str:
    """`value` escaped for the inside of a Dockerfile double-quoted word (ENV), so it stays literal."""
    return re.sub(r'([\\"$])', r"\\\1", value)


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
        expected=f"a line 'FROM … AS {stage}'",
        notes=notes,
    )


def _sh_single(value: str) -> str:
    return "'" + value.replace("'", "'\\''") + "'"


def _sed_repl(value: str) -> str:
    """`value` as the replacement of a sed `s#…#…#` command."""
    return re.sub(r"([\\&#])", r"\\\1", value)


def _apt_lines(apt: str) -> list[tuple[Piece, ...]]:
    if "://" in apt:
        pattern = r"https?://(httpredir|deb|security)\.debian\.org"
        replacement = apt.rstrip("/")
    else:
        pattern = r"(httpredir|deb|security)\.debian\.org"
        replacement = apt
    command = _sh_single(f"s#{pattern}#{_sed_repl(replacement)}#g")
    return [
        ("RUN for f in /etc/apt/sources.list /etc/apt/sources.list.d/debian.sources; do \\",),
        (f'        if [ -f "$f" ]; then sed -E -i {command} "$f"; fi; \\',),
        ("    done",),
    ]


_APT_ARCHIVE_LINES: list[tuple[Piece, ...]] = [
    (
        "RUN sed -E -i -e 's#(httpredir|deb|security)\\.debian\\.org#archive.debian.org#g' "
        "-e '/buster-updates/d' /etc/apt/sources.list \\",
    ),
    (" && echo 'Acquire::Check-Valid-Until \"false\";' > /etc/apt/apt.conf.d/99mobyci-archive",),
]


def debian_apt_lines(apt: str, suite: str) -> list[str] | None:
    """The Dockerfile lines that point apt at `mirrors.apt` in an image of Debian `suite`, the same lines the moby
    patch inserts; None when that mirror cannot serve the suite ('archive' serves archived releases only)."""
    archived = suite in ARCHIVED_DEBIAN
    if (apt == "archive") != archived:
        return None
    lines = _APT_ARCHIVE_LINES if archived else _apt_lines(apt)
    return ["".join(p for p in line if isinstance(p, str)) for line in lines]


def _proxy_value(value: str, setting: str) -> tuple[Piece, ...]:
    match = _VAR_REF.match(value)
    if match is None:
        return (dockerfile_dq(value),)
    return (EnvValue(match.group("braced") or match.group("bare"), setting),)


def _env_line(name: str, pieces: tuple[Piece, ...]) -> tuple[Piece, ...]:
    return (f'ENV {name}="', *pieces, '"')


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
        rules.append(
            _rewrite_rule(
                "git-host", "git fetch URLs point at the git mirrors", tp.git_files, dict(mirrors.git), exact_keys=True
            )
        )
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

    if mirrors.apt == "archive":
        for stage in (base_stage, *(s for s in tp.apt_unhooked_stages if s != base_stage)):
            rules.append(
                _insert_rule(
                    "apt-archive" if stage == base_stage else f"apt-archive-{stage}",
                    f"apt in the {stage} stage uses archive.debian.org (Debian {family.debian} is archived)",
                    tp,
                    stage=stage,
                    lines=list(_APT_ARCHIVE_LINES),
                )
            )
    elif mirrors.apt:
        for stage in tp.apt_unhooked_stages:
            rules.append(
                _insert_rule(
                    f"apt-{stage}",
                    f"apt in the {stage} stage uses the Debian mirror (the stage has no APT_MIRROR hook)",
                    tp,
                    stage=stage,
                    lines=_apt_lines(mirrors.apt),
                )
            )

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


# Debian's trust store when the image has ca-certificates (golang images do); else the bundle path that apt
# (GnuTLS), curl and Go read, which a later `apt-get install ca-certificates` rebuilds from
# /usr/local/share/ca-certificates -- this CA included (debian images, the frozen-images stage).
_CA_LINES: list[tuple[Piece, ...]] = [
    (f"COPY {CA_TREE_FILE} {_CA_TRUSTED}",),
    ("RUN if command -v update-ca-certificates >/dev/null 2>&1; then update-ca-certificates; \\",),
    (f"    else mkdir -p /etc/ssl/certs && cat {_CA_TRUSTED} >> /etc/ssl/certs/ca-certificates.crt; fi",),
]


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
