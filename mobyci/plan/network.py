"""The spec's ways past the firewall, as the Plan carries them for the views (report/): the mirrors, the proxy,
the CA of tls.ca_certs and the targets, compiled once where the Plan is built, so that nothing above the emitters
reads the spec itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from mobyci.families.targets import TargetName
    from mobyci.plan.model import Plan
    from mobyci.specmodel.compiled import Mirrors, Proxy


class Target(NamedTuple):
    """One target of the spec: its name and, for rpm/deb, the distros it packages for."""

    name: TargetName
    distros: tuple[str, ...] = ()


class Network(NamedTuple):
    mirrors: Mirrors  # the spec's mirrors block, as compiled (values as written: a CI variable stays a reference)
    proxy: Proxy
    ca_certs: tuple[str, ...]  # tls.ca_certs as written: files in the repository or CI variables
    targets: tuple[Target, ...]
    # The family's own apt mirror knob as the build jobs export it (plan/shell.py apt_env); empty: not set.
    apt_env: tuple[str, ...] = ()


def network_of(plan: Plan) -> Network:
    """The plan's Network; every plan build.py builds has one."""
    if plan.network is None:
        raise ValueError("a plan without its Network: build it with mobyci.plan.build.build_plan")
    return plan.network
