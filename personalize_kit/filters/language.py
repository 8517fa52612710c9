"""Amazon Personalize filter expressions: the language (grammar, parser, parsed form).

Longer than most modules on purpose: one grammar and its recursive-descent parser read best together.
Evaluation over data is :mod:`personalize_kit.filters.evaluate`.

The grammar follows the developer guide's "Filter expression structure and elements",
"Guidelines and requirements" and "Item recommendation filter expression examples"::

    expression  := part ( "|" part )*
    part        := ( INCLUDE | EXCLUDE ) ( ItemID | ActionID ) WHERE condition [ IF user_cond ]
    condition   := and_cond ( OR and_cond )*             -- AND binds tighter than OR
    and_cond    := comparison ( AND comparison )*
    comparison  := DATASET "." FIELD ( [NOT] IN ( "(" value ( "," value )* ")" | CurrentItem.FIELD )
                                     | ( "=" | "<" | "<=" | ">" | ">=" ) ( operand | "(" operand ")" ) )
    user_cond   := CurrentUser.FIELD <same operators> ( AND CurrentUser.FIELD ... )*
    value       := "double-quoted string" | number | $PARAMETER
    operand     := number | $PARAMETER | CurrentItem.FIELD | "string" (with "=" only)

Keywords (INCLUDE, EXCLUDE, ItemID, ActionID, WHERE, AND, OR, IN, NOT, IF) and dataset names are matched without
regard to case, as the guide's own examples write ``EXCLUDE itemId WHERE INTERACTIONS.EVENT_TYPE in (...)``.
Rules from the guide that are enforced at parse time (the mirror's CreateFilter answers them with
``InvalidInputException``):

- the subject: ``ItemID`` parts filter on Items and Interactions, ``ActionID`` parts ("Action
  recommendation filter expression examples") on Actions and Action_Interactions; one filter does not
  mix the two subjects (a filter is given either to item requests or to GetActionRecommendations);
- one dataset per part: "Conditions chained together using AND or OR can only affect fields of the
  dataset used in the first condition"; Items and Interactions are combined by chaining parts with ``|``;
- Interactions filters "can only filter based on event type" (``Interactions.EVENT_TYPE``, IN/NOT IN);
  Action_Interactions likewise (the guide's examples use only ``Action_Interactions.EVENT_TYPE``);
- ``IF`` only tests ``CurrentUser``, once, at the end of a part, extended only with ``AND``; it may
  follow Items or Interactions conditions (the guide: "You can add CurrentUser ... to any expression
  regardless of the dataset that is being used");
- placeholder parameters cannot be used with ``NOT IN``;
- at most 10 distinct dataset fields per filter; expression length 1-2,500 characters;
- ``CurrentItem.FIELD`` only as the right-hand side of an Items comparison (related-items requests);
- a comparison operator's operand may be written in parentheses (the guide: ``Actions.VALUE > ($VALUE)``).

``UserID`` (user segment) filters are not supported and are reported as syntax errors.

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
  action event types also match whatever their spelling of the space (``NOT_TAKEN`` is ``Not taken``);
- only the 100 newest interactions per user and event type count (quota in "Filter expressions"), for
  action interactions as for item interactions;
- a field that the data does not have (no such column) matches nothing, whatever the operator: an
  INCLUDE on it keeps no candidate and an EXCLUDE on it removes none. The guide does not say what the
  service does with a field missing from the dataset (CreateFilter checks fields against the schema,
  which :attr:`FilterExpression.fields` lets the caller do); matching nothing is the reading under which
  a filter never lets through items it was written to keep out of an INCLUDE list;
- a candidate that is not in the Items (Actions) data behaves like one whose fields are all empty.

Example:
    >>> expr = parse_filter('INCLUDE ItemID WHERE Items.GENRES IN ($GENRE) | EXCLUDE ItemID WHERE '
    ...                     'Interactions.EVENT_TYPE IN ("watch")')
    >>> sorted(expr.parameters)
    ['GENRE']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as _field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from personalize_kit.exceptions import FilterSyntaxError, InvalidFilterValuesError

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from personalize_kit.filters.evaluate import BoundFilter

__all__ = [
    "ACTIONS",
    "ACTION_ID",
    "ACTION_INTERACTIONS",
    "CURRENT_ITEM",
    "CURRENT_USER",
    "INTERACTIONS",
    "ITEMS",
    "ITEM_ID",
    "MAX_DISTINCT_FIELDS",
    "MAX_EXPRESSION_LENGTH",
    "MAX_FILTER_VALUES",
    "MAX_FILTER_VALUE_LENGTH",
    "MAX_INTERACTIONS_PER_EVENT_TYPE",
    "And",
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
ACTIONS = "Actions"
ACTION_INTERACTIONS = "Action_Interactions"
#: The subjects a filter part can filter, and what each reads: (metadata dataset, interactions dataset,
#: id column of both datasets' data).
ITEM_ID = "ItemID"
ACTION_ID = "ActionID"
SUBJECTS = {ITEM_ID: (ITEMS, INTERACTIONS, "ITEM_ID"), ACTION_ID: (ACTIONS, ACTION_INTERACTIONS, "ACTION_ID")}
_SUBJECT_WORDS = {name.lower(): name for name in SUBJECTS}

Action = Literal["INCLUDE", "EXCLUDE"]
NUMERIC_OPERATORS = ("=", "<", "<=", ">", ">=")

_KEYWORDS = {"include", "exclude", "itemid", "actionid", "where", "and", "or", "in", "not", "if"}
_DATASETS = {
    "items": ITEMS,
    "interactions": INTERACTIONS,
    "currentuser": CURRENT_USER,
    "currentitem": CURRENT_ITEM,
    "users": "Users",
    "actions": ACTIONS,
    "action_interactions": ACTION_INTERACTIONS,
}
_DATASET_HINTS = {
    "item": ITEMS,
    "interaction": INTERACTIONS,
    "user": "Users",
    "action": ACTIONS,
    "actioninteractions": ACTION_INTERACTIONS,
    "action_interaction": ACTION_INTERACTIONS,
}
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
    """``Dataset.FIELD``; ``dataset`` is canonical (Items, Interactions, Actions, Action_Interactions,
    CurrentUser, CurrentItem)."""

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
    """One ``INCLUDE|EXCLUDE ItemID|ActionID WHERE ... [IF ...]`` expression of a filter."""

    action: Action
    dataset: str
    condition: Condition
    user_condition: Condition | None = None
    text: str = _field(default="", compare=False)
    subject: str = ITEM_ID

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
        text = f"{self.action} {self.subject} WHERE {self.condition}"
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
        self.subject: str | None = None  # of the filter: its first part's
        self.part_subject = ITEM_ID

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
        self.part_subject = self.subject_word(action)
        if not self.is_word("where"):
            raise self.expected(f"WHERE after {self.part_subject}")
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
        return FilterPart(action, dataset, condition, user_condition, text, self.part_subject)

    def subject_word(self, action: str) -> str:
        """The part's ItemID or ActionID, which must be the filter's first part's."""
        tok = self.peek()
        subject = _SUBJECT_WORDS.get(tok.text.lower()) if tok.kind == "WORD" else None
        if subject is None:
            if tok.kind == "WORD" and tok.text.lower() == "userid":
                raise self.fail(
                    tok,
                    f"Only ItemID and ActionID filters are supported, found '{tok.text}' (user segment "
                    "filters are not mirrored)",
                )
            raise self.expected(f"ItemID or ActionID after {action}")
        if self.subject is not None and subject != self.subject:
            raise self.fail(
                tok,
                f"A filter cannot mix {self.subject} and {subject} expressions: item filters and action "
                "filters are separate filters",
            )
        self.subject = subject
        self.advance()
        return subject

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
            known = (
                "Items, Interactions, CurrentUser or CurrentItem"
                if self.part_subject == ITEM_ID
                else "Actions, Action_Interactions or CurrentUser"
            )
            raise self.fail(tok, f"Unknown dataset '{tok.text}': expected {known}{suggestion}")
        return FieldRef(dataset, name.text, tok.pos)

    def comparison(self) -> Comparison:
        subject = self.part_subject
        metadata, interactions, _ = SUBJECTS[subject]
        example = "GENRES" if subject == ITEM_ID else "VALUE"
        what = f"a dataset field such as {metadata}.{example} or {interactions}.EVENT_TYPE"
        ref_tok = self.peek()
        ref = self.field_ref(what)
        if ref.dataset == CURRENT_USER:
            raise self.fail(ref_tok, "CurrentUser fields can only be tested in an IF clause at the end")
        if ref.dataset == CURRENT_ITEM and subject == ITEM_ID:
            raise self.fail(
                ref_tok, "CurrentItem can only be a value to compare with, e.g. Items.PRICE < CurrentItem.PRICE"
            )
        if ref.dataset not in (metadata, interactions):
            raise self.fail(
                ref_tok,
                f"{ref.dataset} fields cannot be used in an {subject} filter; filter on {metadata} or {interactions} "
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
        if ref.dataset == interactions and ref.field.upper() != "EVENT_TYPE":
            raise self.fail(
                ref_tok, f"{interactions} filters can only use EVENT_TYPE, found {interactions}.{ref.field}"
            )
        op_tok = self.peek()
        op = self.operator(ref)
        if ref.dataset == interactions and op not in ("IN", "NOT IN"):
            raise self.fail(op_tok, f"{interactions}.{ref.field} can only be compared with IN or NOT IN")
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
        if tok.kind == "LPAREN":  # "Actions.VALUE > ($VALUE)", as the guide writes it
            self.advance()
            value = self.single_operand(op)
            if self.peek().kind == "COMMA":
                raise self.fail(self.peek(), f"Operator {op} takes one value, not a list; use IN for a list")
            if self.peek().kind != "RPAREN":
                raise self.expected(f"')' after the value of {op}")
            self.advance()
            return value
        return self.single_operand(op)

    def single_operand(self, op: str) -> tuple[Value]:
        tok = self.peek()
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
        raise FilterSyntaxError(
            "Filter expression is empty: expected INCLUDE or EXCLUDE ItemID (or ActionID) WHERE ...", 0
        )
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
    def subject(self) -> str:
        """``ItemID`` or ``ActionID``: what the filter keeps or removes (every part has the same subject)."""
        return self.parts[0].subject

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
        from personalize_kit.filters.evaluate import BoundFilter

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
        actions: pd.DataFrame | None = None,
        action_interactions: pd.DataFrame | None = None,
    ) -> NDArray[np.bool_]:
        """Boolean mask over ``candidates``: True where the filter lets the item (action) through.

        ``items``: ITEM_ID plus metadata columns (multi-valued categorical fields ``|``-joined);
        ``users``: USER_ID plus metadata (for ``CurrentUser``); ``interactions``: USER_ID, ITEM_ID,
        TIMESTAMP, EVENT_TYPE (rows of other users are ignored); ``values``: the request's
        ``filterValues``; ``item_id``: the request's item for related-items filters (``CurrentItem``).
        An ``ActionID`` filter reads ``actions`` (ACTION_ID plus metadata) and ``action_interactions``
        (USER_ID, ACTION_ID, TIMESTAMP, EVENT_TYPE) instead of ``items`` and ``interactions``.
        The binding of ``items`` is cached while the same frame object (with the same length) is
        passed; call :meth:`bind` to manage it explicitly.

        Example:
            >>> items = pd.DataFrame({"ITEM_ID": ["a", "b", "c"], "PRICE": [5, 15, 8]})
            >>> parse_filter("INCLUDE ItemID WHERE Items.PRICE < $MAX").evaluate(
            ...     np.array(["a", "b", "c"]), items=items, values={"MAX": "10"}).tolist()
            [True, False, True]
        """
        from personalize_kit.filters.evaluate import BoundFilter

        if self.subject == ACTION_ID:
            items, interactions = actions, action_interactions
        cached = self.__dict__.get("_bound")
        if cached is None or not cached.is_bound_to(items):
            cached = BoundFilter(self, items)
            object.__setattr__(self, "_bound", cached)
        return cached.evaluate(
            candidates, user_id=user_id, users=users, interactions=interactions, values=values, item_id=item_id
        )
