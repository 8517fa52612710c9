"""Both User-Personalization recipes learn whether users come back to the items they read (the repeat weights)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from planted import LATEST

from personalize_kit.recipes.user_personalization import UserPersonalization, UserPersonalizationV2

N_USERS, N_ITEMS, LENGTH = 60, 40, 16
RECIPES: dict[str, tuple[type[Any], dict[str, Any], dict[str, str] | None]] = {
    "v1": (UserPersonalization, {"max_epochs": 15, "learning_rate": 1e-2, "batch_size": 16}, {"bptt": "8"}),
    "v2": (
        UserPersonalizationV2,
        {"dim": 16, "max_length": 8, "max_epochs": 15, "learning_rate": 1e-2, "batch_size": 16},
        None,
    ),
}


def histories(come_back: bool) -> pd.DataFrame:
    """Each user reads ``LENGTH`` items: all different (``come_back`` false: as films are watched), or two
    items of their own in turn (true)."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(N_USERS):
        if come_back:
            pair = rng.choice(N_ITEMS, 2, replace=False)
            sequence = [pair[k % 2] for k in range(LENGTH)]
        else:
            sequence = rng.choice(N_ITEMS, LENGTH, replace=False)
        rows += [(f"u{u}", f"i{i}", LATEST - 100 * (LENGTH - k) - u) for k, i in enumerate(sequence)]
    return pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID", "TIMESTAMP"])


def fit(recipe: str, interactions: pd.DataFrame) -> Any:
    cls, options, hyperparameters = RECIPES[recipe]
    return cls(**options, cooccurrence_weight=0, time_budget=1e6).fit(interactions, hyperparameters=hyperparameters)


@pytest.mark.parametrize("recipe", RECIPES)
def test_where_users_never_come_back_the_items_they_read_are_not_recommended(recipe: str) -> None:
    interactions = histories(come_back=False)
    model = fit(recipe, interactions)
    assert (model._arrays["repeat"] < 0).all(), model._arrays["repeat"]
    for user in ("u0", "u1", "u2"):
        read = set(interactions.ITEM_ID[interactions.USER_ID.eq(user)])
        recommended = [item for item, _ in model.recommend(user_id=user, n=5)]
        assert not read & set(recommended), (user, recommended)


@pytest.mark.parametrize("recipe", RECIPES)
def test_where_users_come_back_the_item_they_read_before_the_last_comes_first(recipe: str) -> None:
    interactions = histories(come_back=True)
    model = fit(recipe, interactions)
    assert model._repeat > 0, model._arrays["repeat"]  # the served weight (v2: the mean of its members')
    for user in ("u0", "u1", "u2"):
        before_last = interactions.ITEM_ID[interactions.USER_ID.eq(user)].iloc[-2]
        assert model.recommend(user_id=user, n=1)[0][0] == before_last
