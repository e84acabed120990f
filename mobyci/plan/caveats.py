"""The caveats of a spec that the Plan carries for the file's header and `mobyci plan` (each CI system adds its own:
CISystem.notes)."""

from __future__ import annotations

from mobyci.load.reader import LoadedSpec

# buildx added `create --buildkitd-config` in v0.13 (docker/buildx v0.13.0 commands/create.go:114); v0.12.1 knows
# only `--config` (commands/create.go:345). GitLab's dind jobs use the docker:<v>-cli image's own, newer buildx.
BUILDX_013 = (
    "the bake jobs create their BuildKit builder with `docker buildx create --buildkitd-config` (the registry "
    "mirror, the CA): the host's buildx must be 0.13 or newer, which added that flag (docker/buildx v0.13.0 "
    "commands/create.go:114; v0.12 knows only --config)"
)


def plan_notes(loaded: LoadedSpec) -> tuple[str, ...]:
    """The caveats of this spec on every CI system (each system adds its own: CISystem.notes)."""
    spec, release = loaded.spec, loaded.release
    notes: list[str] = []
    if release.version is None:
        notes.append(
            f"family {release.family.name} was given for ref {spec.moby.ref}; the patch script checks it "
            "against the checked-out tree"
        )
    if release.buildkit_git_sources and spec.mirrors.git:
        notes.append(
            "BuildKit `ADD …git` sources are fetched by the daemon: build-arg proxies do not reach them; the patch "
            "rewrites their URLs and the daemon needs the proxy (set in pipeline variables)"
        )
    return tuple(notes)
