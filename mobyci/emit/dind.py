"""The docker-in-docker service a job's docker commands reach (GitLab's `dind` runner profile): its entrypoint,
which gives its daemon the MTU of the service's own network and makes it trust the CA of tls.ca_certs before the
image's own entrypoint starts it."""

from __future__ import annotations

from mobyci.plan.ca import HUB_HOSTS, READ_FUNCTION
from mobyci.plan.mirrors import registry_host

# The inner daemon's bridge defaults to an MTU of 1500 whatever the network the service sits on: where that is
# lower (GitLab.com's hosted runners: 1360 since 2026-05-13, gitlab-runner merge request 6737; OpenStack, VPNs),
# large packets of the builds' containers are dropped and their TLS connections hang. The service's own eth0 has
# the outer network's MTU; dockerd's --mtu gives it to the default bridge, which the builds' containers and the
# docker-container builder use. dockerd-entrypoint.sh takes arguments starting with `-` as dockerd's and adds its
# TLS flags (docker-library/docker dockerd-entrypoint.sh), as for the service's command alone.
_MTU = "mobyci_mtu=$(cat /sys/class/net/eth0/mtu 2>/dev/null) || mobyci_mtu=1500"
_START = 'exec dockerd-entrypoint.sh --mtu="$mobyci_mtu" "$@"'


def dind_script(mirror: str | None, env_names: tuple[tuple[str, str], ...]) -> str:
    """The dind service's entrypoint (sh -c): the MTU of the service's network, the CA when there is one, then the
    image's own entrypoint with the service's command as arguments. `mirror`: mirrors.registry; `env_names`:
    (service variable, CI variable) of each CA, none without tls.ca_certs."""
    if not env_names:
        return "\n".join(["set -eu", _MTU, _START])
    hosts = list(HUB_HOSTS)
    if mirror:
        hosts.append(registry_host(mirror))
    reads = " && ".join(f'mobyci_ca "${{{var}:-}}" {name}' for var, name in env_names)
    dirs = " ".join(f"/etc/docker/certs.d/{host}" for host in hosts)
    return "\n".join(
        [
            "set -eu",
            _MTU,
            READ_FUNCTION,
            # docker:dind has no /etc/docker until its daemon starts (nothing in its Dockerfiles makes it).
            "mkdir -p /etc/docker",
            # A file variable's file exists in the job's container only: the service needs the PEM text.
            f"{{ {reads}; }} > /etc/docker/mobyci-ca.crt || {{ echo 'mobyci: give the service the CA as PEM text "
            "(a CI variable of type Variable)' >&2; exit 1; }",
            # The daemon's Go TLS reads the system bundle (token servers such as auth.docker.io, git and https
            # ADD sources); certs.d is its per-registry setting.
            "cat /etc/docker/mobyci-ca.crt >> /etc/ssl/certs/ca-certificates.crt",
            f'for d in {dirs}; do mkdir -p "$d" && cp /etc/docker/mobyci-ca.crt "$d/ca.crt"; done',
            _START,
        ]
    )
