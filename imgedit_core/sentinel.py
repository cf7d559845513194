"""A marker for "the caller did not say", distinct from ``None``.

An option the user never set must never reach the wire: ``None`` can be a real value for some
providers, so absence needs its own value.
"""

from __future__ import annotations

import enum
from typing import Literal, TypeGuard, TypeVar, Union

_T = TypeVar("_T")


class _NotGivenType(enum.Enum):
    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> Literal[False]:
        return False


NOT_GIVEN = _NotGivenType.NOT_GIVEN
"""The value of every optional request field the caller left out."""

NotGiven = Literal[_NotGivenType.NOT_GIVEN]

Maybe = Union[_T, NotGiven]  # noqa: UP007 (a subscriptable alias on 3.10)
"""``Maybe[int]``: an int, or NOT_GIVEN."""


def is_given(value: Maybe[_T]) -> TypeGuard[_T]:
    return value is not NOT_GIVEN
