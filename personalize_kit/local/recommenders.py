"""Recommenders of domain dataset groups: each use case of the service served by a local recipe.

A recommender is created with a use case's recipe ARN (``aws-vod-most-popular`` ...) in a dataset group of
its domain (VIDEO_ON_DEMAND or ECOMMERCE). Its first training runs in a thread of the process that created
it (CREATE PENDING -> CREATE IN_PROGRESS -> ACTIVE or CREATE FAILED); :data:`USE_CASES` says which local
recipe serves each use case and on which event types it trains.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from personalize_kit.data import rules
from personalize_kit.local import store
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.recipes import RECIPE_ARN_PREFIX, RECIPES, Recipe, RecipeInfo, recipe_class

VIDEO_ON_DEMAND = "VIDEO_ON_DEMAND"
ECOMMERCE = "ECOMMERCE"
_POPULARITY = RECIPE_ARN_PREFIX + "aws-popularity-count"
_SIMS = RECIPE_ARN_PREFIX + "aws-sims"
_TRENDING = RECIPE_ARN_PREFIX + "aws-trending-now"
_USER = RECIPE_ARN_PREFIX + "aws-user-personalization"


@dataclass(frozen=True)
class UseCase:
    """A use case of a domain: its recipe as the service names it, and the local recipe serving it."""

    name: str
    domain: str
    recipe_type: str
    description: str
    #: The local recipe that serves it.
    serves_with: str
    #: Event types it trains on (case-insensitive; empty: every event).
    event_types: tuple[str, ...] = ()

    @property
    def arn(self) -> str:
        return RECIPE_ARN_PREFIX + self.name

    @property
    def local(self) -> RecipeInfo:
        return RECIPES[self.serves_with]


USE_CASES: dict[str, UseCase] = {
    case.arn: case
    for case in (
        UseCase("aws-vod-top-picks", VIDEO_ON_DEMAND, "USER_PERSONALIZATION", "Top picks for you.", _USER),
        UseCase(
            "aws-vod-because-you-watched-x",
            VIDEO_ON_DEMAND,
            "RELATED_ITEMS",
            "Because you watched X: items watched together with X.",
            _SIMS,
            ("watch",),
        ),
        UseCase("aws-vod-more-like-x", VIDEO_ON_DEMAND, "RELATED_ITEMS", "More like X.", _SIMS),
        UseCase(
            "aws-vod-most-popular", VIDEO_ON_DEMAND, "USER_PERSONALIZATION", "Most popular.", _POPULARITY, ("watch",)
        ),
        UseCase("aws-vod-trending-now", VIDEO_ON_DEMAND, "USER_PERSONALIZATION", "Trending now.", _TRENDING),
        UseCase("aws-ecomm-recommended-for-you", ECOMMERCE, "USER_PERSONALIZATION", "Recommended for you.", _USER),
        UseCase(
            "aws-ecomm-customers-who-viewed-x-also-viewed",
            ECOMMERCE,
            "RELATED_ITEMS",
            "Customers who viewed X also viewed.",
            _SIMS,
            ("view",),
        ),
        UseCase(
            "aws-ecomm-frequently-bought-together",
            ECOMMERCE,
            "RELATED_ITEMS",
            "Frequently bought together.",
            _SIMS,
            ("purchase",),
        ),
        UseCase(
            "aws-ecomm-popular-items-by-purchases",
            ECOMMERCE,
            "USER_PERSONALIZATION",
            "Best sellers.",
            _POPULARITY,
            ("purchase",),
        ),
        UseCase(
            "aws-ecomm-popular-items-by-views",
            ECOMMERCE,
            "USER_PERSONALIZATION",
            "Most viewed.",
            _POPULARITY,
            ("view",),
        ),
    )
}


def model_dir(backend: PersonalizeBackend, recommender_arn: str) -> Path:
    return backend.state.path("models", "recommenders", recommender_arn.rsplit("/", 1)[1])


def remove_model(backend: PersonalizeBackend, recommender_arn: str) -> None:
    shutil.rmtree(model_dir(backend, recommender_arn), ignore_errors=True)


def selected(frame: pd.DataFrame, case: UseCase) -> pd.DataFrame:
    """The interactions (or events) of the use case's event types, which its model trains on."""
    if case.event_types:
        frame = frame[frame["EVENT_TYPE"].astype(str).str.lower().isin(case.event_types)]
    return frame.reset_index(drop=True)


def train(backend: PersonalizeBackend, arn: str) -> str | None:
    """Train the recommender's model (run by ``lifecycle.run_job``); the failure reason, or None."""
    record = backend.read().find(arn, "recommender").attrs
    case = USE_CASES[record["recipeArn"]]
    group = record["datasetGroupArn"].split("/")[1]
    frame = selected(store.interactions(backend.state, group), case)
    if len(frame) < rules.MIN_INTERACTIONS:
        kinds = f" of event type {', '.join(case.event_types)}" if case.event_types else ""
        return f"The dataset group has fewer than {rules.MIN_INTERACTIONS} interactions{kinds} ({len(frame)})."
    recipe = recipe_class(case.serves_with)
    options = backend.settings.recipe_options.get(recipe.name, {})
    items = store.read_dataset(backend, group, "ITEMS")
    users = store.read_dataset(backend, group, "USERS")
    model = recipe(**options).fit(frame, items, users, {})
    model.save(model_dir(backend, arn))
    return None


def load(backend: PersonalizeBackend, arn: str, recipe_arn: str) -> Recipe:
    """The recommender's model, loaded once per process and reloaded when its files change."""
    directory = model_dir(backend, arn)
    stamp = (directory / "model.npz").stat().st_mtime_ns
    cached = backend.caches.models.get(arn)
    if cached is None or cached[0] != stamp:
        cached = (stamp, recipe_class(USE_CASES[recipe_arn].serves_with).load(directory))
        backend.caches.models[arn] = cached
    return cached[1]


__all__ = [
    "ECOMMERCE",
    "USE_CASES",
    "VIDEO_ON_DEMAND",
    "UseCase",
    "load",
    "model_dir",
    "remove_model",
    "selected",
    "train",
]
