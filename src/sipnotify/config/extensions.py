"""extensions.conf: the small dialplan inbound calls run (Asterisk's pbx_config syntax).

Owns the model: contexts of extensions, each a list of numbered steps `App(data)`; `exten =>
name,priority,App(data)` with numbered, `n` and `n(label)` priorities, `same => n,...`,
`include => context`; pattern extensions (`_X.`, `_NXXN`, `_[1-5]!`); and finding the steps of
a dialled extension, exact names before patterns, the most specific pattern first.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from sipnotify.config.parser import ConfigError, Diagnostic, Item, Origin, ParsedConfig

APPLICATIONS = frozenset(
    ("answer", "ringing", "progress", "wait", "noop", "hangup", "echo", "dial", "pjsipnotify")
)
_PATTERN_CLASSES = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]"}


@dataclass(frozen=True, slots=True)
class Step:
    """One priority: the application (its name as written) and its raw argument text."""

    priority: int
    app: str
    data: str
    origin: Origin
    label: str = ""


@dataclass(frozen=True, slots=True)
class Extension:
    name: str
    steps: tuple[Step, ...]

    @property
    def is_pattern(self) -> bool:
        return self.name.startswith("_")

    def step(self, priority: int) -> Step | None:
        return next((s for s in self.steps if s.priority == priority), None)

    def next_step(self, priority: int) -> Step | None:
        """The step after `priority` (priorities may have gaps: 1, 2, 5 run in order)."""
        later = [s for s in self.steps if s.priority > priority]
        return min(later, key=lambda s: s.priority) if later else None


@dataclass(frozen=True, slots=True)
class Context:
    name: str
    extensions: tuple[Extension, ...]
    includes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Dialplan:
    contexts: Mapping[str, Context] = field(default_factory=dict)

    def find(self, context: str, exten: str) -> Extension | None:
        """The extension `exten` dials in `context`, looking into included contexts after the
        context's own extensions (each context at most once)."""
        seen: set[str] = set()
        queue = [context]
        while queue:
            name = queue.pop(0)
            if name in seen or name not in self.contexts:
                continue
            seen.add(name)
            found = _match(self.contexts[name], exten)
            if found is not None:
                return found
            queue.extend(self.contexts[name].includes)
        return None


def _match(context: Context, exten: str) -> Extension | None:
    for extension in context.extensions:
        if not extension.is_pattern and extension.name == exten:
            return extension
    matching = [e for e in context.extensions if e.is_pattern and pattern_matches(e.name, exten)]
    if not matching:
        return None
    return min(matching, key=_specificity)


def _specificity(extension: Extension) -> tuple[int, int]:
    """Asterisk tries the narrowest pattern first: without `.`/`!` before with, then the one
    whose characters admit the fewest digits."""
    body = extension.name[1:]
    wildcard = int("." in body or "!" in body)
    width = sum(len(_expand(c)) for c in _tokens(body) if c not in ".!")
    return wildcard, width


def pattern_matches(pattern: str, exten: str) -> bool:
    """`_` patterns: X 0-9, Z 1-9, N 2-9, [a-c5] a class, `.` one or more of anything,
    `!` zero or more; other characters stand for themselves (case-insensitively)."""
    return _compile(pattern).fullmatch(exten) is not None


def _compile(pattern: str) -> re.Pattern[str]:
    parts = []
    for token in _tokens(pattern[1:]):
        if token == ".":
            parts.append(".+")
        elif token == "!":
            parts.append(".*")
        elif token.upper() in _PATTERN_CLASSES:
            parts.append(_PATTERN_CLASSES[token.upper()])
        elif token.startswith("["):
            parts.append("[" + re.sub(r"([\\\]^])", r"\\\1", token[1:-1]) + "]")
        else:
            parts.append(re.escape(token))
    return re.compile("".join(parts), re.IGNORECASE)


def _tokens(body: str) -> list[str]:
    tokens: list[str] = []
    index = 0
    while index < len(body):
        if body[index] == "[":
            end = body.find("]", index)
            end = len(body) - 1 if end < 0 else end
            tokens.append(body[index : end + 1])
            index = end + 1
        else:
            tokens.append(body[index])
            index += 1
    return tokens


def _expand(token: str) -> str:
    if token.upper() in _PATTERN_CLASSES:
        return {"X": "0123456789", "Z": "123456789", "N": "23456789"}[token.upper()]
    if token.startswith("["):
        inner = token[1:-1]
        return "".join(
            "".join(chr(c) for c in range(ord(m[0]), ord(m[2]) + 1)) if len(m) == 3 else m
            for m in re.findall(r".-.|.", inner)
        )
    return token


def load_extensions(parsed: ParsedConfig) -> tuple[Dialplan, list[Diagnostic]]:
    """Every context of extensions.conf (`[general]` and `[globals]` are settings, not
    contexts). Raises ConfigError, naming file and line, for a line that cannot be a step."""
    contexts: dict[str, Context] = {}
    warnings: list[Diagnostic] = []
    for section in parsed.objects():
        if section.name.lower() in ("general", "globals"):
            continue
        contexts[section.name] = _context(section.name, section.items, warnings)
    return Dialplan(contexts=contexts), warnings


@dataclass(slots=True)
class _Builder:
    steps: dict[str, list[Step]] = field(default_factory=dict)
    last: str | None = None
    includes: list[str] = field(default_factory=list)


def _context(name: str, items: tuple[Item, ...], warnings: list[Diagnostic]) -> Context:
    builder = _Builder()
    for item in items:
        key = item.key.lower()
        if key == "exten":
            exten, _, rest = item.value.partition(",")
            _add(builder, exten.strip(), rest, item, warnings)
        elif key == "same":
            if builder.last is None:
                raise ConfigError(item.origin, "'same =>' before any 'exten =>'")
            _add(builder, builder.last, item.value, item, warnings)
        elif key == "include":
            builder.includes.append(item.value.strip())
        else:
            warnings.append(Diagnostic(item.origin, f"unknown dialplan setting '{item.key}'"))
    extensions = tuple(Extension(n, tuple(s)) for n, s in builder.steps.items())
    return Context(name=name, extensions=extensions, includes=tuple(builder.includes))


_PRIORITY = re.compile(r"^(\d+|n)(?:\(([^)]*)\))?$", re.IGNORECASE)


def _add(builder: _Builder, exten: str, rest: str, item: Item, warnings: list[Diagnostic]) -> None:
    priority_text, _, application = rest.partition(",")
    priority_text = priority_text.strip()
    if not exten:
        raise ConfigError(item.origin, "extension name missing")
    if priority_text.lower() == "hint":
        return
    found = _PRIORITY.match(priority_text)
    if found is None:
        raise ConfigError(item.origin, f"invalid priority '{priority_text}'")
    steps = builder.steps.setdefault(exten, [])
    if found.group(1).lower() == "n":
        if not steps:
            raise ConfigError(item.origin, f"priority 'n' without an earlier step of {exten}")
        priority = steps[-1].priority + 1
    else:
        priority = int(found.group(1))
    app, data = _application(application.strip(), item.origin)
    if app.lower() not in APPLICATIONS:
        warnings.append(Diagnostic(item.origin, f"application '{app}' is not supported"))
    if any(s.priority == priority for s in steps):
        warnings.append(Diagnostic(item.origin, f"priority {priority} of {exten} repeats; ignored"))
    else:
        steps.append(Step(priority, app, data, item.origin, found.group(2) or ""))
        steps.sort(key=lambda s: s.priority)
    builder.last = exten


def _application(text: str, origin: Origin) -> tuple[str, str]:
    """`App(data)` or a bare `App`; an `App,data` line is read as Asterisk does, too."""
    if not text:
        raise ConfigError(origin, "application missing")
    paren = text.find("(")
    comma = text.find(",")
    if paren >= 0 and (comma < 0 or paren < comma):
        if not text.endswith(")"):
            raise ConfigError(origin, f"missing ')' in '{text}'")
        return text[:paren].strip(), text[paren + 1 : -1]
    if comma >= 0:
        return text[:comma].strip(), text[comma + 1 :]
    return text.strip(), ""
