"""Recommenders of domain dataset groups: each use case of the service served by a local recipe.

A recommender is created with a use case's recipe ARN (``aws-vod-most-popular`` ...) in a dataset group of
its domain (VIDEO_ON_DEMAND or ECOMMERCE). Its first training runs in a thread of the process that created
it (CREATE PENDING -> CREATE IN_PROGRESS -> ACTIVE or CREATE FAILED); :data:`USE_CASES` says which local
recipe serves each use case and on which event types it trains.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd

from personalize_kit.data import rules
from personalize_kit.domains import ECOMMERCE, USE_CASES, VIDEO_ON_DEMAND, UseCase
from personalize_kit.local import store
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.recipes import Recipe, recipe_class


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
    items = store.read_dataset(backend, group, "ITEMS")
    if case.needs_items and (items is None or items.empty):
        return f"Use case {case.name} needs an Items dataset with imported items: import the items first."
    recipe = recipe_class(case.serves_with)
    options = {**backend.settings.recipe_options.get(recipe.name, {}), **dict(case.options)}
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
