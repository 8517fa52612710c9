"""Contextual metadata: a term learned from the interactions' DEVICE column moves the device's items up."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalize_kit.recipes import context
from personalize_kit.recipes.personalized_ranking import PersonalizedRanking
from personalize_kit.recipes.user_personalization import UserPersonalization, UserPersonalizationV2

MOBILE = [f"m{k}" for k in range(1, 6)]
DESKTOP = [f"d{k}" for k in range(1, 6)]
OTHER = [f"o{k}" for k in range(1, 11)]


def device_data(n_users: int = 120, sessions: int = 24, per_session: int = 1, seed: int = 0) -> pd.DataFrame:
    """Each user's sessions are on a phone (items m1..m5, an o-item now and then) or on a desktop (d1..d5, an
    o-item now and then), the device drawn at random per session; the DEVICE column says which. With one
    interaction per session the history does not tell the device: the context does."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        t = 1_600_000_000 + int(rng.integers(0, 10_000))
        for _ in range(sessions):
            device = "mobile" if rng.random() < 0.5 else "desktop"
            pool = MOBILE if device == "mobile" else DESKTOP
            for _ in range(per_session):
                chosen = str(rng.choice(OTHER)) if rng.random() < 0.2 else str(rng.choice(pool))
                rows.append((f"u{u}", chosen, t, device))
                t += 60
            t += 86_400
    return pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID", "TIMESTAMP", "DEVICE"])


def fitted(recipe: type = UserPersonalization, frame: pd.DataFrame | None = None):
    frame = device_data() if frame is None else frame
    hyperparameters = {} if recipe is UserPersonalizationV2 else {"hidden_dimension": "32"}
    return recipe(training="closed-form").fit(frame, hyperparameters=hyperparameters)


def _mass(ranked: list[tuple[str, float | None]], items: list[str]) -> float:
    return sum(score or 0.0 for item, score in ranked if item in items)


@pytest.mark.parametrize("recipe", [UserPersonalization, UserPersonalizationV2])
def test_the_device_of_the_request_puts_its_items_first(recipe: type) -> None:
    model = fitted(recipe)
    assert model._settings["context_weight"] > 0
    for user in ("u0", "u1", "u7", "a-visitor"):
        on_phone = model.recommend(user_id=user, n=20, context={"DEVICE": "mobile"})
        on_desktop = model.recommend(user_id=user, n=20, context={"DEVICE": "desktop"})
        assert on_phone[0][0] in MOBILE and on_desktop[0][0] in DESKTOP
        assert _mass(on_phone, MOBILE) > 2 * _mass(on_phone, DESKTOP)
        assert _mass(on_desktop, DESKTOP) > 2 * _mass(on_desktop, MOBILE)
        plain = model.recommend(user_id=user, n=20)
        assert _mass(on_phone, MOBILE) > _mass(plain, MOBILE) and _mass(on_desktop, DESKTOP) > _mass(plain, DESKTOP)


def test_personalized_ranking_orders_the_list_by_the_device() -> None:
    model = fitted(PersonalizedRanking)
    listed = [*DESKTOP, *MOBILE]
    for user in ("u3", "u8"):
        on_phone = model.rank(user, listed, context={"DEVICE": "mobile"})
        on_desktop = model.rank(user, listed, context={"DEVICE": "desktop"})
        assert on_phone[0][0] in MOBILE and _mass(on_phone, MOBILE) > 2 * _mass(on_phone, DESKTOP)
        assert on_desktop[0][0] in DESKTOP and _mass(on_desktop, DESKTOP) > 2 * _mass(on_desktop, MOBILE)


def test_without_context_the_model_serves_as_one_trained_without_the_column() -> None:
    frame = device_data()
    with_column, without = fitted(frame=frame), fitted(frame=frame.drop(columns="DEVICE"))
    assert "context_weight" not in without._settings
    for user in ("u0", "u5", "a-visitor"):
        assert with_column.recommend(user_id=user, n=20) == without.recommend(user_id=user, n=20)
    assert with_column.rank("u2", MOBILE + DESKTOP) == without.rank("u2", MOBILE + DESKTOP)


def test_unknown_fields_and_values_change_nothing() -> None:
    model = fitted()
    plain = model.recommend(user_id="u0", n=20)
    assert model.recommend(user_id="u0", n=20, context={"DEVICE": "tablet"}) == plain
    assert model.recommend(user_id="u0", n=20, context={"LOCATION": "home"}) == plain


def test_a_column_that_says_nothing_gets_weight_zero() -> None:
    frame = device_data()
    frame["DEVICE"] = np.random.default_rng(1).choice(["mobile", "desktop"], size=len(frame))
    model = fitted(frame=frame)
    assert model._settings["context_weight"] == 0.0
    plain = model.recommend(user_id="u0", n=20)
    assert model.recommend(user_id="u0", n=20, context={"DEVICE": "mobile"}) == plain


def test_the_term_is_saved_and_an_old_model_file_without_it_still_loads(tmp_path) -> None:
    model = fitted()
    asked = {"user_id": "u4", "n": 20, "context": {"DEVICE": "mobile"}}
    loaded = UserPersonalization.load(model.save(tmp_path / "new"))
    assert loaded.recommend(**asked) == model.recommend(**asked)
    old = fitted(frame=device_data().drop(columns="DEVICE"))  # what a model file of the previous release holds
    arrays, settings = old._save_arrays()
    assert not set(context.ARRAYS) & set(arrays)
    reloaded = UserPersonalization.load(old.save(tmp_path / "old"))
    assert reloaded.recommend(**asked) == old.recommend(user_id="u4", n=20)


def test_the_declared_fields_are_the_ones_learned() -> None:
    frame = device_data()
    frame["NOTE"] = "x"
    assert context.fields_of(frame) == ["DEVICE", "NOTE"]
    frame.attrs["context_fields"] = ["DEVICE"]
    assert context.fields_of(frame) == ["DEVICE"]
    learned = context.learn(frame, ["DEVICE"], {item: k for k, item in enumerate(sorted(set(frame["ITEM_ID"])))})
    assert learned["context_names"].tolist() == ["DEVICE=desktop", "DEVICE=mobile"]
