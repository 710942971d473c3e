"""The base of the hot path's immutable values.

A frozen dataclass is built by an interpreted `__init__` that sets each field through
`object.__setattr__`: about 1 µs per value even where mypyc compiles the module, and a request
makes 25 to 30 of them. The values that requests and responses are made of, and those made for
every NOTIFY on its way (an action's result, a target, a result, the transaction layer's
effects), are therefore plain classes whose attributes are `Final`: mypy refuses any
assignment to them, mypyc compiles them to read-only slots (an assignment raises
AttributeError) and builds them in a few dozen nanoseconds. This base gives them what a
dataclass would: equality and a hash over the fields that `__match_args__` names (which also
lets `match` take them apart), and a repr.
"""

from __future__ import annotations

from typing import ClassVar


class Value:
    __match_args__: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple([getattr(self, name) for name in self.__match_args__])

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Value)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join([f"{name}={getattr(self, name)!r}" for name in self.__match_args__])
        return f"{type(self).__name__}({shown})"
