"""User-Personalization-v2 / Personalized-Ranking-v2: a transformer that learns planted patterns, no exploration."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from planted import N_GENRES, PER_GENRE, events, item, planted_data, top

from personalize_kit.exceptions import RecipeInputError
from personalize_kit.recipes import RECIPES
from personalize_kit.recipes.personalized_ranking import PersonalizedRankingV2
from personalize_kit.recipes.sequence.model import REFIT_EPOCHS
from personalize_kit.recipes.sequence.transformer import MAX_LENGTH, encode_sequence, weight_names
from personalize_kit.recipes.sequence.transformer_recipe import MEMBERS
from personalize_kit.recipes.user_personalization import UserPersonalizationV2

REPO = Path(__file__).resolve().parents[2]
V2 = "arn:aws:personalize:::recipe/aws-user-personalization-v2"
#: No time budget: a busy machine trains the same model.
SETTINGS = {"max_epochs": 40, "learning_rate": 5e-3, "batch_size": 16, "time_budget": 1e6}


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    return planted_data()


@pytest.fixture(scope="module")
def model(data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> UserPersonalizationV2:
    return UserPersonalizationV2(**SETTINGS).fit(*data)


def test_v2_takes_the_services_hyperparameters_only() -> None:
    assert RECIPES[V2].hyperparameters == ("apply_recency_bias",)
    assert UserPersonalizationV2.check_hyperparameters({"apply_recency_bias": "false"}) == []
    assert UserPersonalizationV2.check_hyperparameters({"bptt": "8"}) == [
        "bptt is not a hyperparameter of aws-user-personalization-v2; it takes apply_recency_bias"
    ]


@pytest.mark.slow
def test_the_planted_successor_comes_first_after_its_item(model: UserPersonalizationV2) -> None:
    assert top(model.recommend(user_id="new-user", recent_events=events("g0i0")), 1) == ["g0i1"]
    assert top(model.recommend(user_id="new-user", recent_events=events("g2i4", "g2i5")), 1) == ["g2i6"]


@pytest.mark.slow
def test_a_known_user_gets_the_successor_of_its_last_item(
    model: UserPersonalizationV2, data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]
) -> None:
    interactions = data[0]
    last = interactions[interactions["USER_ID"] == "u5"].sort_values("TIMESTAMP")["ITEM_ID"].iloc[-1]
    assert top(model.recommend(user_id="u5"), 1) == [item(int(last[1]), (int(last[3:]) + 1) % PER_GENRE)]


@pytest.mark.slow
def test_the_newest_genre_wins(model: UserPersonalizationV2) -> None:
    recent = events("g1i3", "g1i7", "g3i2", "g3i5", "g3i8")
    assert all(name.startswith("g3") for name in top(model.recommend(user_id="someone", recent_events=recent), 3))


@pytest.mark.slow
def test_v2_refuses_exploration_and_the_mirror_refuses_its_campaign_setting(model: UserPersonalizationV2) -> None:
    from personalize_kit.local.control.serving import check_campaign_config as _check_campaign_config
    from personalize_kit.local.exceptions import InvalidInputException

    with pytest.raises(RecipeInputError, match="does not explore new items.*use a promotion"):
        model.recommend(user_id="u1", exploration_weight=0.3)
    assert not getattr(model, "default_exploration", None)  # the mirror passes it no exploration settings
    assert [info.name for info in RECIPES.values() if info.explores] == ["aws-user-personalization"]
    with pytest.raises(InvalidInputException, match="not aws-user-personalization-v2"):
        _check_campaign_config({"itemExplorationConfig": {"explorationWeight": "0.3"}}, V2)


@pytest.mark.slow
def test_ranking_v2_puts_the_successor_first(data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> None:
    ranking = PersonalizedRankingV2(**SETTINGS).fit(*data)
    candidates = [item(g, k) for g in range(N_GENRES) for k in (0, 5)] + [item(1, 6)]
    ranked = ranking.rank("new-user", [*candidates, "unknown"], recent_events=events("g1i5"))
    assert top(ranked, 1) == ["g1i6"] and ranked[-1] == ("unknown", None)


@pytest.mark.slow
def test_saved_v2_models_serve_the_same_without_tensorflow(model: UserPersonalizationV2, tmp_path: Path) -> None:
    directory = model.save(tmp_path / "v2")
    script = (
        "import json, sys\n"
        "from personalize_kit.recipes.user_personalization import UserPersonalizationV2\n"
        f"m = UserPersonalizationV2.load({str(directory)!r})\n"
        "print(json.dumps({'tf': 'tensorflow' in sys.modules, 'out': m.recommend(user_id='u4')}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, check=True)
    result = json.loads(done.stdout)
    assert result["tf"] is False
    assert [tuple(pair) for pair in result["out"]] == model.recommend(user_id="u4")


def test_attention_is_causal_and_ignores_padding() -> None:
    rng = np.random.default_rng(0)
    d = 8
    weights = {"final_gamma": np.ones(d, np.float32), "final_beta": np.zeros(d, np.float32)}
    for k in range(2):
        for name, shape in (("query", (d, d)), ("key", (d, d)), ("value", (d, d)), ("output", (d, d)),
                            ("ffn_in", (d, 2 * d)), ("ffn_out", (2 * d, d))):  # fmt: skip
            weights[f"block{k}_{name}"] = rng.standard_normal(shape).astype(np.float32)
        for name, size in (("ln1_gamma", d), ("ln2_gamma", d)):
            weights[f"block{k}_{name}"] = np.ones(size, np.float32)
        for name, size in (("ln1_beta", d), ("ln2_beta", d), ("ffn_in_bias", 2 * d), ("ffn_out_bias", d)):
            weights[f"block{k}_{name}"] = np.zeros(size, np.float32)
    x = rng.standard_normal((1, MAX_LENGTH, d)).astype(np.float32)
    changed = x.copy()
    changed[0, 3:] = rng.standard_normal((MAX_LENGTH - 3, d))  # later positions and padding
    assert np.allclose(encode_sequence(weights, x, np.array([3])), encode_sequence(weights, changed, np.array([3])))
    assert not np.allclose(encode_sequence(weights, x, np.array([3])), encode_sequence(weights, x, np.array([4])))


def _windows(rows: int) -> tuple[dict[str, np.ndarray], Any, np.ndarray]:
    """Training windows of ``rows`` users (one each, of varied lengths) over 30 items, their metadata, lengths."""
    from personalize_kit.recipes.sequence.training import Metadata

    rng = np.random.default_rng(2)
    n_items = 30
    inputs = rng.integers(1, n_items + 1, (rows, MAX_LENGTH)).astype(np.int32)
    lengths = np.resize(np.array([1, 5, 17, MAX_LENGTH, 9, 2]), rows)
    for row, length in enumerate(lengths):
        inputs[row, length:] = 0
    windows = {
        "inputs": inputs,
        "targets": np.zeros_like(inputs),
        "weights": (inputs > 0).astype(np.float32),
        "users": np.arange(rows),
        "newest": np.ones(rows, bool),
        "context": np.zeros((rows, 0), np.int32),
    }
    ptr = np.arange(n_items + 1, dtype=np.int64)
    metadata = Metadata(n_items, ptr, rng.integers(0, 3, n_items).astype(np.int32), np.zeros(rows + 1, np.int64),
                        np.zeros(0, np.int32), 3, 0, np.ones(n_items, np.int64))  # fmt: skip
    return windows, metadata, lengths


@pytest.mark.slow
def test_numpy_serving_matches_the_keras_model() -> None:
    from personalize_kit.recipes.sequence.transformer import TransformerSettings, TransformerTrainer

    windows, metadata, lengths = _windows(rows=6)
    inputs, rows = windows["inputs"], 6
    trainer = TransformerTrainer(windows, metadata, TransformerSettings(dim=16))
    out, vectors = trainer._encode(inputs, training=False)
    keras_last = out.numpy()[np.arange(rows), lengths - 1]
    weights = {name: np.asarray(v.numpy(), np.float32) for name, v in trainer.w.items()}
    embedded = vectors.numpy()[inputs] + weights["positions"][None]
    assert np.allclose(encode_sequence(weights, embedded, lengths), keras_last, atol=1e-4)


@pytest.mark.slow
def test_a_refit_continues_from_the_earlier_model(data: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]) -> None:
    interactions, items, users = data
    split = UserPersonalizationV2(**SETTINGS).fit(interactions[~interactions["USER_ID"].isin(["u0", "u1"])], items)
    final = split.refit(interactions, items)
    epochs = Counter(entry["member"] for entry in final.training_log)
    assert sorted(epochs) == list(range(MEMBERS)) and max(epochs.values()) <= REFIT_EPOCHS and final._start is None
    assert "u0" in final._user_index
    # a step size no training survives: the continued model keeps the weights it started from
    careless = UserPersonalizationV2(**{**SETTINGS, "learning_rate": 50.0, "max_epochs": 1})
    careless._start = split
    careless.fit(interactions, items)
    assert np.array_equal(careless._arrays["block0_query"], split._arrays["block0_query"])
    assert np.array_equal(careless._arrays["positions"], split._arrays["positions"])


def _member(model: UserPersonalizationV2, k: int) -> UserPersonalizationV2:
    """Member ``k`` of a model alone, as a one-member model."""
    arrays = {name: value[k : k + 1] if name in weight_names() else value for name, value in model._arrays.items()}
    alone = UserPersonalizationV2._from_arrays(arrays, {**model._settings, "cooccurrence": None})
    assert isinstance(alone, UserPersonalizationV2)
    alone._arrays["user_queries"] = alone._queries_for_all_users()
    return alone


@pytest.mark.slow
def test_a_model_scores_with_the_mean_of_its_members_logits(model: UserPersonalizationV2) -> None:
    assert model.members == MEMBERS and model._arrays["block0_query"].shape[0] == MEMBERS
    members = [_member(model, k) for k in range(MEMBERS)]
    assert not np.allclose(members[0]._arrays["block0_query"], members[1]._arrays["block0_query"])
    plain = UserPersonalizationV2._from_arrays(model._arrays, {**model._settings, "cooccurrence": None})
    recent = events(item(0, 1), item(0, 2), item(1, 0))
    for user, new in (("u4", None), ("u4", recent), ("newcomer", recent)):
        mean = np.mean([m._logits(*m._state(user, new)) for m in members], axis=0)
        assert np.allclose(plain._logits(*plain._state(user, new)), mean, atol=1e-5)


@pytest.mark.slow
def test_members_validate_on_the_users_the_first_member_drew() -> None:
    from personalize_kit.recipes.sequence.transformer import TransformerSettings, TransformerTrainer

    windows, metadata, _ = _windows(rows=40)
    first = TransformerTrainer(windows, metadata, TransformerSettings(dim=8, seed=0))
    _, valid = first._train_and_validation_rows()
    drawn = np.unique(windows["users"][valid])
    assert drawn.size == 4
    given = TransformerTrainer(windows, metadata, TransformerSettings(dim=8, seed=1), validation_users=drawn)
    own = TransformerTrainer(windows, metadata, TransformerSettings(dim=8, seed=1))
    assert np.array_equal(given._train_and_validation_rows()[1], valid)
    assert not np.array_equal(own._train_and_validation_rows()[1], valid)


def test_a_model_of_no_members_is_refused() -> None:
    with pytest.raises(RecipeInputError, match="members must be at least 1, not 0"):
        UserPersonalizationV2(members=0)


def test_a_saved_one_transformer_model_of_format_2_reads_as_one_member(
    model: UserPersonalizationV2, tmp_path: Path
) -> None:
    one = _member(model, 0)
    old_arrays = {name: value[0] if name in weight_names() else value for name, value in one._arrays.items()}
    old = UserPersonalizationV2._from_arrays(old_arrays, {**one._settings, "format": 2})
    assert old.members == 1
    assert old.recommend(user_id="u4") == one.recommend(user_id="u4")
