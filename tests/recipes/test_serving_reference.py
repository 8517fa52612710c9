"""The served answers of the GRU model equal a plain computation of its definition (``serving_reference``).

The serving path is written for speed (fused numpy passes, memoised states, no pandas per request); the
answers must not differ: same items, same order, scores within 1e-6, with and without exploration, for
known and unknown users, with recent events of every kind.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from planted import LATEST, events, planted_data
from serving_reference import assert_same, reference

from personalize_kit.recipes.sequence.features import NO_TIME
from personalize_kit.recipes.user_personalization import UserPersonalization


@pytest.fixture(scope="module", params=["plain", "cooccurrence"])
def model(request: pytest.FixtureRequest) -> UserPersonalization:
    options = {"cooccurrence_weight": 0.5} if request.param == "cooccurrence" else {}
    interactions, items, users = planted_data(n_users=40, length=30)
    items = pd.concat(  # items nobody interacted with: exploration candidates, created recently or never
        [items, pd.DataFrame({"ITEM_ID": ["cold", "new"], "GENRES": ["G0", "G3"],
                              "CREATION_TIMESTAMP": [LATEST - 2000 * 86_400, LATEST - 5 * 86_400]})],
        ignore_index=True,
    )  # fmt: skip
    model = UserPersonalization(training="closed-form", **options)
    return model.fit(interactions, items, users, hyperparameters={"hidden_dimension": "32", "bptt": "8"})


def _history(model: UserPersonalization, user: str, k: int) -> pd.DataFrame:
    """The user's ``k`` newest training events, as the mirror passes them back (already known)."""
    row = model._arrays["users"].tolist().index(user)
    kept = model._arrays["history_items"][row] >= 0
    codes, times = model._arrays["history_items"][row][kept][-k:], model._arrays["history_times"][row][kept][-k:]
    return pd.DataFrame({"USER_ID": user, "ITEM_ID": model.catalogue[codes], "TIMESTAMP": times})


def _many(k: int, start: int = LATEST + 5000) -> pd.DataFrame:
    names = [f"g{(j // 5) % 4}i{(3 * j) % 10}" for j in range(k)] + ["unknown-item"]
    return events(*names, start=start)


CASES = {
    "known user": ("u1", lambda m: None),
    "known user, events already in its history": ("u2", lambda m: _history(m, "u2", 6)),
    "known user, new events": ("u3", lambda m: pd.concat([_history(m, "u3", 4), events("g0i1", "g0i2")])),
    "known user, more new events than bptt and than the profile": ("u4", lambda m: _many(120)),
    "unknown user": ("stranger", lambda m: None),
    "no user": (None, lambda m: None),
    "user known only through events": ("newcomer", lambda m: events("g2i4", "g2i5", "new", "g2i6")),
    "events without timestamps": ("newcomer", lambda m: events("g1i1", "g1i2")[["USER_ID", "ITEM_ID"]]),
    "timestamps as text": ("u7", lambda m: events("g3i1", "g3i2", "g0i5").astype({"TIMESTAMP": str})),
    "events as the mirror reads them": ("u8", lambda m: _many(30).astype(object)),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("weight", [0.0, 0.3, 1.0])
def test_recommendations_equal_the_reference(model: UserPersonalization, case: str, weight: float) -> None:
    user, make = CASES[case]
    frame = make(model)
    n_all = model.catalogue.size
    for n in (3, 25, n_all):  # the mirror asks for the whole catalogue when a filter follows
        got = model.recommend(user_id=user, recent_events=frame, n=n, exploration_weight=weight)
        assert_same(got, reference(model, user, frame, n, weight))
    skip = tuple(item for item, _ in reference(model, user, frame, 4, weight))[::2] + ("not-an-item",)
    got = model.recommend(user_id=user, recent_events=frame, n=10, exploration_weight=weight, exclude=skip)
    assert_same(got, reference(model, user, frame, 10, weight, exclude=skip))


def test_a_kept_state_is_not_served_after_new_events(model: UserPersonalization) -> None:
    first = events("g0i1", "g0i2")
    assert_same(model.recommend(user_id="u5", recent_events=first, n=8),
                reference(model, "u5", first, 8))  # fmt: skip
    assert_same(model.recommend(user_id="u5", recent_events=first, n=8), reference(model, "u5", first, 8))
    later = pd.concat([first, events("g3i7", "g3i8", start=LATEST + 9000)], ignore_index=True)
    got = model.recommend(user_id="u5", recent_events=later, n=8, exploration_weight=0.3)
    assert_same(got, reference(model, "u5", later, 8, 0.3))
    assert [i for i, _ in got] != [i for i, _ in reference(model, "u5", first, 8, 0.3)]


def test_an_item_alone_is_scored_as_a_one_event_history(model: UserPersonalization) -> None:
    got = model.recommend(item_id="g1i3", n=6)
    assert_same(got, reference(model, None, events("g1i3", start=NO_TIME), 6))


def test_ranking_equals_the_reference_softmax_over_the_list(model: UserPersonalization) -> None:
    frame = _many(50)
    wanted = ["g0i0", "g3i9", "nope", "g1i4", "new", "g0i0", "g2i2"]
    full = {item: score for item, score in reference(model, "u6", frame, model.catalogue.size)}
    known = list(dict.fromkeys(i for i in wanted if i in full))
    total = sum(full[i] for i in known)
    want = sorted(((i, full[i] / total) for i in known), key=lambda pair: -pair[1]) + [("nope", None)]
    got = model.rank("u6", wanted, recent_events=frame)
    assert [i for i, _ in got] == [i for i, _ in want]
    np.testing.assert_allclose([s for _, s in got[:-1]], [s for _, s in want[:-1]], rtol=1e-5)
    assert got[-1] == ("nope", None)
