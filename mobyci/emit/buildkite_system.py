"""Buildkite as mobyci knows it outside the emitter: settings, runner queues, notes, the builder.

The spec layers and the plan ask this object (through mobyci/formats.py `ci_system`); buildkite.py writes the file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mobyci.formats import BaseSystem, Builder
from mobyci.specmodel.compiled import Buildkite

if TYPE_CHECKING:
    from mobyci.load.reader import LoadedSpec
    from mobyci.plan.model import Plan
    from mobyci.specmodel.compiled import Spec


def settings_of(plan: Plan) -> Buildkite:
    """The plan's ci.buildkite block, typed."""
    if not isinstance(plan.settings, Buildkite):
        raise TypeError(f"a plan for {plan.system} handed to the Buildkite emitter")
    return plan.settings


class _Buildkite(BaseSystem):
    name = "buildkite"
    title = "Buildkite"
    jobs_title = "Steps"
    variables_title = "Agent environment variables or Buildkite secrets to create"
    runners_title = "Buildkite agents"

    def settings(self, spec: Spec) -> Buildkite:
        return spec.ci.buildkite

    def has_runner(self, spec: Spec, arch: str) -> bool:
        return arch in spec.ci.buildkite.runners

    def runner_fix(self, arch: str) -> str:
        return f"ci.buildkite.runners: {{{arch}: <agent queue>}}"

    def notes(self, loaded: LoadedSpec) -> tuple[str, ...]:
        from mobyci.plan.caveats import BUILDX_013

        spec = loaded.spec
        if loaded.release.family.build_style != "bake":
            return ()
        if spec.ci.buildkite.cache is None:
            return (
                "Buildkite: no build cache for the bake jobs (ci.buildkite.cache is unset): every stage is built "
                "each time, on the agents' own builder",
            )
        if spec.mirrors.registry or spec.tls.ca_certs:
            return (f"Buildkite agents: {BUILDX_013}",)
        return ()

    def builder(self, spec: Spec, bake: bool) -> Builder:
        # Only a cached bake job gets a docker-container builder (the agents' own daemon cannot export a cache).
        return "container" if bake and spec.ci.buildkite.cache is not None else "host"

    def registry_mirror_where(self, plan: Plan) -> str:
        return "not set: each agent's daemon.json must list it"

    def has_check_job(self, spec: Spec) -> bool:
        # A Buildkite pipeline is often rendered and piped to `pipeline upload` at each build: then no file is
        # committed, and there is nothing for a check step to compare. GitLab and GitHub read committed files.
        return any(spec.outputs.as_dict().values())

    def ca_variable_type(self, plan: Plan) -> str:
        return "a file path on the agent or the PEM text"

    def own_variables(self, plan: Plan) -> tuple[tuple[str, str], ...]:
        from mobyci.plan.model import DEV_IMAGE_VAR

        if not any(job.registry_login for job in plan.jobs):
            return ()
        # Buildkite has no registry of its own to name: the steps that share the dev image stop without it.
        return ((DEV_IMAGE_VAR, "the dev image's repository, on a registry the agents are logged in to"),)


SYSTEM = _Buildkite()
