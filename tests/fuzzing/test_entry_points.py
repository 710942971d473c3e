"""Hypothesis over every entry point of `targets.py`: random bytes, and the seeds with bytes
changed, may fail only in the declared way; the SIP server leaves no transaction open."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzzing.seeds import seeds
from tests.fuzzing.targets import TARGETS, Target


@st.composite
def mutated(draw: st.DrawFn, pool: list[bytes]) -> bytes:
    data = bytearray(draw(st.sampled_from(pool)))
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(data)))
        data[at:at] = draw(st.sampled_from([b"\r\n", b"\r", b"\x00", b",", b'"', b"<", b";",
                                            "²".encode(), b"9" * 50, b"\xff", b" / "]))  # fmt: skip
    return bytes(data)


@pytest.mark.parametrize("target", TARGETS, ids=[t.name for t in TARGETS])
def test_entry_point_fails_only_as_declared(target: Target) -> None:
    @settings(max_examples=150, deadline=None)
    @given(st.one_of(st.binary(max_size=400), mutated(seeds(target.name))))
    def check(data: bytes) -> None:
        with contextlib.suppress(*target.declared):
            target.run(data)

    check()
