"""The Asterisk config syntax reader against behaviour: config."""

from __future__ import annotations

from pathlib import Path

import pytest

from sipnotify.config.parser import ConfigError, ParsedConfig, parse_file, parse_text


def items(parsed: ParsedConfig, index: int = 0) -> list[tuple[str, str]]:
    return [(i.key, i.value) for i in parsed.sections[index].items]


def test_sections_and_both_assignment_forms() -> None:
    parsed = parse_text("[a]\nx = 1\ny => two words \nz=>\n[b]\nk=v=w\n")
    assert [s.name for s in parsed.sections] == ["a", "b"]
    assert items(parsed) == [("x", "1"), ("y", "two words"), ("z", "")]
    assert items(parsed, 1) == [("k", "v=w")]


def test_comments_and_escaped_semicolon() -> None:
    parsed = parse_text("; top\n[s] ; trailing\nEvent=>check-sync\\;reboot=true ; note\n")
    assert items(parsed) == [("Event", "check-sync;reboot=true")]


def test_block_comments_span_lines_and_nest() -> None:
    text = "[s]\na=1 ;-- gone\nb=2 ;-- deeper --;\nstill gone --; c=3\nd=4\n"
    assert items(parse_text(text)) == [("a", "1"), ("c", "3"), ("d", "4")]


def test_unterminated_block_comment_warns_with_its_line() -> None:
    parsed = parse_text("[s]\na=1\n;-- open\nb=2\n", name="x.conf")
    assert items(parsed) == [("a", "1")]
    assert [str(w) for w in parsed.warnings] == ["x.conf:3: unterminated ';--' block comment"]


def test_plus_equals_appends_raw_text_to_last_value() -> None:
    # config.c appends everything after "+=" (a leading blank included), then trims.
    text = "[s]\nallow = ulaw\nallow = alaw\nallow +=,g722\nallow += x \nnew += y\n"
    assert items(parse_text(text)) == [("allow", "ulaw"), ("allow", "alaw,g722 x"), ("new", "y")]


def test_templates_are_not_objects_and_are_inherited_first() -> None:
    text = "[t](!)\ntype=endpoint\ncontext=a\n[u](!)\nallow=ulaw\n[alice](t,u)\ncontext=b\n"
    parsed = parse_text(text)
    assert [s.name for s in parsed.objects()] == ["alice"]
    alice = parsed.objects()[0]
    assert [(i.key, i.value) for i in alice.items] == [
        ("type", "endpoint"),
        ("context", "a"),
        ("allow", "ulaw"),
        ("context", "b"),
    ]


def test_template_may_inherit_and_plus_adds_to_existing() -> None:
    text = "[base](!)\na=1\n[t](!,base)\nb=2\n[s](t)\nc=3\n[s](+)\nd=4\n"
    parsed = parse_text(text)
    assert [s.name for s in parsed.objects()] == ["s"]
    assert [(i.key, i.value) for i in parsed.objects()[0].items] == [
        ("a", "1"),
        ("b", "2"),
        ("c", "3"),
        ("d", "4"),
    ]


def test_sections_of_one_name_stay_separate() -> None:
    parsed = parse_text("[user1]\ntype=aor\n[user1]\ntype=endpoint\n")
    assert [items(parsed, i) for i in (0, 1)] == [[("type", "aor")], [("type", "endpoint")]]


def test_escaped_first_character() -> None:
    parsed = parse_text("[s]\n\\[odd=1\n\\=eq=2\n")
    assert items(parsed) == [("[odd", "1"), ("=eq", "2")]


def test_line_without_equals_warns_and_is_ignored() -> None:
    parsed = parse_text("[s]\njunk\na=1\n", name="f.conf")
    assert items(parsed) == [("a", "1")]
    assert str(parsed.warnings[0]) == "f.conf:2: no '=' (equal sign) in line; line ignored"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a=1\n", 1, "a setting before any [section]"),
        ("[s]\n[broken\n", 2, "no closing ']'"),
        ("[s](!\n", 1, "no closing ')'"),
        ("[s](nope)\n", 1, "section 'nope' does not exist"),
        ("[x]\n[s](+)\n", 2, "section 's' does not exist"),
        ("\n\n[s]\n#include missing.conf\n", 4, "'missing.conf' was listed as a #include"),
        ("[s]\n\\ x=1\n", 2, "invalid escape"),
    ],
)
def test_errors_name_file_and_line(text: str, line: int, message: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.conf"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        parse_file(path)
    assert caught.value.origin.file == str(path)
    assert caught.value.origin.line == line
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_include_forms_continue_the_current_section(tmp_path: Path) -> None:
    (tmp_path / "one.conf").write_text("b=2\n")
    (tmp_path / "two.conf").write_text("c=3\n")
    (tmp_path / "three.conf").write_text("[other]\nz=9\n")
    (tmp_path / "main.conf").write_text(
        '[s]\na=1\n#include one.conf\n#include "two.conf"\n#include <three.conf>\nd=4\n'
    )
    parsed = parse_file(tmp_path / "main.conf")
    assert items(parsed) == [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]
    assert items(parsed, 1) == [("z", "9")]
    assert parsed.sections[1].origin.file == str(tmp_path / "three.conf")


def test_tryinclude_of_a_missing_file_is_silent_and_globs_expand(tmp_path: Path) -> None:
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "b.conf").write_text("[b]\n")
    (tmp_path / "extra" / "a.conf").write_text("[a]\n")
    (tmp_path / "main.conf").write_text("#tryinclude nothere.conf\n#include extra/*.conf\n")
    parsed = parse_file(tmp_path / "main.conf")
    assert [s.name for s in parsed.sections] == ["a", "b"]
    assert parsed.warnings == ()


def test_include_loop_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("[s]\n#include b.conf\n")
    (tmp_path / "b.conf").write_text("#include a.conf\n")
    with pytest.raises(ConfigError, match="#include loop") as caught:
        parse_file(tmp_path / "a.conf")
    assert caught.value.origin == type(caught.value.origin)(str(tmp_path / "b.conf"), 1)


def test_unknown_and_exec_directives_warn() -> None:
    parsed = parse_text("#exec /bin/true\n#frobnicate x\n#include\n", name="d.conf")
    assert [w.origin.line for w in parsed.warnings] == [1, 2, 3]


def test_missing_file_reads_as_empty(tmp_path: Path) -> None:
    assert parse_file(tmp_path / "absent.conf").sections == ()


def test_crlf_files_and_non_utf8_bytes(tmp_path: Path) -> None:
    path = tmp_path / "w.conf"
    path.write_bytes(b"[s]\r\nname = caf\xe9\r\n")
    parsed = parse_file(path)
    assert parsed.sections[0].items[0].value.encode("utf-8", "surrogateescape") == b"caf\xe9"
