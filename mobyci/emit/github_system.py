"""GitHub Actions as mobyci knows it outside the emitter: settings, runner labels, findings, actions fetched.

The spec layers and the plan ask this object (through mobyci/formats.py `ci_system`); github.py writes the file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mobyci.formats import HOST_CA_PLACE, BaseSystem, Builder, builder_ca_place
from mobyci.specmodel.compiled import GitHub
from mobyci.specmodel.fields import var_ref_name
from mobyci.specmodel.references import variable_values

if TYPE_CHECKING:
    from mobyci.plan.model import Job, Plan
    from mobyci.specmodel.compiled import Spec

    Finding = tuple[tuple[str | int, ...], str]

# Every action pinned to the full commit of a release tag (a tag can be moved; a commit cannot). The comment
# names the tag so people and Dependabot can tell which release it is.
ACTIONS = {
    "checkout": ("actions/checkout", "3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "upload-artifact": ("actions/upload-artifact", "bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "download-artifact": ("actions/download-artifact", "3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
    "setup-buildx": ("docker/setup-buildx-action", "37fe631027851001ddb9b187196cc803df7f5f0e", "v4.3.0"),
    "login": ("docker/login-action", "4907a6ddec9925e35a0a9e82d7399ccc52663121", "v4.1.0"),
    # Puts ACTIONS_RUNTIME_TOKEN and the cache service URLs into the environment of later steps: buildx reads
    # them for `type=gha` caches, and GitHub gives them to actions only, not to `run:` steps. The commit moby's
    # own CI pins (docker-v29.7.2 .github/workflows/buildkit.yml).
    "github-runtime": ("crazy-max/ghaction-github-runtime", "04d248b84655b509d8c44dc1d6f990c879747487", "v4.0.0"),
}


def uses(action: str) -> str:
    repo, sha, _ = ACTIONS[action]
    return f"{repo}@{sha}"


def job_actions(plan: Plan, job: Job) -> tuple[str, ...]:
    """The actions (ACTIONS keys) a job of the workflow uses, in step order: github.py writes their steps from this."""
    uses_ca = bool(plan.ca_lines) and (job.docker or job.reads_ca)
    wanted = {
        # CA files committed to the repository are read from its checkout.
        "checkout": job.check_only or (uses_ca and bool(plan.ca_files)),
        "download-artifact": any(plan.job(need).artifacts for need in job.artifact_needs),
        "login": job.registry_login,
        "github-runtime": job.build_cache,
        "setup-buildx": job.docker,
        "upload-artifact": bool(job.artifacts),
    }
    return tuple(action for action, used in wanted.items() if used)


def settings_of(plan: Plan) -> GitHub:
    """The plan's ci.github block, typed."""
    if not isinstance(plan.settings, GitHub):
        raise TypeError(f"a plan for {plan.system} handed to the GitHub emitter")
    return plan.settings


def _secrets(spec: Spec) -> list[tuple[tuple[str | int, ...], str]]:
    """(spec key, value) of every value the workflow reads from a repository secret when it is a reference."""
    return [(at, value) for at, value in variable_values(spec) if at[:2] != ("proxy", "no_proxy")]


class _GitHub(BaseSystem):
    name = "github"
    title = "GitHub Actions"
    variables_title = "Repository secrets to create"
    runners_title = "GitHub runners"

    def settings(self, spec: Spec) -> GitHub:
        return spec.ci.github

    def has_runner(self, spec: Spec, arch: str) -> bool:
        return arch in spec.ci.github.runners

    def runner_fix(self, arch: str) -> str:
        return f"ci.github.runners: {{{arch}: [<runs-on label>]}}"

    def findings(self, spec: Spec) -> list[Finding]:
        # GitHub refuses secret names that start with GITHUB_ (its "Naming your secrets" rules).
        found: list[Finding] = []
        for at, value in _secrets(spec):
            name = var_ref_name(value)
            if name is not None and name.upper().startswith("GITHUB_"):
                found.append(
                    (
                        at,
                        f"the CI variable {name} cannot be a GitHub secret (names starting with GITHUB_ are "
                        "reserved): rename it here and in the repository secrets",
                    )
                )
        return found

    def builder(self, spec: Spec, bake: bool) -> Builder:
        # Every Docker job runs on the builder docker/setup-buildx-action creates (docker-container driver).
        return "container"

    def registry_mirror_where(self, plan: Plan) -> str:
        return "the BuildKit builder's config (buildkitd-config-inline)"

    def ca_variable_type(self, plan: Plan) -> str:
        return "a repository secret holding the PEM text"

    def ca_places(self, plan: Plan) -> tuple[str, ...]:
        # Every Docker job's builder is the one docker/setup-buildx-action creates (builder() above).
        return (builder_ca_place("docker/setup-buildx-action's builder"), f"{self.runners_title}: {HOST_CA_PLACE}")


SYSTEM = _GitHub()
