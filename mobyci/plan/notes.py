"""What `mobyci plan` and the file headers say about a plan: where each mirror, proxy and the CA are applied, and
the caveats of this spec on each CI system."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mobyci.load.reader import LoadedSpec
from mobyci.plan import ca
from mobyci.plan.model import Applied
from mobyci.plan.shell import apt_env

if TYPE_CHECKING:
    from mobyci.formats import CISystem


def ca_places(loaded: LoadedSpec) -> tuple[str, ...]:
    """Where the CA of tls.ca_certs is trusted, for `mobyci plan` (each CI system's own places are added by its
    emitter's notes)."""
    spec = loaded.spec
    if not spec.tls.ca_certs:
        return ()
    from mobyci.families.touchpoints import TOUCHPOINTS

    roots = TOUCHPOINTS[loaded.release.family.name].debian_roots
    return (
        f"prepare job: git (GIT_SSL_CAINFO={ca.TRUST_FILE}, the system roots plus the CA) and the patch "
        f"({ca.CA_FILE} copied into the tree as .mobyci/ca.crt)",
        f"check job: pip (PIP_CERT={ca.TRUST_FILE})",
        "moby's Dockerfile: stage"
        + ("s " if len(roots) > 1 else " ")
        + ", ".join(roots)
        + " (COPY + update-ca-certificates right after FROM) and every stage built on them",
        "GitLab dind: the docker-in-docker service (system bundle and /etc/docker/certs.d/<registry>/ca.crt)",
        "BuildKit builders mobyci creates: GitHub's docker/setup-buildx-action builder and the bake jobs' "
        "docker-container builder (buildkitd config ca = […] for Docker Hub and the mirror; appended to the "
        "builder container's system bundle for ADD of https and git URLs and other registries)",
        "GitLab shell runners, Buildkite agents, GitHub runners: the host's Docker daemon only through its own "
        "/etc/docker/certs.d/<registry>/ca.crt and system trust store (set by the runner's administrator)",
        *_package_image_places(loaded),
    )


def _package_image_places(loaded: LoadedSpec) -> tuple[str, ...]:
    """The package images of rpm/deb targets: the packaging patch's CA block after each FROM ${BUILD_IMAGE}."""
    from mobyci.families.targets import is_package
    from mobyci.plan.packagingca import CONTEXT_FILE, trust_store

    kinds = [t for t in loaded.spec.targets if is_package(t.name) and t.distros]
    return tuple(
        f"{t.name} package images (docker-ce-packaging {loaded.release.packaging.branch} "
        f"{t.name}/<distro>/Dockerfile): {trust_store(t.name)} right after FROM ${{BUILD_IMAGE}}, from "
        f"{t.name}/{CONTEXT_FILE} in the build context (packaging-sources job); their build containers too"
        for t in kinds
    )


def applied_mirrors(loaded: LoadedSpec, system: CISystem, rules: set[str]) -> tuple[Applied, ...]:
    """Every mirror and proxy of the spec, and where this system's pipeline applies it."""
    spec, release = loaded.spec, loaded.release
    mirrors, proxy = spec.mirrors, spec.proxy
    out: list[Applied] = []

    def rule(rule_id: str) -> str:
        return f"patch rule {rule_id}" if rule_id in rules else ""

    def joined(*parts: str) -> str:
        return "; ".join(part for part in parts if part)

    if mirrors.apt:
        from mobyci.spec.apt import describe

        knob = release.apt_build_arg
        out.append(
            Applied(
                "mirrors.apt",
                describe(mirrors, release),
                joined(
                    f"Debian {release.debian} packages in the dev image build",
                    f"{knob} in the build environment" if apt_env(loaded) else "",
                    *(rule(r) for r in sorted(rules) if r.startswith("apt-")),
                    "package jobs' apt through RUN_FLAGS" if any(t.name == "deb" for t in spec.targets) else "",
                ),
            )
        )
    for source, target in mirrors.git.items():
        out.append(
            Applied(
                "mirrors.git",
                f"{source} -> {target}",
                joined("the prepare and package jobs' clones", rule("git-host"), rule("git-insteadof")),
            )
        )
    if mirrors.git_auth:
        out.append(
            Applied("mirrors.git_auth", mirrors.git_auth.password, "Authorization header of the pipeline's own clones")
        )
    for source, target in mirrors.downloads.items():
        out.append(Applied("mirrors.downloads", f"{source} -> {target}", rule("downloads")))
    if mirrors.registry:
        daemon = system.registry_mirror_where(spec)
        out.append(Applied("mirrors.registry", mirrors.registry, joined(daemon, rule("registry"))))
    if mirrors.registry_auth:
        out.append(
            Applied(
                "mirrors.registry_auth",
                mirrors.registry_auth.password,
                "docker login in the build jobs" if release.family.build_style == "bake" else "not used (see validate)",
            )
        )
    if mirrors.goproxy:
        where = joined("GOPROXY of Go installs in the build", rule("goproxy"))
        out.append(Applied("mirrors.goproxy", mirrors.goproxy, where))
    if mirrors.alpine:
        out.append(Applied("mirrors.alpine", mirrors.alpine, system.alpine_where(spec)))
    if mirrors.pypi:
        dev_image = "the dev image's pip3 (PIP_INDEX_URL)" if "pypi" in rules else ""
        out.append(
            Applied("mirrors.pypi", mirrors.pypi, joined("pip index of the mobyci-check job", dev_image, rule("pypi")))
        )
    reaches = system.proxy_reaches(spec)
    for key, value in (("proxy.http", proxy.http), ("proxy.https", proxy.https)):
        if value:
            carried = "build args of every build" if proxy.mode == "build-args" else "ENV in the Dockerfile"
            out.append(Applied(key, value, joined(f"{carried}, the jobs' own clones and downloads", reaches)))
    return tuple(out)


# buildx added `create --buildkitd-config` in v0.13 (docker/buildx v0.13.0 commands/create.go:114); v0.12.1 knows
# only `--config` (commands/create.go:345). GitLab's dind jobs use the docker:<v>-cli image's own, newer buildx.
BUILDX_013 = (
    "the bake jobs create their BuildKit builder with `docker buildx create --buildkitd-config` (the registry "
    "mirror, the CA): the host's buildx must be 0.13 or newer, which added that flag (docker/buildx v0.13.0 "
    "commands/create.go:114; v0.12 knows only --config)"
)


def plan_notes(loaded: LoadedSpec) -> tuple[str, ...]:
    """The caveats of this spec on every CI system (each system adds its own: CISystem.notes)."""
    spec, release = loaded.spec, loaded.release
    notes: list[str] = []
    if release.version is None:
        notes.append(
            f"family {release.family.name} was given for ref {spec.moby.ref}; the patch script checks it "
            "against the checked-out tree"
        )
    if release.buildkit_git_sources and spec.mirrors.git:
        notes.append(
            "BuildKit `ADD …git` sources are fetched by the daemon: build-arg proxies do not reach them; the patch "
            "rewrites their URLs and the daemon needs the proxy (set in pipeline variables)"
        )
    return tuple(notes)
