"""Personalized-Ranking: orders a given list of items for a user with the User-Personalization model kind.

Scores are a softmax over the known items of the list (they sum to 1); items the model does not know
go last, in their input order, unscored. TensorFlow is imported only by ``fit``. The v2 recipe uses the
transformer of :mod:`personalize_kit.recipes.sequence.transformer`.
"""

from __future__ import annotations

from personalize_kit.recipes.sequence import SequenceRecipe
from personalize_kit.recipes.sequence.transformer_recipe import TransformerRecipe


class PersonalizedRanking(SequenceRecipe):
    """``aws-personalized-ranking`` (and ``-v2``): ``rank(user, items)`` with the sequence model.

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"USER_ID": ["u1", "u1", "u2", "u2"], "ITEM_ID": ["a", "b", "a", "b"],
    ...                       "TIMESTAMP": [1, 2, 3, 4]})
    >>> model = PersonalizedRanking(max_epochs=1).fit(frame, hyperparameters={"hidden_dimension": "32"})
    >>> [item for item, _ in model.rank("u1", ["zz", "a", "b"])][-1]
    'zz'
    """

    name = "aws-personalized-ranking"
    recipe_type = "PERSONALIZED_RANKING"


class PersonalizedRankingV2(TransformerRecipe):
    """``aws-personalized-ranking-v2``: ``rank(user, items)`` with the transformer of the v2 recipes."""

    name = "aws-personalized-ranking-v2"
    recipe_type = "PERSONALIZED_RANKING"


__all__ = ["PersonalizedRanking", "PersonalizedRankingV2"]
