"""Amazon Personalize filter expressions: parse once at CreateFilter, evaluate per recommendation request.

The grammar follows the developer guide's "Filter expression structure and elements",
"Guidelines and requirements" and "Item recommendation filter expression examples"::

    expression  := part ( "|" part )*
    part        := ( INCLUDE | EXCLUDE ) ItemID WHERE condition [ IF user_cond ]
    condition   := and_cond ( OR and_cond )*             -- AND binds tighter than OR
    and_cond    := comparison ( AND comparison )*
    comparison  := DATASET "." FIELD ( [NOT] IN ( "(" value ( "," value )* ")" | CurrentItem.FIELD )
                                     | ( "=" | "<" | "<=" | ">" | ">=" ) operand )
    user_cond   := CurrentUser.FIELD <same operators> ( AND CurrentUser.FIELD ... )*
    value       := "double-quoted string" | number | $PARAMETER
    operand     := number | $PARAMETER | CurrentItem.FIELD | "string" (with "=" only)

Keywords (INCLUDE, EXCLUDE, ItemID, WHERE, AND, OR, IN, NOT, IF) and dataset names are matched without
regard to case, as the guide's own examples write ``EXCLUDE itemId WHERE INTERACTIONS.EVENT_TYPE in (...)``.
Rules from the guide that are enforced at parse time (the mirror's CreateFilter answers them with
``InvalidInputException``):

- one dataset per part: "Conditions chained together using AND or OR can only affect fields of the
  dataset used in the first condition"; Items and Interactions are combined by chaining parts with ``|``;
- Interactions filters "can only filter based on event type" (``Interactions.EVENT_TYPE``, IN/NOT IN);
- ``IF`` only tests ``CurrentUser``, once, at the end of a part, extended only with ``AND``; it may
  follow Items or Interactions conditions (the guide: "You can add CurrentUser ... to any expression
  regardless of the dataset that is being used");
- placeholder parameters cannot be used with ``NOT IN``;
- at most 10 distinct dataset fields per filter; expression length 1-2,500 characters;
- ``CurrentItem.FIELD`` only as the right-hand side of an Items comparison (related-items requests).

``UserID`` (user segment) and ``ActionID`` filters are not supported and are reported as syntax errors.

Evaluation semantics (see :meth:`FilterExpression.evaluate`):

- result = (union of the INCLUDE parts, or every candidate when no INCLUDE part applies) minus the union
  of the EXCLUDE parts ("Combining multiple expressions");
- a part whose ``IF CurrentUser...`` condition does not hold for the current user (or whose user is
  unknown) is skipped; an EXCLUDE part whose parameter is missing from ``filterValues`` is skipped, a
  missing INCLUDE parameter raises :class:`~personalize_kit.exceptions.InvalidFilterValuesError`
  (``filterValues`` documentation of GetRecommendations);
- a multi-valued categorical field (``|``-joined) matches ``IN`` when any of its values is listed;
  ``NOT IN`` is the negation of ``IN``, so an item with no value for the field is ``NOT IN`` any list;
  string matching is exact, event types match without regard to case ("Amazon Personalize ignores
  case only when matching event types"); ``"*"`` in an event type list matches every event type;
- only the 100 newest interactions per user and event type count (quota in "Filter expressions");
- a field that the data does not have (no such column) matches nothing, whatever the operator: an
  INCLUDE on it keeps no candidate and an EXCLUDE on it removes none. The guide does not say what the
  service does with a field missing from the dataset (CreateFilter checks fields against the schema,
  which :attr:`FilterExpression.fields` lets the caller do); matching nothing is the reading under which
  a filter never lets through items it was written to keep out of an INCLUDE list;
- a candidate that is not in the Items data behaves like an item whose fields are all empty.

Example:
    >>> expr = parse_filter('INCLUDE ItemID WHERE Items.GENRES IN ($GENRE) | EXCLUDE ItemID WHERE '
    ...                     'Interactions.EVENT_TYPE IN ("watch")')
    >>> sorted(expr.parameters)
    ['GENRE']
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as _field
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import pandas as pd

from personalize_kit.exceptions import FilterSyntaxError, InvalidFilterValuesError

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "CURRENT_ITEM",
    "CURRENT_USER",
    "INTERACTIONS",
    "ITEMS",
    "MAX_DISTINCT_FIELDS",
    "MAX_EXPRESSION_LENGTH",
    "MAX_FILTER_VALUES",
    "MAX_FILTER_VALUE_LENGTH",
    "MAX_INTERACTIONS_PER_EVENT_TYPE",
    "And",
    "BoundFilter",
    "Comparison",
    "FieldRef",
    "FilterExpression",
    "FilterPart",
    "Number",
    "Or",
    "Param",
    "parse_filter",
    "parse_filter_values",
]

#: CreateFilter's ``filterExpression`` length limits (botocore model: min 1, max 2500).
MIN_EXPRESSION_LENGTH = 1
MAX_EXPRESSION_LENGTH = 2500
#: "The maximum number of distinct dataset fields you can use in a filter ... is 10."
MAX_DISTINCT_FIELDS = 10
#: GetRecommendations ``filterValues``: at most 25 entries, each value at most 1,000 characters, keys
#: ``[A-Za-z0-9_]+`` of at most 50 characters (botocore model of personalize-runtime).
MAX_FILTER_VALUES = 25
MAX_FILTER_VALUE_LENGTH = 1000
MAX_PARAMETER_NAME_LENGTH = 50
#: "Amazon Personalize considers up to 100 of the most recent interactions per user per event type."
MAX_INTERACTIONS_PER_EVENT_TYPE = 100

ITEMS = "Items"
INTERACTIONS = "Interactions"
CURRENT_USER = "CurrentUser"
CURRENT_ITEM = "CurrentItem"

Action = Literal["INCLUDE", "EXCLUDE"]
NUMERIC_OPERATORS = ("=", "<", "<=", ">", ">=")

_KEYWORDS = {"include", "exclude", "itemid", "where", "and", "or", "in", "not", "if"}
_DATASETS = {
    "items": ITEMS,
    "interactions": INTERACTIONS,
    "currentuser": CURRENT_USER,
    "currentitem": CURRENT_ITEM,
    "users": "Users",
    "actions": "Actions",
    "actioninteractions": "ActionInteractions",
}
_DATASET_HINTS = {"item": ITEMS, "interaction": INTERACTIONS, "user": "Users", "action": "Actions"}
_ASCII_LETTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_DIGITS = set("0123456789")
_WORD_CHARS = _ASCII_LETTERS | _DIGITS


# ----------------------------------------------------------------------------------------------- AST


@dataclass(frozen=True)
class Number:
    """A numeric literal; ``text`` keeps it as written (used when matching string fields)."""

    value: float
    text: str = _field(default="", compare=False)

    def __str__(self) -> str:
        return self.text or repr(self.value)


@dataclass(frozen=True)
class Param:
    """A ``$NAME`` placeholder, filled from the request's ``filterValues``."""

    name: str
    position: int = _field(default=-1, compare=False)

    def __str__(self) -> str:
        return f"${self.name}"


@dataclass(frozen=True)
class FieldRef:
    """``Dataset.FIELD``; ``dataset`` is canonical (Items, Interactions, CurrentUser, CurrentItem)."""

    dataset: str
    field: str
    position: int = _field(default=-1, compare=False)

    def __str__(self) -> str:
        return f"{self.dataset}.{self.field}"


Value = str | Number | Param


@dataclass(frozen=True)
class Comparison:
    """``field op operand``: ``values`` holds the IN list, or one operand for the other operators."""

    field: FieldRef
    op: str
    values: tuple[Value | FieldRef, ...]

    def __str__(self) -> str:
        if self.op in ("IN", "NOT IN"):
            if len(self.values) == 1 and isinstance(self.values[0], FieldRef):
                return f"{self.field} {self.op} {self.values[0]}"
            return f"{self.field} {self.op} ({', '.join(_render_value(v) for v in self.values)})"
        return f"{self.field} {self.op} {_render_value(self.values[0])}"


@dataclass(frozen=True)
class And:
    """All of ``terms`` hold."""

    terms: tuple[Condition, ...]

    def __str__(self) -> str:
        return " AND ".join(str(t) for t in self.terms)


@dataclass(frozen=True)
class Or:
    """Any of ``terms`` holds."""

    terms: tuple[Condition, ...]

    def __str__(self) -> str:
        return " OR ".join(str(t) for t in self.terms)


Condition = Comparison | And | Or


@dataclass(frozen=True)
class FilterPart:
    """One ``INCLUDE|EXCLUDE ItemID WHERE ... [IF ...]`` expression of a filter."""

    action: Action
    dataset: str
    condition: Condition
    user_condition: Condition | None = None
    text: str = _field(default="", compare=False)

    @property
    def parameters(self) -> frozenset[str]:
        """Names of the ``$PARAM`` placeholders used in this part."""
        names = {v.name for c in self.comparisons() for v in c.values if isinstance(v, Param)}
        return frozenset(names)

    def comparisons(self) -> list[Comparison]:
        """Every comparison of the part, WHERE clause first, then the IF clause."""
        out = _comparisons(self.condition)
        if self.user_condition is not None:
            out += _comparisons(self.user_condition)
        return out

    def __str__(self) -> str:
        text = f"{self.action} ItemID WHERE {self.condition}"
        if self.user_condition is not None:
            text += f" IF {self.user_condition}"
        return text


def _comparisons(cond: Condition) -> list[Comparison]:
    if isinstance(cond, Comparison):
        return [cond]
    return [c for term in cond.terms for c in _comparisons(term)]


def _render_value(value: Value | FieldRef) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


# --------------------------------------------------------------------------------------- tokenizer


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # WORD STRING NUMBER PARAM OP LPAREN RPAREN COMMA PIPE DOT EOF
    text: str  # as written (for STRING: the decoded contents; for PARAM: the name)
    pos: int
    raw: str = ""  # the source characters of the token


def _syntax_error(expression: str, position: int, problem: str) -> FilterSyntaxError:
    """Build the error: problem, 1-based column, and the expression with a caret under ``position``."""
    shown = expression.replace("\n", " ").replace("\r", " ").replace("\t", " ")
    start, prefix, suffix = 0, "", ""
    if len(shown) > 100:
        start = max(0, position - 50)
        end = min(len(shown), position + 50)
        prefix = "..." if start > 0 else ""
        suffix = "..." if end < len(shown) else ""
        shown = shown[start:end]
    caret = " " * (len(prefix) + position - start) + "^"
    message = f"Invalid filter expression at column {position + 1}: {problem}\n  {prefix}{shown}{suffix}\n  {caret}"
    return FilterSyntaxError(message, position)


def _tokenize(expr: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(expr)
    while i < n:
        c = expr[i]
        if c.isspace():
            i += 1
        elif c in _ASCII_LETTERS:
            j = i + 1
            while j < n and expr[j] in _WORD_CHARS:
                j += 1
            tokens.append(_Token("WORD", expr[i:j], i, expr[i:j]))
            i = j
        elif c in _DIGITS or (c in "-+." and i + 1 < n and expr[i + 1] in _DIGITS):
            j = _scan_number(expr, i)
            tokens.append(_Token("NUMBER", expr[i:j], i, expr[i:j]))
            i = j
        elif c == '"':
            j, text = _scan_string(expr, i)
            tokens.append(_Token("STRING", text, i, expr[i:j]))
            i = j
        elif c == "$":
            j = i + 1
            while j < n and expr[j] in _WORD_CHARS:
                j += 1
            name = expr[i + 1 : j]
            if not name:
                raise _syntax_error(expr, i, "Expected a parameter name (letters, digits, _) after '$'")
            if len(name) > MAX_PARAMETER_NAME_LENGTH:
                raise _syntax_error(
                    expr,
                    i,
                    f"Parameter name '{name[:20]}...' is {len(name)} characters long; the maximum "
                    f"is {MAX_PARAMETER_NAME_LENGTH}",
                )
            tokens.append(_Token("PARAM", name, i, expr[i:j]))
            i = j
        elif c in "<>":
            op = expr[i : i + 2] if expr[i + 1 : i + 2] == "=" else c
            if expr[i : i + 2] == "<>":
                raise _syntax_error(expr, i, "Operator '<>' is not supported; use NOT IN (...)")
            tokens.append(_Token("OP", op, i, op))
            i += len(op)
        elif c == "=":
            if expr[i + 1 : i + 2] == "=":
                raise _syntax_error(expr, i, "Operator '==' is not supported; use '='")
            tokens.append(_Token("OP", "=", i, "="))
            i += 1
        elif c == "!":
            raise _syntax_error(expr, i, "Operator '!=' is not supported; use NOT IN (...)")
        elif c in "(),|.":
            kind = {"(": "LPAREN", ")": "RPAREN", ",": "COMMA", "|": "PIPE", ".": "DOT"}[c]
            tokens.append(_Token(kind, c, i, c))
            i += 1
        elif c == "'":
            raise _syntax_error(expr, i, 'Unexpected character "\'": enclose string values in double quotes')
        else:
            raise _syntax_error(expr, i, f"Unexpected character {c!r}")
    tokens.append(_Token("EOF", "", n, ""))
    return tokens


def _scan_number(expr: str, i: int) -> int:
    n = len(expr)
    j = i + 1 if expr[i] in "-+" else i
    while j < n and expr[j] in _DIGITS:
        j += 1
    if j < n and expr[j] == "." and j + 1 < n and expr[j + 1] in _DIGITS:
        j += 1
        while j < n and expr[j] in _DIGITS:
            j += 1
    if j < n and expr[j] in "eE":
        k = j + 1
        if k < n and expr[k] in "+-":
            k += 1
        if k < n and expr[k] in _DIGITS:
            j = k
            while j < n and expr[j] in _DIGITS:
                j += 1
    return j


def _scan_string(expr: str, i: int) -> tuple[int, str]:
    """Scan a double-quoted string starting at ``i``; ``\\"`` and ``\\\\`` are escapes."""
    chars: list[str] = []
    j, n = i + 1, len(expr)
    while j < n:
        c = expr[j]
        if c == "\\" and j + 1 < n and expr[j + 1] in '"\\':
            chars.append(expr[j + 1])
            j += 2
        elif c == '"':
            return j + 1, "".join(chars)
        else:
            chars.append(c)
            j += 1
    raise _syntax_error(expr, i, "Unterminated string: expected a closing '\"'")


# ------------------------------------------------------------------------------------------ parser


class _Parser:
    def __init__(self, expression: str) -> None:
        self.expr = expression
        self.tokens = _tokenize(expression)
        self.i = 0
        self.part_dataset: str | None = None

    # -- helpers
    def peek(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        tok = self.tokens[self.i]
        if tok.kind != "EOF":
            self.i += 1
        return tok

    def is_word(self, *words: str) -> bool:
        tok = self.peek()
        return tok.kind == "WORD" and tok.text.lower() in words

    def fail(self, tok: _Token, problem: str) -> FilterSyntaxError:
        return _syntax_error(self.expr, tok.pos, problem)

    def expected(self, what: str, tok: _Token | None = None) -> FilterSyntaxError:
        tok = tok or self.peek()
        return self.fail(tok, f"Expected {what} but found {_describe(tok)}")

    # -- grammar
    def parse(self) -> FilterExpression:
        parts = [self.part()]
        while self.peek().kind == "PIPE":
            self.advance()
            parts.append(self.part())
        tok = self.peek()
        if tok.kind != "EOF":  # pragma: no cover - part() already checks what follows it
            raise self.expected("'|' or the end of the expression")
        expression = FilterExpression(tuple(parts), self.expr)
        self.check_field_count(expression)
        return expression

    def part(self) -> FilterPart:
        start_tok = self.peek()
        if not self.is_word("include", "exclude"):
            after = " after '|'" if self.i > 0 else ""
            raise self.expected(f"INCLUDE or EXCLUDE{after}")
        action: Action = "INCLUDE" if self.advance().text.lower() == "include" else "EXCLUDE"
        tok = self.peek()
        if not self.is_word("itemid"):
            if tok.kind == "WORD" and tok.text.lower() in ("userid", "actionid"):
                raise self.fail(
                    tok,
                    f"Only ItemID filters are supported, found '{tok.text}' (user segment and action "
                    "filters are not mirrored)",
                )
            raise self.expected(f"ItemID after {action}")
        self.advance()
        if not self.is_word("where"):
            raise self.expected("WHERE after ItemID")
        self.advance()
        self.part_dataset = None
        condition = self.condition()
        dataset = self.part_dataset
        assert dataset is not None
        user_condition: Condition | None = None
        if self.is_word("if"):
            self.advance()
            user_condition = self.user_condition()
            tok = self.peek()
            if self.is_word("or"):
                raise self.fail(tok, "IF conditions can only be chained with AND, found 'OR'")
            if self.is_word("if"):
                raise self.fail(tok, "Only one IF clause is allowed per expression, at its end")
            if tok.kind not in ("PIPE", "EOF"):
                raise self.expected("AND, '|' or the end of the expression")
        elif self.peek().kind not in ("PIPE", "EOF"):
            raise self.expected("AND, OR, IF, '|' or the end of the expression")
        end = self.peek().pos
        text = self.expr[start_tok.pos : end].strip()
        return FilterPart(action, dataset, condition, user_condition, text)

    def condition(self) -> Condition:
        terms = [self.and_condition()]
        while self.is_word("or"):
            self.advance()
            terms.append(self.and_condition())
        return terms[0] if len(terms) == 1 else Or(tuple(terms))

    def and_condition(self) -> Condition:
        terms: list[Condition] = [self.comparison()]
        while self.is_word("and"):
            self.advance()
            terms.append(self.comparison())
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def user_condition(self) -> Condition:
        terms: list[Condition] = [self.user_comparison()]
        while self.is_word("and"):
            self.advance()
            terms.append(self.user_comparison())
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def field_ref(self, what: str) -> FieldRef:
        tok = self.peek()
        if tok.kind != "WORD" or tok.text.lower() in _KEYWORDS:
            raise self.expected(what)
        self.advance()
        dot = self.peek()
        if dot.kind != "DOT":
            raise self.expected(f"'.' and a field name after '{tok.text}' (dataset.field)")
        self.advance()
        name = self.peek()
        if name.pos != dot.pos + 1 and dot.pos + 1 < len(self.expr):
            raise _syntax_error(
                self.expr, dot.pos + 1, f"Expected a field name right after '{tok.text}.' (dataset.field, no spaces)"
            )
        if name.kind != "WORD":
            raise self.expected(f"a field name after '{tok.text}.'")
        self.advance()
        dataset = _DATASETS.get(tok.text.lower())
        if dataset is None:
            hint = _DATASET_HINTS.get(tok.text.lower())
            suggestion = f"; did you mean {hint}?" if hint else ""
            raise self.fail(
                tok,
                f"Unknown dataset '{tok.text}': expected Items, Interactions, CurrentUser or CurrentItem{suggestion}",
            )
        return FieldRef(dataset, name.text, tok.pos)

    def comparison(self) -> Comparison:
        what = "a dataset field such as Items.GENRES or Interactions.EVENT_TYPE"
        ref_tok = self.peek()
        ref = self.field_ref(what)
        if ref.dataset == CURRENT_USER:
            raise self.fail(ref_tok, "CurrentUser fields can only be tested in an IF clause at the end")
        if ref.dataset == CURRENT_ITEM:
            raise self.fail(
                ref_tok, "CurrentItem can only be a value to compare with, e.g. Items.PRICE < CurrentItem.PRICE"
            )
        if ref.dataset not in (ITEMS, INTERACTIONS):
            raise self.fail(
                ref_tok,
                f"{ref.dataset} fields cannot be used in an ItemID filter; filter on Items or Interactions "
                "(use IF CurrentUser.FIELD ... for the current user)",
            )
        if self.part_dataset is None:
            self.part_dataset = ref.dataset
        elif ref.dataset != self.part_dataset:
            raise self.fail(
                ref_tok,
                f"All conditions of one expression must use the dataset of its first condition "
                f"({self.part_dataset}), found {ref.dataset}; chain another expression with '|'",
            )
        if ref.dataset == INTERACTIONS and ref.field.upper() != "EVENT_TYPE":
            raise self.fail(ref_tok, f"Interactions filters can only use EVENT_TYPE, found Interactions.{ref.field}")
        op_tok = self.peek()
        op = self.operator(ref)
        if ref.dataset == INTERACTIONS and op not in ("IN", "NOT IN"):
            raise self.fail(op_tok, f"Interactions.{ref.field} can only be compared with IN or NOT IN")
        return Comparison(ref, op, self.operand(op, allow_current_item=ref.dataset == ITEMS))

    def user_comparison(self) -> Comparison:
        ref_tok = self.peek()
        ref = self.field_ref("a CurrentUser field such as CurrentUser.AGE")
        if ref.dataset != CURRENT_USER:
            raise self.fail(ref_tok, f"IF conditions can only test CurrentUser fields, found {ref.dataset}")
        op = self.operator(ref)
        return Comparison(ref, op, self.operand(op, allow_current_item=False))

    def operator(self, ref: FieldRef) -> str:
        tok = self.peek()
        if self.is_word("in"):
            self.advance()
            return "IN"
        if self.is_word("not"):
            self.advance()
            if not self.is_word("in"):
                raise self.expected("IN after NOT")
            self.advance()
            return "NOT IN"
        if tok.kind == "OP":
            self.advance()
            return tok.text
        raise self.expected(f"IN, NOT IN, =, <, <=, > or >= after {ref}")

    def operand(self, op: str, *, allow_current_item: bool) -> tuple[Value | FieldRef, ...]:
        tok = self.peek()
        if allow_current_item and tok.kind == "WORD" and tok.text.lower() == "currentitem":
            ref = self.field_ref("CurrentItem.FIELD")
            return (ref,)
        if op in ("IN", "NOT IN"):
            if tok.kind != "LPAREN":
                raise self.expected(f"'(' and a list of values after {op}")
            self.advance()
            values = [self.value(op)]
            while self.peek().kind == "COMMA":
                self.advance()
                values.append(self.value(op))
            if self.peek().kind != "RPAREN":
                raise self.expected("',' or ')' in the list of values")
            self.advance()
            return tuple(values)
        if tok.kind == "STRING" and op != "=":
            raise self.fail(
                tok, f"Operator {op} compares numbers: expected a number or a $PARAMETER, found {_describe(tok)}"
            )
        if tok.kind not in ("NUMBER", "PARAM", "STRING"):
            raise self.expected(f"a number or a $PARAMETER after {op}")
        return (self.value(op),)

    def value(self, op: str) -> Value:
        tok = self.peek()
        if tok.kind == "STRING":
            self.advance()
            return tok.text
        if tok.kind == "NUMBER":
            self.advance()
            return Number(float(tok.text), tok.text)
        if tok.kind == "PARAM":
            if op == "NOT IN":
                raise self.fail(
                    tok,
                    f"Placeholder parameters cannot be used with NOT IN (${tok.text}); use IN and swap INCLUDE/EXCLUDE",
                )
            self.advance()
            return Param(tok.text, tok.pos)
        raise self.expected('a value (a "string", a number or a $PARAMETER)')

    def check_field_count(self, expression: FilterExpression) -> None:
        seen: set[tuple[str, str]] = set()
        for part in expression.parts:
            for comp in part.comparisons():
                refs = [comp.field] + [v for v in comp.values if isinstance(v, FieldRef)]
                for ref in refs:
                    dataset = ITEMS if ref.dataset == CURRENT_ITEM else ref.dataset
                    key = (dataset, ref.field.upper())
                    if key not in seen:
                        seen.add(key)
                        if len(seen) > MAX_DISTINCT_FIELDS:
                            raise _syntax_error(
                                self.expr,
                                ref.position,
                                f"A filter can use at most {MAX_DISTINCT_FIELDS} distinct dataset fields; "
                                f"{ref} is the {len(seen)}th",
                            )


def _describe(tok: _Token) -> str:
    if tok.kind == "EOF":
        return "the end of the expression"
    return f"'{tok.raw}'"


def parse_filter(expression: str) -> FilterExpression:
    """Parse a filter expression, raising :class:`FilterSyntaxError` with a caret at the problem.

    Example:
        >>> parse_filter('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")').parts[0].action
        'EXCLUDE'
    """
    if not isinstance(expression, str):
        raise TypeError(f"filter expression must be a str, got {type(expression).__name__}")
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise FilterSyntaxError(
            f"Filter expression is {len(expression):,} characters long; the maximum is {MAX_EXPRESSION_LENGTH:,}",
            MAX_EXPRESSION_LENGTH,
        )
    if not expression.strip():
        raise FilterSyntaxError("Filter expression is empty: expected INCLUDE or EXCLUDE ItemID WHERE ...", 0)
    return _Parser(expression).parse()


# ------------------------------------------------------------------------------------ filter values


def parse_filter_values(values: Mapping[str, str] | None) -> dict[str, tuple[str, ...]]:
    """Decode GetRecommendations ``filterValues`` into tuples of values per parameter name.

    Each value is a comma-separated list of double-quoted strings (``\\"`` escapes a quote), as the
    service expects; bare tokens such as ``10`` are accepted too.

    Example:
        >>> parse_filter_values({"GENRE": '"Comedy","Drama"', "PRICE": "10"})
        {'GENRE': ('Comedy', 'Drama'), 'PRICE': ('10',)}
    """
    if not values:
        return {}
    if len(values) > MAX_FILTER_VALUES:
        raise InvalidFilterValuesError(f"filterValues has {len(values)} entries; the maximum is {MAX_FILTER_VALUES}")
    out: dict[str, tuple[str, ...]] = {}
    for key, raw in values.items():
        if (
            not isinstance(key, str)
            or not key
            or len(key) > MAX_PARAMETER_NAME_LENGTH
            or any(c not in _WORD_CHARS for c in key)
        ):
            raise InvalidFilterValuesError(
                f"filterValues key {key!r} is not a parameter name: use 1-{MAX_PARAMETER_NAME_LENGTH} "
                "letters, digits or _ without the '$'"
            )
        if not isinstance(raw, str):
            raise InvalidFilterValuesError(f"filterValues[{key!r}] must be a string, got {type(raw).__name__}")
        if len(raw) > MAX_FILTER_VALUE_LENGTH:
            raise InvalidFilterValuesError(
                f"filterValues[{key!r}] is {len(raw):,} characters long; the maximum is {MAX_FILTER_VALUE_LENGTH:,}"
            )
        out[key] = _split_values(key, raw)
    return out


def _split_values(key: str, raw: str) -> tuple[str, ...]:
    def error(pos: int, problem: str) -> InvalidFilterValuesError:
        return InvalidFilterValuesError(
            f"filterValues[{key!r}]: {problem} at column {pos + 1}:\n  {raw}\n  {' ' * pos}^\n"
            'Write values as a comma-separated list of double-quoted strings, e.g. "\\"Comedy\\",\\"Drama\\""'
        )

    items: list[str] = []
    i, n = 0, len(raw)
    while True:
        while i < n and raw[i].isspace():
            i += 1
        if i >= n:
            raise error(i, "expected a value" if items or raw.strip() else "no value given")
        if raw[i] == '"':
            try:
                j, text = _scan_string(raw, i)
            except FilterSyntaxError:
                raise error(i, "unterminated string") from None
            items.append(text)
            i = j
        else:
            j = i
            while j < n and raw[j] not in ',"':
                j += 1
            token = raw[i:j].strip()
            if not token:
                raise error(i, "expected a value")
            items.append(token)
            i = j
        while i < n and raw[i].isspace():
            i += 1
        if i >= n:
            return tuple(items)
        if raw[i] != ",":
            raise error(i, "expected ',' between values")
        i += 1


# ---------------------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class FilterExpression:
    """A parsed filter: its parts, and the expression text it came from."""

    parts: tuple[FilterPart, ...]
    expression: str = _field(default="", compare=False)

    @property
    def parameters(self) -> frozenset[str]:
        """The ``$PARAM`` names (without ``$``), as the keys of ``filterValues`` must spell them."""
        return frozenset().union(*(p.parameters for p in self.parts))

    @property
    def fields(self) -> frozenset[tuple[str, str]]:
        """``(dataset, field)`` pairs the filter reads, e.g. ``("Items", "GENRES")``, for schema checks."""
        out: set[tuple[str, str]] = set()
        for part in self.parts:
            for comp in part.comparisons():
                out.add((comp.field.dataset, comp.field.field))
                out.update((v.dataset, v.field) for v in comp.values if isinstance(v, FieldRef))
        return frozenset(out)

    def __str__(self) -> str:
        return " | ".join(str(p) for p in self.parts)

    def bind(self, items: pd.DataFrame | None) -> BoundFilter:
        """Precompute per-catalogue data (exploded multi-value columns, numeric columns, literal masks).

        Example:
            >>> items = pd.DataFrame({"ITEM_ID": ["1", "2"], "GENRES": ["Comedy|Drama", "Horror"]})
            >>> bound = parse_filter('INCLUDE ItemID WHERE Items.GENRES IN ("Drama")').bind(items)
            >>> bound.evaluate(np.array(["1", "2"])).tolist()
            [True, False]
        """
        return BoundFilter(self, items)

    def evaluate(
        self,
        candidates: Sequence[str] | NDArray[Any],
        *,
        user_id: str | None = None,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        interactions: pd.DataFrame | None = None,
        values: Mapping[str, str] | None = None,
        item_id: str | None = None,
    ) -> NDArray[np.bool_]:
        """Boolean mask over ``candidates``: True where the filter lets the item through.

        ``items``: ITEM_ID plus metadata columns (multi-valued categorical fields ``|``-joined);
        ``users``: USER_ID plus metadata (for ``CurrentUser``); ``interactions``: USER_ID, ITEM_ID,
        TIMESTAMP, EVENT_TYPE (rows of other users are ignored); ``values``: the request's
        ``filterValues``; ``item_id``: the request's item for related-items filters (``CurrentItem``).
        The binding of ``items`` is cached while the same frame object (with the same length) is
        passed; call :meth:`bind` to manage it explicitly.

        Example:
            >>> items = pd.DataFrame({"ITEM_ID": ["a", "b", "c"], "PRICE": [5, 15, 8]})
            >>> parse_filter("INCLUDE ItemID WHERE Items.PRICE < $MAX").evaluate(
            ...     np.array(["a", "b", "c"]), items=items, values={"MAX": "10"}).tolist()
            [True, False, True]
        """
        cached = self.__dict__.get("_bound")
        if cached is None or not cached.is_bound_to(items):
            cached = BoundFilter(self, items)
            object.__setattr__(self, "_bound", cached)
        return cached.evaluate(
            candidates, user_id=user_id, users=users, interactions=interactions, values=values, item_id=item_id
        )


class _Column:
    """Derived data of one Items column: numeric view and an inverted index of its (split) values."""

    def __init__(self, series: pd.Series) -> None:
        self.is_numeric = pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype)
        self._series = series
        self._numeric: NDArray[np.float64] | None = None
        self._index: dict[str, NDArray[np.intp]] | None = None

    @property
    def numeric(self) -> NDArray[np.float64]:
        if self._numeric is None:
            num = pd.to_numeric(self._series, errors="coerce")
            self._numeric = np.asarray(num.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
        return self._numeric

    @property
    def index(self) -> dict[str, NDArray[np.intp]]:
        if self._index is None:
            s = self._series
            present = s.notna().to_numpy()
            rows = np.flatnonzero(present)
            texts = s[present].astype(str)
            split = texts.str.split("|")
            lengths = split.str.len().to_numpy()
            flat = np.fromiter((v for parts in split for v in parts), dtype=object, count=int(lengths.sum()))
            owners = np.repeat(rows, lengths)
            keep = flat != ""
            flat, owners = flat[keep], owners[keep]
            codes, uniques = pd.factorize(flat)
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
            self._index = {str(u): owners[order[bounds[k] : bounds[k + 1]]] for k, u in enumerate(uniques)}
        return self._index

    def value_at(self, row: int) -> list[str] | None:
        """The value(s) of one row, split on ``|``; None when null."""
        v = self._series.iloc[row]
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
            return None
        return [p for p in str(v).split("|") if p != ""]


class BoundFilter:
    """A :class:`FilterExpression` bound to one Items frame; evaluate it per request.

    Cached per binding: the split values and numeric view of each Items column the filter reads,
    the masks of parts without parameters, and the positions of the last candidates array (reused when
    the same ``numpy`` array object is passed again: do not modify a candidates array in place between
    calls). A binding is not thread-safe; give each thread its own.
    """

    def __init__(self, expression: FilterExpression, items: pd.DataFrame | None) -> None:
        self.expression = expression
        self._items = items
        self._items_len = -1 if items is None else len(items)
        if items is None or "ITEM_ID" not in items.columns:
            frame = pd.DataFrame({"ITEM_ID": pd.Series([], dtype=object)})
        else:
            frame = items.drop_duplicates("ITEM_ID", keep="last") if not items["ITEM_ID"].is_unique else items
        self._frame = frame.reset_index(drop=True)
        self._n = len(self._frame)
        self._item_index = pd.Index(self._frame["ITEM_ID"].astype(str).to_numpy(dtype=object))
        self._columns: dict[str, _Column | None] = {}
        self._literal_masks: dict[int, NDArray[np.bool_]] = {}
        self._candidates_key: object = None
        self._candidates: tuple[NDArray[np.intp], pd.Index] | None = None
        self._users_ref: object = None  # keeps the frame alive so that its id stays unique
        self._users_id = 0
        self._users_index: pd.Index | None = None
        self._users_len = -1

    def is_bound_to(self, items: pd.DataFrame | None) -> bool:
        """True when ``items`` is the frame this binding was built from (same object, same length)."""
        return items is self._items and (items is None or len(items) == self._items_len)

    # -- lookups
    def column(self, name: str) -> _Column | None:
        """The Items column for ``name`` (exact, else the one case-insensitive match), or None."""
        if name not in self._columns:
            self._columns[name] = None
            actual = _resolve_column(self._frame.columns, name)
            if actual is not None:
                self._columns[name] = _Column(self._frame[actual])
        return self._columns[name]

    def _candidate_data(self, candidates: Any) -> tuple[NDArray[np.intp], pd.Index]:
        if candidates is self._candidates_key and self._candidates is not None:
            return self._candidates
        arr = np.asarray(candidates, dtype=object)
        if arr.ndim != 1:
            raise ValueError(f"candidates must be a 1-D array of item ids, got shape {arr.shape}")
        positions = self._item_index.get_indexer(arr) if self._n else np.full(len(arr), -1, dtype=np.intp)
        data = (np.asarray(positions, dtype=np.intp), pd.Index(arr))
        if isinstance(candidates, np.ndarray):
            self._candidates_key, self._candidates = candidates, data
        return data

    # -- evaluation
    def evaluate(
        self,
        candidates: Sequence[str] | NDArray[Any],
        *,
        user_id: str | None = None,
        users: pd.DataFrame | None = None,
        interactions: pd.DataFrame | None = None,
        values: Mapping[str, str] | None = None,
        item_id: str | None = None,
    ) -> NDArray[np.bool_]:
        """Boolean mask over ``candidates``; see :meth:`FilterExpression.evaluate`.

        Example:
            >>> expr = parse_filter('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch")')
            >>> seen = pd.DataFrame({"USER_ID": ["u"], "ITEM_ID": ["a"], "TIMESTAMP": [1], "EVENT_TYPE": ["watch"]})
            >>> expr.bind(None).evaluate(np.array(["a", "b"]), user_id="u", interactions=seen).tolist()
            [False, True]
        """
        positions, cand_index = self._candidate_data(candidates)
        n_cand = len(positions)
        params = parse_filter_values(values)
        recent: tuple[NDArray[Any], NDArray[Any]] | None = None
        include: NDArray[np.bool_] | None = None
        exclude = np.zeros(n_cand, dtype=bool)
        for k, part in enumerate(self.expression.parts):
            missing = sorted(part.parameters - params.keys())
            if missing:
                if part.action == "EXCLUDE":
                    continue
                names = ", ".join(f"${m}" for m in missing)
                raise InvalidFilterValuesError(
                    f"filterValues has no value for {names}, which the INCLUDE expression "
                    f"'{part.text or part}' needs; add {', '.join(repr(m) for m in missing)} to filterValues "
                    "(parameter names are case-sensitive and written without '$')"
                )
            uses_current_item = any(
                isinstance(v, FieldRef) and v.dataset == CURRENT_ITEM for c in part.comparisons() for v in c.values
            )
            if uses_current_item and item_id is None:
                raise InvalidFilterValuesError(
                    f"The expression '{part.text or part}' uses CurrentItem, which needs the itemId of a "
                    "related-items request; this request has none"
                )
            if part.user_condition is not None and not self._user_holds(part.user_condition, user_id, users, params):
                continue
            if part.dataset == INTERACTIONS:
                if recent is None:
                    recent = _recent_interactions(interactions, user_id)
                mask = self._interactions_mask(part.condition, recent, cand_index, params)
            else:
                mask = self._items_mask(k, part, params, item_id)[positions]
            if part.action == "INCLUDE":
                include = mask if include is None else include | mask
            else:
                exclude |= mask
        result = np.ones(n_cand, dtype=bool) if include is None else include.copy()
        result &= ~exclude
        return result

    # Items conditions are evaluated over the whole catalogue plus one trailing "empty item" row
    # (index -1), which stands for candidates that are not in the Items data.
    def _items_mask(
        self, k: int, part: FilterPart, params: Mapping[str, tuple[str, ...]], item_id: str | None
    ) -> NDArray[np.bool_]:
        literal = not part.parameters and not any(
            isinstance(v, FieldRef) for c in _comparisons(part.condition) for v in c.values
        )
        if literal and k in self._literal_masks:
            return self._literal_masks[k]
        mask = self._items_condition(part.condition, params, item_id)
        if literal:
            self._literal_masks[k] = mask
        return mask

    def _items_condition(
        self, cond: Condition, params: Mapping[str, tuple[str, ...]], item_id: str | None
    ) -> NDArray[np.bool_]:
        if isinstance(cond, And):
            masks = [self._items_condition(t, params, item_id) for t in cond.terms]
            return np.logical_and.reduce(masks)
        if isinstance(cond, Or):
            masks = [self._items_condition(t, params, item_id) for t in cond.terms]
            return np.logical_or.reduce(masks)
        column = self.column(cond.field.field)
        out = np.zeros(self._n + 1, dtype=bool)
        if column is None:
            return out
        operands = self._operands(cond, params, item_id)
        if cond.op in ("IN", "NOT IN"):
            out = self._in_mask(column, operands)
            return ~out if cond.op == "NOT IN" else out
        if operands is None or not operands:
            return out
        if cond.op == "=" and not column.is_numeric:
            return self._in_mask(column, operands)
        number = _single_number(cond, operands)
        out[: self._n] = _compare(column.numeric, cond.op, number)
        return out

    def _in_mask(self, column: _Column, operands: list[str] | None) -> NDArray[np.bool_]:
        out = np.zeros(self._n + 1, dtype=bool)
        if not operands:
            return out
        if column.is_numeric:
            wanted = [f for f in (_to_float(v) for v in operands) if f is not None]
            out[: self._n] = np.isin(column.numeric, np.asarray(wanted, dtype=np.float64))
            return out
        index = column.index
        for v in operands:
            rows = index.get(v)
            if rows is not None:
                out[rows] = True
        return out

    def _operands(
        self, cond: Comparison, params: Mapping[str, tuple[str, ...]], item_id: str | None
    ) -> list[str] | None:
        """The comparison's right-hand values as strings; None when a CurrentItem value is null."""
        out: list[str] = []
        for v in cond.values:
            if isinstance(v, Param):
                out.extend(params[v.name])
            elif isinstance(v, Number):
                out.append(v.text or repr(v.value))
            elif isinstance(v, FieldRef):
                current = self._current_item_values(v.field, item_id)
                if current is None:
                    return None
                out.extend(current)
            else:
                out.append(v)
        return out

    def _current_item_values(self, name: str, item_id: str | None) -> list[str] | None:
        column = self.column(name)
        if column is None or item_id is None:
            return None
        row = self._item_index.get_indexer([item_id])[0]
        return None if row < 0 else column.value_at(int(row))

    def _user_holds(
        self,
        cond: Condition,
        user_id: str | None,
        users: pd.DataFrame | None,
        params: Mapping[str, tuple[str, ...]],
    ) -> bool:
        if user_id is None or users is None:
            return False
        frame = cast("pd.DataFrame", users)
        if "USER_ID" not in frame.columns:
            return False
        index = self._users_index
        if index is None or self._users_id != id(frame) or self._users_len != len(frame):
            index = pd.Index(frame["USER_ID"].astype(str).to_numpy(dtype=object))
            self._users_ref, self._users_id, self._users_index, self._users_len = frame, id(frame), index, len(frame)
        hits = np.flatnonzero(index.to_numpy() == user_id)
        if len(hits) == 0:
            return False
        row = frame.iloc[int(hits[-1])]
        return _user_condition(cond, row, frame.columns, params)

    def _interactions_mask(
        self,
        cond: Condition,
        recent: tuple[NDArray[Any], NDArray[Any]],
        cand_index: pd.Index,
        params: Mapping[str, tuple[str, ...]],
    ) -> NDArray[np.bool_]:
        if isinstance(cond, And):
            return np.logical_and.reduce([self._interactions_mask(t, recent, cand_index, params) for t in cond.terms])
        if isinstance(cond, Or):
            return np.logical_or.reduce([self._interactions_mask(t, recent, cand_index, params) for t in cond.terms])
        item_ids, event_types = recent
        wanted: list[str] = []
        for v in cond.values:
            if isinstance(v, Param):
                wanted.extend(params[v.name])
            elif isinstance(v, Number):
                wanted.append(v.text)
            elif isinstance(v, str):
                wanted.append(v)
        folded = {w.casefold() for w in wanted}
        if "*" in folded:
            rows = np.ones(len(event_types), dtype=bool)
        else:
            rows = np.isin(event_types, np.asarray(sorted(folded), dtype=object))
        if cond.op == "NOT IN":
            rows = ~rows
        matched = pd.unique(item_ids[rows])
        out = np.zeros(len(cand_index), dtype=bool)
        if len(matched) == 0:
            return out
        if cand_index.is_unique:
            pos = cand_index.get_indexer(matched)
            out[pos[pos >= 0]] = True
        else:
            out = np.asarray(cand_index.isin(matched), dtype=bool)
        return out


def _resolve_column(columns: Iterable[Any], name: str) -> str | None:
    cols = [str(c) for c in columns]
    if name in cols:
        return name
    folded = [c for c in cols if c.casefold() == name.casefold()]
    return folded[0] if len(folded) == 1 else None


def _to_float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _single_number(cond: Comparison, operands: list[str]) -> float:
    if len(operands) != 1:
        raise InvalidFilterValuesError(f"{cond} needs exactly one value, got {len(operands)}: {', '.join(operands)}")
    number = _to_float(operands[0])
    if number is None:
        raise InvalidFilterValuesError(f"{cond} compares numbers, but the value {operands[0]!r} is not a number")
    return number


def _compare(array: NDArray[np.float64], op: str, number: float) -> NDArray[np.bool_]:
    with np.errstate(invalid="ignore"):
        if op == "=":
            return array == number
        if op == "<":
            return array < number
        if op == "<=":
            return array <= number
        if op == ">":
            return array > number
        return array >= number


def _user_condition(cond: Condition, row: pd.Series, columns: pd.Index, params: Mapping[str, tuple[str, ...]]) -> bool:
    if isinstance(cond, And):
        return all(_user_condition(t, row, columns, params) for t in cond.terms)
    if isinstance(cond, Or):
        return any(_user_condition(t, row, columns, params) for t in cond.terms)
    name = _resolve_column(columns, cond.field.field)
    if name is None:
        return False
    raw = row[name]
    if raw is None or raw is pd.NA or (isinstance(raw, float) and math.isnan(raw)):
        user_values: list[str] = []
    elif isinstance(raw, (int, float, np.integer, np.floating)) and not isinstance(raw, bool):
        user_values = [repr(float(raw))]
    else:
        user_values = [p for p in str(raw).split("|") if p != ""]
    operands: list[str] = []
    for v in cond.values:
        if isinstance(v, Param):
            operands.extend(params[v.name])
        elif isinstance(v, Number):
            operands.append(v.text)
        elif isinstance(v, str):
            operands.append(v)
    numeric_user = [_to_float(u) for u in user_values]
    if cond.op in ("IN", "NOT IN") or (cond.op == "=" and any(f is None for f in numeric_user)):
        wanted = set(operands)
        numbers = {f for f in (_to_float(o) for o in operands) if f is not None}
        hit = any(
            u in wanted or (f is not None and f in numbers) for u, f in zip(user_values, numeric_user, strict=True)
        )
        return not hit if cond.op == "NOT IN" else hit
    if not operands:
        return False
    number = _single_number(cond, operands)
    return any(f is not None and bool(_compare(np.array([f]), cond.op, number)[0]) for f in numeric_user)


def _recent_interactions(interactions: pd.DataFrame | None, user_id: str | None) -> tuple[NDArray[Any], NDArray[Any]]:
    """The user's item ids and case-folded event types, keeping the newest 100 per event type.

    Ties in TIMESTAMP are broken by row order: a later row counts as newer.
    """
    empty = (np.array([], dtype=object), np.array([], dtype=object))
    if interactions is None or user_id is None or len(interactions) == 0:
        return empty
    df = interactions
    if "USER_ID" in df.columns:
        ids = df["USER_ID"]
        if not pd.api.types.is_string_dtype(ids.dtype):
            ids = ids.astype(str)
        own = (ids == str(user_id)).to_numpy(dtype=bool)
        if not own.all():
            df = df[own]
    if len(df) == 0 or "ITEM_ID" not in df.columns:
        return empty
    item_ids = df["ITEM_ID"].astype(str).to_numpy(dtype=object)
    if "EVENT_TYPE" in df.columns:
        event_types = df["EVENT_TYPE"].astype(str).str.casefold().to_numpy(dtype=object)
    else:
        event_types = np.full(len(df), "", dtype=object)
    if len(df) > MAX_INTERACTIONS_PER_EVENT_TYPE:
        codes, _ = pd.factorize(event_types)
        counts = np.bincount(codes)
        if counts.max() > MAX_INTERACTIONS_PER_EVENT_TYPE:
            ts = df["TIMESTAMP"].to_numpy() if "TIMESTAMP" in df.columns else np.zeros(len(df))
            newest_first = np.lexsort((np.arange(len(df)), ts))[::-1]
            type_codes = codes[newest_first]
            by_type = np.argsort(type_codes, kind="stable")
            starts = np.repeat(np.cumsum(counts) - counts, counts)
            rank = np.empty(len(df), dtype=np.int64)
            rank[by_type] = np.arange(len(df)) - starts
            keep = newest_first[rank < MAX_INTERACTIONS_PER_EVENT_TYPE]
            item_ids, event_types = item_ids[keep], event_types[keep]
    return item_ids, event_types
