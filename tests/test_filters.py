"""The filter language: parsing (valid and malformed expressions) and evaluation on a hand-made catalogue."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personalize_kit.exceptions import FilterSyntaxError, InvalidFilterValuesError, PersonalizeKitError
from personalize_kit.filters import (
    INTERACTIONS,
    ITEMS,
    And,
    Comparison,
    FieldRef,
    FilterExpression,
    FilterPart,
    Number,
    Or,
    Param,
    parse_filter,
    parse_filter_values,
)

CUSER = "CurrentUser"
CITEM = "CurrentItem"


def items_field(name: str) -> FieldRef:
    return FieldRef(ITEMS, name)


def cmp(dataset: str, name: str, op: str, *values) -> Comparison:
    return Comparison(FieldRef(dataset, name), op, tuple(values))


EVENT_TYPE = FieldRef(INTERACTIONS, "EVENT_TYPE")

# ------------------------------------------------------------------------------------ valid syntax

# Examples from the developer guide ("Item recommendation filter expression examples", "Combining
# multiple expressions", the earlier "Filter Expression Examples") and the structure each must parse to.
VALID = [
    (
        "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($EVENT_TYPE)",
        [FilterPart("EXCLUDE", INTERACTIONS, Comparison(EVENT_TYPE, "IN", (Param("EVENT_TYPE"),)))],
    ),
    (
        'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click", "stream")',
        [FilterPart("EXCLUDE", INTERACTIONS, Comparison(EVENT_TYPE, "IN", ("click", "stream")))],
    ),
    (
        'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")',
        [FilterPart("INCLUDE", INTERACTIONS, Comparison(EVENT_TYPE, "IN", ("click",)))],
    ),
    (
        'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")',
        [FilterPart("INCLUDE", INTERACTIONS, Comparison(EVENT_TYPE, "IN", ("*",)))],
    ),
    (
        "EXCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY)",
        [FilterPart("EXCLUDE", ITEMS, cmp(ITEMS, "CATEGORY", "IN", Param("CATEGORY")))],
    ),
    (
        "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE AND Items.GENRE IN CurrentItem.GENRE",
        [
            FilterPart(
                "INCLUDE",
                ITEMS,
                And(
                    (
                        cmp(ITEMS, "PRICE", "<", FieldRef(CITEM, "PRICE")),
                        cmp(ITEMS, "GENRE", "IN", FieldRef(CITEM, "GENRE")),
                    )
                ),
            )
        ],
    ),
    (
        'EXCLUDE ItemID WHERE Items.CATEGORY_L1 IN ("shoe") AND Items.CATEGORY_L2 NOT IN ("boot")',
        [
            FilterPart(
                "EXCLUDE",
                ITEMS,
                And((cmp(ITEMS, "CATEGORY_L1", "IN", "shoe"), cmp(ITEMS, "CATEGORY_L2", "NOT IN", "boot"))),
            )
        ],
    ),
    (
        "INCLUDE ItemID WHERE Items.PRICE <= $PRICE",
        [FilterPart("INCLUDE", ITEMS, cmp(ITEMS, "PRICE", "<=", Param("PRICE")))],
    ),
    (
        "INCLUDE ItemID WHERE Items.CREATION_TIMESTAMP < $DATE",
        [FilterPart("INCLUDE", ITEMS, cmp(ITEMS, "CREATION_TIMESTAMP", "<", Param("DATE")))],
    ),
    (
        "INCLUDE ItemID WHERE Items.GENRE IN ($GENRE)",
        [FilterPart("INCLUDE", ITEMS, cmp(ITEMS, "GENRE", "IN", Param("GENRE")))],
    ),
    (
        "EXCLUDE ItemID WHERE Items.GENRE IN ($GENRE) IF CurrentUser.AGE = $AGE",
        [
            FilterPart(
                "EXCLUDE",
                ITEMS,
                cmp(ITEMS, "GENRE", "IN", Param("GENRE")),
                cmp(CUSER, "AGE", "=", Param("AGE")),
            )
        ],
    ),
    (
        "EXCLUDE ItemID WHERE Items.NUMBER_OF_DOWNLOADS < 20 IF CurrentUser.AGE > 18 AND CurrentUser.AGE < 30",
        [
            FilterPart(
                "EXCLUDE",
                ITEMS,
                cmp(ITEMS, "NUMBER_OF_DOWNLOADS", "<", Number(20.0)),
                And((cmp(CUSER, "AGE", ">", Number(18.0)), cmp(CUSER, "AGE", "<", Number(30.0)))),
            )
        ],
    ),
    (
        'INCLUDE ItemID WHERE Items.CATEGORY IN ("watch") AND Items.DESCRIPTION IN ("luxury") IF CurrentUser.AGE > 18',
        [
            FilterPart(
                "INCLUDE",
                ITEMS,
                And((cmp(ITEMS, "CATEGORY", "IN", "watch"), cmp(ITEMS, "DESCRIPTION", "IN", "luxury"))),
                cmp(CUSER, "AGE", ">", Number(18.0)),
            )
        ],
    ),
    (
        "INCLUDE ItemID WHERE Items.CATEGORY IN ($CATEGORY) | "
        'INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("favorite")',
        [
            FilterPart("INCLUDE", ITEMS, cmp(ITEMS, "CATEGORY", "IN", Param("CATEGORY"))),
            FilterPart("INCLUDE", INTERACTIONS, Comparison(EVENT_TYPE, "IN", ("favorite",))),
        ],
    ),
    (
        'INCLUDE ItemID WHERE Items.GENRE IN ("drama") | '
        'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click", "stream")',
        [
            FilterPart("INCLUDE", ITEMS, cmp(ITEMS, "GENRE", "IN", "drama")),
            FilterPart("EXCLUDE", INTERACTIONS, Comparison(EVENT_TYPE, "IN", ("click", "stream"))),
        ],
    ),
    # The guide's SDK example writes keywords and the dataset in other cases.
    (
        'EXCLUDE itemId WHERE INTERACTIONS.EVENT_TYPE in ("Purchase")',
        [FilterPart("EXCLUDE", INTERACTIONS, Comparison(FieldRef(INTERACTIONS, "EVENT_TYPE"), "IN", ("Purchase",)))],
    ),
    # AND binds tighter than OR.
    (
        'INCLUDE ItemID WHERE Items.A IN ("x") OR Items.B IN ("y") AND Items.C > 1',
        [
            FilterPart(
                "INCLUDE",
                ITEMS,
                Or((cmp(ITEMS, "A", "IN", "x"), And((cmp(ITEMS, "B", "IN", "y"), cmp(ITEMS, "C", ">", Number(1.0)))))),
            )
        ],
    ),
    (
        'INCLUDE ItemID WHERE Items.A = "x" AND Items.B >= -1.5e2 IF CurrentUser.TIER IN ("gold", $T)',
        [
            FilterPart(
                "INCLUDE",
                ITEMS,
                And((cmp(ITEMS, "A", "=", "x"), cmp(ITEMS, "B", ">=", Number(-150.0)))),
                cmp(CUSER, "TIER", "IN", "gold", Param("T")),
            )
        ],
    ),
    (
        'INCLUDE ItemID WHERE Items.TITLE IN ("say \\"hi\\"", "a\\\\b", "x|y")',
        [FilterPart("INCLUDE", ITEMS, cmp(ITEMS, "TITLE", "IN", 'say "hi"', "a\\b", "x|y"))],
    ),
]


@pytest.mark.parametrize(("expression", "parts"), VALID, ids=[v[0][:60] for v in VALID])
def test_valid_expressions_parse_to_expected_structure(expression: str, parts: list[FilterPart]) -> None:
    parsed = parse_filter(expression)
    assert parsed == FilterExpression(tuple(parts))
    assert parsed.expression == expression
    # The canonical text parses back to the same structure.
    assert parse_filter(str(parsed)) == parsed


def test_parameters_and_fields() -> None:
    expr = parse_filter(
        'INCLUDE ItemID WHERE Items.GENRE IN ($GENRE, "x") AND Items.PRICE < CurrentItem.PRICE '
        "IF CurrentUser.AGE > $AGE | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($EVENT)"
    )
    assert expr.parameters == {"GENRE", "AGE", "EVENT"}
    assert expr.fields == {
        ("Items", "GENRE"),
        ("Items", "PRICE"),
        ("CurrentItem", "PRICE"),
        ("CurrentUser", "AGE"),
        ("Interactions", "EVENT_TYPE"),
    }
    assert expr.parts[0].parameters == {"GENRE", "AGE"}
    assert expr.parts[0].text == (
        'INCLUDE ItemID WHERE Items.GENRE IN ($GENRE, "x") AND Items.PRICE < CurrentItem.PRICE '
        "IF CurrentUser.AGE > $AGE"
    )


def test_expression_of_maximum_length_parses() -> None:
    base = 'INCLUDE ItemID WHERE Items.GENRE IN ("x")'
    expression = base + " " * (2500 - len(base))
    assert len(expression) == 2500
    assert parse_filter(expression).parts[0].action == "INCLUDE"


# -------------------------------------------------------------------------------- malformed syntax

ELEVEN_FIELDS = "INCLUDE ItemID WHERE " + " AND ".join(f"Items.F{i} > 1" for i in range(11))

# (expression, 0-based position of the caret, the problem stated in the message)
MALFORMED = [
    ('SELECT ItemID WHERE Items.A IN ("x")', 0, "Expected INCLUDE or EXCLUDE but found 'SELECT'"),
    ('INCLUDE Items WHERE Items.A IN ("x")', 8, "Expected ItemID or ActionID after INCLUDE but found 'Items'"),
    (
        "INCLUDE UserID WHERE Users.AGE < 5",
        8,
        "Only ItemID and ActionID filters are supported, found 'UserID' (user segment filters are not mirrored)",
    ),
    ('EXCLUDE ItemID WHER Interactions.EVENT_TYPE IN ("click")', 15, "Expected WHERE after ItemID but found 'WHER'"),
    (
        'INCLUDE ItemID WHERE ("x")',
        21,
        "Expected a dataset field such as Items.GENRES or Interactions.EVENT_TYPE but found '('",
    ),
    (
        'INCLUDE ItemID WHERE GENRE IN ("x")',
        27,
        "Expected '.' and a field name after 'GENRE' (dataset.field) but found 'IN'",
    ),
    (
        'INCLUDE ItemID WHERE Items. IN ("x")',
        27,
        "Expected a field name right after 'Items.' (dataset.field, no spaces)",
    ),
    ('INCLUDE ItemID WHERE Items.("x")', 27, "Expected a field name after 'Items.' but found '('"),
    (
        'INCLUDE ItemID WHERE Item.GENRE IN ("x")',
        21,
        "Unknown dataset 'Item': expected Items, Interactions, CurrentUser or CurrentItem; did you mean Items?",
    ),
    (
        'INCLUDE ItemID WHERE Items.GENRE IN ("a") AND Interactions.EVENT_TYPE IN ("x")',
        46,
        "All conditions of one expression must use the dataset of its first condition (Items), found "
        "Interactions; chain another expression with '|'",
    ),
    (
        "INCLUDE ItemID WHERE Interactions.EVENT_VALUE > 3",
        21,
        "Interactions filters can only use EVENT_TYPE, found Interactions.EVENT_VALUE",
    ),
    (
        "INCLUDE ItemID WHERE Interactions.EVENT_TYPE = 3",
        45,
        "Interactions.EVENT_TYPE can only be compared with IN or NOT IN",
    ),
    (
        "INCLUDE ItemID WHERE Users.AGE > 3",
        21,
        "Users fields cannot be used in an ItemID filter; filter on Items or Interactions (use IF "
        "CurrentUser.FIELD ... for the current user)",
    ),
    (
        "INCLUDE ItemID WHERE CurrentUser.AGE > 1",
        21,
        "CurrentUser fields can only be tested in an IF clause at the end",
    ),
    (
        "INCLUDE ItemID WHERE CurrentItem.PRICE > 1",
        21,
        "CurrentItem can only be a value to compare with, e.g. Items.PRICE < CurrentItem.PRICE",
    ),
    (
        "INCLUDE ItemID WHERE Items.GENRE NOT IN ($G)",
        41,
        "Placeholder parameters cannot be used with NOT IN ($G); use IN and swap INCLUDE/EXCLUDE",
    ),
    ('INCLUDE ItemID WHERE Items.GENRE IN "x"', 36, "Expected '(' and a list of values after IN but found '\"x\"'"),
    (
        "INCLUDE ItemID WHERE Items.GENRE IN ()",
        37,
        "Expected a value (a \"string\", a number or a $PARAMETER) but found ')'",
    ),
    (
        'INCLUDE ItemID WHERE Items.GENRE IN ("a" "b")',
        41,
        "Expected ',' or ')' in the list of values but found '\"b\"'",
    ),
    (
        'INCLUDE ItemID WHERE Items.GENRE IN ("a"',
        40,
        "Expected ',' or ')' in the list of values but found the end of the expression",
    ),
    ('INCLUDE ItemID WHERE Items.GENRE IN ("a)', 37, "Unterminated string: expected a closing '\"'"),
    (
        "INCLUDE ItemID WHERE Items.GENRE IN ('a')",
        37,
        'Unexpected character "\'": enclose string values in double quotes',
    ),
    (
        'INCLUDE ItemID WHERE Items.PRICE < "ten"',
        35,
        "Operator < compares numbers: expected a number or a $PARAMETER, found '\"ten\"'",
    ),
    (
        "INCLUDE ItemID WHERE Items.PRICE > ",
        35,
        "Expected a number or a $PARAMETER after > but found the end of the expression",
    ),
    (
        "INCLUDE ItemID WHERE Items.PRICE LIKE 3",
        33,
        "Expected IN, NOT IN, =, <, <=, > or >= after Items.PRICE but found 'LIKE'",
    ),
    ('INCLUDE ItemID WHERE Items.GENRE NOT ("a")', 37, "Expected IN after NOT but found '('"),
    ("INCLUDE ItemID WHERE Items.PRICE != 3", 33, "Operator '!=' is not supported; use NOT IN (...)"),
    ("INCLUDE ItemID WHERE Items.PRICE <> 3", 33, "Operator '<>' is not supported; use NOT IN (...)"),
    ("INCLUDE ItemID WHERE Items.PRICE == 3", 33, "Operator '==' is not supported; use '='"),
    ("INCLUDE ItemID WHERE Items.GENRE IN ($)", 37, "Expected a parameter name (letters, digits, _) after '$'"),
    ('INCLUDE ItemID WHERE Items.A IN ("x") & Items.B IN ("y")', 38, "Unexpected character '&'"),
    (
        'INCLUDE ItemID WHERE Items.A IN ("x") IF Items.B IN ("y")',
        41,
        "IF conditions can only test CurrentUser fields, found Items",
    ),
    (
        'INCLUDE ItemID WHERE Items.A IN ("x") IF CurrentUser.AGE > 1 OR CurrentUser.AGE < 5',
        61,
        "IF conditions can only be chained with AND, found 'OR'",
    ),
    (
        'INCLUDE ItemID WHERE Items.A IN ("x") IF CurrentUser.AGE > 1 IF CurrentUser.B > 2',
        61,
        "Only one IF clause is allowed per expression, at its end",
    ),
    (
        'INCLUDE ItemID WHERE Items.A IN ("x") Items.B IN ("y")',
        38,
        "Expected AND, OR, IF, '|' or the end of the expression but found 'Items'",
    ),
    (
        'INCLUDE ItemID WHERE Items.A IN ("x") |',
        39,
        "Expected INCLUDE or EXCLUDE after '|' but found the end of the expression",
    ),
    (
        'INCLUDE ItemID WHERE Items.A IN ("x") || EXCLUDE ItemID WHERE Items.B IN ("y")',
        39,
        "Expected INCLUDE or EXCLUDE after '|' but found '|'",
    ),
    (
        ELEVEN_FIELDS,
        ELEVEN_FIELDS.index("Items.F10"),
        "A filter can use at most 10 distinct dataset fields; Items.F10 is the 11th",
    ),
]


@pytest.mark.parametrize(("expression", "position", "problem"), MALFORMED, ids=[m[2][:50] for m in MALFORMED])
def test_malformed_expressions_report_problem_column_and_caret(expression: str, position: int, problem: str) -> None:
    with pytest.raises(FilterSyntaxError) as err:
        parse_filter(expression)
    assert err.value.position == position
    if len(expression) <= 100:
        assert str(err.value) == (
            f"Invalid filter expression at column {position + 1}: {problem}\n  {expression}\n  {' ' * position}^"
        )
    else:
        assert str(err.value).startswith(f"Invalid filter expression at column {position + 1}: {problem}\n")


def test_error_message_format_is_readable() -> None:
    with pytest.raises(FilterSyntaxError) as err:
        parse_filter('EXCLUDE ItemID WHER Interactions.EVENT_TYPE IN ("click")')
    assert str(err.value) == (
        "Invalid filter expression at column 16: Expected WHERE after ItemID but found 'WHER'\n"
        '  EXCLUDE ItemID WHER Interactions.EVENT_TYPE IN ("click")\n'
        "                 ^"
    )
    assert isinstance(err.value, PersonalizeKitError)


def test_caret_in_a_long_expression_points_at_the_problem_within_a_window() -> None:
    head = " | ".join(f'INCLUDE ItemID WHERE Items.G IN ("v{i}")' for i in range(5))
    expression = head + ' | INCLUDE ItemID WHERE Items.G IN ("x" "y")'
    position = expression.index('"y"')
    with pytest.raises(FilterSyntaxError) as err:
        parse_filter(expression)
    assert err.value.position == position
    _, shown, caret = str(err.value).split("\n")
    assert shown.startswith("  ...")
    assert shown[caret.index("^") :].startswith('"y"')


@pytest.mark.parametrize(
    ("expression", "message", "position"),
    [
        ("", "Filter expression is empty: expected INCLUDE or EXCLUDE ItemID (or ActionID) WHERE ...", 0),
        ("   ", "Filter expression is empty: expected INCLUDE or EXCLUDE ItemID (or ActionID) WHERE ...", 0),
        ("I" * 2501, "Filter expression is 2,501 characters long; the maximum is 2,500", 2500),
    ],
)
def test_length_limits(expression: str, message: str, position: int) -> None:
    with pytest.raises(FilterSyntaxError) as err:
        parse_filter(expression)
    assert str(err.value) == message
    assert err.value.position == position


# ------------------------------------------------------------------------------------ filterValues


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"Comedy"', ("Comedy",)),
        ('"Comedy","Drama"', ("Comedy", "Drama")),
        (' "Comedy" , "Drama" ', ("Comedy", "Drama")),
        ('"Sci-Fi, Fantasy"', ("Sci-Fi, Fantasy",)),
        ('"say \\"hi\\""', ('say "hi"',)),
        ("10", ("10",)),
        ('"10", 20.5', ("10", "20.5")),
    ],
)
def test_filter_values_are_decoded(raw: str, expected: tuple[str, ...]) -> None:
    assert parse_filter_values({"P": raw}) == {"P": expected}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"P": ""}, "filterValues['P']: no value given at column 1"),
        ({"P": '"a",'}, "filterValues['P']: expected a value at column 5"),
        ({"P": '"a" "b"'}, "filterValues['P']: expected ',' between values at column 5"),
        ({"P": '"a'}, "filterValues['P']: unterminated string at column 1"),
        ({"$P": '"a"'}, "filterValues key '$P' is not a parameter name"),
        ({"P": "x" * 1001}, "filterValues['P'] is 1,001 characters long; the maximum is 1,000"),
        ({f"P{i}": '"a"' for i in range(26)}, "filterValues has 26 entries; the maximum is 25"),
    ],
)
def test_malformed_filter_values(values: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidFilterValuesError) as err:
        parse_filter_values(values)
    assert str(err.value).startswith(message)


# -------------------------------------------------------------------------------------- evaluation

ITEMS_DF = pd.DataFrame(
    {
        "ITEM_ID": ["1", "2", "3", "4", "5", "6"],
        "GENRES": ["Comedy|Drama", "Horror", "Drama", "Comedy", None, "Action|Comedy|Horror"],
        "PRICE": pd.array([5, 15, 8, 20, None, 10], dtype="Int64"),
        "STUDIO": ["A", "B", "A", "C", "B", None],
    }
)
CANDIDATES = np.array(["1", "2", "3", "4", "5", "6", "99"], dtype=object)  # "99" is not in Items
USERS_DF = pd.DataFrame({"USER_ID": ["u1", "u2"], "AGE": [25, 17], "TIER": ["gold", "silver|basic"]})
INTERACTIONS_DF = pd.DataFrame(
    {
        "USER_ID": ["u1", "u1", "u1", "u2", "u1"],
        "ITEM_ID": ["2", "3", "1", "4", "6"],
        "TIMESTAMP": [10, 11, 12, 13, 14],
        "EVENT_TYPE": ["click", "watch", "purchase", "click", "CLICK"],
    }
)


def kept(expression: str, candidates=CANDIDATES, **kwargs) -> list[str]:
    kwargs.setdefault("items", ITEMS_DF)
    kwargs.setdefault("users", USERS_DF)
    kwargs.setdefault("interactions", INTERACTIONS_DF)
    kwargs.setdefault("user_id", "u1")
    mask = parse_filter(expression).evaluate(candidates, **kwargs)
    assert mask.dtype == bool and mask.shape == (len(candidates),)
    return [c for c, m in zip(candidates, mask, strict=True) if m]


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ('Items.GENRES IN ("Comedy")', ["1", "4", "6"]),
        ('Items.GENRES IN ("Drama", "Horror")', ["1", "2", "3", "6"]),
        ('Items.GENRES IN ("comedy")', []),  # exact strings
        ('Items.GENRES NOT IN ("Comedy")', ["2", "3", "5", "99"]),  # empty and unknown items are NOT IN
        ('Items.STUDIO = "A"', ["1", "3"]),
        ("Items.PRICE = 10", ["6"]),
        ("Items.PRICE < 10", ["1", "3"]),
        ("Items.PRICE <= 10", ["1", "3", "6"]),
        ("Items.PRICE > 10", ["2", "4"]),
        ("Items.PRICE >= 15", ["2", "4"]),
        ("Items.PRICE IN (5, 20)", ["1", "4"]),
        ("Items.PRICE NOT IN (5, 20)", ["2", "3", "5", "6", "99"]),
        ('Items.GENRES IN ("Comedy") AND Items.PRICE < 10', ["1"]),
        ('Items.GENRES IN ("Drama") OR Items.STUDIO IN ("C")', ["1", "3", "4"]),
        # AND binds tighter: B or (Comedy and < 10) = {2, 5} | {1}; OR first would give {1}.
        ('Items.STUDIO IN ("B") OR Items.GENRES IN ("Comedy") AND Items.PRICE < 10', ["1", "2", "5"]),
        ('Items.genres IN ("Horror")', ["2", "6"]),  # field names resolve without regard to case
        ('Items.NOPE IN ("x")', []),  # unknown field matches nothing
        ('Items.NOPE NOT IN ("x")', []),
        ("Items.NOPE < 3", []),
    ],
)
def test_items_operators(condition: str, expected: list[str]) -> None:
    assert kept(f"INCLUDE ItemID WHERE {condition}") == expected
    everything_else = [c for c in CANDIDATES if c not in expected]
    assert kept(f"EXCLUDE ItemID WHERE {condition}") == everything_else


def test_parameters_fill_in_values() -> None:
    assert kept("INCLUDE ItemID WHERE Items.GENRES IN ($G)", values={"G": '"Horror","Drama"'}) == [
        "1",
        "2",
        "3",
        "6",
    ]
    assert kept("INCLUDE ItemID WHERE Items.PRICE <= $P", values={"P": "10"}) == ["1", "3", "6"]
    assert kept("INCLUDE ItemID WHERE Items.PRICE <= $P", values={"P": '"10"'}) == ["1", "3", "6"]
    assert kept('INCLUDE ItemID WHERE Items.GENRES IN ($G, "Action")', values={"G": '"Drama"'}) == ["1", "3", "6"]


def test_missing_exclude_parameter_skips_that_part() -> None:
    expression = 'EXCLUDE ItemID WHERE Items.GENRES IN ($G) | EXCLUDE ItemID WHERE Items.STUDIO IN ("C")'
    assert kept(expression) == ["1", "2", "3", "5", "6", "99"]
    assert kept(expression, values={"G": '"Drama"'}) == ["2", "5", "6", "99"]


def test_missing_include_parameter_is_an_error() -> None:
    with pytest.raises(InvalidFilterValuesError) as err:
        kept("INCLUDE ItemID WHERE Items.GENRES IN ($GENRE)", values={"genre": '"Drama"'})
    assert str(err.value) == (
        "filterValues has no value for $GENRE, which the INCLUDE expression "
        "'INCLUDE ItemID WHERE Items.GENRES IN ($GENRE)' needs; add 'GENRE' to filterValues "
        "(parameter names are case-sensitive and written without '$')"
    )


def test_numeric_parameter_must_be_one_number() -> None:
    with pytest.raises(InvalidFilterValuesError, match="Items.PRICE < \\$P compares numbers, but the value 'ten'"):
        kept("INCLUDE ItemID WHERE Items.PRICE < $P", values={"P": '"ten"'})
    with pytest.raises(InvalidFilterValuesError, match="Items.PRICE < \\$P needs exactly one value, got 2: 1, 2"):
        kept("INCLUDE ItemID WHERE Items.PRICE < $P", values={"P": "1, 2"})


def test_current_user_condition_true_false_and_unknown() -> None:
    expression = "INCLUDE ItemID WHERE Items.PRICE < 10 IF CurrentUser.AGE > 20"
    assert kept(expression, user_id="u1") == ["1", "3"]  # 25 > 20: the part applies
    assert kept(expression, user_id="u2") == list(CANDIDATES)  # 17: skipped, nothing restricts
    assert kept(expression, user_id="nobody") == list(CANDIDATES)
    assert kept(expression, users=None) == list(CANDIDATES)
    both = 'EXCLUDE ItemID WHERE Items.GENRES IN ("Horror") IF CurrentUser.AGE > 10 AND CurrentUser.AGE < 20'
    assert kept(both, user_id="u2") == ["1", "3", "4", "5", "99"]
    assert kept(both, user_id="u1") == list(CANDIDATES)


def test_current_user_categorical_and_parameter_conditions() -> None:
    expression = 'EXCLUDE ItemID WHERE Items.GENRES IN ("Horror") IF CurrentUser.TIER IN ("basic")'
    assert kept(expression, user_id="u2") == ["1", "3", "4", "5", "99"]  # "silver|basic" has basic
    assert kept(expression, user_id="u1") == list(CANDIDATES)
    with_param = 'EXCLUDE ItemID WHERE Items.GENRES IN ("Horror") IF CurrentUser.AGE = $AGE'
    assert kept(with_param, user_id="u1", values={"AGE": "25"}) == ["1", "3", "4", "5", "99"]
    assert kept(with_param, user_id="u1", values={"AGE": "26"}) == list(CANDIDATES)
    assert kept(with_param, user_id="u1") == list(CANDIDATES)  # EXCLUDE with missing $AGE: skipped


def test_union_of_includes_minus_union_of_excludes() -> None:
    expression = (
        'INCLUDE ItemID WHERE Items.GENRES IN ("Drama") | INCLUDE ItemID WHERE Items.STUDIO IN ("C") | '
        "EXCLUDE ItemID WHERE Items.PRICE < 6"
    )
    assert kept(expression) == ["3", "4"]  # ({1, 3} | {4}) - {1}
    assert kept("EXCLUDE ItemID WHERE Items.PRICE < 6 | EXCLUDE ItemID WHERE Items.PRICE > 12") == [
        "3",
        "5",
        "6",
        "99",
    ]


def test_include_skipped_by_its_if_clause_does_not_restrict() -> None:
    expression = (
        'INCLUDE ItemID WHERE Items.GENRES IN ("Drama") IF CurrentUser.AGE > 20 | '
        'INCLUDE ItemID WHERE Items.STUDIO IN ("C") IF CurrentUser.AGE < 20'
    )
    assert kept(expression, user_id="u1") == ["1", "3"]
    assert kept(expression, user_id="u2") == ["4"]


def test_interaction_filters_use_the_users_own_events_case_insensitively() -> None:
    assert kept('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")') == ["1", "3", "4", "5", "99"]
    assert kept('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("Click")', user_id="u2") == [
        "1",
        "2",
        "3",
        "5",
        "6",
        "99",
    ]
    assert kept('INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")') == ["1", "2", "3", "6"]
    assert kept('INCLUDE ItemID WHERE Interactions.EVENT_TYPE NOT IN ("click")') == ["1", "3"]
    assert kept("INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ($E)", values={"E": '"watch","purchase"'}) == [
        "1",
        "3",
    ]
    assert kept('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")', user_id=None) == list(CANDIDATES)
    assert kept('INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")', interactions=None) == []


def test_if_clause_on_an_interactions_expression() -> None:
    expression = 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click") IF CurrentUser.AGE > 20'
    assert kept(expression, user_id="u1") == ["1", "3", "4", "5", "99"]  # 25: clicks on 2 and 6 removed
    u2_history = INTERACTIONS_DF.assign(USER_ID="u2")  # same events, but u2 is 17
    assert kept(expression, user_id="u2", interactions=u2_history) == list(CANDIDATES)


def test_items_and_interactions_parts_combine() -> None:
    expression = (
        'INCLUDE ItemID WHERE Items.GENRES IN ("Horror") | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")'
    )
    assert kept(expression) == []  # Horror {2, 6}, both clicked by u1
    assert kept(expression, user_id="u2") == ["2", "6"]


def test_only_the_100_newest_interactions_per_event_type_count() -> None:
    watches = pd.DataFrame(
        {
            "USER_ID": "u",
            "ITEM_ID": [f"w{i}" for i in range(150)],
            "TIMESTAMP": np.arange(150),
            "EVENT_TYPE": "watch",
        }
    )
    old_click = pd.DataFrame({"USER_ID": ["u"], "ITEM_ID": ["c"], "TIMESTAMP": [-5], "EVENT_TYPE": ["click"]})
    # Rows in reverse time order, to show that TIMESTAMP, not row order, decides.
    history = pd.concat([watches.iloc[::-1], old_click], ignore_index=True)
    candidates = np.array([f"w{i}" for i in range(150)] + ["c"], dtype=object)
    expr = parse_filter('EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch", "click")')
    mask = expr.evaluate(candidates, user_id="u", interactions=history)
    assert [c for c, m in zip(candidates, mask, strict=True) if m] == [f"w{i}" for i in range(50)]


def test_equal_timestamps_count_later_rows_as_newer() -> None:
    history = pd.DataFrame(
        {"USER_ID": "u", "ITEM_ID": [f"w{i}" for i in range(101)], "TIMESTAMP": 7, "EVENT_TYPE": "watch"}
    )
    candidates = np.array(["w0", "w1", "w100"], dtype=object)
    mask = parse_filter('INCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("watch")').evaluate(
        candidates, user_id="u", interactions=history
    )
    assert mask.tolist() == [False, True, True]


def test_current_item_comparisons() -> None:
    expression = "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE AND Items.GENRES IN CurrentItem.GENRES"
    assert kept(expression, item_id="4") == ["1", "6"]  # cheaper than 20 and Comedy
    assert kept(expression, item_id="2") == ["6"]  # cheaper than 15 and Horror
    assert kept(expression, item_id="99") == []  # unknown current item: no values
    with pytest.raises(InvalidFilterValuesError, match="uses CurrentItem, which needs the itemId"):
        kept(expression)


def test_candidates_as_list_and_unknown_items_frame() -> None:
    assert kept('INCLUDE ItemID WHERE Items.GENRES IN ("Drama")', candidates=["3", "2", "1"]) == ["3", "1"]
    assert kept('EXCLUDE ItemID WHERE Items.GENRES IN ("Drama")', items=None) == list(CANDIDATES)
    assert kept('INCLUDE ItemID WHERE Items.GENRES IN ("Drama")', candidates=np.array([], dtype=object)) == []


def test_binding_follows_a_new_items_frame() -> None:
    expr = parse_filter('INCLUDE ItemID WHERE Items.GENRES IN ("Western")')
    assert not expr.evaluate(CANDIDATES, items=ITEMS_DF).any()
    updated = pd.concat([ITEMS_DF, pd.DataFrame({"ITEM_ID": ["99"], "GENRES": ["Western"]})], ignore_index=True)
    assert expr.evaluate(CANDIDATES, items=updated).tolist() == [False] * 6 + [True]
    bound = expr.bind(updated)
    assert bound.evaluate(CANDIDATES).tolist() == [False] * 6 + [True]


def test_duplicate_item_ids_keep_the_last_row() -> None:
    items = pd.DataFrame({"ITEM_ID": ["1", "1"], "GENRES": ["Drama", "Comedy"]})
    mask = parse_filter('INCLUDE ItemID WHERE Items.GENRES IN ("Comedy")').evaluate(np.array(["1"]), items=items)
    assert mask.tolist() == [True]


# -------------------------------------------------------------------------------------- properties

GENRES = ["Action", "Comedy", "Drama", "Horror", "Sci-Fi"]


@st.composite
def catalogues(draw) -> pd.DataFrame:
    n = draw(st.integers(min_value=0, max_value=12))
    genres = draw(
        st.lists(
            st.one_of(st.none(), st.lists(st.sampled_from(GENRES), min_size=1, max_size=3)), min_size=n, max_size=n
        )
    )
    prices = draw(st.lists(st.one_of(st.none(), st.integers(0, 30)), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "ITEM_ID": [str(i) for i in range(n)],
            "GENRES": [None if g is None else "|".join(g) for g in genres],
            "PRICE": pd.array(prices, dtype="Int64"),
        }
    )


comparisons = st.one_of(
    st.builds(
        lambda op, values: Comparison(items_field("GENRES"), op, tuple(values)),
        st.sampled_from(["IN", "NOT IN"]),
        st.lists(st.sampled_from(GENRES), min_size=1, max_size=3),
    ),
    st.builds(
        lambda op, v: Comparison(items_field("PRICE"), op, (Number(float(v), str(v)),)),
        st.sampled_from(["=", "<", "<=", ">", ">="]),
        st.integers(0, 30),
    ),
)
# Without parentheses the grammar has three shapes: a comparison, an AND chain, an OR of those.
and_chains = st.builds(lambda ts: And(tuple(ts)), st.lists(comparisons, min_size=2, max_size=3))
conditions = st.one_of(
    comparisons,
    and_chains,
    st.builds(lambda ts: Or(tuple(ts)), st.lists(st.one_of(comparisons, and_chains), min_size=2, max_size=3)),
)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(catalogues(), conditions)
def test_include_and_exclude_of_one_condition_partition_the_candidates(items: pd.DataFrame, condition) -> None:
    candidates = np.array(list(items["ITEM_ID"]) + ["unknown"], dtype=object)
    include = parse_filter(f"INCLUDE ItemID WHERE {condition}").evaluate(candidates, items=items)
    exclude = parse_filter(f"EXCLUDE ItemID WHERE {condition}").evaluate(candidates, items=items)
    assert not (include & exclude).any()
    assert (include | exclude).all()


@settings(max_examples=80, deadline=None, derandomize=True)
@given(catalogues(), st.lists(st.sampled_from(GENRES), min_size=1, max_size=3))
def test_not_in_is_the_complement_of_in(items: pd.DataFrame, values: list[str]) -> None:
    listed = ", ".join(f'"{v}"' for v in values)
    candidates = np.array(list(items["ITEM_ID"]), dtype=object)
    inside = parse_filter(f"INCLUDE ItemID WHERE Items.GENRES IN ({listed})").evaluate(candidates, items=items)
    outside = parse_filter(f"INCLUDE ItemID WHERE Items.GENRES NOT IN ({listed})").evaluate(candidates, items=items)
    assert (inside ^ outside).all()
    expected = [isinstance(g, str) and any(x in values for x in g.split("|")) for g in items["GENRES"]]
    assert inside.tolist() == expected


@settings(max_examples=80, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(["INCLUDE", "EXCLUDE"]), conditions), min_size=1, max_size=3))
def test_rendered_structure_parses_back(parts) -> None:
    expression = FilterExpression(tuple(FilterPart(action, ITEMS, cond) for action, cond in parts))
    assert parse_filter(str(expression)) == expression


def _naive(condition, genres: str | None, price: int | None) -> bool:
    """Evaluate one item row straight from the documented semantics."""
    if isinstance(condition, And):
        return all(_naive(t, genres, price) for t in condition.terms)
    if isinstance(condition, Or):
        return any(_naive(t, genres, price) for t in condition.terms)
    if condition.field.field == "GENRES":
        found = genres is not None and any(g in condition.values for g in genres.split("|"))
        return found if condition.op == "IN" else not found
    if price is None:
        return False
    limit = condition.values[0].value
    return {
        "=": price == limit,
        "<": price < limit,
        "<=": price <= limit,
        ">": price > limit,
        ">=": price >= limit,
    }[condition.op]


@settings(max_examples=100, deadline=None, derandomize=True)
@given(catalogues(), conditions)
def test_vectorised_evaluation_matches_row_by_row_semantics(items: pd.DataFrame, condition) -> None:
    candidates = np.array(list(items["ITEM_ID"]), dtype=object)
    mask = parse_filter(f"INCLUDE ItemID WHERE {condition}").evaluate(candidates, items=items)
    rows = zip(items["GENRES"], items["PRICE"], strict=True)
    expected = [_naive(condition, g if isinstance(g, str) else None, None if pd.isna(p) else int(p)) for g, p in rows]
    assert mask.tolist() == expected
