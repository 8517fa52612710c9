"""One training per solution version: a sequence model continues from an earlier model's weights."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from planted import events, planted_data, top

from personalize_kit.recipes.sequence.model import REFIT_EPOCHS
from personalize_kit.recipes.sequence.saved import GRU_WEIGHTS
from personalize_kit.recipes.user_personalization import UserPersonalization

HYPERPARAMETERS = {"hidden_dimension": "32", "bptt": "8"}


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return planted_data()


@pytest.fixture(scope="module")
def split_model(data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> UserPersonalization:
    """Trained without the users u0-u7 and without the item g3i9 (as a held-out split would); no time budget,
    so a busy machine trains the same model."""
    interactions, items, users = data
    kept = interactions[~interactions["USER_ID"].isin([f"u{k}" for k in range(8)])]
    kept = kept[kept["ITEM_ID"] != "g3i9"]
    return UserPersonalization(max_epochs=40, learning_rate=1e-2, batch_size=16, time_budget=1e6).fit(
        kept, items.iloc[:-1], users, HYPERPARAMETERS
    )


def test_weights_are_carried_over_by_item_id_and_token_name(split_model: UserPersonalization) -> None:
    new_items = np.asarray(["brand-new", "g0i1", "g3i9"])
    arrays = {"items": new_items, "item_token_names": np.asarray(["GENRES=G0", "GENRES=New"]),
              "user_token_names": np.asarray([], dtype=str)}  # fmt: skip
    aligned = split_model.aligned_weights(arrays, 32, GRU_WEIGHTS)
    assert aligned is not None
    vectors, taken = aligned["item_own_vectors"]
    old = split_model._arrays
    assert taken.tolist() == [False, True, "g3i9" in old["items"].tolist()]
    assert np.array_equal(vectors[1], old["item_own_vectors"][old["items"].tolist().index("g0i1")])
    tokens, token_taken = aligned["item_token_vectors"]
    assert token_taken.tolist() == [True, False]
    assert np.array_equal(tokens[0], old["item_token_vectors"][old["item_token_names"].tolist().index("GENRES=G0")])
    assert "user_token_vectors" not in aligned  # no user tokens in the new model: its placeholder stays fresh
    assert aligned["gru_recurrent"][1] is None and np.array_equal(aligned["gru_recurrent"][0], old["gru_recurrent"])
    assert split_model.aligned_weights(arrays, 64, GRU_WEIGHTS) is None  # another size: nothing to carry over


@pytest.mark.slow
def test_a_refit_continues_briefly_and_knows_the_new_rows(
    split_model: UserPersonalization, data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]
) -> None:
    interactions, items, users = data
    final = split_model.refit(interactions, items, users, HYPERPARAMETERS)
    assert 1 <= len(final.training_log) <= REFIT_EPOCHS
    assert final._start is None
    assert "g3i9" in final.catalogue.tolist() and "u0" in final._user_index
    assert top(final.recommend(user_id="new-user", recent_events=events("g0i0")), 1) == ["g0i1"]
    last = interactions[interactions["USER_ID"] == "u5"].sort_values("TIMESTAMP")["ITEM_ID"].iloc[-1]
    genre = last[1]
    assert all(name.startswith(f"g{genre}") for name in top(final.recommend(user_id="u5"), 3))


def test_a_continued_training_that_does_no_better_keeps_the_weights_it_started_from(
    split_model: UserPersonalization, data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]
) -> None:
    interactions, items, users = data
    # a step size no training survives: its one epoch is worse on the validation users than the start
    model = UserPersonalization(max_epochs=1, learning_rate=50.0, batch_size=16, time_budget=1e6)
    model._start = split_model
    model.fit(interactions, items, users, HYPERPARAMETERS)
    assert len(model.training_log) == 1
    assert np.array_equal(model._arrays["gru_recurrent"], split_model._arrays["gru_recurrent"])
    assert np.array_equal(model._arrays["out_kernel"], split_model._arrays["out_kernel"])


def test_a_continued_training_is_validated_on_users_the_earlier_model_never_saw(
    split_model: UserPersonalization, data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]
) -> None:
    from personalize_kit.recipes.sequence import training

    interactions, items, users = data
    more = pd.concat(  # 30 users new to the split model, so that there are enough to validate on
        [interactions, interactions.assign(USER_ID="x" + interactions["USER_ID"])[lambda f: f["USER_ID"] < "xu3"]]
    )
    captured: dict[str, object] = {}

    def run(self: training.GRUTrainer, log: list[dict[str, float]]) -> dict[str, np.ndarray]:
        _, valid = self._train_and_validation_rows()
        captured["codes"] = self.windows["users"][valid]
        return self.weights()

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(training.EpochLoop, "run", run)
        model = UserPersonalization(batch_size=16)
        model._start = split_model
        model.fit(more, items, users, HYPERPARAMETERS)
    names = set(model._arrays["users"][captured["codes"]].tolist())  # type: ignore[index]
    assert names and not names & set(split_model._user_index)
