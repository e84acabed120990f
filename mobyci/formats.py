"""Every output format mobyci writes, in one table: the CLI's choices, `outputs:` keys, the check job's command
line and validate's platform limits all read it. Adding a CI system is one entry here, its emitter module and its
`CISystem` object (the Protocol below) in a module beside the emitter.

Nothing here imports an emitter (they pull in the YAML writer) or a system object: an entry names their modules,
and `emitter()` / `ci_system()` import them when they are first needed. This module must stay cheap to import: the
fast path reads it. The shape is pre-commit's languages: one Protocol (`lang_base.Language`), one registry, and
everything one system knows in that system's own module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, Protocol

if TYPE_CHECKING:
    from mobyci.families import Release
    from mobyci.load.reader import LoadedSpec
    from mobyci.plan.model import Job, Plan
    from mobyci.specmodel.compiled import Spec

    Finding = tuple[tuple[str | int, ...], str]


class Limit(NamedTuple):
    """A number a CI system refuses to go past when it creates a pipeline, and what validate says about it.

    `what`: matrix_jobs (jobs one matrix creates), matrix_dimensions, matrix_values (values in one dimension),
    needs (jobs one job waits for) or jobs (jobs of one pipeline). `message` is formatted with count and most."""

    what: str
    most: int
    message: str


class Format(NamedTuple):
    name: str  # --format NAME
    system: str  # the CI system whose runners run it (a drop-in is its system's pipeline reshaped)
    module: str  # the emitter module; its `function` takes a Plan and returns the file's text
    function: str
    default_output: str  # where the file conventionally lives, relative to the repository root
    # The CI system's own settings block in the spec (ci.<settings>), and its limits; drop-ins share their system's.
    settings: str
    # Its `outputs.<key>` entry's description, for the spec's schema and `mobyci schema`.
    output_description: str
    # The class in mobyci/specmodel/model.py that declares the ci.<settings> block (drop-ins share their system's).
    settings_model: str
    limits: tuple[Limit, ...] = ()
    # The module whose `SYSTEM` is the CI system's object (CISystem); set on the system's own format only.
    system_module: str = ""

    @property
    def outputs_key(self) -> str:
        """The format's key under `outputs:` (gitlab-include -> gitlab_include)."""
        return self.name.replace("-", "_")


_GITLAB_LIMITS = (
    # GitLab CI/CD YAML reference: parallel:matrix ("at most 200 jobs") and needs ("at most 50 jobs").
    Limit(
        "matrix_jobs",
        200,
        "makes a matrix of {count} jobs; GitLab creates at most {most} jobs per parallel:matrix: list fewer platforms",
    ),
    Limit(
        "needs",
        50,
        "a job would need {count} jobs; GitLab allows at most {most} needs per job: build fewer targets or platforms",
    ),
)
_BUILDKITE_LIMITS = (
    # Buildkite build matrix docs (6 dimensions, 20 elements each) and service quotas (500 jobs per upload).
    Limit("matrix_dimensions", 6, "makes a matrix of {count} dimensions; a Buildkite matrix has at most {most}"),
    Limit(
        "matrix_values",
        20,
        "lists {count} values; a Buildkite matrix dimension holds at most {most}: list fewer platforms",
    ),
    Limit(
        "jobs",
        500,
        "the pipeline has {count} jobs; Buildkite creates at most {most} jobs per pipeline upload: build fewer "
        "targets or platforms",
    ),
)

_ENTRIES = (
    Format(
        "gitlab",
        "gitlab",
        "mobyci.emit.gitlab",
        "render_gitlab",
        ".gitlab-ci.yml",
        "gitlab",
        "GitLab pipeline, usually .gitlab-ci.yml.",
        "GitLab",
        _GITLAB_LIMITS,
        "mobyci.emit.gitlab_system",
    ),
    Format(
        "buildkite",
        "buildkite",
        "mobyci.emit.buildkite",
        "render_buildkite",
        ".buildkite/pipeline.yml",
        "buildkite",
        "Buildkite pipeline, usually .buildkite/pipeline.yml.",
        "Buildkite",
        _BUILDKITE_LIMITS,
        "mobyci.emit.buildkite_system",
    ),
    Format(
        "github",
        "github",
        "mobyci.emit.github",
        "render_github",
        ".github/workflows/mobyci.yml",
        "github",
        "GitHub Actions workflow, usually .github/workflows/mobyci.yml.",
        "GitHub",
        (),
        "mobyci.emit.github_system",
    ),
    Format(
        "gitlab-include",
        "gitlab",
        "mobyci.emit.gitlab_include",
        "render_gitlab_include",
        ".gitlab/mobyci.yml",
        "gitlab",
        "GitLab jobs to include: from an existing .gitlab-ci.yml (no workflow, default, stages or global variables; "
        "job names and stages start with mobyci-), e.g. .gitlab/mobyci.yml.",
        "GitLab",
    ),
    Format(
        "buildkite-group",
        "buildkite",
        "mobyci.emit.buildkite",
        "render_buildkite_group",
        ".buildkite/mobyci.yml",
        "buildkite",
        "One Buildkite group step to `buildkite-agent pipeline upload` from an existing pipeline (no top-level env; "
        "step keys start with mobyci-), e.g. .buildkite/mobyci.yml.",
        "Buildkite",
    ),
)
FORMATS: dict[str, Format] = {entry.name: entry for entry in _ENTRIES}
NAMES = tuple(FORMATS)  # the --format choices, in the order help lists them
DEFAULT = "gitlab"  # --format without a value
# The CI systems (`mobyci plan --for`), in the order of their first format.
SYSTEMS = tuple(dict.fromkeys(entry.system for entry in _ENTRIES))
# The patch script is an output too (`outputs: patch`), though no CI system runs it as a pipeline.
PATCH_OUTPUT = "mobyci-patch.sh"


def emitter(name: str) -> Callable[[Any], str]:
    """The function that writes format `name` from a Plan (mobyci/plan/model.py), imported now. The registry names
    no Plan type: it sits below everything it lists, and the plan reads it."""
    entry = FORMATS[name]
    function: Callable[[Any], str] = getattr(importlib.import_module(entry.module), entry.function)
    return function


def system_limits() -> tuple[tuple[str, Limit], ...]:
    """(system, limit) for every limit of every CI system, in registry order."""
    return tuple((entry.system, limit) for entry in FORMATS.values() for limit in entry.limits)


# The BuildKit that runs a spec's build on a system: a docker-container builder mobyci creates, the
# docker-in-docker service's daemon, or the runner host's own daemon.
Builder = Literal["container", "dind", "host"]


class CISystem(Protocol):
    """What mobyci knows about one CI system, beside the emitters that write its files.

    The layers below the emitters (spec checks, the plan) and the views above them (report/) ask this object and
    never branch on a system's name; `BaseSystem` gives the neutral answer of each, so a system states only what
    differs."""

    name: str  # the registry's system name, `mobyci plan --for NAME`
    title: str  # as `mobyci plan` names the system (GitLab CI)
    jobs_title: str  # what the system calls a job (Jobs, Steps), as `mobyci plan` titles their list
    variables_title: str  # what people create for the CI variables the pipeline reads
    runners_title: str  # the machines that run its jobs, as `mobyci plan` names them (Buildkite agents)

    def settings(self, spec: Spec) -> object:
        """Its own block of the spec (ci.<name>), the typed class the spec declares; the Plan carries it."""
        ...

    def has_runner(self, spec: Spec, arch: str) -> bool:
        """Whether ci.<name>.runners names a runner of architecture `arch`."""
        ...

    def runner_fix(self, arch: str) -> str:
        """The spec text that gives it a runner of `arch`, for the refusal that asks for one."""
        ...

    def findings(self, spec: Spec) -> list[Finding]:
        """What it refuses in a spec that is otherwise valid, as (key path, message): validate and render both ask."""
        ...

    def warnings(self, spec: Spec, release: Release) -> list[Finding]:
        """What it will likely fail on behind a firewall, as (key path, message)."""
        ...

    def notes(self, loaded: LoadedSpec) -> tuple[str, ...]:
        """Caveats of this spec on this system, for `mobyci plan` and the file's header."""
        ...

    def builder(self, spec: Spec, bake: bool) -> Builder:
        """The BuildKit that runs moby's build (`bake`: a family built with `docker buildx bake`)."""
        ...

    def registry_mirror_where(self, plan: Plan) -> str:
        """Where its pipeline gives the Docker daemon mirrors.registry, or why it cannot, for `mobyci plan`."""
        ...

    def alpine_where(self, plan: Plan) -> str:
        """Where its pipeline uses mirrors.alpine, for `mobyci plan`."""
        ...

    def proxy_reaches(self, plan: Plan) -> str:
        """What of its own machinery the spec's proxy also reaches ("" for nothing), for `mobyci plan`."""
        ...

    def environment(self, variables: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        """The Plan's pipeline variables as its pipeline sets them."""
        ...

    def job_words(self, job: Job) -> tuple[str, ...]:
        """What `mobyci plan` says of a job on this system before its needs (its stage, where there are stages)."""
        ...

    def has_check_job(self, spec: Spec) -> bool:
        """Whether its pipeline carries the check of the committed files (there are committed files to check)."""
        ...

    def ca_variable_type(self, plan: Plan) -> str:
        """What a CI variable named in tls.ca_certs must hold on this system, for `mobyci plan`."""
        ...

    def own_variables(self, plan: Plan) -> tuple[tuple[str, str], ...]:
        """(name, what it must hold) of the variables its pipeline reads at run time that the spec does not name,
        for the file's header and `mobyci plan`."""
        ...

    def ca_places(self, plan: Plan) -> tuple[str, ...]:
        """Where its pipeline's own daemons and builders trust tls.ca_certs, or leave it to the runner's
        administrator, for `mobyci plan` (the plan's builder: Plan.builder, from `builder` above)."""
        ...


class BaseSystem:
    """The neutral answer to each CISystem question: a system subclasses it and states what differs."""

    name = ""
    title = ""
    jobs_title = "Jobs"
    variables_title = "CI variables to create (names only, never values)"
    runners_title = "runners"

    def settings(self, spec: Spec) -> object:
        return None

    def has_runner(self, spec: Spec, arch: str) -> bool:
        return False

    def runner_fix(self, arch: str) -> str:
        return f"a {self.title} runner of architecture {arch}"

    def findings(self, spec: Spec) -> list[Finding]:
        return []

    def warnings(self, spec: Spec, release: Release) -> list[Finding]:
        return []

    def notes(self, loaded: LoadedSpec) -> tuple[str, ...]:
        return ()

    def builder(self, spec: Spec, bake: bool) -> Builder:
        return "host"

    def registry_mirror_where(self, plan: Plan) -> str:
        return "not set: the runners' daemon.json must list it"

    def alpine_where(self, plan: Plan) -> str:
        return "not used: no apk"

    def proxy_reaches(self, plan: Plan) -> str:
        return ""

    def environment(self, variables: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
        return variables

    def job_words(self, job: Job) -> tuple[str, ...]:
        return ()

    def has_check_job(self, spec: Spec) -> bool:
        return True

    def ca_variable_type(self, plan: Plan) -> str:
        return "a file path on the runner or the PEM text"

    def own_variables(self, plan: Plan) -> tuple[tuple[str, str], ...]:
        return ()

    def ca_places(self, plan: Plan) -> tuple[str, ...]:
        builder = plan.builder == "container"
        return (*((builder_ca_place(BAKE_BUILDER),) if builder else ()), f"{self.runners_title}: {HOST_CA_PLACE}")


# Where a BuildKit builder that a job creates (a docker-container builder) trusts the CA, and where the runner's own
# daemon does (docs/tls-inspection.md lists both, with their sources).
BAKE_BUILDER = "the bake jobs' docker-container builder"


def builder_ca_place(builder: str) -> str:
    return (
        f"BuildKit builders mobyci creates: {builder} (buildkitd config ca = […] for Docker Hub and the mirror; "
        "appended to the builder container's system bundle for ADD of https and git URLs and other registries)"
    )


HOST_CA_PLACE = (
    "the host's Docker daemon only through its own /etc/docker/certs.d/<registry>/ca.crt and system trust store "
    "(set by the runner's administrator)"
)


_SYSTEMS_LOADED: dict[str, CISystem] = {}


def ci_system(name: str) -> CISystem:
    """The object of CI system `name` (SYSTEMS), its module imported now."""
    found = _SYSTEMS_LOADED.get(name)
    if found is None:
        module = importlib.import_module(FORMATS[name].system_module)
        found = _SYSTEMS_LOADED[name] = module.SYSTEM
    return found


def register(entry: Format, system: CISystem | None = None) -> None:
    """Adds a format (and, for a system's own format, its object) to the registry: for a system mobyci does not
    ship. Call it before the CLI is imported: its choices are read from NAMES and SYSTEMS then."""
    global NAMES, SYSTEMS  # noqa: PLW0603  # the registry is the one place that lists them
    FORMATS[entry.name] = entry
    NAMES = tuple(FORMATS)
    SYSTEMS = tuple(dict.fromkeys(e.system for e in FORMATS.values()))
    if system is not None:
        _SYSTEMS_LOADED[system.name] = system
