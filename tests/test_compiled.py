"""The precompiled files are current and change nothing: compiled.py (the spec's run-time schema) judges every
spec exactly as the pydantic models do, and templates/patch_sh.py renders exactly what patch.sh.j2 does.

The models in model.py are the source of truth; compiled.py is what `validate` and `render` run. These tests
compare the two on every spec the other test corpora hold and on generated ones: same errors (type, key path,
message, input) for a bad spec, same values for a good one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
import pydantic_core
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mobyci.load import yamlpos
from mobyci.load.reader import load_text, validate_data
from mobyci.patch import template
from mobyci.patch.script import build_patch_script
from mobyci.specmodel import compile as compiler
from mobyci.specmodel import compiled
from mobyci.specmodel.frozen import Frozen
from mobyci.specmodel.model import Spec
from mobyci.templates import patch_sh
from tests.helpers.spec_error_cases import CASES

ROOT = Path(__file__).resolve().parent.parent
CORPUS = sorted(
    [*ROOT.glob("tests/hostile/*.yaml"), *ROOT.glob("tests/golden/*/spec.yaml"), *ROOT.glob("examples/*/mobyci.yaml")]
)


def _plain(value: Any) -> Any:
    """A validated value as plain data, whichever side made it."""
    if isinstance(value, pydantic.BaseModel):
        return {"<class>": type(value).__name__, **{k: _plain(getattr(value, k)) for k in type(value).model_fields}}
    if isinstance(value, Frozen):
        return {"<class>": type(value).__name__, **{k: _plain(v) for k, v in value.as_dict().items()}}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _verdict(validate: Any, data: Any) -> Any:
    try:
        return ("ok", _plain(validate(data)))
    except pydantic_core.ValidationError as exc:
        return ("errors", exc.errors(include_url=False))


_LIVE = pydantic_core.SchemaValidator(compiler.live_schema(vars(compiled)))


def _assert_same(data: Any) -> None:
    expected = _verdict(Spec.model_validate, data)
    assert _verdict(validate_data, data) == expected
    assert _verdict(_LIVE.validate_python, data) == expected


@pytest.mark.skipif(
    pydantic_core.__version__ != compiled.PYDANTIC_CORE_VERSION,
    reason="compiled.py is generated with the pinned pydantic-core (.ci/constraints.txt); this run checks another",
)
def test_compiled_module_is_current() -> None:
    on_disk = compiler.TARGET.read_text("utf-8")
    assert compiler.source() == on_disk, "compiled.py is stale: run `python -m mobyci.precompile`"


def _documents() -> list[tuple[str, Any]]:
    # Files that are not UTF-8 are refused before validation; the corpus here is what reaches the validator.
    texts = [(p.relative_to(ROOT).as_posix(), p.read_text("utf-8", errors="replace")) for p in CORPUS]
    texts += [(f"spec-errors/{case_id}", text) for case_id, text, _ in CASES]
    docs = []
    for name, text in texts:
        doc, _ = yamlpos.parse(text, name)
        if doc is not None:
            docs.append((name, doc.data))
    return docs


DOCUMENTS = _documents()


def test_the_corpus_holds_good_and_bad_specs() -> None:
    verdicts = [_verdict(validate_data, data)[0] for _, data in DOCUMENTS]
    # Both sides of the comparison must be exercised, or the test below could pass by comparing nothing.
    assert verdicts.count("ok") >= 20
    assert verdicts.count("errors") >= 40


@pytest.mark.parametrize(("name", "data"), DOCUMENTS, ids=[name for name, _ in DOCUMENTS])
def test_compiled_judges_like_the_models(name: str, data: Any) -> None:
    assert name  # the id pytest shows
    _assert_same(data)


_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(["", "binary", "cross", "rpm", "v27.5.1", "https://m.example.com", "$CORP_PROXY", "2h", "1"]),
    st.text(max_size=8),
)
_KEYS = ["version", "moby", "ref", "repo", "family", "targets", "name", "platforms", "mirrors", "git", "registry",
         "proxy", "http", "no_proxy", "ci", "retry", "gitlab", "tags", "outputs", "patch", "extra"]  # fmt: skip
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    st.fixed_dictionaries(
        {"version": st.sampled_from([1, 1, 2, "1"]), "moby": st.just({"ref": "v27.5.1"}) | _values},
        optional=dict.fromkeys(("targets", "mirrors", "proxy", "ci", "outputs", "extra"), _values),
    )
)
def test_compiled_judges_generated_specs_like_the_models(data: dict[str, Any]) -> None:
    _assert_same(data)


def test_validated_spec_is_read_only_and_compares_by_value() -> None:
    text = "version: 1\nmoby: {ref: v27.5.1}\ntargets: [binary]\n"
    spec, again = load_text(text).spec, load_text(text).spec
    assert spec == again
    assert spec != load_text(text.replace("binary", "dynbinary")).spec
    with pytest.raises(AttributeError, match="read-only"):
        spec.moby.ref = "v28.5.2"
    assert repr(spec.targets[0]) == "Target(name='binary', platforms=None, distros=None)"
    # Defaults are fresh objects each time: one spec's list is never another's.
    assert spec.proxy.no_proxy is not again.proxy.no_proxy


def test_a_function_outside_fields_is_refused_by_the_compiler() -> None:
    def local(value: str) -> str:
        return value

    with pytest.raises(ValueError, match="cannot compile"):
        compiler._source_value({"function": local}, 0)


# --- the patch script template, precompiled by jinja2 (templates/patch_sh.py) ------------------------------------


def test_precompiled_template_is_current() -> None:
    assert template.precompiled_source() == template.PRECOMPILED.read_text("utf-8"), (
        "templates/patch_sh.py is stale: run `python -m mobyci.precompile`"
    )


def test_precompiled_template_is_used_and_renders_what_the_template_does(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded = load_text((ROOT / "examples" / "seed-19.03" / "mobyci.yaml").read_text("utf-8"))
    template.patch_template.cache_clear()
    assert template.patch_template().root_render_func.__module__ == "mobyci.templates.patch_sh"
    precompiled = build_patch_script(loaded)
    # A stamp that does not match (another jinja2, an edited template) makes the template compile from source.
    monkeypatch.setattr(patch_sh, "MOBYCI_STAMP", "jinja2 0.0, patch.sh.j2 sha256 0")
    template.patch_template.cache_clear()
    try:
        assert template.patch_template().root_render_func.__module__ != "mobyci.templates.patch_sh"
        assert build_patch_script(loaded) == precompiled
    finally:
        template.patch_template.cache_clear()


def test_a_core_refusing_the_committed_schema_gets_one_built_live(monkeypatch: pytest.MonkeyPatch) -> None:
    from mobyci.load import reader as load

    text = "version: 1\nmoby: {ref: v27.5.1}\ntargets: [binary]\n"
    built: list[bool] = []

    def live(classes: dict[str, Any]) -> Any:
        built.append(True)
        return compiler.transform(Spec.__pydantic_core_schema__, classes)

    expected = compiled_spec(text)
    # A pydantic-core that does not know a schema type the committed schema uses refuses it with SchemaError.
    monkeypatch.setattr(compiled, "SCHEMA", {"type": "no-such-schema-type"})
    monkeypatch.setattr(compiler, "live_schema", live)
    load._validator.cache_clear()
    try:
        assert load_text(text).spec == expected
        assert built == [True]
        with pytest.raises(pydantic_core.ValidationError) as bad:
            validate_data({"version": 1, "moby": {"ref": "v27.5.1"}, "targets": ["nope"]})
        assert bad.value.errors(include_url=False)[0]["loc"] == ("targets", 0, "name")
    finally:
        load._validator.cache_clear()


def compiled_spec(text: str) -> Frozen:
    doc, _ = yamlpos.parse(text, "x.yaml")
    assert doc is not None
    return pydantic_core.SchemaValidator(compiled.SCHEMA).validate_python(doc.data)  # type: ignore[no-any-return]
