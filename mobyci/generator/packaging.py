"""rpm/deb package jobs through docker/docker-ce-packaging (issue 8).

One job per distro, after `prepare`: the patched engine tree from moby-src.tar.gz goes where the packaging
branch expects it (the docker-ce monorepo's engine/ and cli/ next to the packaging checkout on 19.03,
src/github.com/docker/{docker,cli} from 20.10), the CLI is cloned at the matching ref, and the build runs
through `make -C rpm|deb <distro>`. The top-level `make rpm` / `make centos-9` is never used: it runs
scripts/checkout.sh, which fetches the engine again from origin and would replace the patched tree.

Proxies reach the package image builds as predefined build args (BUILD_IMAGE_FLAG, which every branch's BUILD
expands) and the package build containers through RUN_FLAGS (`-e NAME`, value from the environment), with the
Go proxy mirror as `-e GOPROXY=…` overriding the Dockerfiles' hard-coded `ENV GOPROXY`.
"""

from __future__ import annotations

import re
import shlex

from mobyci.families.packaging_data import (
    CLI_REPO,
    EXTRA_SOURCES,
    PACKAGING_REPO,
    RUN_FLAGS_HOOK,
    eol_problem,
)
from mobyci.families.versions import tag_version
from mobyci.generator.mirrors import rewrite_url
from mobyci.generator.plan import PACKAGES_DIR, SOURCE_ARCHIVE, SOURCE_DIR, Job, sums_line
from mobyci.schemas.compiled import Target
from mobyci.schemas.load import LoadedSpec

__all__ = ["WORK_DIR", "cli_ref", "eol_problem", "packaging_jobs", "run_flags"]

WORK_DIR = "mobyci-pkg"  # the packaging checkout and, for 19.03, engine/ and cli/ next to it
CLI_REF_VAR = "MOBYCI_CLI_REF"  # a CI variable that overrides the CLI ref chosen here
_RELEASE_BRANCH = re.compile(r"^\d+\.(\d+|x)$")
_OUTPUT = {"rpm": ("rpmbuild", "*.rpm"), "deb": ("debbuild", "*.deb")}


def packaging_jobs(loaded: LoadedSpec, target: Target, build_args: tuple[str, ...]) -> list[Job]:
    """One job per distro of `target` (rpm or deb), named `<kind>-<distro>`."""
    packaging = loaded.release.packaging
    return [
        Job(
            name=f"{target.name}-{distro}",
            stage="build",
            title=f"{target.name} packages for {distro} (docker-ce-packaging {packaging.branch})",
            script=tuple(_script(loaded, target.name, distro, build_args)),
            needs=("prepare",),
            artifacts=(f"{PACKAGES_DIR}/{distro}/",),
        )
        for distro in target.distros or ()
    ]


def cli_ref(loaded: LoadedSpec) -> str:
    """The docker/cli ref that goes with the engine ref.

    A release tag maps to the CLI's tag of the same version (v27.5.1 → v27.5.1; from 29.0 the engine's
    docker-v29.7.2 → v29.7.2). A release branch name (27.x, 20.10) is the same name in docker/cli. Anything else
    (a fork's branch, a commit) takes the CLI's branch of the packaging line: set MOBYCI_CLI_REF to choose.
    """
    ref = loaded.spec.moby.ref
    if tag_version(ref) is not None:
        return "v" + ref.removeprefix("docker-").removeprefix("v")
    if _RELEASE_BRANCH.match(ref):
        return ref
    branch = loaded.release.packaging.branch
    if branch == "master":
        return "master"
    # 29.4 packages the 29 line, whose CLI branch is 29.x.
    return f"{branch.split('.')[0]}.x" if int(branch.split(".")[0]) >= 27 else branch


def run_flags(loaded: LoadedSpec, build_args: tuple[str, ...]) -> list[str]:
    """`docker run` options for the package build container, as words for the recipe's shell."""
    words = [f"-e {name}" for name in build_args]
    mirrors = loaded.spec.mirrors
    # Values are quoted for the recipe shell that make hands the line to (a GOPROXY list may contain `|`).
    if mirrors.goproxy is not None:
        words.append("-e " + shlex.quote(f"GOPROXY={mirrors.goproxy}"))
    if mirrors.gosumdb is not None:
        words.append("-e " + shlex.quote(f"GOSUMDB={mirrors.gosumdb}"))
    return words


def _make_arg(name: str, value: str) -> str:
    """NAME=value as one make command-line argument: `$` doubled for make, then quoted for the job shell."""
    return shlex.quote(f"{name}={value.replace('$', '$$')}")


def _clone(path: str, url: str, ref: str) -> list[str]:
    return [
        f"git init -q {path}",
        f"git -C {path} remote add origin {shlex.quote(url)}",
        f"git -C {path} fetch -q --depth 1 origin {ref}",
        f"git -C {path} checkout -q FETCH_HEAD",
    ]


def _script(loaded: LoadedSpec, kind: str, distro: str, build_args: tuple[str, ...]) -> list[str]:
    spec, packaging = loaded.spec, loaded.release.packaging
    git_mirrors = spec.mirrors.git
    root = f"{WORK_DIR}/packaging"
    out = f"{PACKAGES_DIR}/{distro}"
    if packaging.monorepo:
        # 19.03: rpm/ and deb/ take ENGINE_DIR and CLI_DIR from ../../engine and ../../cli.
        engine, cli = f"{WORK_DIR}/engine", f"{WORK_DIR}/cli"
    else:
        engine, cli = f"{root}/src/github.com/docker/docker", f"{root}/src/github.com/docker/cli"
    default_ref = cli_ref(loaded)
    if shlex.quote(default_ref) != default_ref:
        raise ValueError(f"unexpected characters in the CLI ref {default_ref!r}")
    script = [
        f'test -f {SOURCE_ARCHIVE} || {{ echo "{SOURCE_ARCHIVE} missing: the prepare job must archive the patched '
        'tree for package jobs" >&2; exit 1; }',
        f"rm -rf {SOURCE_DIR} {WORK_DIR} {out}",
        f"tar -xzf {SOURCE_ARCHIVE}",
        *_clone(root, rewrite_url(PACKAGING_REPO, git_mirrors), shlex.quote(packaging.branch)),
        f"mkdir -p {engine.rsplit('/', 1)[0]}",
        # The patched tree itself, with its .git: the Makefiles read the engine commit from it.
        f"mv {SOURCE_DIR} {engine}",
        f'cli_ref="${{{CLI_REF_VAR}:-{default_ref}}}"',
        *_clone(cli, rewrite_url(CLI_REPO, git_mirrors), '"$cli_ref"'),
    ]
    extras = EXTRA_SOURCES.get(packaging.branch, ())
    if extras:
        # The branch's own checkout targets, at the refs it pins, from the mirrored URLs; none of them
        # touches src/github.com/docker/docker.
        overrides = " ".join(_make_arg(c.repo_var, rewrite_url(c.repo, git_mirrors)) for c in extras)
        script.append(f"make -C {root} {overrides} {' '.join(c.checkout for c in extras)}")
    make = [f"make -C {root}/{kind}"]
    if build_args:
        # Every branch's BUILD expands $(BUILD_IMAGE_FLAG) (set only when BUILD_IMAGE is): the predefined
        # proxy args, read by the docker CLI from the environment, reach yum/dnf/apt in the image build.
        make.append(_make_arg("BUILD_IMAGE_FLAG", " ".join(f"--build-arg {name}" for name in build_args)))
    flags = run_flags(loaded, build_args)
    if flags:
        make.append(_make_arg("RUN_FLAGS", " ".join(flags)))
        hook = RUN_FLAGS_HOOK.get((packaging.branch, kind))
        if hook is not None:
            # `$(CURDIR)` and `$(RUN_FLAGS)` are make's to expand: single-quoted on purpose.
            script.append("# shellcheck disable=SC2016")
            make.append(shlex.quote(hook))
    make.append(distro)
    directory, pattern = _OUTPUT[kind]
    script += [
        " ".join(make),
        f"mkdir -p {out}",
        f"find {root}/{kind}/{directory} -name '{pattern}' -exec cp {{}} {out}/ ';'",
        f'ls {out}/{pattern} >/dev/null 2>&1 || {{ echo "no {pattern} built for {distro}" >&2; exit 1; }}',
        sums_line(out),
    ]
    return script
