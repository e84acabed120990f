"""The fetch inventory: every upstream endpoint a build reaches, where it comes from, and how it gets there.

Each endpoint takes one route:
- mirror: a mirror of the spec rewrites it (the patch rule that does it covers its file), or serves it;
- proxy: nothing rewrites it, the proxy carries it (its scheme has a proxy, its host is not in no_proxy);
- runner: the CI system's own machinery fetches it (job images pulled by the runner, GitHub actions); the
  runner's configuration decides, not the pipeline;
- skipped: the spec makes the build not fetch it (the frozen-image token request with registry_tokens: false);
- direct: nothing does, it leaves the firewall as is. `--strict` fails on these.

Tree endpoints come from a scan of the tree (families/fetchscan.py): the real one for `patch --check DIR`, the
stored list of the spec's release (or its nearest stored release) for `plan --fetches`.
"""

from __future__ import annotations

import fnmatch
import json
from functools import cache
from importlib import resources
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from mobyci.families.fetchscan import GO_PROXY, GO_SUMDB, Fetch
from mobyci.families.packaging_data import (
    CLI_REPO,
    EXTRA_SOURCES,
    PACKAGING_REPO,
    distro_archive,
    serving_mirror,
)
from mobyci.families.touchpoints import TOUCHPOINTS
from mobyci.families.versions import tag_version
from mobyci.load.reader import LoadedSpec
from mobyci.plan.fetchtls import Trust
from mobyci.plan.mirrors import rewrite_url
from mobyci.spec.compiled import Mirrors
from mobyci.spec.fields import gosumdb_url

ROUTES = ("mirror", "proxy", "runner", "skipped", "direct")
_DOCKER_HUB = "https://registry-1.docker.io"
# The public checksum database's hosts (`go help module-auth`: sum.golang.google.cn connects to sum.golang.org).
_PUBLIC_SUMDB_HOSTS = ("sum.golang.org", "sum.golang.google.cn")


def _registry_url(image: str) -> str:
    """The registry an image reference names: its first part when that is a host (a dot, a port, localhost), else
    Docker Hub."""
    first = image.split("/", 1)[0]
    on_hub = "/" not in image or ("." not in first and ":" not in first and first != "localhost")
    return _DOCKER_HUB if on_hub else f"https://{first}"


class Entry(NamedTuple):
    kind: str
    endpoint: str
    source: str  # file:line in the tree, or the job of the pipeline's own fetch
    route: str  # one of ROUTES
    via: str  # the mirror URL, the proxy key, or why it goes direct
    tls: bool = False  # the connection its client opens (to the mirror, when one serves it) is TLS
    ca: str = ""  # with tls.ca_certs, whether that client trusts the CA: one of fetchtls.TRUSTS
    ca_where: str = ""  # that client, and where it reads the CA


class Inventory(NamedTuple):
    ref: str
    system: str
    tree: str  # the stored release whose list this is, or the directory scanned
    exact: bool  # the list is the ref's own (a stored tag, or a real tree)
    caveat: str
    entries: tuple[Entry, ...]
    ca: bool = False  # the spec has tls.ca_certs: every TLS entry says whether its client trusts the CA

    @property
    def direct(self) -> tuple[Entry, ...]:
        return tuple(e for e in self.entries if e.route == "direct")

    @property
    def untrusted(self) -> tuple[Entry, ...]:
        """TLS fetches whose client does not trust the CA of tls.ca_certs (none without it)."""
        return tuple(e for e in self.entries if e.ca == "no")


@cache
def _stored() -> dict[str, list[list[object]]]:
    text = resources.files("mobyci.families").joinpath("fetches.json").read_text("utf-8")
    data: dict[str, list[list[object]]] = json.loads(text)
    return data


def stored_list(loaded: LoadedSpec) -> tuple[str, bool, list[Fetch]]:
    """(stored tag, whether it is the ref itself, its fetches): the ref's own list, else the nearest stored release
    of the same family."""
    data = _stored()
    ref = loaded.spec.moby.ref
    if ref in data:
        return ref, True, [Fetch(*row) for row in data[ref]]  # type: ignore[arg-type]
    family = loaded.release.family
    wanted = loaded.release.version
    candidates = [(tag, tag_version(tag)) for tag in data]
    same = [(tag, v) for tag, v in candidates if v is not None and family.contains(v)]

    def distance(item: tuple[str, object]) -> tuple[int, ...]:
        version = item[1]
        assert version is not None
        have = (version.major, version.minor or 0, version.patch or 0)  # type: ignore[attr-defined]
        if wanted is None:
            return tuple(-part for part in have)  # a branch or commit: the newest of the family
        want = (wanted.major, wanted.minor or 0, wanted.patch or 0)
        return tuple(abs(a - b) for a, b in zip(want, have, strict=True))

    tag = min(same, key=distance)[0]
    return tag, False, [Fetch(*row) for row in data[tag]]  # type: ignore[arg-type]


def plan_inventory(loaded: LoadedSpec, system: str) -> Inventory:
    """The inventory for `plan --fetches`: the stored list of the ref's release, plus the pipeline's own fetches."""
    tag, exact, fetches = stored_list(loaded)
    caveat = (
        ""
        if exact
        else f"{loaded.spec.moby.ref} has no stored list: this is the list of {tag}, the nearest stored release of "
        f"family {loaded.release.family.name}; `mobyci patch --check DIR` lists a checked-out tree exactly"
    )
    return build_inventory(loaded, system, fetches, tree=tag, exact=exact, caveat=caveat)


def build_inventory(
    loaded: LoadedSpec, system: str, fetches: list[Fetch], *, tree: str, exact: bool, caveat: str = ""
) -> Inventory:
    router = _Router(loaded, system)
    entries = [router.tree_entry(f) for f in fetches]
    entries += router.pipeline_entries()
    ca = bool(loaded.spec.tls.ca_certs)
    return Inventory(loaded.spec.moby.ref, system, tree, exact, caveat, tuple(entries), ca)


class _Router:
    def __init__(self, loaded: LoadedSpec, system: str) -> None:
        from mobyci.patch.rules import build_rules

        self.loaded = loaded
        self.spec = loaded.spec
        self.system = system
        self.rules = {rule.id: rule.files for rule in build_rules(loaded)}
        self.touchpoints = TOUCHPOINTS[loaded.release.family.name]
        self.trust = Trust(loaded, system)

    def _entry(
        self, kind: str, endpoint: str, source: str, route: str, via: str, url: str | None, client: str
    ) -> Entry:
        """An entry, marked: `url` is what `client` connects to (None: nothing is fetched)."""
        return Entry(kind, endpoint, source, route, via, *self.trust.mark(url, client))

    def _covered(self, rule_id: str, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in self.rules.get(rule_id, ()))

    def _proxy(self, url: str) -> str | None:
        """The proxy key that carries `url`, if any."""
        proxy = self.spec.proxy
        parts = urlsplit(url if "://" in url else f"https://{url}")
        host = parts.hostname or ""
        for entry in proxy.no_proxy:
            bare = entry.lstrip("*").split(":")[0]
            if not entry.startswith("$") and (
                host == bare.lstrip(".") or (bare.startswith(".") and host.endswith(bare))
            ):
                return None
        if parts.scheme == "https" and proxy.https:
            return "proxy.https"
        if parts.scheme == "http" and proxy.http:
            return "proxy.http"
        return None

    def _fallback(self, url: str, why: str) -> tuple[str, str]:
        key = self._proxy(url)
        if key is not None:
            return "proxy", f"{key} ({getattr(self.spec.proxy, key.split('.')[1])})"
        return "direct", why

    def tree_entry(self, fetch: Fetch) -> Entry:
        route, via = self._route(fetch)
        # Images are pulled by the daemon or builder, ADD sources fetched by BuildKit, the rest by the step.
        client = "builder-pull" if fetch.kind == "image" else "builder-add" if fetch.by == "builder" else "stage"
        url = self._contacted(fetch.kind, fetch.endpoint, route)
        return self._entry(fetch.kind, fetch.endpoint, f"{fetch.file}:{fetch.line}", route, via, url, client)

    def _contacted(self, kind: str, endpoint: str, route: str) -> str | None:
        """The URL the client of a tree fetch connects to: the mirror's when one serves it."""
        mirrors = self.spec.mirrors
        if route == "skipped":
            return None
        if kind in ("image", "frozen-image"):
            if route == "mirror" and mirrors.registry:
                return mirrors.registry
            return _registry_url(endpoint)
        if route != "mirror":
            return endpoint
        if kind in ("git", "download"):
            target = rewrite_url(endpoint, mirrors.git)
            if target != endpoint:
                return target
            source = _download_prefix(mirrors, endpoint)
            assert source is not None  # routed to a mirror: a prefix matched
            return mirrors.downloads[source] + endpoint[len(source) :]
        if kind == "registry":
            return mirrors.registry
        if kind == "apt":
            from mobyci.spec.apt import apt_sources

            sources = apt_sources(mirrors, self.loaded.release)
            return sources.debian if sources is not None else endpoint
        if kind in ("go-modules", "go-module"):
            return mirrors.goproxy
        if kind == "go-sumdb":
            return gosumdb_url(mirrors.gosumdb) if mirrors.gosumdb else endpoint
        return endpoint

    def _route(self, fetch: Fetch) -> tuple[str, str]:
        mirrors = self.spec.mirrors
        kind, endpoint, path = fetch.kind, fetch.endpoint, fetch.file
        target = rewrite_url(endpoint, mirrors.git) if kind in ("git", "download") else endpoint
        if target != endpoint and self._covered("git-host", path):
            # The git-host rule rewrites every URL of a covered file that a mirrors.git key matches.
            return "mirror", f"mirrors.git -> {target}"
        if kind == "git":
            why = "no mirrors.git rule matches it" if target == endpoint else f"no patch rule covers {path}"
            return self._fallback(endpoint, why)
        if kind == "download":
            source = _download_prefix(mirrors, endpoint)
            if source is not None and self._covered("downloads", path):
                return "mirror", f"mirrors.downloads -> {mirrors.downloads[source]}{endpoint[len(source) :]}"
            return self._fallback(endpoint, "no mirrors.downloads prefix matches it")
        if kind == "registry":
            if "auth." in endpoint:
                if mirrors.registry and not mirrors.registry_tokens:
                    return "skipped", "mirrors.registry_tokens: false (no token request)"
                return self._fallback(endpoint, "the frozen-image script asks it for Docker Hub tokens")
            if mirrors.registry:
                return "mirror", f"mirrors.registry -> {mirrors.registry}"
            return self._fallback(endpoint, "no mirrors.registry")
        if kind in ("image", "frozen-image"):
            return self._image(endpoint, frozen=kind == "frozen-image")
        if kind == "apt":
            if mirrors.apt:
                from mobyci.spec.apt import describe

                return "mirror", f"mirrors.apt -> {describe(mirrors, self.loaded.release)}"
            return self._fallback(endpoint, "no mirrors.apt")
        if kind == "go-modules":
            # A proxy URL in the tree: Go's default at a `go install` of the Dockerfile, which the goproxy rule's
            # ENV replaces, or a step's own `GOPROXY=` (v20.10.8 rootlesskit.installer:38), which it does not.
            if mirrors.goproxy and self._covered("goproxy", path):
                return "mirror", f"mirrors.goproxy -> {mirrors.goproxy}"
            why = f"{path} sets GOPROXY itself; no patch rule covers it" if mirrors.goproxy else "no mirrors.goproxy"
            return self._fallback(endpoint, why)
        if kind == "go-module":
            # `go install module@version` in a stage built on the base stage, whose ENV GOPROXY (patch rule
            # goproxy) it inherits; without it Go's default is proxy.golang.org (`go help environment`).
            if mirrors.goproxy:
                return "mirror", f"mirrors.goproxy -> {mirrors.goproxy}"
            return self._fallback(GO_PROXY, "no mirrors.goproxy (Go's default proxy.golang.org)")
        if kind == "go-sumdb":
            return self._sumdb()
        return self._fallback(endpoint, "unknown kind")

    def _sumdb(self) -> tuple[str, str]:
        """Where Go checks the sums of the modules a `go install m@v` fetches (`go help module-auth`)."""
        gosumdb = self.spec.mirrors.gosumdb
        if gosumdb == "off":
            return "skipped", "mirrors.gosumdb: off (no checksum verification)"
        url = gosumdb_url(gosumdb) if gosumdb else GO_SUMDB
        assert url is not None
        if urlsplit(url).hostname not in _PUBLIC_SUMDB_HOSTS:
            return "mirror", f"mirrors.gosumdb -> {url}"
        # A module proxy may serve the checksum database too: Go asks <proxy>/sumdb/<name>/supported first and
        # uses the proxy when it answers (Go modules reference, "Checksum database"); whether it does is the
        # proxy's, so the database's own host is what a firewall must allow otherwise.
        setting = "mirrors.gosumdb" if gosumdb else "no mirrors.gosumdb"
        return self._fallback(url, f"{setting}: Go asks {url} (unless mirrors.goproxy serves /sumdb/)")

    def _image(self, image: str, *, frozen: bool) -> tuple[str, str]:
        url = _registry_url(image)
        if url != _DOCKER_HUB:
            return self._fallback(url, f"{url.removeprefix('https://')} has no mirror")
        registry = self.spec.mirrors.registry
        if registry is None:
            return self._fallback(url, "no mirrors.registry")
        if frozen:
            return "mirror", f"mirrors.registry -> {registry} (patch rule registry)"
        if self.trust.builder == "container":
            # A docker-container builder pulls with its own buildkitd.toml, not the daemon's registry-mirrors.
            where = "the BuildKit builder's mirror config"
        else:
            where = {
                "gitlab": "the docker-in-docker service's --registry-mirror"
                if self.spec.ci.gitlab.runner == "dind"
                else "the shell runner's daemon.json, which you set",
                "buildkite": "the agents' daemon.json, which you set",
            }[self.system]
        return "mirror", f"mirrors.registry -> {registry} ({where})"

    def pipeline_entries(self) -> list[Entry]:
        spec, system = self.spec, self.system
        out: list[Entry] = []
        mirrors = spec.mirrors
        entry = self._entry

        def clone(job: str, url: str) -> None:
            target = rewrite_url(url, mirrors.git)
            if target != url:
                out.append(entry("git", url, job, "mirror", f"mirrors.git -> {target}", target, "job-git"))
            else:
                route = self._fallback(url, "no mirrors.git rule matches it")
                out.append(entry("git", url, job, *route, url, "job-git"))

        clone("prepare", spec.moby.repo)
        packages = [t for t in spec.targets if t.name in ("rpm", "deb")]
        if packages:
            from mobyci.plan.packaging import SOURCES_JOB

            clone(SOURCES_JOB, PACKAGING_REPO)
            clone(SOURCES_JOB, CLI_REPO)
            for component in EXTRA_SOURCES.get(self.loaded.release.packaging.branch, ()):
                clone(SOURCES_JOB, component.repo)
            out += self._package_entries(packages)
        pypi = "https://pypi.org/simple"
        if mirrors.pypi:
            out.append(
                entry(
                    "pypi", pypi, "mobyci-check", "mirror", f"mirrors.pypi -> {mirrors.pypi}", mirrors.pypi, "check-pip"
                )
            )
        else:
            route = self._fallback("https://pypi.org", "no mirrors.pypi")
            out.append(entry("pypi", pypi, "mobyci-check", *route, pypi, "check-pip"))
        hub = _DOCKER_HUB
        if system == "gitlab":
            gitlab = spec.ci.gitlab
            images = [f"docker:{gitlab.docker_version}-cli", "python:3.12-slim"]
            if gitlab.runner == "dind":
                images.append(f"docker:{gitlab.docker_version}-dind")
            for image in images:
                if gitlab.image_prefix:
                    via = f"ci.gitlab.image_prefix -> {gitlab.image_prefix}"
                    # A registry path: the runner pulls it over https.
                    out.append(
                        entry("image", image, "job images", "mirror", via, "https://" + gitlab.image_prefix, "runner")
                    )
                else:
                    via = "pulled by the runner from Docker Hub"
                    out.append(entry("image", image, "job images", "runner", via, hub, "runner"))
            if gitlab.runner == "dind":
                cdn = "https://dl-cdn.alpinelinux.org/alpine"
                where = "apk add (dind jobs)"
                if mirrors.alpine:
                    via = f"mirrors.alpine -> {mirrors.alpine}"
                    out.append(entry("alpine", cdn, where, "mirror", via, mirrors.alpine, "dind-apk"))
                else:
                    out.append(entry("alpine", cdn, where, *self._fallback(cdn, "no mirrors.alpine"), cdn, "dind-apk"))
        if system == "github":
            actions = "https://github.com/actions"
            out.append(entry("action", actions, "every job", "runner", "actions pinned by commit", actions, "runner"))
        return out

    def _package_entries(self, packages: list[Any]) -> list[Entry]:
        """The package images' own apt/dnf: the distro mirror the sources job writes into their Dockerfiles."""
        mirrors = self.spec.mirrors
        out: list[Entry] = []
        for target in packages:
            for distro in target.distros or ():
                job, mirror = f"{target.name}-{distro}", serving_mirror(mirrors, distro)
                kind = "apt" if target.name == "deb" else "dnf"
                archive = distro_archive(distro)
                for host in archive.hosts:
                    if mirror is not None and archive.setting is not None:
                        out.append(self._entry(kind, host, job, "mirror", archive.setting, mirror, "package-image"))
                    else:
                        url = f"{'https' if archive.tls else 'http'}://{host}"
                        route = self._fallback(url, f"no mirror for {distro}'s archive")
                        out.append(self._entry(kind, host, job, *route, url, "package-image"))
        return out


def _download_prefix(mirrors: Mirrors, url: str) -> str | None:
    """The longest mirrors.downloads prefix of `url`, if any."""
    return max((source for source in mirrors.downloads if url.startswith(source)), key=len, default=None)


def inventory_data(inventory: Inventory) -> dict[str, object]:
    return {
        "schema_version": 1,
        "ref": inventory.ref,
        "system": inventory.system,
        "tree": inventory.tree,
        "exact": inventory.exact,
        "caveat": inventory.caveat,
        "fetches": [entry._asdict() for entry in inventory.entries],
        "direct": len(inventory.direct),
        "tls": sum(entry.tls for entry in inventory.entries),
        "ca_certs": inventory.ca,
        "ca_untrusted": len(inventory.untrusted),
    }


def _tls_mark(entry: Entry) -> str:
    if not entry.tls:
        return ""
    if not entry.ca:
        return " [TLS]"
    return f" [TLS; CA {'NOT trusted' if entry.ca == 'no' else 'trusted'} by {entry.ca_where}]"


def _short(endpoint: str) -> str:
    """A digest shortened to 12 hex digits for people (JSON keeps it whole): an image line then fits 80 columns."""
    import re

    return re.sub(r"@sha256:([0-9a-f]{12})[0-9a-f]{52}", r"@sha256:\1…", endpoint)


def inventory_text(inventory: Inventory, width: int = 80) -> str:
    from mobyci.plan.view import layout

    tls = sum(e.tls for e in inventory.entries)
    untrusted = f", {len(inventory.untrusted)} whose client does not trust the CA" if inventory.ca else ""
    title = (
        f"Fetches of {inventory.ref} (list of {inventory.tree}; {len(inventory.entries)} endpoints, {tls} over TLS"
        f"{untrusted})"
    )
    lines = [title]
    if inventory.caveat:
        lines += layout([("note", inventory.caveat)], width)
    lines.append("")
    for route in ROUTES:
        rows = [
            (e.kind, f"{_short(e.endpoint)} ({e.source}): {e.via}{_tls_mark(e)}")
            for e in inventory.entries
            if e.route == route
        ]
        if rows:
            lines.append(f"{route} ({len(rows)})")
            lines += layout(rows, width)
            lines.append("")
    return "\n".join(lines)
