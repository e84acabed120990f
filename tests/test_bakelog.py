"""The reading of buildx's plain progress in a gitlab-ci-local run, which the real bake build reports its cache
hits from and checks that no step ran twice in one pipeline."""

from __future__ import annotations

from tests.helpers.realengine import bakelog

# Shaped as gitlab-ci-local prints a job (`<job> > ` before each output line) running buildx with plain progress.
OUTPUT = """\
prepare   $ git -C moby fetch -q --depth 1 origin v28.5.2
prepare finished in 4.12 s
binary    $ make -C moby BAKE_CMD="$mobyci_bake" binary
binary    > #0 building with "mobyci-2" instance using docker-container driver
binary    > #5 [internal] load metadata for docker.io/library/golang:1.24.9-bookworm
binary    > #5 DONE 0.4s
binary    > #9 [base 1/6] FROM docker.io/library/golang:1.24.9-bookworm@sha256:0123
binary    > #9 DONE 0.0s
binary    > #10 [base 4/6] RUN apt-get update && apt-get install --no-install-recommends -y file
binary    > #10 CACHED
binary    > #14 [build 7/7] RUN --mount=type=bind,target=.,rw <<EOT (set -e...)
binary    > #14 0.123 + xx-go --wrap
binary    > #14 DONE 151.2s
binary    > #15 [binary 1/1] COPY --from=build /build/ /
binary    > #15 DONE 0.1s
binary finished in 3.17 min
"""


def test_each_job_steps_with_their_last_status() -> None:
    found = bakelog.steps(OUTPUT)
    assert list(found) == ["binary"]
    assert [(s.name, s.status) for s in found["binary"]] == [
        ("[base 1/6] FROM docker.io/library/golang:1.24.9-bookworm@sha256:0123", "DONE"),
        ("[base 4/6] RUN apt-get update && apt-get install --no-install-recommends -y file", "CACHED"),
        ("[build 7/7] RUN --mount=type=bind,target=.,rw <<EOT (set -e...)", "DONE"),
        ("[binary 1/1] COPY --from=build /build/ /", "DONE"),
    ]
    assert bakelog.cached(found["binary"]) == [
        "[base 4/6] RUN apt-get update && apt-get install --no-install-recommends -y file"
    ]
    assert bakelog.built_twice(found) == []


def test_a_step_run_by_two_jobs_of_one_pipeline_is_built_twice() -> None:
    second = "\n".join(
        line.replace("binary   ", "dynbinary", 1) for line in OUTPUT.splitlines() if line.startswith("binary")
    )
    found = bakelog.steps(OUTPUT + second + "\n")
    assert bakelog.built_twice(found) == [
        "[base 1/6] FROM docker.io/library/golang:1.24.9-bookworm@sha256:0123",
        "[binary 1/1] COPY --from=build /build/ /",
        "[build 7/7] RUN --mount=type=bind,target=.,rw <<EOT (set -e...)",
    ]
