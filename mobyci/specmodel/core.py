"""pydantic-core's compiled extension, loaded without running its Python package.

`import pydantic_core` runs the package's `__init__`, which builds the typing of `core_schema` (hundreds of
TypedDicts, through typing_extensions): about 15 ms, a sixth of a render. Validating with the committed schema
needs only classes the extension defines itself (SchemaValidator, ValidationError, SchemaError,
PydanticCustomError). The extension is registered under its own name, so a later `import pydantic_core` (the
live-schema fallback, typer's CLI, pydantic) runs the package around this same module instead of loading a second
copy. Anything unexpected (no such file, another Python implementation) falls back to the package import.
"""

from __future__ import annotations

import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES, ExtensionFileLoader, ModuleSpec, PathFinder
from types import ModuleType
from typing import TYPE_CHECKING

_NAME = "pydantic_core._pydantic_core"


def _load_extension() -> ModuleType:
    package = PathFinder.find_spec("pydantic_core")  # finds the package without running it
    if package is None or not package.submodule_search_locations:
        raise ImportError("pydantic_core is not installed as files")
    directory = next(iter(package.submodule_search_locations))
    path = next(
        (p for p in (os.path.join(directory, "_pydantic_core" + s) for s in EXTENSION_SUFFIXES) if os.path.isfile(p)),
        None,
    )
    if path is None:
        raise ImportError(f"no compiled _pydantic_core in {directory}")
    loader = ExtensionFileLoader(_NAME, path)
    spec = ModuleSpec(_NAME, loader, origin=path)
    module = loader.create_module(spec)
    module.__spec__, module.__loader__, module.__file__ = spec, loader, path
    sys.modules[_NAME] = module
    try:
        loader.exec_module(module)
    except BaseException:
        del sys.modules[_NAME]
        raise
    return module


def _extension() -> ModuleType:
    loaded = sys.modules.get(_NAME)
    if loaded is not None:
        return loaded
    try:
        return _load_extension()
    except Exception:  # any failure: the ordinary import, which reports a real problem itself
        import pydantic_core

        return sys.modules.get(_NAME, pydantic_core)


if TYPE_CHECKING:
    from pydantic_core import PydanticCustomError, SchemaError, SchemaValidator, ValidationError
    from pydantic_core import __version__ as VERSION  # noqa: N812
else:
    _core = _extension()
    PydanticCustomError = _core.PydanticCustomError
    SchemaError = _core.SchemaError
    SchemaValidator = _core.SchemaValidator
    ValidationError = _core.ValidationError
    VERSION = _core.__version__

__all__ = ["VERSION", "PydanticCustomError", "SchemaError", "SchemaValidator", "ValidationError"]
