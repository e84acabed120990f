"""The Plan: what a spec will do, CI-neutral. Emitters (gitlab.py, …) know their CI system; this knows moby.

The Plan is an emitter's only input: it carries the jobs, each a sequence of typed steps with typed facts (shares
the dev image, needs a Docker engine, the tools it needs), the patch script, the file being written (OutputFile: its
format, path, spec and regenerate command, for its header), the spec's settings block of that CI system (the
class the spec declares; its CISystem object reads it typed) and, for the views above the emitters, the spec's
mirrors, proxy, CA entries and targets as compiled (Network, network.py).
Emitters never read the spec (tests/test_formats.py checks their imports).
Every moby-specific decision is taken here from the family data, so the emitters never branch on a family.
Job scripts are POSIX sh lines run from the repository root; values from the spec reach them shell-quoted.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from mobyci.committed.header import OutputFile
from mobyci.families import Release
from mobyci.families.packaging_data import Arch
from mobyci.formats import Builder
from mobyci.plan.network import Network
from mobyci.specmodel.fields import duration_seconds, var_ref_name

SOURCE_DIR = "moby"


SOURCE_ARCHIVE = "moby-src.tar.gz"


GITCOMMIT_FILE = "mobyci-gitcommit"


PATCH_SCRIPT = "mobyci-patch.sh"


PACKAGES_DIR = "packages"  # rpm/deb jobs leave packages/<distro>/*.rpm|*.deb and a SHA256SUMS there


# The engine a job reaches on its own host; the CI system's emitter adds the hosts of an engine it runs as a
# service (GitLab's docker-in-docker).
LOCAL_NO_PROXY = ("localhost", "127.0.0.1")


PROXY_ARGS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


# The dev image of families that build inside it; the emitter points this at its CI system's registry.
DEV_IMAGE_VAR = "MOBYCI_DEV_IMAGE"


# A tag unique to the pipeline run (the emitter sets it from its CI system's run id).
DEV_TAG_VAR = "MOBYCI_DEV_TAG"


# The cross matrix dimension. Not PLATFORM: moby reads that name as its product name (bake `variable "PLATFORM"`,
# `--build-arg PLATFORM`), so a job variable PLATFORM=linux/arm64 ends up in `docker version` as the platform.
PLATFORM_VAR = "MOBYCI_PLATFORM"


# What a job running moby's Makefiles needs besides git and the docker CLI: GNU make; bash, which moby's Makefile
# calls (v19.03.12 Makefile:11 `$(shell bash -c ...)`, v28.5.2 Makefile:164 `bash -c`); GNU date, which the
# packaging Makefiles call (docker-ce-packaging 28.x common.mk:15 `date -u -d ... --rfc-3339 ns`): coreutils.
MAKE_TOOLS = ("make", "bash", "coreutils")


# Set by the emitter of a job with a build cache: the cache ref or scope without its per-job key
# (`type=registry,ref=registry/image:` or `type=gha,scope=mobyci-`); unset: no cache flags.
CACHE_VAR = "MOBYCI_CACHE"


# The stages jobs run in, in order.
STAGES = ("check", "prepare", "build", "publish")


class Fetched(NamedTuple):
    """Something a job fetches itself, recorded where the job is built: the fetch inventory reads these (with the
    CI system's own fetches, RunnerFetches) instead of deriving the pipeline a second time."""

    kind: str  # git (a clone) | pypi (an index) | image (pulled by the job's builder or daemon) | apt | dnf
    endpoint: str  # as its upstream names it (the URL before any mirror, the image reference, the archive host)
    # image: "build" (a `docker build` FROM or frontend: the job's builder pulls it) or "run" (`docker run`: the
    # job's daemon); apt/dnf: the distro; git/pypi: "".
    how: str = ""
    source: str = ""  # where the fact comes from (file:line upstream), for the inventory's readers


class Run(NamedTuple):
    """Shell lines every CI system runs as they are, and what they fetch themselves (a clone, a pip index, …)."""

    lines: tuple[str, ...]
    fetches: tuple[Fetched, ...] = ()


class TrustCA(NamedTuple):
    """Assemble the CA of tls.ca_certs (the Plan's ca_lines) and point git, pip and the patch script at it: the
    system hands the job the CA's CI variables."""

    lines: tuple[str, ...]


class WritePatch(NamedTuple):
    """Write the Plan's patch_script to PATCH_SCRIPT (each system embeds it its own way)."""


class CreateBuilder(NamedTuple):
    """Create a docker-container builder that imports and exports the job's BuildKit cache: the system names the
    builder and the cache (CACHE_VAR, BUILDX_BUILDER) and gives the builder the registry mirror, proxies and CA
    (the docker driver cannot export a cache)."""


class FetchArtifacts(NamedTuple):
    """Bring the artifacts of the jobs this one needs into its work tree (GitLab's `needs:` does it itself)."""

    needs: tuple[str, ...]


# What a job does, in order: each CI system translates every kind (emit/<system>.py).
Step = Run | TrustCA | WritePatch | CreateBuilder | FetchArtifacts


def trust_ca(ca_lines: tuple[str, ...]) -> tuple[TrustCA, ...]:
    """The TrustCA step of a job whose clones or pip go through TLS inspection, none without tls.ca_certs."""
    return (TrustCA(ca_lines),) if ca_lines else ()


class Job(NamedTuple):
    name: str
    stage: str  # one of STAGES
    title: str
    steps: tuple[Step, ...]
    needs: tuple[str, ...] = ()
    artifacts: tuple[str, ...] = ()
    artifacts_kept: Retention | None = None  # None: the plan's (the spec's ci.artifacts_expire_in)
    variables: tuple[tuple[str, str], ...] = ()  # literal job variables (no secrets)
    matrix: tuple[tuple[str, tuple[str, ...]], ...] = ()
    docker: bool = True  # needs a Docker engine
    # The dev image shared through the CI system's registry: "push" builds and pushes it, "pull" runs in it.
    dev_image: Literal["push", "pull"] | None = None
    check_only: bool = False  # the spec-validation job, not part of the build
    arch: Arch | None = None  # needs a runner of this architecture (ci.<system>.runners); None: the default runners
    tools: tuple[str, ...] = ()  # commands the job needs besides a shell, git, tar and the docker CLI
    watches: tuple[str, ...] = ()  # files whose change is reason enough to run the job (empty: every pipeline)
    # The spec key a job's matrix comes from, where a platform limit it breaks is reported.
    matrix_key: tuple[str | int, ...] = ()
    # What the job fetches besides the repository (the fetch inventory lists it): the image it names itself (before
    # a CI system's image prefix; None: the system's default), the pip index its pip installs from (None: pip's
    # default, PyPI or the runner's PIP_INDEX_URL) and the requirements it installs.
    image: str | None = None
    pip_index: str | None = None
    pip_installs: tuple[str, ...] = ()

    @property
    def registry_login(self) -> bool:
        """Logs in to the CI system's registry to share the dev image."""
        return self.dev_image is not None

    @property
    def script(self) -> tuple[str, ...]:
        """The shell lines of its system-neutral steps (Run, TrustCA), in order."""
        return tuple(line for step in self.steps if isinstance(step, Run | TrustCA) for line in step.lines)

    @property
    def fetches(self) -> tuple[Fetched, ...]:
        """What its steps fetch themselves (the runner's own fetches are the system's: RunnerFetches)."""
        return tuple(fetch for step in self.steps if isinstance(step, Run) for fetch in step.fetches)

    @property
    def artifact_needs(self) -> tuple[str, ...]:
        """The jobs whose artifacts it brings in (its FetchArtifacts steps), in order."""
        return tuple(need for step in self.steps if isinstance(step, FetchArtifacts) for need in step.needs)

    @property
    def build_cache(self) -> bool:
        """A bake job that imports and exports the BuildKit cache on a builder of its own."""
        return any(isinstance(step, CreateBuilder) for step in self.steps)

    @property
    def reads_ca(self) -> bool:
        """Its steps assemble the CA of tls.ca_certs: the system hands it the CA's CI variables."""
        return any(isinstance(step, TrustCA) for step in self.steps)


class RunnerFetch(NamedTuple):
    """Something a CI system's own machinery fetches for a pipeline, outside the jobs' scripts."""

    kind: str  # "image" (a job image), "service" (an image run beside a job), "action" (a GitHub action)
    ref: str  # as the rendered pipeline names it: docker:27.5.1-cli, actions/checkout@<commit>
    jobs: tuple[str, ...]  # the plan's jobs that need it
    through: str = ""  # the spec key that points it at a mirror (ci.gitlab.image_prefix); "": from its origin


class RunnerFetches(NamedTuple):
    """What one CI system's pipeline of a plan fetches besides the jobs' own scripts, read from what its emitter
    renders (each emitter module's `runner_fetches(plan)`), and who pulls the images the jobs name."""

    fetches: tuple[RunnerFetch, ...]
    # Jobs whose builds run on a docker-container builder the pipeline creates: that builder pulls their build
    # images, and its own BuildKit image is pulled by the job's daemon.
    builders: tuple[str, ...] = ()
    # Jobs whose docker commands reach a docker-in-docker service (its --registry-mirror); the others' reach the
    # runner's own daemon, configured by its administrator.
    dind: tuple[str, ...] = ()
    caches: tuple[tuple[str, str], ...] = ()  # (job, the build cache it imports and exports: a ref, or "gha")
    apk: tuple[str, ...] = ()  # jobs whose image adds packages with apk (Alpine's CDN, or mirrors.alpine)
    jobs: tuple[str, ...] = ()  # the plan's jobs its file runs (Buildkite's has no check job)
    # Where the runner's own daemon gets mirrors.registry, which the pipeline cannot set ("the agents' daemon.json,
    # which you set"); "": nowhere, it pulls from the images' registries directly (GitHub's runners).
    daemon_mirror: str = ""
    # The repository the dev image is pushed to and pulled from (make-run families), as the file names it.
    dev_image: str = ""


class Rewrite(NamedTuple):
    """One patch rule, as people read it in `mobyci plan`."""

    id: str
    title: str
    files: tuple[str, ...]
    notes: tuple[str, ...] = ()  # caveats of the rule (the proxy written as ENV stays in the image)


class PackageImage(NamedTuple):
    """The image an rpm/deb job builds in: where it runs and where its package manager gets packages."""

    job: str
    arch: Arch | None  # the runner architecture it needs; None: the default runners
    mirror: str | None  # the spec key that points it at a mirror
    hosts: tuple[str, ...]  # hosts it reaches directly (none when mirrored)


class Plan(NamedTuple):
    output: OutputFile  # the file this plan is rendered into
    repo: str
    clone_url: str  # repo through the git mirror
    ref: str
    release: Release
    jobs: tuple[Job, ...]
    # Pipeline-wide variables: name -> value as written (a CI variable reference or a literal).
    variables: tuple[tuple[str, str], ...]
    # CI variables the pipeline reads (never their values): proxy URLs.
    ci_variables: tuple[str, ...]
    build_args: tuple[str, ...]  # predefined build args passed from the environment
    registry_mirror: str | None
    rewrites: tuple[Rewrite, ...]
    timeout_seconds: int
    retry: int
    artifacts_kept: Retention
    system: str  # the CI system the plan is for (mobyci/formats.py SYSTEMS)
    # The spec's ci.<system> block, as the class the spec declares (CISystem.settings); None: the system has none.
    settings: object
    # Caveats of this spec on this system, for the file's header and `mobyci plan`.
    notes: tuple[str, ...] = ()
    # What package jobs build with: (what, value, where it came from); empty without rpm/deb targets.
    packages: tuple[tuple[str, str, str], ...] = ()
    # tls.ca_certs: the lines that assemble the CA in a job, and the CI variables they read.
    ca_lines: tuple[str, ...] = ()
    ca_variables: tuple[str, ...] = ()
    package_images: tuple[PackageImage, ...] = ()
    patch_script: str = ""  # the text a job's WritePatch step writes to PATCH_SCRIPT
    alpine_mirror: str | None = None  # mirrors.alpine, for images that install packages with apk
    ca_files: tuple[str, ...] = ()  # tls.ca_certs entries that are files in the repository (not CI variables)
    # The spec's mirrors, proxy, CA entries and targets, for the views (report/); None only for a plan built by hand.
    network: Network | None = None
    builder: Builder = "host"  # the BuildKit that runs moby's build on the system (CISystem.builder)

    def job(self, name: str) -> Job:
        return next(j for j in self.jobs if j.name == name)

    def stages(self) -> list[str]:
        """The STAGES some job runs in, in order."""
        return [stage for stage in STAGES if any(job.stage == stage for job in self.jobs)]

    def variable_refs(self) -> tuple[tuple[str, str], ...]:
        """(name, CI variable) for every pipeline variable whose value is a CI variable reference."""
        refs = ((name, var_ref_name(value)) for name, value in self.variables)
        return tuple((name, ref) for name, ref in refs if ref is not None)

    def literal_variables(self) -> tuple[tuple[str, str], ...]:
        """Every pipeline variable whose value is written as is (not a CI variable reference)."""
        return tuple((name, value) for name, value in self.variables if var_ref_name(value) is None)


class Retention(NamedTuple):
    """How long artifacts are kept: a neutral fact that each CI system words its own way (GitLab's expire_in,
    GitHub's retention-days; Buildkite keeps them as the organisation says)."""

    written: str  # as the spec writes it ('1 week', 'never'): what GitLab's expire_in is given, as it is
    seconds: int | None  # None: 'never', kept as long as the CI system keeps anything


def retention(written: str) -> Retention:
    """The Retention of a ci.artifacts_expire_in value ('1 week', '30 days', 'never'), validated by the spec."""
    return Retention(written, None if written == "never" else duration_seconds(written))


# The names the job scripts read a login from; the pipeline assigns them from the spec's CI variables.
GIT_USERNAME_VAR, GIT_PASSWORD_VAR = "MOBYCI_GIT_USERNAME", "MOBYCI_GIT_PASSWORD"


REGISTRY_USERNAME_VAR, REGISTRY_PASSWORD_VAR = "MOBYCI_REGISTRY_USERNAME", "MOBYCI_REGISTRY_PASSWORD"


PATCH_EOF = "MOBYCI_PATCH_EOF"  # the heredoc delimiter that embeds the patch script in a prepare job
