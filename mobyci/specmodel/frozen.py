"""The base of the spec's run-time classes (compiled.py): read-only values, compared by content.

pydantic-core fills instances directly (their `__dict__` and the three `__pydantic_*__` slots below, as it
does for BaseModel), so these classes need no constructor and no pydantic import.
"""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn


class Frozen:
    __slots__ = ("__dict__", "__pydantic_extra__", "__pydantic_fields_set__", "__pydantic_private__")

    # Field names in spec order, and the nested class of each field that holds one (for "allowed keys" hints).
    field_names: ClassVar[tuple[str, ...]] = ()
    nested_models: ClassVar[dict[str, type[Frozen]]] = {}

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]  # lists and dicts inside: not hashable, as the models were not

    def as_dict(self) -> dict[str, Any]:
        """Each field's value, in spec order."""
        return {name: self.__dict__[name] for name in self.field_names}

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value!r}" for name, value in self.as_dict().items())
        return f"{type(self).__name__}({inner})"
