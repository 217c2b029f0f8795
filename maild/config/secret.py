"""A password held in memory so that no repr, log line, error or dump can show it.

Anti-pattern avoided: arq's ``RedisSettings.__repr__`` prints the password. Every
accidental route to text (``repr``, ``str``, f-strings, ``model_dump``) yields stars;
the one place that must send the password calls :meth:`Secret.reveal` on purpose.
"""

from __future__ import annotations

__all__ = ["Secret"]

import hmac
from typing import Any, Final, final

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, core_schema

_MASK: Final = "********"


@final
class Secret:
    """An immutable secret string that only :meth:`reveal` gives back."""

    __slots__ = ("_value",)
    _value: str

    def __init__(self, value: str) -> None:
        object.__setattr__(self, "_value", value)

    def reveal(self) -> str:
        """Return the value; call this only where the password goes on the wire."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    def __str__(self) -> str:
        return _MASK

    def __eq__(self, other: object) -> bool:
        # Equality lets a reload tell a changed password from an unchanged one;
        # compare_digest keeps the comparison time independent of the content.
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Secret is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Secret is immutable")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Secret:
        return self

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        # Without this, pickling would go through __setattr__ and fail. Pickling
        # is how a secret would cross to a worker process, which is legitimate.
        return (Secret, (self._value,))

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        # Only a resolved Secret is accepted: a plain string in a settings model
        # would mean a password came from somewhere other than a reference.
        return core_schema.is_instance_schema(
            cls,
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )
