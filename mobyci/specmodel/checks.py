"""Checks that need several values of a spec at once: what the family of the ref supports (the ref and family
themselves: refcheck.py), the targets, mirrors, logins, outputs and the CI systems in play."""

from __future__ import annotations

import ipaddress
import posixpath
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from mobyci import formats
from mobyci.errors import one_line
from mobyci.families import Release, missing_data
from mobyci.families.distros import distro as known_distro
from mobyci.families.packaging_data import mirrors_in_use, serving_setting
from mobyci.families.targets import TARGETS, built_distros, is_package, taking
from mobyci.specmodel.compiled import AptMirrors, Spec
from mobyci.specmodel.refcheck import Finding, Loc, check_family

if TYPE_CHECKING:
    import datetime


def check_spec(
    spec: Spec, today: datetime.date | None = None, systems: tuple[str, ...] | None = None
) -> tuple[Release | None, list[Finding], list[Finding]]:
    """The release the spec builds, every cross-field problem and every warning, as (key path, message).

    `today` is the day distro lifecycles are judged on (default: lifecycle.today(), MOBYCI_TODAY or the clock).
    `systems`: the CI systems the command at hand writes or plans for (`render --format`, `plan --for`), judged
    when the spec's `outputs:` names none; a spec that names its systems is judged for those (and render adds the
    format it writes: emit/render.py). None: the default system's findings, what `mobyci render` writes."""
    release, findings, warnings = check_family(spec)
    if release is not None and (gaps := missing_data(release.family)):
        where = ("moby", "family") if spec.moby.family is not None else ("moby", "ref")
        findings.append(
            (
                where,
                f"mobyci cannot build family {release.family.name} yet: mobyci/families has no entry for it in "
                f"{'; '.join(gaps)}. This is a gap in mobyci, not in the spec: report it",
            )
        )
    target_findings, target_warnings = _check_targets(spec, release, today)
    findings += target_findings
    warnings += target_warnings
    findings += _check_rewrites("git", spec.mirrors.git)
    findings += _check_rewrites("downloads", spec.mirrors.downloads, keep_under=spec.mirrors.git)
    findings += _check_placeholders(spec)
    findings += _check_outputs(spec)
    in_play = _output_systems(spec) or systems
    findings += system_findings(spec, in_play)
    warnings += unmirrored_distros(spec)
    findings += _check_logins(spec)
    findings += _check_goproxy(spec, release)
    if not spec.mirrors.registry_tokens and spec.mirrors.registry is None:
        findings.append(
            (("mirrors", "registry_tokens"), "only applies with mirrors.registry: set the mirror or remove this key")
        )
    # Last: a spec whose ref, family or keys are in question first gets those fixed (the Debian release, and so
    # the apt mirror it needs, follows from them).
    if not findings:
        findings += _check_apt(spec, release)
    if release is not None and not findings:
        warnings += warn_spec(spec, release)
        warnings += login_warnings(spec, release)
        for system in in_play or (formats.DEFAULT,):
            warnings += formats.ci_system(system).warnings(spec, release)
    # Messages quote the user's values: a newline in one must not start a line that reads like another problem.
    return (
        release,
        [(at, one_line(message)) for at, message in findings],
        [(at, one_line(message)) for at, message in warnings],
    )


def _check_targets(
    spec: Spec, release: Release | None, today: datetime.date | None
) -> tuple[list[Finding], list[Finding]]:
    findings: list[Finding] = []
    warnings: list[Finding] = []
    seen: set[str] = set()
    for index, target in enumerate(spec.targets):
        at: Loc = ("targets", index)
        if target.name in seen:
            findings.append(((*at, "name"), f"target {target.name} is listed twice: merge the two entries"))
        seen.add(target.name)
        facts = TARGETS[target.name]
        if target.platforms is not None and not facts.per_platform:
            findings.append(((*at, "platforms"), f"only {taking('platforms')}, not {target.name}"))
        if target.distros is not None and facts.package is None:
            findings.append(((*at, "distros"), f"only {taking('distros')}, not {target.name}"))
        if facts.package is not None and not target.distros:
            findings.append(((*at, "distros"), f"required: list the distros to build {target.name} packages for"))
        if release is None:
            continue
        if facts.per_platform and target.platforms:
            what = (
                f"{release.facts.tag} (its tree's cross build)"
                if release.facts is not None
                else f"family {release.family.name}"
            )
            findings += _not_in((*at, "platforms"), target.platforms, release.cross_platforms, what)
        if facts.package is not None and target.distros:
            packaging = release.packaging
            valid = packaging.distros(facts.package)
            # Only package targets pay for the lifecycle table and the clock.
            from mobyci.families import lifecycle

            day = today if today is not None else lifecycle.today()
            # The hint offers only distros whose package repositories still exist: an old branch's list names
            # distros that are refused anyway.
            usable = tuple(distro for distro in valid if lifecycle.problem(distro, day) is None)
            findings += _not_in(
                (*at, "distros"),
                target.distros,
                valid,
                f"docker-ce-packaging branch {packaging.branch} (family {release.family.name})",
                offered=usable,
                none_offered="none of its distros still has package repositories: build a newer moby release",
            )
            for position, distro in enumerate(target.distros):
                if distro not in valid:
                    continue
                problem = lifecycle.problem(distro, day)
                if problem:
                    findings.append(((*at, "distros", position), problem))
                heads_up = lifecycle.warning(distro, day)
                if heads_up:
                    warnings.append(((*at, "distros", position), heads_up))
    return findings, warnings


def _not_in(
    at: Loc,
    values: list[str],
    valid: tuple[str, ...],
    what: str,
    *,
    offered: tuple[str, ...] | None = None,
    none_offered: str = "",
) -> list[Finding]:
    """`offered`: the valid values worth suggesting (default: all); `none_offered`: the hint when there are none."""
    findings: list[Finding] = []
    offered = valid if offered is None else offered
    for index, value in enumerate(values):
        if value not in valid:
            close = _suggestion(value, offered)
            if not offered:
                hint = none_offered
            else:
                hint = (f"did you mean '{close}'? Supported: " if close else "use one of ") + ", ".join(offered)
            findings.append(((*at, index), f"'{value}' is not supported by {what}: {hint}"))
        elif values.index(value) != index:
            findings.append(((*at, index), f"'{value}' is listed twice: remove one"))
    return findings


def _suggestion(value: str, valid: tuple[str, ...]) -> str | None:
    """The valid value `value` is most likely a typo of, if any. centos-7 is another release than centos-9, not a
    typo of it (a close value that differs only in its digits means: no suggestion); linux/arm46 is a typo of
    linux/arm64 (the same digits in another order)."""
    import difflib  # only a spec with problems pays for it

    def letters(text: str) -> str:
        return re.sub(r"\d", "", text)

    def digits(text: str) -> list[str]:
        return sorted(re.sub(r"\D", "", text))

    close = difflib.get_close_matches(value, valid, n=3, cutoff=0.7)
    same_letters = [c for c in close if letters(c) == letters(value)]
    if same_letters:
        return next((c for c in same_letters if digits(c) == digits(value)), None)
    return close[0] if close else None


def _host_root(url: str) -> bool:
    """https://github.com: a whole host written without the '/' that makes a key a prefix rewrite."""
    return "://" in url and not urlsplit(url).path


def _check_rewrites(name: str, mapping: dict[str, str], keep_under: dict[str, str] | None = None) -> list[Finding]:
    """`keep_under`: git prefixes; a download under one may map to itself (kept at its origin, not cloned)."""
    findings: list[Finding] = []
    for source, target in mapping.items():
        at: Loc = ("mirrors", name, source)
        both_exact = not source.endswith("/") and not target.endswith("/")
        if name == "git" and both_exact and (_host_root(source) or _host_root(target)):
            # As an exact repository, https://github.com matches no clone URL: the build would go to GitHub.
            findings.append(
                (
                    at,
                    f"'{source}' is a whole host, not one repository: write the prefix rewrite with a trailing '/' "
                    f'("{source.rstrip("/")}/": "{target.rstrip("/")}/")',
                )
            )
        elif source.endswith("/") != target.endswith("/"):
            findings.append(
                (
                    at,
                    f"'{source}' and '{target}' must both end with '/' (a prefix rewrite) or both not "
                    "(an exact repository)",
                )
            )
        elif source == target and not any(g.endswith("/") and source.startswith(g) for g in keep_under or {}):
            findings.append((at, f"'{source}' is mapped to itself: remove the entry"))
    return findings


def _check_apt(spec: Spec, release: Release | None) -> list[Finding]:
    if release is None:
        return []
    from mobyci.specmodel.apt import apt_problem

    problem = apt_problem(spec.mirrors, release)
    return [] if problem is None else [(("mirrors", "apt"), problem)]


def _check_outputs(spec: Spec) -> list[Finding]:
    # Two outputs on one file: `--all` would write it twice and `--all --check` would find it stale forever.
    seen: dict[str, str] = {}
    findings: list[Finding] = []
    for kind, path in spec.outputs.as_dict().items():
        if path is None:
            continue
        key = posixpath.normpath(path.replace("\\", "/"))
        if key in seen:
            findings.append(
                (
                    ("outputs", kind),
                    f"'{path}' is already the file of outputs.{seen[key]}: give each output its own file",
                )
            )
        seen.setdefault(key, kind)
    return findings


def _check_goproxy(spec: Spec, release: Release | None) -> list[Finding]:
    """A `|` in a GOPROXY list for a release whose Go reads only `,` lists (before Go 1.15)."""
    goproxy = spec.mirrors.goproxy
    if goproxy is None or "|" not in goproxy or release is None:
        return []
    from mobyci.families import facts as table
    from mobyci.families.pins import go_key

    facts = release.facts
    if facts is not None:
        if go_key(facts.go_version) >= go_key("1.15"):
            return []
        builds = f"{facts.tag} builds with Go {facts.go_version} (Dockerfile:{facts.go_line})"
    else:
        # A branch or commit: every release of its family (or of the version it names) the table knows.
        want = release.version
        gos = sorted(
            {
                r.go_version
                for r in table.table().releases.values()
                if r.family == release.family.name
                and (want is None or all(w is None or w == h for w, h in zip(want, r.version, strict=True)))
            },
            key=go_key,
        )
        if not gos or go_key(gos[-1]) >= go_key("1.15"):
            return []
        what = f"moby {want}" if want is not None else f"family {release.family.name}"
        span = gos[0] if gos[0] == gos[-1] else f"{gos[0]} to {gos[-1]}"
        builds = f"{what} builds with Go {span} (its releases' Dockerfiles)"
    return [
        (
            ("mirrors", "goproxy"),
            f"{builds}, which fails on '|' in "
            "GOPROXY (invalid character \"|\" in host name): Go 1.15 added the '|' separator "
            f"(https://go.dev/doc/go1.15#go-command); write the ',' form, {goproxy.replace('|', ',')} (',' falls "
            "through to the next entry only on a 404 or 410 answer)",
        )
    ]


def git_auth_prefixes(spec: Spec) -> list[str]:
    """The git mirror URLs (https/http targets of mirrors.git) that mirrors.git_auth logs in to."""
    targets = [target for target in spec.mirrors.git.values() if target.startswith(("https://", "http://"))]
    return sorted(dict.fromkeys(targets))


def _check_logins(spec: Spec) -> list[Finding]:
    findings: list[Finding] = []
    if spec.mirrors.git_auth is not None and not git_auth_prefixes(spec):
        findings.append(
            (
                ("mirrors", "git_auth"),
                "only applies to https git mirrors: add one to mirrors.git, or remove this key (an ssh mirror logs "
                "in with the runner's own key)",
            )
        )
    if spec.mirrors.registry_auth is not None and spec.mirrors.registry is None:
        findings.append(
            (("mirrors", "registry_auth"), "only applies with mirrors.registry: set the mirror or remove this key")
        )
    return findings


def login_warnings(spec: Spec, release: Release) -> list[Finding]:
    """What a login cannot reach: moby's own Docker build has no build secret to carry it."""
    warnings: list[Finding] = []
    if spec.mirrors.git_auth is not None:
        warnings.append(
            (
                ("mirrors", "git_auth"),
                "used by the pipeline's own clones only; the git clones inside moby's Docker build (Dockerfile, "
                "hack/dockerfile/install/*.installer) cannot carry credentials without a build secret, so the "
                "mirror must serve those repositories without a login (docs/mirrors.md)",
            )
        )
    if spec.mirrors.registry_auth is not None:
        where = (
            "by BuildKit in the build jobs"
            if release.family.build_style == "bake"
            else f"nowhere in family {release.family.name}: mobyci logs in only in the bake build jobs of families "
            "23.0 and later"
        )
        warnings.append(
            (
                ("mirrors", "registry_auth"),
                f"the login is used {where}; the frozen-image download inside moby's Docker build cannot carry it "
                "(no build secret), so the mirror must serve those images without a login (docs/mirrors.md)",
            )
        )
    return warnings


# Placeholders that mobyci's own starter specs (templates/init/*.yaml) ask the user to replace.
_PLACEHOLDER_RE = re.compile(r"YOUR[-_][A-Z]+")


def _apt_text(apt: str | AptMirrors | None) -> str | None:
    """mirrors.apt as one text: a mapping's URLs joined."""
    if isinstance(apt, AptMirrors):
        return " ".join(url for url in apt.as_dict().values() if url)
    return apt


def _check_placeholders(spec: Spec) -> list[Finding]:
    mirrors = spec.mirrors
    values: list[tuple[Loc, str | None]] = [
        (("mirrors", "apt"), _apt_text(mirrors.apt)),
        (("mirrors", "registry"), mirrors.registry),
        (("mirrors", "goproxy"), mirrors.goproxy),
        (("mirrors", "alpine"), mirrors.alpine),
        (("mirrors", "pypi"), mirrors.pypi),
        (("proxy", "http"), spec.proxy.http),
        (("proxy", "https"), spec.proxy.https),
        (("moby", "repo"), spec.moby.repo),
        *((("mirrors", "git", key), f"{key} {value}") for key, value in mirrors.git.items()),
        *((("mirrors", "downloads", key), f"{key} {value}") for key, value in mirrors.downloads.items()),
    ]
    findings: list[Finding] = []
    for at, value in values:
        found = _PLACEHOLDER_RE.search(value or "")
        if found:
            findings.append(
                (
                    at,
                    f"{found.group()} is the starter spec's placeholder: put your own address here (or remove the key)",
                )
            )
    return findings


def _output_systems(spec: Spec) -> tuple[str, ...] | None:
    """The CI systems the spec renders for (its `outputs:`), or None when it does not say."""
    listed = spec.outputs.as_dict()
    entries = formats.FORMATS.values()
    written = {entry.system for entry in entries if listed.get(entry.outputs_key) is not None}
    named = tuple(system for system in formats.SYSTEMS if system in written)
    return named or None


def system_findings(spec: Spec, systems: tuple[str, ...] | None) -> list[Finding]:
    """What the CI systems in play refuse in the spec: the runners its jobs need, then each system's own findings.

    `systems`: the ones the spec renders for (`outputs:`) or the one `mobyci render --format` writes; None (the
    spec does not say): a runner on at least one system, and the default system's findings (what `mobyci render`
    writes without --format). Validate and render both ask here, so what render refuses, validate refused."""
    findings = runner_findings(spec, systems)
    for system in systems or (formats.DEFAULT,):
        findings += formats.ci_system(system).findings(spec)
    return findings


def runner_findings(spec: Spec, systems: tuple[str, ...] | None) -> list[Finding]:
    """Jobs that need a runner architecture the CI systems do not have (ci.<system>.runners).

    `systems`: each of them must have it; None (the spec does not say which it renders for): at least one, and
    `mobyci render` checks the one it renders (render.py)."""
    findings: list[Finding] = []
    for index, target in enumerate(spec.targets):
        for position, distro in built_distros(target.name, target.distros):
            if not distro.vendor.arm_only:
                continue
            image = distro.image("").rpartition(":")[0]
            every = formats.SYSTEMS
            have = {system for system in every if formats.ci_system(system).has_runner(spec, "arm")}
            missing = [s for s in systems if s not in have] if systems is not None else ([] if have else ["any"])
            if not missing:
                continue
            wanted = every if missing == ["any"] else missing
            fixes = ", ".join(formats.ci_system(system).runner_fix("arm") for system in wanted)
            findings.append(
                (
                    ("targets", index, "distros", position),
                    f"{distro.id} packages build in {image}, an image only for 32-bit arm, and no runner "
                    f"takes them: add {fixes} (a 32-bit arm runner, or an arm64 one whose CPU runs 32-bit code)",
                )
            )
    return findings


def unmirrored_distros(spec: Spec) -> list[Finding]:
    """Package images whose package manager reaches the distro's own hosts, behind mirrors: a warning each."""
    if not mirrors_in_use(spec.mirrors):
        return []
    findings: list[Finding] = []
    for index, target in enumerate(spec.targets):
        for position, distro_id in enumerate(target.distros or ()):
            distro = known_distro(distro_id)
            # A distro of no known vendor is refused by _check_targets.
            if distro is None or serving_setting(spec.mirrors, distro_id) is not None:
                continue
            archive = distro.archive
            via = " (through the proxy)" if spec.proxy.http or spec.proxy.https else " directly"
            fix = f"set {archive.setting}" if archive.setting else "allow those hosts through the firewall or proxy"
            if distro.vendor.debian_archive and spec.mirrors.apt is not None:
                fix = "mirrors.apt does not serve this release ('archive' serves archived releases only)"
            findings.append(
                (
                    ("targets", index, "distros", position),
                    f"no mirror for {distro_id}'s archive: its package image reaches {', '.join(archive.hosts)}{via}: "
                    f"{fix}",
                )
            )
    return findings


def warn_spec(spec: Spec, release: Release) -> list[Finding]:
    """What validates but will likely fail on a real runner: (key path, message), reported as warnings."""
    from mobyci.families.touchpoints import TOUCHPOINTS

    findings: list[Finding] = []
    git, downloads = spec.mirrors.git, spec.mirrors.downloads
    for url, where in TOUCHPOINTS[release.family.name].github_downloads:
        prefix = max((s for s in git if s.endswith("/") and url.startswith(s)), key=len, default=None)
        if prefix is None or any(url.startswith(s) for s in downloads):
            continue
        findings.append(
            (
                ("mirrors", "git", prefix),
                f"would rewrite the download {url} ({where}) to {git[prefix]}{url[len(prefix) :]}: GitHub's "
                "/archive/ and /releases/download/ layouts are not served by git mirrors (GitLab uses /-/archive/); "
                f"map it in mirrors.downloads (a longer prefix wins), e.g. '{url.rsplit('/', 1)[0]}/': your file "
                "mirror, or the same URL to keep it at GitHub through the proxy",
            )
        )
    findings += _apt_https_warning(spec, release)
    findings += _loopback_mirror_warning(spec, release)
    if spec.mirrors.gosumdb == "off":
        # `go help module-auth`: with GOSUMDB=off "the checksum database is not consulted, and all unrecognized
        # modules are accepted, at the cost of giving up the security guarantee of verified repeatable downloads".
        findings.append(
            (
                ("mirrors", "gosumdb"),
                "off: the build's `go install` steps accept whatever the Go proxy serves for modules outside a "
                "go.sum, unverified against any checksum database; name a checksum database your proxy serves "
                "instead ('sum.golang.org+<publickey> https://<its URL>') if you have one",
            )
        )
    findings += package_https_warnings(spec)
    findings += _package_go_warning(spec, release)
    return [(at, one_line(message)) for at, message in findings]


def _package_go_warning(spec: Spec, release: Release) -> list[Finding]:
    """Package jobs of a ref the facts table does not know (a branch, a commit, a newer tag): their Go is the
    packaging branch's, raised for the plugins it pins, because the engine's own Go is known only for the table's
    releases. A maintenance branch moves to newer Go (moby 25.0: ARG GO_VERSION=1.26.5 against packaging 27.x's
    1.22.12), and the package images' GOTOOLCHAIN=local makes Go refuse the newer code instead of fetching itself."""
    if release.facts is not None or not any(is_package(t.name) for t in spec.targets):
        return []
    return [
        (
            ("moby", "ref"),
            f"{spec.moby.ref} is not in mobyci's facts table, so its package jobs compile the engine with the Go of "
            f"docker-ce-packaging {release.packaging.branch} (`mobyci plan` shows which), not with the Go of its own "
            "Dockerfile (ARG GO_VERSION): if that is newer, the engine fails to compile in the package jobs; "
            "package a release tag mobyci knows",
        )
    ]


def _loopback_mirror_warning(spec: Spec, release: Release) -> list[Finding]:
    """A registry mirror on the runner's loopback, where a docker-container builder pulls through it.

    Such a builder is a container on the daemon's default network (docker/buildx v0.13.1
    driver/docker-container/driver.go:126-139: privileged, NetworkMode only when the `network` driver option is
    given), so 127.0.0.1 is the container's own loopback there: the engine reaches the mirror, the builder's pulls
    of the FROM images and the Dockerfile frontend do not."""
    host = urlsplit(spec.mirrors.registry).hostname if spec.mirrors.registry else None
    if host is None or not _loopback(host):
        return []
    bake = release.family.build_style == "bake"
    in_play = _output_systems(spec) or formats.SYSTEMS
    systems = [s for s in in_play if formats.ci_system(s).builder(spec, bake) == "container"]
    if not systems:
        return []
    return [
        (
            ("mirrors", "registry"),
            f"{host} is a loopback address: the runner's Docker daemon reaches it, but the {', '.join(systems)} "
            "build jobs pull (the FROM images, the Dockerfile frontend) in a docker-container BuildKit builder, a "
            "container whose loopback is its own: give the mirror an address or name that containers on the "
            "runner reach (the host's name or LAN address, or the docker0 bridge address)",
        )
    ]


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def package_https_warnings(spec: Spec) -> list[Finding]:
    """https distro mirrors of deb package images without tls.ca_certs: what their apt reaches instead."""
    from mobyci.families.packaging_data import (
        PACKAGE_HTTPS_CITE,
        http_form,
        plain_http_apt,
        serving_mirror,
        setting_value,
    )

    if spec.tls.ca_certs:
        return []
    by_key: dict[Loc, tuple[str, list[str]]] = {}
    for target in spec.targets:
        for _, distro in built_distros(target.name, target.distros):
            distro_id = distro.id
            if not plain_http_apt(distro_id, ca=False) or distro.archive.setting is None:
                continue
            url = serving_mirror(spec.mirrors, distro_id)
            if url is None or not url.startswith("https://"):
                continue
            by_key.setdefault(_key_path(distro.archive.setting), (url, []))[1].append(distro_id)
            ports_setting = distro.vendor.ports_setting
            ports = setting_value(spec.mirrors, ports_setting)
            if ports_setting is not None and ports is not None and ports.startswith("https://"):
                by_key.setdefault(_key_path(ports_setting), (ports, []))[1].append(distro_id)
    findings: list[Finding] = []
    for at, (url, distros) in by_key.items():
        plain = http_form(url)
        head = (
            f"the {', '.join(distros)} package image{'s' if len(distros) > 1 else ''} ha"
            f"{'ve' if len(distros) > 1 else 's'} no CA bundle before the Dockerfile's first `apt-get update && "
            f"apt-get install … curl` ({PACKAGE_HTTPS_CITE}), so apt there cannot verify {url}"
        )
        if plain is None:
            findings.append(
                (
                    at,
                    f"{head}, and its port is an https one: write the mirror's http URL, or name its CA in "
                    "tls.ca_certs",
                )
            )
            continue
        findings.append(
            (
                at,
                f"{head}: mobyci points it at {plain} instead (apt verifies the signed Release files, not the "
                "connection); the mirror must serve http too, or name its CA in tls.ca_certs to keep https",
            )
        )
    return findings


def _key_path(setting: str) -> Loc:
    """A `mirrors.…` spec key as the key path findings are located at."""
    return tuple(setting.split("."))


def _apt_https_warning(spec: Spec, release: Release) -> list[Finding]:
    from mobyci.families.touchpoints import TOUCHPOINTS
    from mobyci.specmodel.apt import apt_sources

    sources = apt_sources(spec.mirrors, release)
    plain_debian = [s for s in TOUCHPOINTS[release.family.name].apt_unhooked_stages if s != "base"]
    if sources is None or not plain_debian or not any(u.startswith("https://") for u in sources[:2]):
        return []
    if spec.tls.ca_certs:  # the CA rule writes a bundle into those stages (tls.ca_certs)
        return []
    return [
        (
            ("mirrors", "apt"),
            f"the {', '.join(plain_debian)} stage builds FROM a plain debian image, which has no ca-certificates: "
            "apt there cannot verify an https mirror. Serve it over http too (apt checks the signed Release files) "
            "and write the http URL, or name the mirror's CA in tls.ca_certs (it is then written into that stage)",
        )
    ]
