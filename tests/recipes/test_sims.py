"""SIMS on hand-made interactions whose related items are known, and on synthetic data with planted pairs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from personalize_kit.exceptions import RecipeInputError
from personalize_kit.recipes.popularity import PopularityCount
from personalize_kit.recipes.sims import Sims

#: Hyperparameters that leave every user and item in, so a test sees co-occurrence alone.
NO_TRIM = {
    "min_user_history_length_percentile": "0",
    "max_user_history_length_percentile": "1",
    "min_item_interaction_count_percentile": "0",
    "max_item_interaction_count_percentile": "1",
}


def frame(histories: dict[str, list[str]]) -> pd.DataFrame:
    rows = [(user, item, t) for user, items in histories.items() for t, item in enumerate(items)]
    return pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID", "TIMESTAMP"])


def planted(n_users: int = 80, seed: int = 3) -> pd.DataFrame:
    """Users watch 8 of 20 popular items; every 4th user watches ``A`` then ``B``, every 5th ``C`` then ``D``.

    ``A``-``D`` are less popular than the background items, so the default trimming of the most
    interacted-with items (``max_item_interaction_count_percentile`` 0.9) keeps them.
    """
    rng = np.random.default_rng(seed)
    background = [f"x{k:02d}" for k in range(20)]
    histories: dict[str, list[str]] = {}
    for u in range(n_users):
        items = list(rng.choice(background, size=8, replace=False))
        if u % 4 == 0:
            items[2:2] = ["A", "B"]
        if u % 5 == 0:
            items[5:5] = ["C", "D"]
        histories[f"u{u:03d}"] = items
    return frame(histories)


def discount_example() -> pd.DataFrame:
    """``q`` has 6 users; ``P`` shares 5 of them and has 25 users; ``R`` shares 4 and has only those 4."""
    histories: dict[str, list[str]] = {f"u{k}": ["q"] for k in range(6)}
    for k in range(5):
        histories[f"u{k}"].append("P")
    for k in range(4):
        histories[f"u{k}"].append("R")
    for k in range(20):
        histories[f"other{k:02d}"] = ["P", "z"]
    return frame(histories)


def test_learns_planted_pairs() -> None:
    model = Sims().fit(planted())
    assert model.recommend(item_id="A", n=1) == [("B", None)]
    assert model.recommend(item_id="B", n=1) == [("A", None)]
    assert model.recommend(item_id="C", n=1) == [("D", None)]
    assert model.recommend(item_id="D", n=1) == [("C", None)]


def test_popularity_discount_orders_as_documented() -> None:
    data = discount_example()
    by_count = Sims().fit(
        data, hyperparameters={**NO_TRIM, "min_cointeraction_count": "1", "popularity_discount_factor": "0"}
    )
    assert by_count.related("q") == [("P", pytest.approx(5.0)), ("R", pytest.approx(4.0))]
    full = Sims().fit(
        data, hyperparameters={**NO_TRIM, "min_cointeraction_count": "1", "popularity_discount_factor": "1"}
    )
    assert full.related("q") == [("R", pytest.approx(4 / (6 * 4))), ("P", pytest.approx(5 / (6 * 25)))]
    half = Sims().fit(data, hyperparameters={**NO_TRIM, "min_cointeraction_count": "1"})
    assert half.related("q") == [("R", pytest.approx(4 / 24**0.5)), ("P", pytest.approx(5 / 150**0.5))]
    assert [item for item, _ in half.recommend(item_id="q", n=2)] == ["R", "P"]


def test_min_cointeraction_count_drops_rare_pairs() -> None:
    # a-b together for 3 users, a-c for 2, a-d for 1
    data = frame({"u1": ["a", "b", "c", "d"], "u2": ["a", "b", "c"], "u3": ["a", "b"], "u4": ["e"]})

    def related(count: str) -> list[str]:
        model = Sims().fit(data, hyperparameters={**NO_TRIM, "min_cointeraction_count": count})
        return [item for item, _ in model.related("a")]

    assert related("3") == ["b"]
    assert related("2") == ["b", "c"]
    assert related("1") == ["b", "c", "d"]
    assert related("0") == related("1")
    assert related("4") == []


def test_unknown_item_gets_popular_items() -> None:
    data = planted()
    popular = [item for item, _ in PopularityCount().fit(data).recommend(user_id="any", n=10)]
    assert [item for item, _ in Sims().fit(data).recommend(item_id="never-seen", n=10)] == popular


def test_sparse_item_is_filled_with_popular_items_once() -> None:
    data = frame({"u1": ["a", "b", "c"], "u2": ["a", "b", "c"], "u3": ["c", "d"], "u4": ["c", "e"], "u5": ["d"]})
    model = Sims().fit(data, hyperparameters={**NO_TRIM, "min_cointeraction_count": "2"})
    assert model.related("a") == [
        ("b", pytest.approx(2 / (2 * 2) ** 0.5)),
        ("c", pytest.approx(2 / (2 * 4) ** 0.5)),
    ]
    # related first (b, c), then popular items (c, a, b, d by users then id; e) without repeats or "a"
    assert model.recommend(item_id="a", n=5) == [("b", None), ("c", None), ("d", None), ("e", None)]


def test_no_scores_and_never_the_item_itself() -> None:
    data = planted()
    model = Sims().fit(data)
    catalogue = model.catalogue.tolist()
    for item in catalogue:
        ranked = model.recommend(item_id=item, n=len(catalogue))
        names = [name for name, _ in ranked]
        assert item not in names
        assert len(names) == len(set(names)) == len(catalogue) - 1
        assert {score for _, score in ranked} == {None}


def test_exclude_is_skipped() -> None:
    model = Sims().fit(planted())
    names = [name for name, _ in model.recommend(item_id="A", n=5, exclude=["B", "x01"])]
    assert "B" not in names and "x01" not in names and len(names) == 5


def test_user_requests_and_ranking_are_refused() -> None:
    model = Sims().fit(planted())
    with pytest.raises(RecipeInputError, match="pass item_id"):
        model.recommend(user_id="u000")
    with pytest.raises(ValueError, match="cannot rank"):
        model.rank("u000", ["A", "B"])
    # a user id next to the item id is allowed (the service uses it for filters) and changes nothing
    assert model.recommend(user_id="u000", item_id="A", n=3) == model.recommend(item_id="A", n=3)


def test_long_histories_are_ignored_above_the_percentile() -> None:
    histories = {f"u{k:02d}": [f"i{k % 10}", f"i{(k + 1) % 10}"] for k in range(20)}
    histories["bot"] = [f"i{k}" for k in range(10)] + ["rare1", "rare2"]
    data = frame(histories)
    params = {**NO_TRIM, "min_cointeraction_count": "1"}
    kept = Sims().fit(data, hyperparameters=params)
    assert [item for item, _ in kept.related("rare1")] == ["rare2", *[f"i{k}" for k in range(10)]]
    trimmed = Sims().fit(data, hyperparameters={**params, "max_user_history_length_percentile": "0.9"})
    assert trimmed.related("rare1") == []
    assert "rare1" in trimmed.catalogue.tolist()


def test_items_above_the_count_percentile_are_trimmed() -> None:
    # "hit" is with everyone, the other items with 2 users each
    histories = {f"u{k:02d}": ["hit", f"i{k // 2}"] for k in range(20)}
    data = frame(histories)
    params = {**NO_TRIM, "min_cointeraction_count": "1"}
    assert Sims().fit(data, hyperparameters=params).related("i0")[0][0] == "hit"
    trimmed = Sims().fit(data, hyperparameters={**params, "max_item_interaction_count_percentile": "0.9"})
    assert trimmed.related("hit") == []
    assert [item for item, _ in trimmed.related("i0")] == []
    # the trimmed item is still recommended through the popular fallback
    assert trimmed.recommend(item_id="i0", n=1) == [("hit", None)]


def test_check_hyperparameters() -> None:
    assert Sims.check_hyperparameters({}) == []
    assert Sims.check_hyperparameters(dict(Sims.default_hyperparameters)) == []
    assert Sims.check_hyperparameters({"min_cointeraction_count": "10", "popularity_discount_factor": "1"}) == []
    assert Sims.check_hyperparameters({"min_cointeraction_count": "11"}) == [
        "min_cointeraction_count must be an integer in [0, 10], not 11"
    ]
    assert Sims.check_hyperparameters({"min_cointeraction_count": "2.5"}) == [
        "min_cointeraction_count must be an integer in [0, 10], not 2.5"
    ]
    assert Sims.check_hyperparameters({"popularity_discount_factor": "high"}) == [
        "popularity_discount_factor must be a number in [0.0, 1.0], not high"
    ]
    assert Sims.check_hyperparameters({"popularity_discount_factor": "nan"}) == [
        "popularity_discount_factor must be a number in [0.0, 1.0], not nan"
    ]
    assert Sims.check_hyperparameters({"max_item_interaction_count_percentile": "0.005"}) == [
        "min_item_interaction_count_percentile (0.01) must be less than max_item_interaction_count_percentile (0.005)"
    ]
    assert Sims.check_hyperparameters({"hidden_dimension": "64"}) == [
        "hidden_dimension is not a hyperparameter of aws-sims; it takes "
        "max_item_interaction_count_percentile, max_user_history_length_percentile, "
        "min_cointeraction_count, min_item_interaction_count_percentile, min_user_history_length_percentile, "
        "popularity_discount_factor"
    ]
    assert set(Sims.hyperparameter_ranges) == set(Sims.default_hyperparameters)


def test_fit_rejects_bad_hyperparameters() -> None:
    with pytest.raises(RecipeInputError, match=r"min_cointeraction_count must be an integer in \[0, 10\], not -1"):
        Sims().fit(planted(), hyperparameters={"min_cointeraction_count": "-1"})


def test_save_load_round_trip(tmp_path: Path) -> None:
    model = Sims().fit(planted(), hyperparameters={"popularity_discount_factor": "0.3"})
    model.save(tmp_path / "m")
    assert (
        json.loads((tmp_path / "m" / "model.json").read_text())["hyperparameters"]["popularity_discount_factor"]
        == "0.3"
    )
    loaded = Sims.load(tmp_path / "m")
    assert isinstance(loaded, Sims)
    assert loaded.hyperparameters == model.hyperparameters
    assert loaded.catalogue.tolist() == model.catalogue.tolist()
    for item in [*model.catalogue.tolist(), "unknown"]:
        assert loaded.recommend(item_id=item, n=30) == model.recommend(item_id=item, n=30)
        assert loaded.related(item) == model.related(item)
    with np.load(tmp_path / "m" / "model.npz", allow_pickle=False) as npz:
        assert set(npz.files) == {"items", "popular", "indptr", "indices", "data"}


def test_synthetic_planted_successors_rank_high() -> None:
    from personalize_kit.data.synthetic import SyntheticConfig, generate, planted_successors

    config = SyntheticConfig(n_interactions=50_000, seed=5)
    ratings = pd.concat([chunk.to_pandas() for chunk in generate(config).ratings()])
    data = pd.DataFrame(
        {"USER_ID": ratings["user_id"], "ITEM_ID": ratings["item_id"], "TIMESTAMP": ratings["timestamp"]}
    )
    # keep the most popular items in, to query them
    model = Sims().fit(data, hyperparameters={"max_item_interaction_count_percentile": "1"})
    successors = planted_successors(config)
    queried = data.groupby("ITEM_ID").size().sort_values(ascending=False).index[:100].tolist()
    found = sum(
        bool(set(successors[item]) & {name for name, _ in model.recommend(item_id=item, n=10)}) for item in queried
    )
    popular = {name for name, _ in PopularityCount().fit(data).recommend(user_id="any", n=10)}
    by_popularity = sum(bool(set(successors[item]) & popular) for item in queried)
    assert found >= 50
    assert found > 5 * by_popularity
