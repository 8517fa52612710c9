"""Semantic-Similarity (``aws-semantic-similarity``): items whose descriptions mean the same as a given item's.

The service embeds each item's name and textual description (and its other attributes) with a language
model and recommends the nearest items; it needs an Items dataset with a textual field, and reads the
Interactions dataset only for popularity. **The mirror approximates it**: no language model is available
offline, so two items are as similar as the TF-IDF cosine of their words (textual fields) and categorical
values (:mod:`personalize_kit.recipes.item_text`). Items sharing rare words come first; synonyms and
paraphrases that share no word are not found, as a language model would find them.

The list is filled up with the most popular items (when there are interactions), then with the other
items by id; an item the model does not know gets that fill. Campaign ``rankingInfluence`` (popularity,
freshness) is stored, not applied. The service gives no scores.

>>> items = pd.DataFrame({"ITEM_ID": ["a", "b", "c"],
...                       "DESCRIPTION": ["a quiet jazz trio at night", "loud rock anthems", "jazz trio live"]})
>>> items.attrs["textual"] = ["DESCRIPTION"]
>>> SemanticSimilarity().fit(pd.DataFrame(columns=["USER_ID", "ITEM_ID", "TIMESTAMP"]), items).recommend(item_id="a")
[('c', None), ('b', None)]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import pandas as pd

from personalize_kit.exceptions import RecipeInputError
from personalize_kit.recipes.base import Range, Ranked
from personalize_kit.recipes.item_text import text_columns
from personalize_kit.recipes.similar_items import SimilarItems

__all__ = ["NEEDS_TEXT", "SemanticSimilarity"]

#: Why a version of this recipe fails without item text: the Items dataset and its textual field are required.
NEEDS_TEXT = (
    "The aws-semantic-similarity recipe requires an Items dataset with item data and a textual field "
    '(a string field with "textual": true) describing each item; create the Items dataset, import the items, '
    "then create a new solution version."
)


class SemanticSimilarity(SimilarItems):
    """``aws-semantic-similarity``: item-to-item similarity of item text only (no co-occurrence)."""

    name = "aws-semantic-similarity"
    recipe_type = "RELATED_ITEMS"
    needs_items = True
    needs_interactions = False
    uses_cooccurrence = False
    default_hyperparameters: ClassVar[Mapping[str, str]] = {}
    hyperparameter_ranges: ClassVar[Mapping[str, Range]] = {}

    def fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        hyperparameters: Mapping[str, str] | None = None,
    ) -> SemanticSimilarity:
        if items is None or items.empty or "ITEM_ID" not in items.columns or not text_columns(items):
            raise RecipeInputError(NEEDS_TEXT)
        if interactions is None or interactions.empty:
            interactions = pd.DataFrame({c: pd.Series(dtype=object) for c in ("USER_ID", "ITEM_ID", "TIMESTAMP")})
        super().fit(interactions, items, users, hyperparameters)
        return self

    def recommend(
        self,
        *,
        user_id: str | None = None,
        item_id: str | None = None,
        n: int = 25,
        recent_events: pd.DataFrame | None = None,
        exclude: Sequence[str] = (),
    ) -> Ranked:
        ranked = super().recommend(user_id=user_id, item_id=item_id, n=n, exclude=exclude)
        if len(ranked) >= n:
            return ranked
        skip = {*exclude, str(item_id), *(name for name, _ in ranked)}
        rest = [(name, None) for name in self._ids.tolist() if name not in skip]
        return ranked + rest[: n - len(ranked)]
