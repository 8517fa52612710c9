"""Similar-Items (``aws-similar-items``): items related to a given item by co-occurrence and by item metadata.

The service learns item embeddings from users' histories and from the Items dataset's metadata
(categorical and textual fields), so that cold items (fewer than five interactions, or none) that have
metadata still get similar items. Locally the two signals are computed exactly and added:

- ``cooccurrence(a, b)``: SIMS' similarity (:class:`~personalize_kit.recipes.sims.Sims`, every pair seen
  together by :data:`MIN_COINTERACTIONS` users or more, no popularity trim), divided by the largest of
  ``a``'s, so that ``a``'s best co-interacted item scores 1;
- ``metadata(a, b)``: the TF-IDF cosine of the items' metadata (:mod:`personalize_kit.recipes.item_text`);
- ``similarity(a, b) = cooccurrence(a, b) + METADATA_WEIGHT * metadata(a, b)``: what users did together leads,
  the metadata orders the rest and answers alone for a cold item.

The list is filled up with the most popular items, which is also the answer for an item the model does not
know, as in the service. ``item_id_hidden_dim`` and ``item_metadata_hidden_dim`` (the sizes of the service's
embeddings, [30, 200]) are range-checked and recorded; the local model has no embeddings for them to size.
The service gives no scores.

>>> interactions = pd.DataFrame({"USER_ID": list("xxyy"), "ITEM_ID": list("abab"), "TIMESTAMP": range(4)})
>>> items = pd.DataFrame({"ITEM_ID": ["a", "b", "c", "d"], "GENRE": ["Jazz", "Rock", "Jazz", "Folk"]})
>>> model = SimilarItems().fit(interactions, items)
>>> model.recommend(item_id="a", n=2), model.recommend(item_id="c", n=1)
([('b', None), ('c', None)], [('a', None)])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from personalize_kit.exceptions import RecipeInputError
from personalize_kit.recipes.base import Range, Ranked, Recipe
from personalize_kit.recipes.item_text import metadata_neighbours
from personalize_kit.recipes.sims import Sims

__all__ = ["METADATA_WEIGHT", "MIN_COINTERACTIONS", "SimilarItems"]

#: Users who must have interacted with both items for co-occurrence to relate them.
MIN_COINTERACTIONS = 2
#: Weight of the metadata cosine against the co-occurrence similarity (whose best pair scores 1).
METADATA_WEIGHT = 0.5
#: SIMS' hyperparameters for the co-occurrence part: every item and user kept.
_COOCCURRENCE = {
    "min_cointeraction_count": str(MIN_COINTERACTIONS),
    "min_user_history_length_percentile": "0.0",
    "max_user_history_length_percentile": "1.0",
    "min_item_interaction_count_percentile": "0.0",
    "max_item_interaction_count_percentile": "1.0",
}


class SimilarItems(Recipe):
    """``aws-similar-items``: co-occurrence (SIMS) plus metadata similarity, popular items as the fill.

    ``recommend(user_id=...)`` without an item and ``rank`` raise :class:`RecipeInputError`, as the service
    answers with ``InvalidInputException``.
    """

    name = "aws-similar-items"
    recipe_type = "RELATED_ITEMS"
    reads_recent_events = False
    #: Whether co-occurrence relates items (else metadata alone does; the interactions give popularity only).
    uses_cooccurrence: ClassVar[bool] = True
    default_hyperparameters: ClassVar[Mapping[str, str]] = {
        "item_id_hidden_dim": "100",
        "item_metadata_hidden_dim": "100",
    }
    hyperparameter_ranges: ClassVar[Mapping[str, Range]] = {
        "item_id_hidden_dim": ("integer", 30, 200),
        "item_metadata_hidden_dim": ("integer", 30, 200),
    }

    def __init__(self) -> None:
        self._cooccurrence = Sims()
        self._ids = np.array([], dtype=str)
        self._indptr = np.zeros(1, dtype=np.int64)
        self._indices = np.array([], dtype=np.int32)
        self._data = np.array([], dtype=np.float32)
        self._hyperparameters: dict[str, str] = dict(self.default_hyperparameters)
        self._position: dict[str, int] | None = None

    @property
    def hyperparameters(self) -> dict[str, str]:
        """The hyperparameters the model was trained with, defaults filled in."""
        return dict(self._hyperparameters)

    def fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        hyperparameters: Mapping[str, str] | None = None,
    ) -> SimilarItems:
        self._hyperparameters = self.resolved_hyperparameters(hyperparameters)
        self._cooccurrence = Sims().fit(interactions, hyperparameters=_COOCCURRENCE)
        if items is not None and not items.empty and "ITEM_ID" in items.columns:
            self._ids, (self._indptr, self._indices, self._data) = metadata_neighbours(items)
        else:
            self._ids, self._indptr = np.array([], dtype=str), np.zeros(1, dtype=np.int64)
            self._indices, self._data = np.array([], dtype=np.int32), np.array([], dtype=np.float32)
        self._position = None
        return self

    @property
    def catalogue(self) -> np.ndarray:
        known = set(self._cooccurrence.catalogue.tolist())
        cold = [item for item in self._ids.tolist() if item not in known]
        return np.concatenate([self._cooccurrence.catalogue, np.array(cold, dtype=str)])

    def similar(self, item_id: str) -> list[tuple[str, float]]:
        """The item's similar items with their combined similarity, most similar first (no popular fill)."""
        scores: dict[str, float] = {}
        related = self._cooccurrence.related(str(item_id)) if self.uses_cooccurrence else []
        if related:
            best = max(score for _, score in related) or 1.0
            scores = {name: score / best for name, score in related}
        index = self._index().get(str(item_id))
        if index is not None:
            lo, hi = int(self._indptr[index]), int(self._indptr[index + 1])
            names = self._ids[self._indices[lo:hi]].tolist()
            for name, cosine in zip(names, self._data[lo:hi].astype(float).tolist(), strict=True):
                scores[name] = scores.get(name, 0.0) + METADATA_WEIGHT * cosine
        return sorted(scores.items(), key=lambda pair: (-round(pair[1], 6), pair[0]))

    def recommend(
        self,
        *,
        user_id: str | None = None,
        item_id: str | None = None,
        n: int = 25,
        recent_events: pd.DataFrame | None = None,
        exclude: Sequence[str] = (),
    ) -> Ranked:
        if item_id is None:
            raise RecipeInputError(
                f"{self.name} recommends items similar to an item: pass item_id (GetRecommendations itemId)"
            )
        skip = {*exclude, str(item_id)}
        out: Ranked = []
        for name, _ in self.similar(str(item_id)):
            if len(out) >= n:
                return out
            if name not in skip:
                skip.add(name)
                out.append((name, None))
        # popular fill: SIMS' answer for an item it does not know is its popular list
        fill = self._cooccurrence.recommend(item_id="", n=n - len(out) + len(skip), exclude=sorted(skip))
        return out + fill[: n - len(out)]

    def rank(self, user_id: str, items: Sequence[str], recent_events: pd.DataFrame | None = None) -> Ranked:
        raise RecipeInputError(
            f"{self.name} is a RELATED_ITEMS recipe and cannot rank items for a user "
            "(GetPersonalizedRanking); use a Personalized-Ranking recipe"
        )

    def _index(self) -> dict[str, int]:
        if self._position is None:
            self._position = {name: i for i, name in enumerate(self._ids.tolist())}
        return self._position

    def _save_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        inner, inner_settings = self._cooccurrence._save_arrays()
        arrays = {f"cooccurrence_{key}": value for key, value in inner.items()} | {
            "ids": self._ids.astype(str),
            "indptr": self._indptr,
            "indices": self._indices,
            "data": self._data,
        }
        return arrays, {"hyperparameters": self._hyperparameters, "cooccurrence": inner_settings}

    @classmethod
    def _from_arrays(cls, arrays: Mapping[str, np.ndarray], settings: Mapping[str, Any]) -> SimilarItems:
        model = cls()
        prefix = "cooccurrence_"
        inner = {key.removeprefix(prefix): value for key, value in arrays.items() if key.startswith(prefix)}
        model._cooccurrence = Sims._from_arrays(inner, settings.get("cooccurrence", {}))
        model._ids = np.asarray(arrays["ids"]).astype(str)
        model._indptr = np.asarray(arrays["indptr"]).astype(np.int64)
        model._indices = np.asarray(arrays["indices"]).astype(np.int32)
        model._data = np.asarray(arrays["data"]).astype(np.float32)
        model._hyperparameters = dict(cls.default_hyperparameters) | dict(settings.get("hyperparameters", {}))
        return model
