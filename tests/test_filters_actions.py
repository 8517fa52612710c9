"""Action filters (``ActionID`` expressions) in the filter language: parsing, refusals and evaluation.

The examples are the developer guide's "Action recommendation filter expression examples"; the rules not
written there for actions follow the item filters' (tested in ``test_filters.py``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalize_kit.exceptions import FilterSyntaxError, InvalidFilterValuesError
from personalize_kit.filters import (
    Comparison,
    FieldRef,
    FilterPart,
    Number,
    Param,
    parse_filter,
)
from personalize_kit.filters.language import ACTION_ID, ACTION_INTERACTIONS, ACTIONS, ITEM_ID

GUIDE_EXAMPLES = [
    "INCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ($EVENT_TYPE)",
    'EXCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ("NOT_TAKEN")',
    "EXCLUDE ActionID WHERE Actions.CATEGORY IN ($CATEGORY)",
    "INCLUDE ActionID WHERE Actions.VALUE > ($VALUE)",
    "EXCLUDE ActionID WHERE Actions.VALUE < ($VALUE) IF CurrentUser.MEMBERSHIP = $PREMIUM",
]

CANDIDATES = np.array(["join", "app", "survey", "gone"])
ACTIONS_FRAME = pd.DataFrame(
    {"ACTION_ID": ["join", "app", "survey"], "VALUE": [10, 5, 1], "CATEGORY": ["membership", "mobile|digital", None]}
)
# u took join, passed by app; v only viewed survey; "newer" rows of other users are ignored
ACTION_INTERACTIONS_FRAME = pd.DataFrame(
    {
        "USER_ID": ["u", "u", "v", "w"],
        "ACTION_ID": ["join", "app", "survey", "app"],
        "TIMESTAMP": [1, 2, 3, 4],
        "EVENT_TYPE": ["TAKEN", "Not taken", "Viewed", "TAKEN"],
    }
)
USERS = pd.DataFrame({"USER_ID": ["u", "v"], "MEMBERSHIP": ["premium", "basic"]})


def _kept(expression: str, user: str = "u", **values: str) -> list[str]:
    mask = parse_filter(expression).evaluate(
        CANDIDATES,
        user_id=user,
        actions=ACTIONS_FRAME,
        action_interactions=ACTION_INTERACTIONS_FRAME,
        users=USERS,
        values=values,
    )
    return CANDIDATES[mask].tolist()


@pytest.mark.parametrize("expression", GUIDE_EXAMPLES)
def test_the_guides_examples_parse_as_action_filters(expression: str) -> None:
    parsed = parse_filter(expression)
    assert parsed.subject == ACTION_ID
    assert all(part.subject == ACTION_ID and part.dataset in (ACTIONS, ACTION_INTERACTIONS) for part in parsed.parts)
    assert parse_filter(str(parsed)) == parsed  # rendered back with ActionID, parses to the same structure


def test_structure_of_an_action_filter() -> None:
    parsed = parse_filter(GUIDE_EXAMPLES[4])
    assert parsed.parts == (
        FilterPart(
            "EXCLUDE",
            ACTIONS,
            Comparison(FieldRef(ACTIONS, "VALUE"), "<", (Param("VALUE"),)),
            Comparison(FieldRef("CurrentUser", "MEMBERSHIP"), "=", (Param("PREMIUM"),)),
            subject=ACTION_ID,
        ),
    )
    assert parsed.parameters == {"VALUE", "PREMIUM"}
    assert parsed.fields == {(ACTIONS, "VALUE"), ("CurrentUser", "MEMBERSHIP")}
    assert str(parsed) == "EXCLUDE ActionID WHERE Actions.VALUE < $VALUE IF CurrentUser.MEMBERSHIP = $PREMIUM"
    lower = parse_filter(
        'include actionid where action_interactions.EVENT_TYPE in ("taken") | EXCLUDE ActionID WHERE ACTIONS.VALUE >= 3'
    )
    assert [(p.action, p.dataset) for p in lower.parts] == [("INCLUDE", ACTION_INTERACTIONS), ("EXCLUDE", ACTIONS)]
    assert parse_filter("INCLUDE ItemID WHERE Items.PRICE > (5)").parts[0].condition == Comparison(
        FieldRef("Items", "PRICE"), ">", (Number(5.0, "5"),)
    )
    assert parse_filter('INCLUDE ItemID WHERE Items.A IN ("x")').subject == ITEM_ID


ELEVEN_FIELDS = "INCLUDE ActionID WHERE " + " AND ".join(f"Actions.F{i} > 1" for i in range(11))

# (expression, 0-based position of the caret, the problem stated in the message)
REFUSED = [
    (
        "INCLUDE ItemID WHERE Actions.VALUE > 3",
        21,
        "Actions fields cannot be used in an ItemID filter; filter on Items or Interactions (use IF "
        "CurrentUser.FIELD ... for the current user)",
    ),
    (
        'INCLUDE ActionID WHERE Items.GENRES IN ("x")',
        23,
        "Items fields cannot be used in an ActionID filter; filter on Actions or Action_Interactions (use IF "
        "CurrentUser.FIELD ... for the current user)",
    ),
    (
        'EXCLUDE ActionID WHERE Interactions.EVENT_TYPE IN ("click")',
        23,
        "Interactions fields cannot be used in an ActionID filter; filter on Actions or Action_Interactions (use IF "
        "CurrentUser.FIELD ... for the current user)",
    ),
    (
        'EXCLUDE ItemID WHERE Action_Interactions.EVENT_TYPE IN ("TAKEN")',
        21,
        "Action_Interactions fields cannot be used in an ItemID filter; filter on Items or Interactions (use IF "
        "CurrentUser.FIELD ... for the current user)",
    ),
    (
        'INCLUDE ActionID WHERE Action_Interactions.ACTION_ID IN ("join")',
        23,
        "Action_Interactions filters can only use EVENT_TYPE, found Action_Interactions.ACTION_ID",
    ),
    (
        "INCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE = $T",
        54,
        "Action_Interactions.EVENT_TYPE can only be compared with IN or NOT IN",
    ),
    (
        'INCLUDE ActionID WHERE Action.MEMBERSHIP_LEVEL IN ("Premium")',
        23,
        "Unknown dataset 'Action': expected Actions, Action_Interactions or CurrentUser; did you mean Actions?",
    ),
    (
        'INCLUDE ActionID WHERE ActionInteractions.EVENT_TYPE IN ("TAKEN")',
        23,
        "Unknown dataset 'ActionInteractions': expected Actions, Action_Interactions or CurrentUser; "
        "did you mean Action_Interactions?",
    ),
    (
        'INCLUDE ActionID WHERE Actions.VALUE > 3 | EXCLUDE ItemID WHERE Items.A IN ("x")',
        51,
        "A filter cannot mix ActionID and ItemID expressions: item filters and action filters are separate filters",
    ),
    (
        'INCLUDE ActionID WHERE Actions.VALUE > 3 AND Action_Interactions.EVENT_TYPE IN ("TAKEN")',
        45,
        "All conditions of one expression must use the dataset of its first condition (Actions), found "
        "Action_Interactions; chain another expression with '|'",
    ),
    (
        'INCLUDE ActionID WHERE CurrentItem.VALUE IN ("x")',
        23,
        "CurrentItem fields cannot be used in an ActionID filter; filter on Actions or Action_Interactions (use IF "
        "CurrentUser.FIELD ... for the current user)",
    ),
    (
        "INCLUDE ActionID WHERE Actions.VALUE < CurrentItem.VALUE",
        39,
        "Expected a number or a $PARAMETER after < but found 'CurrentItem'",
    ),
    (
        "EXCLUDE ActionID WHERE Actions.CATEGORY NOT IN ($CATEGORY)",
        48,
        "Placeholder parameters cannot be used with NOT IN ($CATEGORY); use IN and swap INCLUDE/EXCLUDE",
    ),
    (
        "INCLUDE ActionID WHERE Actions.VALUE > ($A, $B)",
        42,
        "Operator > takes one value, not a list; use IN for a list",
    ),
    (
        "INCLUDE ActionID WHERE Actions.VALUE > ($A",
        42,
        "Expected ')' after the value of > but found the end of the expression",
    ),
    (
        "INCLUDE ActionID WHERE Actions.VALUE > 1 IF CurrentUser.A = 1 OR CurrentUser.B = 2",
        62,
        "IF conditions can only be chained with AND, found 'OR'",
    ),
    (
        ELEVEN_FIELDS,
        ELEVEN_FIELDS.index("Actions.F10"),
        "A filter can use at most 10 distinct dataset fields; Actions.F10 is the 11th",
    ),
    ("INCLUDE ActionID Actions.VALUE > 1", 17, "Expected WHERE after ActionID but found 'Actions'"),
]


@pytest.mark.parametrize(("expression", "position", "problem"), REFUSED, ids=[r[2][:50] for r in REFUSED])
def test_what_the_service_refuses_is_refused_naming_the_problem(expression: str, position: int, problem: str) -> None:
    with pytest.raises(FilterSyntaxError) as err:
        parse_filter(expression)
    assert err.value.position == position
    head, shown, caret = str(err.value).split("\n")
    assert head == f"Invalid filter expression at column {position + 1}: {problem}"
    if len(expression) <= 100:
        assert shown == f"  {expression}" and caret == f"  {' ' * position}^"


def test_action_interactions_filters_read_the_users_own_events_in_any_spelling() -> None:
    include = GUIDE_EXAMPLES[0]
    assert _kept(include, EVENT_TYPE='"TAKEN"') == ["join"]
    assert _kept(include, EVENT_TYPE='"taken"') == ["join"]  # w's TAKEN app does not count for u
    assert _kept(include, EVENT_TYPE='"NOT_TAKEN"') == ["app"]
    assert _kept(include, EVENT_TYPE='"Not taken","Viewed"') == ["app"]
    assert _kept(include, "v", EVENT_TYPE='"viewed"') == ["survey"]
    assert _kept(include, "nobody", EVENT_TYPE='"TAKEN"') == []
    assert _kept(GUIDE_EXAMPLES[1]) == ["join", "survey", "gone"]
    assert _kept('EXCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ("*")') == ["survey", "gone"]
    assert _kept('INCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE NOT IN ("taken")') == ["app"]
    with pytest.raises(InvalidFilterValuesError, match=r"filterValues has no value for \$EVENT_TYPE"):
        _kept(include)


def test_actions_fields_filter_with_parameters() -> None:
    assert _kept(GUIDE_EXAMPLES[2], CATEGORY='"digital"') == ["join", "survey", "gone"]
    assert _kept(GUIDE_EXAMPLES[2], CATEGORY='"membership","mobile"') == ["survey", "gone"]
    assert _kept(GUIDE_EXAMPLES[2]) == CANDIDATES.tolist()  # EXCLUDE without its value: skipped
    assert _kept(GUIDE_EXAMPLES[3], VALUE="4") == ["join", "app"]
    assert _kept(GUIDE_EXAMPLES[3], VALUE='"9"') == ["join"]
    assert _kept(GUIDE_EXAMPLES[3], VALUE="10") == []
    assert _kept('INCLUDE ActionID WHERE Actions.VALUE >= 5 AND Actions.CATEGORY IN ("mobile")') == ["app"]
    with pytest.raises(InvalidFilterValuesError, match="is not a number"):
        _kept(GUIDE_EXAMPLES[3], VALUE='"high"')


def test_current_user_conditions_on_action_filters() -> None:
    premium = {"VALUE": "6", "PREMIUM": '"premium"'}
    assert _kept(GUIDE_EXAMPLES[4], "u", **premium) == ["join", "gone"]  # app (5) and survey (1) left out
    assert _kept(GUIDE_EXAMPLES[4], "v", **premium) == CANDIDATES.tolist()  # v is basic
    assert _kept(GUIDE_EXAMPLES[4], "unknown", **premium) == CANDIDATES.tolist()
    assert _kept(GUIDE_EXAMPLES[4], "v", VALUE="6", PREMIUM='"basic"') == ["join", "gone"]


def test_an_action_filter_reads_actions_not_items() -> None:
    parsed = parse_filter("INCLUDE ActionID WHERE Actions.VALUE > 4")
    items = pd.DataFrame({"ITEM_ID": ["survey"], "VALUE": [100]})
    assert parsed.evaluate(CANDIDATES, items=items, actions=ACTIONS_FRAME).tolist() == [True, True, False, False]
    assert parsed.evaluate(CANDIDATES, items=items).tolist() == [False] * 4  # no Actions data: nothing matches


def test_only_the_100_newest_action_interactions_per_event_type_count() -> None:
    # 150 NOT_TAKEN spelt two ways (one event type), newest last, and one old TAKEN
    passed = pd.DataFrame(
        {
            "USER_ID": "u",
            "ACTION_ID": [f"a{i}" for i in range(150)],
            "TIMESTAMP": np.arange(150),
            "EVENT_TYPE": ["NOT_TAKEN" if i % 2 else "Not taken" for i in range(150)],
        }
    )
    taken = pd.DataFrame({"USER_ID": ["u"], "ACTION_ID": ["t"], "TIMESTAMP": [-5], "EVENT_TYPE": ["TAKEN"]})
    history = pd.concat([passed.iloc[::-1], taken], ignore_index=True)
    candidates = np.array([f"a{i}" for i in range(150)] + ["t"], dtype=object)
    mask = parse_filter('EXCLUDE ActionID WHERE Action_Interactions.EVENT_TYPE IN ("not taken", "Taken")').evaluate(
        candidates, user_id="u", action_interactions=history
    )
    assert [c for c, m in zip(candidates, mask, strict=True) if m] == [f"a{i}" for i in range(50)]
