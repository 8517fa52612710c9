"""The recipes of Amazon Personalize that the toolkit knows, and the classes that implement them locally.

:data:`RECIPES` describes each recipe as the service does (name, type, description); the implementing
class is imported only when asked for; recipe modules import TensorFlow inside ``fit`` only, so that
TensorFlow is loaded only when a TensorFlow recipe is trained.

>>> recipe_class("arn:aws:personalize:::recipe/aws-popularity-count").__name__
'PopularityCount'
"""

from __future__ import annotations

import copy
import importlib
from dataclasses import dataclass
from typing import Any

from personalize_kit.exceptions import RecipeInputError, RecipeNotAvailableError
from personalize_kit.kinds import RECIPE_ARN_PREFIX
from personalize_kit.recipes.base import Ranked, Recipe


@dataclass(frozen=True)
class RecipeInfo:
    """One service recipe: its name, the service's recipe type, a description, and where it is implemented."""

    name: str
    recipe_type: str
    description: str
    #: ``"module:Class"`` of the local implementation, or ``None`` while there is none.
    implementation: str | None = None
    #: Names of the hyperparameters the service accepts (``None``: not checked by name).
    hyperparameters: tuple[str, ...] | None = None
    #: Whether campaigns may set ``itemExplorationConfig`` (the service refuses it for other recipes).
    explores: bool = False
    #: Whether batch inference jobs may use its solution versions (Trending-Now: no).
    batch_inference: bool = True
    #: Whether GetRecommendations needs a ``userId`` (a USER_PERSONALIZATION recipe that serves everyone the
    #: same list, as Trending-Now, takes one only for a filter that needs it).
    requires_user: bool = True

    @property
    def arn(self) -> str:
        return RECIPE_ARN_PREFIX + self.name


_HISTORY = ("min_user_history_length_percentile", "max_user_history_length_percentile")
_HRNN = ("hidden_dimension", "bptt", "recency_mask", *_HISTORY)
_V2 = ("apply_recency_bias",)
_SIMS = (
    "popularity_discount_factor",
    "min_cointeraction_count",
    *_HISTORY,
    "min_item_interaction_count_percentile",
    "max_item_interaction_count_percentile",
)

RECIPES: dict[str, RecipeInfo] = {
    info.arn: info
    for info in (
        RecipeInfo(
            "aws-user-personalization",
            "USER_PERSONALIZATION",
            "Predicts the items a user will interact with and explores new and cold items.",
            "personalize_kit.recipes.user_personalization:UserPersonalization",
            _HRNN,
            explores=True,
        ),
        RecipeInfo(
            "aws-user-personalization-v2",
            "USER_PERSONALIZATION",
            "Predicts the items a user will interact with, for catalogues of up to 5 million items.",
            "personalize_kit.recipes.user_personalization:UserPersonalizationV2",
            _V2,
        ),
        RecipeInfo(
            "aws-personalized-ranking",
            "PERSONALIZED_RANKING",
            "Ranks a given list of items for a user.",
            "personalize_kit.recipes.personalized_ranking:PersonalizedRanking",
            _HRNN,
        ),
        RecipeInfo(
            "aws-personalized-ranking-v2",
            "PERSONALIZED_RANKING",
            "Ranks a given list of items for a user, for catalogues of up to 5 million items.",
            "personalize_kit.recipes.personalized_ranking:PersonalizedRankingV2",
            _V2,
        ),
        RecipeInfo(
            "aws-sims",
            "RELATED_ITEMS",
            "Recommends items that users interacted with together with a given item.",
            "personalize_kit.recipes.sims:Sims",
            _SIMS,
        ),
        RecipeInfo(
            "aws-next-best-action",
            "PERSONALIZED_ACTIONS",
            "Recommends the actions a user is most likely to take, from their action and item interactions.",
            "personalize_kit.recipes.next_best_action:NextBestAction",
            (),
        ),
        RecipeInfo(
            "aws-trending-now",
            "USER_PERSONALIZATION",
            "Recommends the items whose interactions increase fastest over the trend discovery interval.",
            "personalize_kit.recipes.trending:TrendingNow",
            (),
            batch_inference=False,
            requires_user=False,
        ),
        RecipeInfo(
            "aws-similar-items",
            "RELATED_ITEMS",
            "Recommends items similar to a given item, from interactions and item metadata (also for cold items).",
            "personalize_kit.recipes.similar_items:SimilarItems",
            ("item_id_hidden_dim", "item_metadata_hidden_dim"),
        ),
        RecipeInfo(
            "aws-semantic-similarity",
            "RELATED_ITEMS",
            "Recommends items whose textual descriptions are similar to a given item's.",
            "personalize_kit.recipes.semantic:SemanticSimilarity",
            (),
        ),
        RecipeInfo(
            "aws-popularity-count",
            "USER_PERSONALIZATION",
            "Recommends the items that the most unique users interacted with.",
            "personalize_kit.recipes.popularity:PopularityCount",
            (),
        ),
        RecipeInfo(
            "aws-item-affinity",
            "USER_SEGMENTATION",
            "Creates a segment of the users most likely to interact with each given item.",
            "personalize_kit.recipes.affinity:ItemAffinity",
            ("hidden_dimension",),
        ),
        RecipeInfo(
            "aws-item-attribute-affinity",
            "USER_SEGMENTATION",
            "Creates a segment of the users most likely to interact with the items having given attributes.",
            "personalize_kit.recipes.affinity:ItemAttributeAffinity",
            ("hidden_dimension",),
        ),
    )
}


_SEQUENCE_RECIPES = (
    "aws-user-personalization",
    "aws-user-personalization-v2",
    "aws-personalized-ranking",
    "aws-personalized-ranking-v2",
)

#: Keyword arguments of the recipe classes by profile and recipe name (what the mirror's ``recipe_options``
#: takes). ``faithful``, the default, trains the models as described by each recipe; ``fast`` is for
#: application tests that check their own code rather than the model's quality: every recipe trains on up to
#: 10,000 interactions in about a second (the sequence recipes get closed-form weights from co-occurrence
#: and order, :mod:`personalize_kit.recipes.sequence.quick`, instead of a Keras training), and still
#: recommends what the data plainly shows (the next item after A is B).
PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    "faithful": {},
    "fast": {name: {"training": "closed-form"} for name in _SEQUENCE_RECIPES},
}


def profile_options(profile: str) -> dict[str, dict[str, Any]]:
    """The recipe keyword arguments of ``profile`` (a copy), for the mirror's ``recipe_options``.

    >>> profile_options("fast")["aws-user-personalization"]
    {'training': 'closed-form'}
    """
    if profile not in PROFILES:
        raise RecipeInputError(f"unknown recipe profile {profile!r}; use one of {', '.join(PROFILES)}")
    return copy.deepcopy(PROFILES[profile])


def recipe_class(recipe_arn: str) -> type[Recipe]:
    """Import and return the class implementing ``recipe_arn``.

    Raises ``KeyError`` for an ARN that is no service recipe and :class:`RecipeNotAvailableError` for a
    recipe without a local implementation.
    """
    info = RECIPES[recipe_arn]
    if info.implementation is None:
        raise RecipeNotAvailableError(f"recipe {info.name} is not available in the local mirror yet")
    module_name, _, class_name = info.implementation.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


__all__ = [
    "PROFILES",
    "RECIPES",
    "RECIPE_ARN_PREFIX",
    "Ranked",
    "Recipe",
    "RecipeInfo",
    "RecipeNotAvailableError",
    "profile_options",
    "recipe_class",
]
