"""User-Personalization-v2 chooses the co-occurrence term at fit time and serves exactly what it chose."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from planted import events, planted_data

from personalize_kit.recipes.sequence import cooccurrence
from personalize_kit.recipes.sequence.features import PROFILE_EVENTS
from personalize_kit.recipes.sequence.ranking import add_repeat_terms
from personalize_kit.recipes.user_personalization import UserPersonalizationV2

#: Small and brief: the co-occurrence term has something to add to a transformer that learned little.
SETTINGS = {"dim": 16, "max_epochs": 1, "batch_size": 32, "time_budget": 1e6}


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return planted_data()


@pytest.fixture(scope="module")
def fixed(data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> UserPersonalizationV2:
    return UserPersonalizationV2(**SETTINGS, cooccurrence_weight=3).fit(*data)


def expected(model: UserPersonalizationV2, query: np.ndarray, recent: np.ndarray) -> np.ndarray:
    """The softmax the model should serve: item vectors . query + bias + the repeat terms (the members' mean) +
    weight x the co-occurrence term of ``recent``."""
    term = model._settings["cooccurrence"]
    logits = model._vectors @ query + model._bias
    repeat, earlier = model._arrays["repeat"].mean(axis=0)  # of the members
    add_repeat_terms(logits, recent, bptt=model._bptt, repeat=repeat, repeat_earlier=earlier)
    logits = logits + term["weight"] * cooccurrence.scores(model._arrays, recent, logits.size, term["decay"])
    p = np.exp(logits.astype(np.float64) - logits.max())
    return p / p.sum()


def served(model: UserPersonalizationV2, **request: object) -> np.ndarray:
    ranked = dict(model.recommend(n=model.catalogue.size, **request))  # type: ignore[arg-type]
    return np.asarray([ranked[name] for name in model.catalogue.tolist()])


def test_v2_chooses_a_weight_on_its_validation_users_when_the_term_helps() -> None:
    interactions, items, _ = planted_data(n_users=320, length=4)  # 32 validation users; short histories: new targets
    chosen = UserPersonalizationV2(**SETTINGS).fit(interactions, items)
    term = chosen._settings["cooccurrence"]
    assert term is not None and term["weight"] in cooccurrence.WEIGHTS[1:]
    assert "cooc_ptr" in chosen._arrays
    off = UserPersonalizationV2(**SETTINGS, cooccurrence_weight=0).fit(interactions, items)
    assert off._settings["cooccurrence"] is None and "cooc_ptr" not in off._arrays
    assert off.recommend(user_id="u3") != chosen.recommend(user_id="u3")


def test_too_few_validation_users_leave_the_term_out(data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> None:
    model = UserPersonalizationV2(**SETTINGS).fit(*data)  # 80 users: 8 validation users
    assert model._settings["cooccurrence"] is None and "cooc_ptr" not in model._arrays


def test_a_known_user_is_served_the_term_of_its_history(fixed: UserPersonalizationV2) -> None:
    row = fixed._user_index["u5"]
    hist = fixed._arrays["history_items"][row]
    want = expected(fixed, fixed._arrays["user_queries"][row], hist[hist >= 0][-PROFILE_EVENTS:])
    np.testing.assert_allclose(served(fixed, user_id="u5"), want, rtol=1e-5, atol=1e-9)


def test_recent_events_are_served_the_term_of_the_events(fixed: UserPersonalizationV2) -> None:
    recent = events("g0i0", "g0i1", "g0i2")
    codes = np.asarray([fixed._item_index[i] for i in recent["ITEM_ID"]])
    want = expected(fixed, fixed._encode(codes[None, :])[0], codes)
    np.testing.assert_allclose(served(fixed, user_id="visitor", recent_events=recent), want, rtol=1e-5, atol=1e-9)
    ranked = fixed.rank("visitor", ["g0i3", "g2i3", "g1i0"], recent_events=recent)
    order = sorted(["g0i3", "g2i3", "g1i0"], key=lambda name: -want[fixed._item_index[name]])
    assert [name for name, _ in ranked] == order


def test_the_term_survives_saving_and_a_refit(
    fixed: UserPersonalizationV2, data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    loaded = UserPersonalizationV2.load(fixed.save(tmp_path / "v2"))
    assert loaded._settings["cooccurrence"] == fixed._settings["cooccurrence"]
    assert loaded.recommend(user_id="u7") == fixed.recommend(user_id="u7")
    again = fixed.refit(*data)
    assert again.cooccurrence == fixed.cooccurrence and again._settings["cooccurrence"]["weight"] == 3.0
    assert "cooc_ptr" in again._arrays
