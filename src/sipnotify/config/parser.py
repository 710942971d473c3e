"""Asterisk configuration file syntax (Asterisk main/config.c), read into ordered sections.

Owns the syntax only: `;` comments and `\\;`, nestable `;-- --;` block comments, `[name]`
sections with `(!)` templates, `(a,b)` inheritance and `(+)` additions, `=` / `=>` / `+=`
items, and `#include` / `#tryinclude`. What a file *means* is the model modules' business.
Every error and warning names the file and line it came from. Imports nothing of ours.
"""

from __future__ import annotations

import enum
import glob
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Asterisk's ast_strip()/ast_skip_blanks() treat every byte below 33 as blank.
BLANKS = "".join(chr(c) for c in range(1, 33))
MAX_NESTED_COMMENTS = 128
MAX_INCLUDE_DEPTH = 32
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where something was written: a file and a 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class ConfigError(Exception):
    """A configuration that cannot be used; start-up stops on it."""

    def __init__(self, origin: Origin, message: str) -> None:
        super().__init__(f"{origin}: {message}")
        self.origin = origin
        self.message = message


class Concern(enum.Enum):
    """What a diagnostic is about: a line that may be wrong, or an option that is read and
    accepted (Asterisk has it) but changes nothing in sipnotify."""

    WARNING = "warning"
    NO_EFFECT = "no effect"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A warning about a configuration that is still usable."""

    origin: Origin
    message: str
    concern: Concern = Concern.WARNING

    def __str__(self) -> str:
        return f"{self.origin}: {self.message}"


@dataclass(frozen=True, slots=True)
class Item:
    """One `key = value` line, after inheritance and `+=` have been applied."""

    key: str
    value: str
    origin: Origin


@dataclass(frozen=True, slots=True)
class Section:
    """A `[name]` section with its items in file order (inherited items first)."""

    name: str
    items: tuple[Item, ...]
    origin: Origin
    is_template: bool = False

    def first(self, key: str) -> Item | None:
        """The first item named `key` (case-insensitive), as Asterisk's variable lookup."""
        wanted = key.lower()
        return next((item for item in self.items if item.key.lower() == wanted), None)


@dataclass(frozen=True, slots=True)
class ParsedConfig:
    """All sections of one file and its includes, in order, and the warnings met."""

    sections: tuple[Section, ...]
    warnings: tuple[Diagnostic, ...]

    def objects(self) -> tuple[Section, ...]:
        """The sections that define objects: templates are left out, as Asterisk does."""
        return tuple(s for s in self.sections if not s.is_template)


@dataclass(slots=True)
class _Building:
    name: str
    origin: Origin
    items: list[Item] = field(default_factory=list)
    is_template: bool = False

    def freeze(self) -> Section:
        return Section(
            name=self.name,
            items=tuple(self.items),
            origin=self.origin,
            is_template=self.is_template,
        )


def parse_file(path: Path) -> ParsedConfig:
    """Read `path` and everything it includes; a missing file reads as empty (as Asterisk)."""
    return parse_files([path])


def parse_files(paths: Sequence[Path]) -> ParsedConfig:
    """Read several files in order as one configuration; `#include` resolves against the
    first file's folder, and a later file may add to or inherit from an earlier one."""
    reader = _Reader(paths[0].parent if paths else Path.cwd())
    for path in paths:
        reader.read_file(path, current=None, origin=None, optional=True)
    return reader.result()


def parse_text(text: str, *, name: str = "<text>", base_dir: Path | None = None) -> ParsedConfig:
    """Read configuration text; `#include` paths resolve against `base_dir`."""
    reader = _Reader(base_dir or Path.cwd())
    reader.read_lines(text, name, current=None)
    return reader.result()


def strip_blanks(text: str) -> str:
    """Asterisk's ast_strip(): trim every character below 33 from both ends."""
    return text.strip(BLANKS)


class _Reader:
    def __init__(self, base_dir: Path) -> None:
        self._base_dir = base_dir
        self._sections: list[_Building] = []
        self._warnings: list[Diagnostic] = []
        self._stack: list[Path] = []

    def result(self) -> ParsedConfig:
        return ParsedConfig(
            sections=tuple(s.freeze() for s in self._sections), warnings=tuple(self._warnings)
        )

    def read_file(
        self, path: Path, *, current: _Building | None, origin: Origin | None, optional: bool
    ) -> None:
        resolved = path.resolve()
        where = origin or Origin(str(path), 0)
        if resolved in self._stack:
            raise ConfigError(where, f"#include loop: '{path}' includes itself")
        if len(self._stack) >= MAX_INCLUDE_DEPTH:
            raise ConfigError(where, f"#include nested deeper than {MAX_INCLUDE_DEPTH} files")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            if optional:
                return
            raise ConfigError(where, f"cannot read '{path}': file not found") from None
        except OSError as exc:
            raise ConfigError(where, f"cannot read '{path}': {exc.strerror}") from None
        self._stack.append(resolved)
        try:
            self.read_lines(data.decode("utf-8", "surrogateescape"), str(path), current=current)
        finally:
            self._stack.pop()

    def read_lines(self, text: str, name: str, *, current: _Building | None) -> None:
        depth = 0
        opened_at = 0
        for number, raw in enumerate(text.split("\n"), start=1):
            was_open = depth
            kept, depth = _strip_comments(raw, depth)
            if depth and not was_open:
                opened_at = number
            line = strip_blanks(kept)
            if line:
                current = self._line(line, Origin(name, number), current)
        if depth:
            self._warn(Origin(name, opened_at), "unterminated ';--' block comment")

    def _warn(self, origin: Origin, message: str) -> None:
        self._warnings.append(Diagnostic(origin, message))

    def _line(self, line: str, origin: Origin, current: _Building | None) -> _Building | None:
        if line[0] == "[":
            return self._section(line, origin)
        if line[0] == "#":
            self._directive(line, origin, current)
            return current
        if current is None:
            raise ConfigError(origin, "parse error: a setting before any [section]")
        self._item(line, origin, current)
        return current

    def _find(self, name: str) -> _Building | None:
        return next((s for s in self._sections if s.name == name), None)

    def _section(self, line: str, origin: Origin) -> _Building:
        close = line.find("]")
        if close < 0:
            raise ConfigError(origin, "parse error: no closing ']'")
        name, rest = line[1:close], line[close + 1 :]
        building = _Building(name=name, origin=origin)
        target, appended = building, False
        if rest.startswith("("):
            end = rest.find(")")
            if end < 0:
                raise ConfigError(origin, "parse error: no closing ')'")
            for option in rest[1:end].split(","):
                if option == "!":
                    target.is_template = True
                elif option.startswith("+"):
                    target, appended = self._append_to(name, building, origin), True
                else:
                    target.items.extend(self._base(option, origin).items)
        if not appended:
            self._sections.append(building)
        return target

    def _append_to(self, name: str, building: _Building, origin: Origin) -> _Building:
        existing = self._find(name)
        if existing is None:
            raise ConfigError(
                origin, f"section addition requested, but section '{name}' does not exist"
            )
        existing.is_template |= building.is_template
        existing.items.extend(building.items)
        return existing

    def _base(self, name: str, origin: Origin) -> _Building:
        base = self._find(name)
        if base is None:
            raise ConfigError(origin, f"inheritance requested, but section '{name}' does not exist")
        return base

    def _directive(self, line: str, origin: Origin, current: _Building | None) -> None:
        body = line[1:]
        cut = next((i for i, ch in enumerate(body) if ch < "!"), len(body))
        word, argument = body[:cut], body[cut:]
        kind = word.lower()
        argument = _dequote(strip_blanks(argument))
        if kind == "exec":
            self._warn(origin, "#exec is not supported; line ignored")
        elif kind not in ("include", "tryinclude"):
            self._warn(origin, f"unknown directive '#{word}'; line ignored")
        elif not argument:
            self._warn(origin, f"directive '#{word}' needs a file name; line ignored")
        else:
            self._include(argument, origin, current, optional=kind == "tryinclude")

    def _include(
        self, argument: str, origin: Origin, current: _Building | None, *, optional: bool
    ) -> None:
        path = Path(argument)
        if not path.is_absolute():
            path = self._base_dir / path
        try:
            if _GLOB_CHARS.isdisjoint(argument):
                paths = [path] if path.exists() else []
            else:
                paths = [Path(p) for p in sorted(glob.glob(str(path)))]
        except OSError as exc:  # a name too long for the file system, a folder we may not read
            raise ConfigError(
                origin, f"cannot #include '{argument[:80]}': {exc.strerror}"
            ) from None
        if not paths and not optional:
            raise ConfigError(
                origin, f"the file '{argument}' was listed as a #include but it does not exist"
            )
        for each in paths:
            self.read_file(each, current=current, origin=origin, optional=optional)

    def _item(self, line: str, origin: Origin, current: _Building) -> None:
        start = 0
        if line[0] == "\\":
            line = line[1:]
            if not line or line[0] < "!":
                raise ConfigError(origin, "invalid escape at the start of the line")
            start = 1
        equals = line.find("=", start)
        if equals < 0:
            self._warn(origin, "no '=' (equal sign) in line; line ignored")
            return
        if equals > start and line[equals - 1] == "+":
            key = strip_blanks(line[: equals - 1])
            if _append_value(current, key, line[equals + 1 :], origin):
                return
            value = strip_blanks(line[equals + 1 :])
        else:
            key, value = strip_blanks(line[:equals]), line[equals + 1 :]
            value = strip_blanks(value[1:] if value.startswith(">") else value)
        if not key:
            self._warn(origin, "no setting name before '='; line ignored")
            return
        current.items.append(Item(key=key, value=value, origin=origin))


def _append_value(current: _Building, key: str, tail: str, origin: Origin) -> bool:
    """`key += tail`: append to the last value of `key` in place; False if there is none."""
    for index in range(len(current.items) - 1, -1, -1):
        item = current.items[index]
        if item.key == key:
            joined = (item.value + tail).rstrip(BLANKS).lstrip(BLANKS)
            current.items[index] = Item(key=key, value=joined, origin=origin)
            return True
    return False


def _dequote(argument: str) -> str:
    """Strip one pair of surrounding `"..."` or `<...>`, as `#include` allows."""
    pairs = {'"': '"', "<": ">"}
    if len(argument) >= 2 and argument[0] in pairs and argument[-1] == pairs[argument[0]]:
        return argument[1:-1]
    return argument


def _strip_comments(raw: str, depth: int) -> tuple[str, int]:
    """The text of `raw` outside comments, and the block-comment depth after it.

    `;` starts a comment to the end of the line unless written `\\;` (the backslash is
    dropped); `;--` opens a block comment and `--;` closes it; blocks nest.
    """
    kept: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        j = raw.find(";", i)
        if j < 0:
            if not depth:
                kept.append(raw[i:])
            break
        if j > 0 and raw[j - 1] == "\\":
            if not depth:
                kept.append(raw[i : j - 1] + ";")
        elif raw.startswith(";--", j) and raw[j + 3 : j + 4] != "-":
            if not depth:
                kept.append(raw[i:j])
            depth = min(depth + 1, MAX_NESTED_COMMENTS)
            i = j + 3
            continue
        elif depth and j >= i + 2 and raw[j - 2 : j] == "--":
            depth -= 1
        elif not depth:
            kept.append(raw[i:j])
            break
        i = j + 1
    return "".join(kept), depth
