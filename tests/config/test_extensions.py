"""extensions.conf: contexts, priorities, same =>, includes and pattern matching."""

from __future__ import annotations

import pytest

from sipnotify.config.extensions import Dialplan, load_extensions, pattern_matches
from sipnotify.config.parser import ConfigError, parse_text

CONF = """
[general]
static=yes
[default]
exten => 1212,1,Answer()
 same => n,PJSIPNotify(,&Event=Test&X-Data=Fun)
 same => n(done),Wait(3)
 same => n,Hangup
exten => callee,1,NoOp(PJSIP/callee)
exten => _2XXX,1,NoOp(four digits)
exten => _2.,1,NoOp(any)
exten => _[1-5]!,1,NoOp(class)
exten => 100,hint,PJSIP/alice
include => other
[other]
exten => 9,1,Hangup(16)
exten => 5,5,NoOp()
exten => 5,2,NoOp()
"""


def dialplan(text: str = CONF) -> Dialplan:
    plan, warnings = load_extensions(parse_text(text, name="extensions.conf"))
    assert warnings == []
    return plan


def test_steps_with_n_labels_and_same() -> None:
    extension = dialplan().find("default", "1212")
    assert extension is not None
    assert [(s.priority, s.app, s.data, s.label) for s in extension.steps] == [
        (1, "Answer", "", ""),
        (2, "PJSIPNotify", ",&Event=Test&X-Data=Fun", ""),
        (3, "Wait", "3", "done"),
        (4, "Hangup", "", ""),
    ]
    assert extension.steps[2].origin.line == 7  # the text starts with a newline


def test_exact_before_patterns_and_narrowest_pattern_first() -> None:
    plan = dialplan()
    assert plan.find("default", "callee").steps[0].data == "PJSIP/callee"  # type: ignore[union-attr]
    assert plan.find("default", "2345").steps[0].data == "four digits"  # type: ignore[union-attr]
    assert plan.find("default", "23456").steps[0].data == "any"  # type: ignore[union-attr]
    assert plan.find("default", "3").steps[0].data == "class"  # type: ignore[union-attr]
    assert plan.find("default", "7") is None


def test_includes_are_searched_after_the_context() -> None:
    plan = dialplan()
    assert plan.find("default", "9").steps[0].data == "16"  # type: ignore[union-attr]
    assert plan.find("nowhere", "9") is None


def test_priorities_with_gaps_run_in_order() -> None:
    extension = dialplan().find("other", "5")
    assert extension is not None
    assert [s.priority for s in extension.steps] == [2, 5]
    assert extension.next_step(2) == extension.step(5)
    assert extension.next_step(5) is None


@pytest.mark.parametrize(
    ("pattern", "exten", "matches"),
    [
        ("_X.", "1", False),
        ("_X.", "12", True),
        ("_X!", "1", True),
        ("_NXXN", "2001", False),
        ("_NXXN", "2002", True),
        ("_[1-5]", "6", False),
        ("_[a-c]X", "B1", True),
        ("_1.", "1.", True),
    ],
)
def test_patterns(pattern: str, exten: str, matches: bool) -> None:
    assert pattern_matches(pattern, exten) is matches


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[c]\nsame => n,NoOp\n", "'same =>' before any 'exten =>'"),
        ("[c]\nexten => 1,x,NoOp\n", "invalid priority 'x'"),
        ("[c]\nexten => 1,n,NoOp\n", "priority 'n' without an earlier step of 1"),
        ("[c]\nexten => 1,1,NoOp(\n", "missing ')' in 'NoOp('"),
        ("[c]\nexten => 1,1\n", "application missing"),
    ],
)
def test_errors_name_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_extensions(parse_text(text, name="extensions.conf"))
    assert str(caught.value) == f"extensions.conf:2: {message}"


def test_unknown_applications_and_repeated_priorities_warn() -> None:
    text = "[c]\nexten => 1,1,Playback(x)\nexten => 1,1,NoOp\n"
    _, warnings = load_extensions(parse_text(text, name="e.conf"))
    assert [str(w) for w in warnings] == [
        "e.conf:2: application 'Playback' is not supported",
        "e.conf:3: priority 1 of 1 repeats; ignored",
    ]
