"""The CLI in-process: exit codes, exact messages, files written or not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mobyci import __version__
from mobyci.cli import app
from tests.helpers import ROOT


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stdout == f"mobyci {__version__}\n"


def test_unknown_command_is_usage_error(runner: CliRunner) -> None:
    result = runner.invoke(app, ["frobnicate"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "No such command 'frobnicate'" in result.stderr


@pytest.mark.parametrize("preset", ["seed", "plain"])
def test_init_writes_a_valid_spec(runner: CliRunner, tmp_path: Path, preset: str) -> None:
    target = tmp_path / "mobyci.yaml"
    result = runner.invoke(app, ["init", str(target), "--preset", preset], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    text = target.read_text()
    # The schema beside the spec, named relatively: editors find it without a network.
    assert text.startswith("# yaml-language-server: $schema=mobyci.schema.json\n")
    assert result.stderr.endswith(
        f"{tmp_path / 'mobyci.schema.json'}: written (the spec's JSON Schema, for editors and the check job)\n"
    )
    assert (tmp_path / "mobyci.schema.json").read_text() == runner.invoke(app, ["schema"]).stdout
    validated = runner.invoke(app, ["validate", str(target)], catch_exceptions=False)
    if preset == "seed":
        # The seed's registry accelerator is a placeholder: validate says so until the user puts theirs in.
        line = next(n for n, text in enumerate(text.splitlines(), 1) if "YOUR-ID" in text)
        assert validated.exit_code == 1
        assert validated.stderr == (
            f"{target}:{line}:13: mirrors.registry: YOUR-ID is the starter spec's placeholder: put your own "
            "address here (or remove the key)\n"
        )
        target.write_text(text.replace("YOUR-ID", "abc123"))
        validated = runner.invoke(app, ["validate", str(target)], catch_exceptions=False)
    assert validated.exit_code == 0, validated.stderr


def test_init_seed_carries_the_manual_procedures_mirrors(runner: CliRunner, tmp_path: Path) -> None:
    from mobyci.load.reader import load_file

    target = tmp_path / "mobyci.yaml"
    runner.invoke(app, ["init", str(target), "--preset", "seed"], catch_exceptions=False)
    target.write_text(target.read_text().replace("YOUR-ID", "abc123"))
    spec = load_file(str(target)).spec
    assert spec.moby.ref == "v19.03.12"
    assert spec.mirrors.apt is not None
    assert not isinstance(spec.mirrors.apt, str)
    assert spec.mirrors.apt.archive == "https://mirrors.tuna.tsinghua.edu.cn/debian-archive"
    assert spec.mirrors.pypi == "https://pypi.tuna.tsinghua.edu.cn/simple"
    assert spec.mirrors.git == {"https://github.com/": "https://gitee.com/"}
    assert spec.mirrors.downloads == {
        "https://github.com/checkpoint-restore/criu/archive/": "https://github.com/checkpoint-restore/criu/archive/",
        "https://download.docker.com/linux/static": "https://mirrors.aliyun.com/docker-ce/linux/static",
    }
    assert spec.mirrors.registry is not None


def test_init_refuses_to_overwrite(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "mobyci.yaml"
    target.write_text("mine\n")
    result = runner.invoke(app, ["init", str(target)], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.stderr == f"{target}: already exists; pass --force to overwrite it\n"
    assert target.read_text() == "mine\n"
    forced = runner.invoke(app, ["init", str(target), "--force"], catch_exceptions=False)
    assert forced.exit_code == 0
    assert target.read_text() != "mine\n"


def test_validate_reports_every_file(runner: CliRunner, tmp_path: Path, base_spec: str) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(base_spec)
    bad1 = tmp_path / "bad1.yaml"
    bad1.write_text("version: 1\nmoby: {ref: v19.03.12}\ntargets: [bin]\n")
    bad2 = tmp_path / "bad2.yaml"
    bad2.write_text("version: 3\nmoby: {ref: v19.03.12}\ntargets: [binary]\n")
    result = runner.invoke(app, ["validate", str(bad1), str(good), str(bad2)], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.stdout == f"{good}: ok (moby v19.03.12, family 19.03, 1 target)\n"
    assert result.stderr.splitlines() == [
        f"{bad1}:3:11: targets[0].name: 'bin' is not one of: binary, dynbinary, cross, rpm, deb; "
        "did you mean 'binary'?",
        f"{bad2}:1:10: version: unsupported spec version 3: this mobyci reads version 1",
    ]


def test_validate_defaults_to_mobyci_yaml(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, base_spec: str
) -> None:
    monkeypatch.chdir(tmp_path)
    missing = runner.invoke(app, ["validate"], catch_exceptions=False)
    assert missing.exit_code == 1
    assert missing.stderr == "mobyci.yaml: no such file: create one with `mobyci init` or name another\n"
    (tmp_path / "mobyci.yaml").write_text(base_spec)
    assert runner.invoke(app, ["validate"], catch_exceptions=False).exit_code == 0


def test_validate_warns_about_dockerfile_env(runner: CliRunner, tmp_path: Path, base_spec: str) -> None:
    spec = tmp_path / "mobyci.yaml"
    spec.write_text(base_spec.replace("  no_proxy:", "  mode: dockerfile-env\n  no_proxy:"))
    result = runner.invoke(app, ["validate", str(spec)], catch_exceptions=False)
    assert result.exit_code == 0
    # Located like a problem, so editors jump to the key: file:line:col: key: warning: …
    assert f"{spec}:15:9: proxy.mode: warning: dockerfile-env writes the proxy into the Dockerfile as ENV" in (
        result.stderr
    )


def test_schema_is_committed_and_current(runner: CliRunner) -> None:
    result = runner.invoke(app, ["schema"], catch_exceptions=False)
    assert result.exit_code == 0
    committed = (ROOT / "schemas" / "mobyci.schema.json").read_text()
    assert result.stdout == committed, "regenerate with: mobyci schema -o schemas/mobyci.schema.json"


def test_schema_accepts_examples_and_rejects_typos(runner: CliRunner, base_spec: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from ruamel.yaml import YAML

    schema = json.loads(runner.invoke(app, ["schema"], catch_exceptions=False).stdout)
    good = YAML(typ="safe").load(base_spec)
    jsonschema.validate(good, schema)
    bad = dict(good, targetz=["binary"])
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


def test_internal_error_is_one_line_and_exit_3(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mobyci.load import reader as load

    def boom(_path: str) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(load, "load_file", boom)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.delenv("MOBYCI_DEBUG", raising=False)
    result = runner.invoke(app, ["validate", "x.yaml"], catch_exceptions=False)
    assert result.exit_code == 3
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"mobyci: internal error (a bug in mobyci {__version__}); traceback written to ")
    written = Path(lines[0].split("traceback written to ")[1].split(" (set")[0])
    assert "RuntimeError: simulated bug" in written.read_text()
    monkeypatch.setenv("MOBYCI_DEBUG", "1")
    debug = runner.invoke(app, ["validate", "x.yaml"], catch_exceptions=False)
    assert debug.exit_code == 3
    assert "Traceback (most recent call last)" in debug.stderr


def test_installed_entry_point_runs(tmp_path: Path, base_spec: str) -> None:
    spec = tmp_path / "mobyci.yaml"
    spec.write_text(base_spec)
    done = subprocess.run(
        [sys.executable, "-m", "mobyci", "validate", str(spec)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"{spec}: ok (moby v19.03.12, family 19.03, 1 target)\n"
    script = Path(sys.executable).parent / "mobyci"
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert version.stdout == f"mobyci {__version__}\n"


def test_readme_documents_every_spec_field() -> None:
    from pydantic import BaseModel

    from mobyci.specmodel import model as models

    readme = (ROOT / "README.md").read_text()
    reference = readme[readme.index("## The spec") :]
    missing = []
    for model in vars(models).values():
        if isinstance(model, type) and issubclass(model, BaseModel) and model.__module__ == models.__name__:
            for name in model.model_fields:
                if not any(d in reference for d in (f"`{name}", f".{name}`", f".{name}.")):
                    missing.append(f"{model.__name__}.{name}")
    assert missing == []
