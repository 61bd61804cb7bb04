"""GitHub Actions expressions (`${{ … }}`), evaluated as a runner does, for the jobs a rehearsal runs.

The part of the language workflows use in `if:`, `env:` and scripts:
literals, context properties (`github.ref_name`, `env.X`,
`steps.id.outputs.x`, `needs.job.result`), `==` `!=` `<` `<=` `>` `>=`
(strings compared without case), `&&` `||` `!` and parentheses, and the
functions `contains`, `startsWith`, `endsWith`, `format`, `join`, `toJSON`,
`fromJSON`, `success`, `failure`, `always`, `cancelled`. Anything else
(`hashFiles`, a property the rehearsal cannot know) raises Unknown: the
caller then says it could not run that part, rather than guess.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>-?(?:0x[0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?))"
    r"|(?P<op>==|!=|<=|>=|&&|\|\||[<>!()\[\],.*])|(?P<name>[A-Za-z_][A-Za-z0-9_-]*))"
)
_EMBEDDED = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)


class Unknown(Exception):
    """The expression uses something a rehearsal cannot evaluate honestly."""


@dataclass(frozen=True)
class Status:
    """What the status functions answer for the step or job being decided."""

    success: bool = True
    failure: bool = False


class Contexts:
    """The contexts an expression reads. A root missing here (`matrix` outside a matrix) is Unknown; a property
    missing under a known root is null, as on GitHub, except under `unknown_below` (the event's payload, which a
    rehearsal does not have)."""

    def __init__(
        self, values: Mapping[str, Any], *, unknown_below: frozenset[str] = frozenset(), on_read: Callable[[str], None]
    ) -> None:
        self.values = values
        self.unknown_below = unknown_below
        self.on_read = on_read


def evaluate(expression: str, contexts: Contexts, status: Status = Status()) -> Any:
    """The value of one expression (without `${{ }}`)."""
    parser = _Parser(_tokens(expression), contexts, status)
    value = parser.expression()
    if parser.position != len(parser.tokens):
        raise Unknown(f"cannot read the expression {expression.strip()!r}")
    return value


def condition(text: Any, contexts: Contexts, status: Status) -> bool:
    """An `if:`: written with or without `${{ }}`; absent, `success()`."""
    if text is None:
        return status.success
    if isinstance(text, bool):
        return text
    source = str(text).strip()
    embedded = _EMBEDDED.fullmatch(source)
    value = evaluate(embedded.group(1) if embedded else source, contexts, status)
    if not _uses_status(embedded.group(1) if embedded else source):
        return status.success and truthy(value)  # GitHub adds `success() &&` to a condition without one
    return truthy(value)


def expand(text: str, contexts: Contexts, status: Status = Status()) -> str:
    """A string with each `${{ … }}` replaced by its value as text."""
    return _EMBEDDED.sub(lambda found: as_text(evaluate(found.group(1), contexts, status)), text)


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value, indent=2)
    return str(value)


def truthy(value: Any) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (None, False, 0, "")


def _uses_status(expression: str) -> bool:
    return bool(re.search(r"\b(?:success|failure|always|cancelled)\s*\(", expression))


def _tokens(expression: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = expression.rstrip()
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None or found.end() == position:
            raise Unknown(f"cannot read the expression {expression.strip()!r}")
        kind = found.lastgroup
        assert kind is not None
        tokens.append((kind, found.group(kind)))
        position = found.end()
    return tokens


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0.0
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
        except ValueError:
            return math.nan
    return math.nan


def _compare(left: Any, right: Any) -> tuple[Any, Any]:
    if isinstance(left, str) and isinstance(right, str):
        return left.lower(), right.lower()
    if type(left) is type(right) and not isinstance(left, (dict, list)):
        return left, right
    return _number(left), _number(right)


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], contexts: Contexts, status: Status) -> None:
        self.tokens, self.position, self.contexts, self.status = tokens, 0, contexts, status

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, text: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (text is not None and token[1] != text):
            raise Unknown(f"expected {text or 'more'} in the expression")
        self.position += 1
        return token

    def expression(self) -> Any:
        value = self.conjunction()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.conjunction()
            value = value if truthy(value) else right
        return value

    def conjunction(self) -> Any:
        value = self.comparison()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.comparison()
            value = right if truthy(value) else value
        return value

    def comparison(self) -> Any:
        value = self.unary()
        while self.peek() in (("op", "=="), ("op", "!="), ("op", "<"), ("op", "<="), ("op", ">"), ("op", ">=")):
            operator = self.take()[1]
            left, right = _compare(value, self.unary())
            if operator == "==":
                value = left == right
            elif operator == "!=":
                value = left != right
            else:
                try:
                    value = {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[operator]
                except TypeError:
                    value = False
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.primary()

    def primary(self) -> Any:
        kind, text = self.take()
        if (kind, text) == ("op", "("):
            value = self.expression()
            self.take(")")
            return value
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return float(int(text, 16)) if "x" in text.lower() else float(text)
        if kind != "name":
            raise Unknown(f"unexpected {text!r} in the expression")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self.peek() == ("op", "("):
            return self.call(text)
        return self.property(text)

    def call(self, name: str) -> Any:
        self.take("(")
        arguments: list[Any] = []
        while self.peek() != ("op", ")"):
            arguments.append(self.expression())
            if self.peek() == ("op", ","):
                self.take()
        self.take(")")
        return _call(name, arguments, self.status)

    def property(self, root: str) -> Any:
        if root not in self.contexts.values:
            raise Unknown(f"the context `{root}` is not known to a rehearsal")
        path, value = root, self.contexts.values[root]
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                key: Any = self.take()[1]
            else:
                key = self.expression()
                self.take("]")
            if path in self.contexts.unknown_below:
                raise Unknown(f"`{path}.{key}` is not known to a rehearsal")
            path = f"{path}.{key}"
            if isinstance(value, dict):
                lowered = {str(k).lower(): v for k, v in value.items()}
                value = lowered.get(str(key).lower())
            elif isinstance(value, list) and isinstance(key, float) and key.is_integer() and 0 <= key < len(value):
                value = value[int(key)]
            else:
                value = None  # a property that is not there is null, as on GitHub
        self.contexts.on_read(path)
        return value


def _call(name: str, arguments: list[Any], status: Status) -> Any:
    lowered = name.lower()
    if lowered == "success":
        return status.success
    if lowered == "failure":
        return status.failure
    if lowered == "always":
        return True
    if lowered == "cancelled":
        return False
    if lowered == "contains" and len(arguments) == 2:
        haystack, needle = arguments
        if isinstance(haystack, list):
            return any(_compare(item, needle)[0] == _compare(item, needle)[1] for item in haystack)
        return as_text(needle).lower() in as_text(haystack).lower()
    if lowered == "startswith" and len(arguments) == 2:
        return as_text(arguments[0]).lower().startswith(as_text(arguments[1]).lower())
    if lowered == "endswith" and len(arguments) == 2:
        return as_text(arguments[0]).lower().endswith(as_text(arguments[1]).lower())
    if lowered == "format" and arguments:
        template = as_text(arguments[0]).replace("{{", "\0").replace("}}", "\1")
        text = re.sub(r"\{(\d+)\}", lambda found: as_text(arguments[1 + int(found.group(1))]), template)
        return text.replace("\0", "{").replace("\1", "}")
    if lowered == "join" and arguments:
        separator = as_text(arguments[1]) if len(arguments) > 1 else ","
        items = arguments[0] if isinstance(arguments[0], list) else [arguments[0]]
        return separator.join(as_text(item) for item in items)
    if lowered == "tojson" and len(arguments) == 1:
        return json.dumps(arguments[0], indent=2)
    if lowered == "fromjson" and len(arguments) == 1:
        try:
            return json.loads(as_text(arguments[0]))
        except ValueError as error:
            raise Unknown(f"fromJSON of text that is not JSON: {error}") from None
    raise Unknown(f"the function `{name}` is not evaluated by a rehearsal")
