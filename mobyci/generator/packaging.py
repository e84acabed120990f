"""rpm/deb package jobs through docker/docker-ce-packaging (issue 8): being implemented."""

from __future__ import annotations

from mobyci.generator.plan import Job
from mobyci.schemas.load import LoadedSpec
from mobyci.schemas.spec import Target


def packaging_jobs(loaded: LoadedSpec, target: Target, build_args: tuple[str, ...]) -> list[Job]:
    """One job per distro of `target`; none until docker-ce-packaging support lands."""
    del loaded, target, build_args
    return []
