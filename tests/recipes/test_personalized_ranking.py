"""Personalized-Ranking orders an input list with the sequence model: planted successor first, unknown last."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from personalize_kit.exceptions import RecipeInputError
from personalize_kit.recipes.personalized_ranking import PersonalizedRanking

N_GENRES, PER_GENRE = 3, 8
LATEST = 1_600_000_000


def item(genre: int, k: int) -> str:
    return f"g{genre}i{k}"


def planted_data(n_users: int = 60, length: int = 20, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Users stay in one genre; after g{g}i{k} comes g{g}i{k+1} 75% of the time, else any item of the genre."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        genre = u % N_GENRES
        k = int(rng.integers(PER_GENRE))
        base = LATEST - length * 100 - int(rng.integers(0, 1000))
        for step in range(length):
            rows.append((f"u{u}", item(genre, k), base + 100 * step))
            k = (k + 1) % PER_GENRE if rng.random() < 0.75 else int(rng.integers(PER_GENRE))
    interactions = pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID", "TIMESTAMP"])
    items = pd.DataFrame(
        {
            "ITEM_ID": [item(g, k) for g in range(N_GENRES) for k in range(PER_GENRE)],
            "GENRES": [f"G{g}" for g in range(N_GENRES) for _ in range(PER_GENRE)],
        }
    )
    return interactions, items


def events(*items: str) -> pd.DataFrame:
    return pd.DataFrame(
        {"USER_ID": "x", "ITEM_ID": list(items), "TIMESTAMP": [LATEST + 10 * k for k in range(len(items))]}
    )


@pytest.fixture(scope="module")
def model() -> PersonalizedRanking:
    interactions, items = planted_data()
    return PersonalizedRanking(max_epochs=40, learning_rate=1e-2, batch_size=16).fit(
        interactions, items, None, {"hidden_dimension": "32", "bptt": "8"}
    )


def test_the_planted_successor_is_ranked_first(model: PersonalizedRanking) -> None:
    candidates = ["g1i0", "g0i5", "g2i3", "g0i1", "g1i4"]
    ranked = model.rank("newcomer", candidates, recent_events=events("g0i0"))
    assert ranked[0][0] == "g0i1"
    # the same item of the list after another event of the user
    ranked = model.rank("newcomer", candidates, recent_events=events("g2i2"))
    assert ranked[0][0] == "g2i3"


def test_unknown_items_go_last_unscored_and_known_scores_sum_to_one(model: PersonalizedRanking) -> None:
    ranked = model.rank("u1", ["nope", "g1i2", "g0i3", "also-unknown", "g1i5", "g1i2"])
    assert [name for name, _ in ranked[-2:]] == ["nope", "also-unknown"]
    assert [score for _, score in ranked[-2:]] == [None, None]
    known = ranked[:-2]
    assert sorted(name for name, _ in known) == ["g0i3", "g1i2", "g1i5"]
    assert sum(score for _, score in known) == pytest.approx(1.0, abs=1e-9)
    assert [score for _, score in known] == sorted((score for _, score in known), reverse=True)


def test_a_list_of_unknown_items_keeps_its_order(model: PersonalizedRanking) -> None:
    assert model.rank("u1", ["b", "a"]) == [("b", None), ("a", None)]


def test_rank_agrees_with_the_catalogue_softmax(model: PersonalizedRanking) -> None:
    full = model.scores("u2")
    position = {name: i for i, name in enumerate(model.catalogue.tolist())}
    subset = ["g2i1", "g0i0", "g2i6"]
    expected = np.array([full[position[name]] for name in subset])
    expected = expected / expected.sum()
    got = dict(model.rank("u2", subset))
    assert [got[name] for name in subset] == pytest.approx(expected.tolist(), rel=1e-5)


def test_save_and_load_rank_identically(model: PersonalizedRanking, tmp_path) -> None:  # type: ignore[no-untyped-def]
    loaded = PersonalizedRanking.load(model.save(tmp_path / "ranking"))
    items = ["g0i1", "g1i1", "unknown", "g2i7"]
    assert loaded.rank("u4", items, events("g1i0")) == model.rank("u4", items, events("g1i0"))


def test_hyperparameters_out_of_range_are_refused() -> None:
    assert PersonalizedRanking.check_hyperparameters({"bptt": "64", "hidden_dimension": "16"}) == [
        "bptt must be an integer in [2, 32], not 64",
        "hidden_dimension must be an integer in [32, 256], not 16",
    ]
    assert PersonalizedRanking.check_hyperparameters({"exploration_weight": "0.3"}) == [
        "exploration_weight is not a hyperparameter of aws-personalized-ranking; it takes bptt, hidden_dimension, "
        "max_user_history_length_percentile, min_user_history_length_percentile, recency_mask"
    ]
    with pytest.raises(RecipeInputError, match="bptt must be an integer in \\[2, 32\\], not 64"):
        PersonalizedRanking().fit(planted_data(n_users=3, length=3)[0], hyperparameters={"bptt": "64"})
