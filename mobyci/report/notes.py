"""What `mobyci plan` says about a plan beside its jobs: where each mirror, proxy and the CA are applied (the
caveats the file headers carry too are the plan's own: plan/caveats.py). A reading of the Plan (its Network: the
mirrors, proxy, CA entries and targets as the spec wrote them) and its CI system's object, never of the spec."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from mobyci.formats import ci_system
from mobyci.plan import ca
from mobyci.plan.network import network_of

if TYPE_CHECKING:
    from mobyci.plan.model import Plan


class Applied(NamedTuple):
    """One mirror or proxy of the spec and where the pipeline applies it, as people read it in `mobyci plan`."""

    key: str  # the spec key (mirrors.apt, proxy.http)
    value: str  # as written in the spec (a CI variable reference stays a reference)
    where: str


def ca_places(plan: Plan) -> tuple[str, ...]:
    """Where the CA of tls.ca_certs is trusted, for `mobyci plan`: the plan's own jobs and patched stages, then
    the daemons and builders of its CI system (CISystem.ca_places)."""
    if not network_of(plan).ca_certs:
        return ()
    from mobyci.families.touchpoints import TOUCHPOINTS

    roots = TOUCHPOINTS[plan.release.family.name].debian_roots
    check = any(job.check_only for job in plan.jobs)
    return (
        f"prepare job: git (GIT_SSL_CAINFO={ca.TRUST_FILE}, the system roots plus the CA) and the patch "
        f"({ca.CA_FILE} copied into the tree as .mobyci/ca.crt)",
        *((f"check job: pip (PIP_CERT={ca.TRUST_FILE})",) if check else ()),
        "moby's Dockerfile: stage"
        + ("s " if len(roots) > 1 else " ")
        + ", ".join(roots)
        + " (COPY + update-ca-certificates right after FROM) and every stage built on them",
        *ci_system(plan.system).ca_places(plan),
        *_package_image_places(plan),
    )


def _package_image_places(plan: Plan) -> tuple[str, ...]:
    """The package images of rpm/deb targets: the packaging patch's CA block after each FROM ${BUILD_IMAGE}."""
    from mobyci.families.targets import is_package
    from mobyci.plan.packagingca import CONTEXT_FILE, trust_store

    kinds = [t for t in network_of(plan).targets if is_package(t.name) and t.distros]
    return tuple(
        f"{t.name} package images (docker-ce-packaging {plan.release.packaging.branch} "
        f"{t.name}/<distro>/Dockerfile): {trust_store(t.name)} right after FROM ${{BUILD_IMAGE}}, from "
        f"{t.name}/{CONTEXT_FILE} in the build context (packaging-sources job); their build containers too"
        for t in kinds
    )


def applied_mirrors(plan: Plan) -> tuple[Applied, ...]:
    """Every mirror and proxy of the spec, and where the plan's system's pipeline applies it."""
    network, release, system = network_of(plan), plan.release, ci_system(plan.system)
    mirrors, proxy = network.mirrors, network.proxy
    rules = {r.id for r in plan.rewrites}
    out: list[Applied] = []

    def rule(rule_id: str) -> str:
        return f"patch rule {rule_id}" if rule_id in rules else ""

    def joined(*parts: str) -> str:
        return "; ".join(part for part in parts if part)

    if mirrors.apt:
        from mobyci.specmodel.apt import describe

        knob = release.apt_build_arg
        out.append(
            Applied(
                "mirrors.apt",
                describe(mirrors, release),
                joined(
                    f"Debian {release.debian} packages in the dev image build",
                    f"{knob} in the build environment" if network.apt_env else "",
                    *(rule(r) for r in sorted(rules) if r.startswith("apt-")),
                    "package jobs' apt through RUN_FLAGS" if any(t.name == "deb" for t in network.targets) else "",
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
        daemon = system.registry_mirror_where(plan)
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
        out.append(Applied("mirrors.alpine", mirrors.alpine, system.alpine_where(plan)))
    if mirrors.pypi:
        dev_image = "the dev image's pip3 (PIP_INDEX_URL)" if "pypi" in rules else ""
        out.append(
            Applied("mirrors.pypi", mirrors.pypi, joined("pip index of the mobyci-check job", dev_image, rule("pypi")))
        )
    reaches = system.proxy_reaches(plan)
    for key, value in (("proxy.http", proxy.http), ("proxy.https", proxy.https)):
        if value:
            carried = "build args of every build" if proxy.mode == "build-args" else "ENV in the Dockerfile"
            out.append(Applied(key, value, joined(f"{carried}, the jobs' own clones and downloads", reaches)))
    return tuple(out)
