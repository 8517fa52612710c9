from __future__ import annotations

import math

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from personalize_kit.data.events import EventMapping, EventRule


def test_default_keeps_three_and_above_as_watch():
    mapping = EventMapping()
    assert mapping.apply(pa.array([0.5, 2.5, 3.0, 4.5, 5.0, None])).to_pylist() == [
        None,
        None,
        "watch",
        "watch",
        "watch",
        None,
    ]
    assert str(mapping) == "watch:3"


def test_first_matching_rule_wins():
    mapping = EventMapping.parse("love:4.5-5, watch:3")
    assert mapping.rules == (EventRule("love", 4.5, 5.0), EventRule("watch", 3.0, math.inf))
    assert mapping.apply(pa.array([5.0, 4.5, 4.0, 3.0, 2.0])).to_pylist() == [
        "love",
        "love",
        "watch",
        "watch",
        None,
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("watch", "is not of the form EVENT:MIN"),
        ("watch:x", "is not of the form EVENT:MIN"),
        ("watch:4-3", "is above the maximum"),
        ("ITEM_ID:3", "reserved keyword"),
        ("", "is not of the form"),
    ],
)
def test_bad_mappings_say_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        EventMapping.parse(text)


ratings = st.lists(st.one_of(st.none(), st.sampled_from([0.5 * k for k in range(1, 11)])), max_size=50)
rules = st.lists(
    st.tuples(st.sampled_from(["watch", "like", "love", "click"]), st.floats(0, 5), st.floats(0, 5)),
    min_size=1,
    max_size=4,
)


@given(ratings, rules)
def test_mapping_is_the_first_rule_that_holds(values, raw_rules):
    mapping = EventMapping(tuple(EventRule(name, min(a, b), max(a, b)) for name, a, b in raw_rules))
    out = mapping.apply(pa.array(values, pa.float64())).to_pylist()
    assert len(out) == len(values)
    for value, event in zip(values, out, strict=True):
        expected = None
        if value is not None:
            expected = next((r.event_type for r in mapping.rules if r.min_rating <= value <= r.max_rating), None)
        assert event == expected
