"""The fetch inventory: every upstream endpoint a build reaches, where it comes from, and how it gets there.

Each endpoint takes one route:
- mirror: a mirror of the spec rewrites it (the patch rule that does it covers its file), or serves it;
- internal: its host is one proxy.no_proxy names (the spec says it is inside the firewall), or the CI instance's
  own registry (the build cache);
- proxy: nothing rewrites it, the proxy carries it (its scheme has a proxy, its host is not in no_proxy);
- runner: the CI system's own machinery fetches it (job images pulled by the runner, GitHub actions); the
  runner's configuration decides, not the pipeline;
- skipped: the spec makes the build not fetch it (the frozen-image token request with registry_tokens: false);
- direct: nothing does, it leaves the firewall as is. `--strict` fails on these.
A tree endpoint of a stage the spec's targets never build is marked not built (families/stagetargets.py): listed
with its route, not judged by `--strict`.

Tree endpoints come from a scan of the tree (families/fetchscan.py): the real one for `patch --check DIR`, the
stored list of the plan's release (or its nearest stored release) for `plan --fetches`. The pipeline's own
endpoints are read from the Plan the pipeline is rendered from (the caller builds it, with its patch script): each
job's record of what its script fetches (Job.fetches) and what the CI system's runner pulls for it, which the
system's emitter module reads from its own rendered document (`runner_fetches(plan)`). Routes read the Plan's
Network (the spec's mirrors, proxy, CA entries and targets, as the Plan carries them) and its patch rules
(Plan.rewrites): nothing here reads the spec or re-derives the pipeline from it.
"""

from __future__ import annotations

import fnmatch
import importlib
import json
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from mobyci.families import stagegraph
from mobyci.families.fetchscan import GO_PROXY, GO_SUMDB, Fetch
from mobyci.families.packaging_data import (
    distro_archive,
    package_image_mirror,
)
from mobyci.families.stagetargets import built_fetches
from mobyci.families.touchpoints import TOUCHPOINTS
from mobyci.families.versions import tag_version
from mobyci.patch.rules import under_git_prefix
from mobyci.plan.mirrors import rewrite_url
from mobyci.plan.model import Fetched, Plan, RunnerFetches
from mobyci.plan.network import network_of
from mobyci.report.fetchtls import Trust
from mobyci.report.inventory import Entry, Inventory
from mobyci.specmodel.fields import gosumdb_url

if TYPE_CHECKING:
    from mobyci.specmodel.compiled import Mirrors

_DOCKER_HUB = "https://registry-1.docker.io"
# The public checksum database's hosts (`go help module-auth`: sum.golang.google.cn connects to sum.golang.org).
_PUBLIC_SUMDB_HOSTS = ("sum.golang.org", "sum.golang.google.cn")


def _registry_url(image: str) -> str:
    """The registry an image reference names: its first part when that is a host (a dot, a port, localhost), else
    Docker Hub."""
    first = image.split("/", 1)[0]
    on_hub = "/" not in image or ("." not in first and ":" not in first and first != "localhost")
    return _DOCKER_HUB if on_hub else f"https://{first}"


@cache
def _stored() -> dict[str, list[list[object]]]:
    text = resources.files("mobyci.families").joinpath("fetches.json").read_text("utf-8")
    data: dict[str, list[list[object]]] = json.loads(text)
    return data


def stored_list(plan: Plan) -> tuple[str, bool, list[Fetch]]:
    """(stored tag, whether it is the ref itself, its fetches): the ref's own list, else the nearest stored release
    of the same family."""
    data = _stored()
    ref = plan.ref
    if ref in data:
        return ref, True, [Fetch(*row) for row in data[ref]]  # type: ignore[arg-type]
    family = plan.release.family
    wanted = plan.release.version
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


def plan_inventory(plan: Plan) -> Inventory:
    """The inventory for `plan --fetches`: the stored list of the ref's release, plus the pipeline's own fetches.
    `plan`: the one its pipeline is rendered from (emit/render.py `pipeline_plan`)."""
    tag, exact, fetches = stored_list(plan)
    caveat = (
        ""
        if exact
        else f"{plan.ref} has no stored list: this is the list of {tag}, the nearest stored release of "
        f"family {plan.release.family.name}; `mobyci patch --check DIR` lists a checked-out tree exactly"
    )
    graph = stagegraph.stored(tag)
    return build_inventory(plan, fetches, tree=tag, exact=exact, caveat=caveat, graph=graph)


def build_inventory(
    plan: Plan,
    fetches: list[Fetch],
    *,
    tree: str,
    exact: bool,
    caveat: str = "",
    graph: stagegraph.Graph | None = None,
) -> Inventory:
    """The inventory of `fetches` (a tree's) and of the pipeline's own, on `plan`: the plan the pipeline is rendered
    from, with its patch script (emit/render.py `pipeline_plan`), for the system it names."""
    from mobyci.formats import FORMATS

    # The system's emitter module reads its own rendered document: what its runner pulls, who pulls the rest.
    view: RunnerFetches = importlib.import_module(FORMATS[plan.system].module).runner_fetches(plan)
    router = _Router(plan, view, _tree_puller(plan, view))
    network = network_of(plan)
    style, targets = plan.release.family.build_style, [t.name for t in network.targets]
    built = built_fetches(graph, [f.file for f in fetches], style, targets) if graph else [True] * len(fetches)
    entries = [router.tree_entry(f)._replace(built=b) for f, b in zip(fetches, built, strict=True)]
    entries += router.pipeline_entries(plan)
    return Inventory(plan.ref, plan.system, tree, exact, caveat, tuple(entries), bool(network.ca_certs))


def _tree_puller(plan: Plan, view: RunnerFetches) -> str:
    """Who pulls the moby tree's images and runs its ADDs: the builder of the jobs that build moby (the prepare
    job's dev image on 19.03, else the target jobs): a docker-container builder they create, the docker-in-docker
    service, or the runner's own daemon."""
    # Package jobs (which record their own image fetches) build packages from the patched tree, not moby's image.
    moby = [job.name for job in plan.jobs if job.dev_image == "push" or (job.stage == "build" and not job.fetches)]
    if any(name in view.builders for name in moby):
        return "container"
    if any(name in view.dind for name in moby):
        return "dind"
    return "host"


# The image `docker buildx create --driver docker-container` runs: buildx v0.13.1 driver/docker-container/driver.go:89
# `imageName := bkimage.DefaultImage`, driver/bkimage/bkimage.go:4 `DefaultImage = "moby/buildkit:buildx-stable-1"`
# (the same at v0.36.1); setup-buildx-action creates its builder through buildx the same way.
BUILDKIT_IMAGE = "moby/buildkit:buildx-stable-1"


class _Router:
    def __init__(self, plan: Plan, view: RunnerFetches, puller: str) -> None:
        self.release = plan.release
        self.network = network = network_of(plan)
        self.mirrors, self.proxy = network.mirrors, network.proxy
        self.view = view
        self.puller = puller
        # The files each patch rule covers, as the plan lists its rules (the rules the patch script runs).
        self.rules = {rule.id: rule.files for rule in plan.rewrites}
        self.touchpoints = TOUCHPOINTS[plan.release.family.name]
        self.trust = Trust(network, puller)

    def _entry(
        self, kind: str, endpoint: str, source: str, route: str, via: str, url: str | None, client: str
    ) -> Entry:
        """An entry, marked: `url` is what `client` connects to (None: nothing is fetched)."""
        return Entry(kind, endpoint, source, route, via, *self.trust.mark(url, client))

    def _covered(self, rule_id: str, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in self.rules.get(rule_id, ()))

    def _inside(self, url: str) -> str | None:
        """The proxy.no_proxy entry that names `url`'s host: the spec says it is reached without the proxy, inside."""
        host = urlsplit(url if "://" in url else f"https://{url}").hostname or ""
        for entry in self.proxy.no_proxy:
            bare = entry.lstrip("*").split(":")[0]
            if not entry.startswith("$") and (
                host == bare.lstrip(".") or (bare.startswith(".") and host.endswith(bare))
            ):
                return entry
        return None

    def _proxy(self, url: str) -> str | None:
        """The proxy key that carries `url`, if any."""
        proxy = self.proxy
        parts = urlsplit(url if "://" in url else f"https://{url}")
        if self._inside(url) is not None:
            return None
        if parts.scheme == "https" and proxy.https:
            return "proxy.https"
        if parts.scheme == "http" and proxy.http:
            return "proxy.http"
        return None

    def _fallback(self, url: str, why: str) -> tuple[str, str]:
        inside = self._inside(url)
        if inside is not None:
            return "internal", f"proxy.no_proxy names it ({inside}): a host inside the firewall"
        key = self._proxy(url)
        if key is not None:
            return "proxy", f"{key} ({getattr(self.proxy, key.split('.')[1])})"
        return "direct", why

    def tree_entry(self, fetch: Fetch) -> Entry:
        route, via = self._route(fetch)
        # Images are pulled by the daemon or builder, ADD sources fetched by BuildKit, the rest by the step.
        client = "builder-pull" if fetch.kind == "image" else "builder-add" if fetch.by == "builder" else "stage"
        url = self._contacted(fetch.kind, fetch.endpoint, route)
        return self._entry(fetch.kind, fetch.endpoint, f"{fetch.file}:{fetch.line}", route, via, url, client)

    def _contacted(self, kind: str, endpoint: str, route: str) -> str | None:
        """The URL the client of a tree fetch connects to: the mirror's when one serves it."""
        mirrors = self.mirrors
        if route == "skipped":
            return None
        if kind in ("image", "frozen-image"):
            if route == "mirror" and mirrors.registry:
                return mirrors.registry
            return _registry_url(endpoint)
        if route != "mirror":
            return endpoint
        if kind in ("git", "download"):
            owner = url_owner(mirrors, endpoint)
            assert owner is not None  # routed to a mirror: a key matched
            return owner[2]
        if kind == "registry":
            return mirrors.registry
        if kind == "apt":
            from mobyci.specmodel.apt import apt_sources

            sources = apt_sources(mirrors, self.release)
            return sources.debian if sources is not None else endpoint
        if kind in ("go-modules", "go-module"):
            return mirrors.goproxy
        if kind == "go-sumdb":
            return gosumdb_url(mirrors.gosumdb) if mirrors.gosumdb else endpoint
        return endpoint

    def _route(self, fetch: Fetch) -> tuple[str, str]:
        mirrors = self.mirrors
        kind, endpoint, path = fetch.kind, fetch.endpoint, fetch.file
        if kind in ("git", "download"):
            return self._rewritten(kind, endpoint, path)
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
                from mobyci.specmodel.apt import describe

                return "mirror", f"mirrors.apt -> {describe(mirrors, self.release)}"
            return self._fallback(endpoint, "no mirrors.apt")
        if kind == "go-modules":
            # A proxy URL in the tree: Go's default at a `go install` of the Dockerfile, which the goproxy rule's
            # ENV replaces, or a step's own `GOPROXY=` (v20.10.8 rootlesskit.installer:38), which only the
            # goproxy-installer rule rewrites.
            if mirrors.goproxy and (self._covered("goproxy", path) or self._covered("goproxy-installer", path)):
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
        gosumdb = self.mirrors.gosumdb
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

    def _rewritten(self, kind: str, endpoint: str, path: str) -> tuple[str, str]:
        """A URL the patch may rewrite: the longest key of mirrors.git and mirrors.downloads owns it, as in the
        patch's single pass (patch/apply.py: the longest source wins; the git-host rule carries the downloads keys
        under its git prefixes), and the rule of that mapping must cover its file."""
        owner = url_owner(self.mirrors, endpoint)
        if owner is None:
            why = "no mirrors.git rule matches it" if kind == "git" else "no mirrors.downloads prefix matches it"
            return self._fallback(endpoint, why)
        setting, source, target = owner
        if setting == "git":
            rules: tuple[str, ...] = ("git-host",)
        else:
            rules = ("downloads", "git-host") if under_git_prefix(source, self.mirrors.git) else ("downloads",)
        if not any(self._covered(rule, path) for rule in rules):
            return self._fallback(endpoint, f"no patch rule covers {path}")
        if target == endpoint:
            # Mapped to itself (the seed's criu archive: GitHub's /archive/ layout, which a git mirror lacks).
            return self._fallback(endpoint, f"mirrors.{setting} keeps it at its upstream ({source})")
        return "mirror", f"mirrors.{setting} -> {target}"

    def _image(self, image: str, *, frozen: bool = False, puller: str = "") -> tuple[str, str]:
        url = _registry_url(image)
        host = url.removeprefix("https://")
        if url != _DOCKER_HUB:
            # mirrors.registry mirrors Docker Hub only: quay.io, registry.access.redhat.com, ghcr.io… go their way.
            return self._fallback(url, f"no mirror covers {host} (mirrors.registry mirrors Docker Hub only)")
        registry = self.mirrors.registry
        if registry is None and (frozen or (puller or self.puller) != "host" or self.view.daemon_mirror):
            return self._fallback(url, "no mirrors.registry")
        if frozen:
            return "mirror", f"mirrors.registry -> {registry} (patch rule registry)"
        return self._pulled(url, puller or self.puller)

    def _pulled(self, url: str, puller: str) -> tuple[str, str]:
        """The route of a Docker Hub image that `puller` pulls: a docker-container builder (its buildkitd.toml,
        not the daemon's registry-mirrors), the docker-in-docker service (its --registry-mirror) or the runner's
        own daemon (its daemon.json, which the pipeline cannot set)."""
        registry = self.mirrors.registry
        where = {
            "container": "the BuildKit builder's mirror config",
            "dind": "the docker-in-docker service's --registry-mirror",
            "host": self.view.daemon_mirror,
        }[puller]
        if not where:
            return "runner", f"the runner's own daemon pulls it from {url.removeprefix('https://')} directly"
        if registry is None:
            return self._fallback(url, "no mirrors.registry")
        return "mirror", f"mirrors.registry -> {registry} ({where})"

    def pipeline_entries(self, plan: Plan) -> list[Entry]:
        """The pipeline's own fetches: what each job it runs fetches itself (Job.fetches, recorded where the job is
        built), the BuildKit image of every builder it creates, its build caches, and what the CI system's runner
        pulls (job images, services, actions), read from the rendered document (RunnerFetches)."""
        view = self.view
        out: list[Entry] = []
        for job in plan.jobs:
            if job.name in view.jobs:
                for fetched in job.fetches:
                    out.append(self._job_fetch(job.name, fetched))
        builders = [name for name in view.jobs if name in view.builders]
        for puller in ("dind", "host"):
            jobs = [name for name in builders if (name in view.dind) == (puller == "dind")]
            if jobs:
                route = self._image(BUILDKIT_IMAGE, puller=puller)
                client = f"{puller}-pull" if route[0] != "runner" else "runner"
                out.append(self._entry("image", BUILDKIT_IMAGE, _jobs(jobs), *route, _DOCKER_HUB, client))
        for ref in dict.fromkeys(ref for _, ref in view.caches):
            jobs = [name for name, cached in view.caches if cached == ref]
            out.append(self._cache(ref, _jobs(jobs)))
        if view.dev_image:
            jobs = [job.name for job in plan.jobs if job.registry_login and job.name in view.jobs]
            out.append(self._dev_image(view.dev_image, _jobs(jobs)))
        apk = [name for name in view.jobs if name in view.apk]
        if apk:
            cdn, mirror = "https://dl-cdn.alpinelinux.org/alpine", self.mirrors.alpine
            route = ("mirror", f"mirrors.alpine -> {mirror}") if mirror else self._fallback(cdn, "no mirrors.alpine")
            out.append(self._entry("alpine", cdn, f"apk add ({_jobs(apk)})", *route, mirror or cdn, "dind-apk"))
        for fetch in view.fetches:
            kind = {"image": "job-image"}.get(fetch.kind, fetch.kind)
            if fetch.kind == "action":
                url = "https://github.com/" + fetch.ref.split("@", 1)[0]
                via = "fetched by the runner from github.com, pinned by commit"
                out.append(self._entry(kind, fetch.ref, _jobs(fetch.jobs), "runner", via, url, "runner"))
            elif fetch.through:
                # A registry path: the runner pulls it over https.
                url = "https://" + fetch.ref.split("/", 1)[0]
                via = f"{fetch.through} -> {fetch.ref}"
                out.append(self._entry(kind, fetch.ref, _jobs(fetch.jobs), "mirror", via, url, "runner"))
            else:
                url = _registry_url(fetch.ref)
                via = f"pulled by the runner from {'Docker Hub' if url == _DOCKER_HUB else url}"
                out.append(self._entry(kind, fetch.ref, _jobs(fetch.jobs), "runner", via, url, "runner"))
        return out

    def _job_fetch(self, job: str, fetched: Fetched) -> Entry:
        mirrors = self.mirrors
        kind, endpoint = fetched.kind, fetched.endpoint
        if kind == "git":
            target = rewrite_url(endpoint, mirrors.git)
            if target != endpoint:
                return self._entry("git", endpoint, job, "mirror", f"mirrors.git -> {target}", target, "job-git")
            route = self._fallback(endpoint, "no mirrors.git rule matches it")
            return self._entry("git", endpoint, job, *route, endpoint, "job-git")
        if kind == "pypi":
            if mirrors.pypi:
                via = f"mirrors.pypi -> {mirrors.pypi}"
                return self._entry("pypi", endpoint, job, "mirror", via, mirrors.pypi, "check-pip")
            route = self._fallback("https://pypi.org", "no mirrors.pypi")
            return self._entry("pypi", endpoint, job, *route, endpoint, "check-pip")
        if kind == "download":
            route = self._fallback(endpoint, "no mirror serves it")
            return self._entry("download", endpoint, job, *route, endpoint, "check-pip")
        if kind == "image":
            # `docker build` (a FROM, a frontend) is the job's builder's; `docker run` its daemon's.
            if fetched.how == "build" and job in self.view.builders:
                puller = "container"
            else:
                puller = "dind" if job in self.view.dind else "host"
            route = self._image(endpoint, puller=puller)
            url = self._pull_url(endpoint, route[0])
            client = f"{puller}-pull" if route[0] != "runner" else "runner"
            return self._entry("image", endpoint, job, *route, url, client)
        # apt/dnf: the package image's own manager, pointed at the distro mirror the sources job writes.
        distro, mirror = fetched.how, None
        archive = distro_archive(distro)
        mirror = package_image_mirror(mirrors, distro, ca=bool(self.network.ca_certs))
        if mirror is not None and archive.setting is not None:
            return self._entry(kind, endpoint, job, "mirror", archive.setting, mirror, "package-image")
        url = f"{'https' if archive.tls else 'http'}://{endpoint}"
        route = self._fallback(url, f"no mirror for {distro}'s archive")
        return self._entry(kind, endpoint, job, *route, url, "package-image")

    def _pull_url(self, image: str, route: str) -> str:
        registry = self.mirrors.registry
        return registry if route == "mirror" and registry else _registry_url(image)

    def _dev_image(self, ref: str, source: str) -> Entry:
        """The dev image's repository: the prepare job pushes it, the target jobs' daemons pull it."""
        if ref.startswith("$CI_REGISTRY"):
            via = "the CI instance's own registry (NO_PROXY names it): pushed by prepare, pulled by the build jobs"
            return self._entry("dev-image", ref, source, "internal", via, "https://" + ref, "runner")
        via = "a registry the runner's daemon is logged in to: pushed by prepare, pulled by the build jobs"
        url = "https://" + ref.split("/", 1)[0]
        return self._entry("dev-image", ref, source, "runner", via, url, "runner")

    def _cache(self, ref: str, source: str) -> Entry:
        """The build cache the builder imports and exports: the pipeline's registry, or the runner's cache service."""
        if ref == "gha":
            via = "the GitHub Actions cache service, reached by the builder through the runner's token"
            return self._entry("cache", "type=gha", source, "runner", via, "https://github.com", "runner")
        if ref.startswith("$"):
            via = "the CI instance's own registry (NO_PROXY names it): the builder pushes and pulls it"
            return self._entry("cache", ref, source, "internal", via, "https://" + ref, "container-pull")
        url = "https://" + ref.split("/", 1)[0]
        route = self._fallback(url, "the builder pushes and pulls it")
        return self._entry("cache", ref, source, *route, url, "container-pull")


def _jobs(names: Sequence[str]) -> str:
    """The jobs an entry is about, for its source column."""
    names = list(dict.fromkeys(names))
    return ", ".join(names) if len(names) <= 3 else f"{names[0]}, {names[1]} and {len(names) - 2} more jobs"


def url_owner(mirrors: Mirrors, url: str) -> tuple[str, str, str] | None:
    """(setting, key, rewritten URL) of the mirrors.git or mirrors.downloads key that rewrites `url`: the longest
    match wins, as in the patch (an exact mirrors.git key matches the whole URL); None when none matches."""
    found: list[tuple[int, str, str, str]] = []
    if url in mirrors.git and not url.endswith("/"):
        found.append((len(url), "git", url, mirrors.git[url]))
    for source, target in mirrors.git.items():
        if source.endswith("/") and url.startswith(source):
            found.append((len(source), "git", source, target + url[len(source) :]))
    for source, target in mirrors.downloads.items():
        if url.startswith(source):
            found.append((len(source), "downloads", source, target + url[len(source) :]))
    if not found:
        return None
    _, setting, source, target = max(found, key=lambda item: item[0])
    return setting, source, target
