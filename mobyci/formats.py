"""Every output format mobyci writes, in one table: the CLI's choices, `outputs:` keys, the check job's command
line and validate's platform limits all read it. Adding a CI system is one entry here plus one emitter module.

Nothing here imports an emitter (they pull in the YAML writer): an entry names its module and function, and
`emitter()` imports it when a pipeline is rendered. This module must stay cheap to import: the fast path reads it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, NamedTuple


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
    # The class in mobyci/spec/model.py that declares the ci.<settings> block (drop-ins share their system's).
    settings_model: str
    limits: tuple[Limit, ...] = ()

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
