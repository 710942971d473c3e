"""asterisk.conf [options]: maxcalls and systemname."""

from __future__ import annotations

import pytest

from sipnotify.config.asterisk import DEFAULT_MAXCALLS, load_options
from sipnotify.config.parser import ConfigError, parse_text


def test_maxcalls_default_and_setting() -> None:
    assert load_options(parse_text(""))[0].maxcalls == DEFAULT_MAXCALLS
    assert load_options(parse_text("[options]\nmaxcalls = 0\n"))[0].maxcalls == 0
    assert load_options(parse_text("[options]\nmaxcalls=25\n"))[0].maxcalls == 25


def test_bad_maxcalls_names_file_and_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_options(parse_text("[options]\n\nmaxcalls = lots\n", name="asterisk.conf"))
    assert str(caught.value) == "asterisk.conf:3: maxcalls must be a number, not 'lots'"


def test_systemname_names_the_node() -> None:
    assert load_options(parse_text(""))[0].systemname == ""
    assert load_options(parse_text("[options]\nsystemname = node-a\n"))[0].systemname == "node-a"
    with pytest.raises(ConfigError, match=r"asterisk\.conf:2: systemname must be printable"):
        load_options(parse_text("[options]\nsystemname = node a\n", name="asterisk.conf"))
