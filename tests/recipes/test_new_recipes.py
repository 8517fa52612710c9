"""Trending-Now, Similar-Items and Semantic-Similarity on data whose answers are planted (``planted_items``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from planted_items import (
    COLUMNS,
    HOUR,
    catalogue_interactions,
    catalogue_items,
    newest,
    trending_interactions,
)

from personalize_kit.exceptions import RecipeInputError
from personalize_kit.recipes import RECIPES, recipe_class
from personalize_kit.recipes.popularity import PopularityCount
from personalize_kit.recipes.semantic import NEEDS_TEXT, SemanticSimilarity
from personalize_kit.recipes.similar_items import SimilarItems
from personalize_kit.recipes.trending import TrendingNow

HOURLY = {"trend_discovery_frequency": "1 hour"}


def _ids(ranked: list[tuple[str, float | None]]) -> list[str]:
    return [item for item, _ in ranked]


def _texts() -> pd.DataFrame:
    items = catalogue_items()
    items.attrs["textual"] = ["DESCRIPTION"]
    return items


# ------------------------------------------------------------------------------------------ Trending-Now


def test_trending_ranks_the_sharp_riser_above_the_flat_favourite() -> None:
    frame = trending_interactions()
    assert _ids(PopularityCount().fit(frame).recommend(n=1)) == ["steady"]  # more popular overall
    model = TrendingNow().fit(frame, hyperparameters=HOURLY)
    assert model.trending == ["riser"]
    top = _ids(model.recommend(user_id="anyone", n=3))
    assert top[:2] == ["riser", "steady"]  # the trending item, then the popular fill
    assert all(score is None for _, score in model.recommend(n=5))


def test_trending_discovery_frequency_sets_the_window() -> None:
    model = TrendingNow().fit(trending_interactions(), hyperparameters={"trend_discovery_frequency": "1 day"})
    # one day holds all ten hours: every item "rises" from nothing, the busiest first
    assert _ids(model.recommend(n=2)) == ["steady", "riser"]
    assert model.window == 86400


def test_trending_counts_events_recorded_after_training() -> None:
    frame = trending_interactions()
    model = TrendingNow().fit(frame, hyperparameters=HOURLY)
    late = newest(frame) + 600
    events = pd.DataFrame(
        [(f"n{k:02d}", "fresh", late + k, "click", None) for k in range(30)]
        + [("old", "steady", newest(frame) - 2 * HOUR, "click", None)],  # older than the model: not counted again
        columns=COLUMNS,
    )
    fresh = model.with_events(events)
    assert _ids(fresh.recommend(n=2)) == ["fresh", "riser"]
    assert fresh.trained_through == late + 29
    assert _ids(model.recommend(n=1)) == ["riser"]  # the trained model itself is unchanged
    assert model.with_events(events.iloc[-1:]) is model


def test_trending_saves_and_loads(tmp_path: Path) -> None:
    model = TrendingNow().fit(trending_interactions(), hyperparameters=HOURLY)
    loaded = recipe_class(RECIPES["arn:aws:personalize:::recipe/aws-trending-now"].arn).load(model.save(tmp_path))
    assert loaded.recommend(n=10) == model.recommend(n=10)
    assert loaded.window == HOUR


def test_trending_refuses_an_unknown_frequency() -> None:
    with pytest.raises(RecipeInputError, match="trend_discovery_frequency must be one of 30 minutes"):
        TrendingNow().fit(trending_interactions(), hyperparameters={"trend_discovery_frequency": "weekly"})
    problems = TrendingNow.check_feature_transformation({"trend_frequency": "1 hour"})
    assert problems == [
        "trend_frequency is not a hyperparameter of aws-trending-now; it takes trend_discovery_frequency"
    ]


# ----------------------------------------------------------------------------------------- Similar-Items


def test_similar_items_warm_item_gets_its_co_interacted_item() -> None:
    model = SimilarItems().fit(catalogue_interactions(), catalogue_items())
    assert _ids(model.recommend(item_id="w1", n=5))[0] == "w2"
    assert _ids(model.recommend(item_id="w2", n=5))[0] == "w1"


def test_similar_items_cold_item_gets_items_sharing_its_metadata() -> None:
    model = SimilarItems().fit(catalogue_interactions(), catalogue_items())
    top = _ids(model.recommend(item_id="cold", n=4))
    assert top[:2] == ["z1", "z2"]  # the other jazz items; z1 also shares "saxophone"
    assert "cold" in model.catalogue
    # without metadata the cold item is unknown: the popular fill only
    plain = SimilarItems().fit(catalogue_interactions())
    assert _ids(plain.recommend(item_id="cold", n=2)) == ["w1", "w2"]


def test_similar_items_refuses_users_and_bad_hyperparameters() -> None:
    model = SimilarItems().fit(catalogue_interactions(), catalogue_items())
    with pytest.raises(RecipeInputError, match="pass item_id"):
        model.recommend(user_id="u001")
    with pytest.raises(RecipeInputError, match="item_id_hidden_dim must be an integer in \\[30, 200\\]"):
        SimilarItems().fit(catalogue_interactions(), hyperparameters={"item_id_hidden_dim": "10"})


def test_similar_items_saves_and_loads(tmp_path: Path) -> None:
    dims = {"item_id_hidden_dim": "50"}
    model = SimilarItems().fit(catalogue_interactions(), catalogue_items(), hyperparameters=dims)
    loaded = SimilarItems.load(model.save(tmp_path))
    for item in ("w1", "cold", "unknown"):
        assert loaded.recommend(item_id=item, n=10) == model.recommend(item_id=item, n=10)
    assert loaded.hyperparameters["item_id_hidden_dim"] == "50"


# --------------------------------------------------------------------------------- Semantic-Similarity


def test_semantic_similarity_puts_items_sharing_words_first() -> None:
    model = SemanticSimilarity().fit(catalogue_interactions(), _texts())
    assert _ids(model.recommend(item_id="cold", n=3))[:2] == ["z1", "z2"]  # jazz + saxophone, then jazz
    # co-occurrence plays no part: w1's neighbour by text is no item (its words are its own)
    assert model.similar("w1") == []
    assert _ids(model.recommend(item_id="w1", n=1)) == ["w2"]  # the popular fill


def test_semantic_similarity_trains_without_interactions() -> None:
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in ("USER_ID", "ITEM_ID", "TIMESTAMP")})
    model = SemanticSimilarity().fit(empty, _texts())
    assert _ids(model.recommend(item_id="z1", n=2)) == ["cold", "z2"]
    assert len(model.recommend(item_id="z1", n=100)) == len(_texts()) - 1  # the other items fill up


def test_semantic_similarity_needs_items_with_text() -> None:
    with pytest.raises(RecipeInputError) as no_items:
        SemanticSimilarity().fit(catalogue_interactions(), None)
    assert str(no_items.value) == NEEDS_TEXT
    untagged = catalogue_items()
    untagged.attrs["textual"] = []  # the schema marks no field textual
    with pytest.raises(RecipeInputError, match="textual field"):
        SemanticSimilarity().fit(catalogue_interactions(), untagged)
    assert SemanticSimilarity.check_hyperparameters({"item_id_hidden_dim": "50"}) == [
        "item_id_hidden_dim is not a hyperparameter of aws-semantic-similarity; it takes none"
    ]


def test_semantic_similarity_saves_and_loads(tmp_path: Path) -> None:
    model = SemanticSimilarity().fit(catalogue_interactions(), _texts())
    loaded = SemanticSimilarity.load(model.save(tmp_path))
    assert isinstance(loaded, SemanticSimilarity)
    assert loaded.recommend(item_id="cold", n=10) == model.recommend(item_id="cold", n=10)
