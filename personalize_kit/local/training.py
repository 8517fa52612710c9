"""Training of solution versions: asynchronous, persistent, and safe against a killed process.

``CreateSolutionVersion`` records the version as ``CREATE PENDING`` owned by this process (pid and a
heartbeat) and starts a thread: ``CREATE IN_PROGRESS`` -> checks of the minimum data -> offline metrics on
the service's split -> the final model -> ``ACTIVE`` (or ``CREATE FAILED`` with a reason, or
``CREATE STOPPED`` after StopSolutionVersionCreation). A version with ``trainingMode=UPDATE`` starts from
the newest ACTIVE version's model and the recipe's ``update`` (no retraining) and keeps its metrics.
Whenever resources are read, a version still in progress whose owner process has ended (or stopped
beating) is marked ``CREATE FAILED`` (:mod:`personalize_kit.local.lifecycle`), so a killed training never
leaves a half-made version behind.
"""

from __future__ import annotations

import importlib
import json
import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd

from personalize_kit.data import rules, schemas
from personalize_kit.exceptions import RecipeInputError, RecipeNotAvailableError
from personalize_kit.kinds import ACTIVE, CREATE_FAILED, CREATE_IN_PROGRESS, CREATE_STOPPED, CREATE_STOPPING
from personalize_kit.local import actions, cpus, hpo, store
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.lifecycle import HEARTBEAT_SECONDS, TRAINING
from personalize_kit.local.resources import now
from personalize_kit.local.state import atomic_write_json
from personalize_kit.recipes import Recipe, recipe_class

logger = logging.getLogger(__name__)

MIN_INTERACTIONS = rules.MIN_INTERACTIONS
MIN_USERS = rules.MIN_USERS_WITH_TWO
MIN_USER_INTERACTIONS = 2


class _Stopped(Exception):
    pass


class _Failed(Exception):
    pass


class _Abandoned(Exception):
    """The version was deleted or settled by a reader while this process trained it."""


def model_dir(backend: PersonalizeBackend, version_arn: str) -> Path:
    """``models/<solution>/<version id>/`` of a solution version."""
    solution, version_id = version_arn.split("/")[1:3]
    return backend.state.path("models", solution, version_id)


def remove_models(backend: PersonalizeBackend, solution_name: str) -> None:
    shutil.rmtree(backend.state.path("models", solution_name), ignore_errors=True)


def read_metrics(backend: PersonalizeBackend, version_arn: str) -> dict[str, float]:
    return json.loads((model_dir(backend, version_arn) / "metrics.json").read_text())


def load_model(backend: PersonalizeBackend, version_arn: str, recipe_arn: str) -> Recipe:
    return recipe_class(recipe_arn).load(model_dir(backend, version_arn))


def start(backend: PersonalizeBackend, version_arn: str) -> threading.Thread:
    """Train ``version_arn`` in a (non-daemon) thread, so the process finishes the training before exiting."""
    thread = threading.Thread(target=_train, args=(backend, version_arn), name=f"train {version_arn}")
    thread.start()
    return thread


def _set(backend: PersonalizeBackend, arn: str, **attrs: Any) -> None:
    with backend.transaction() as resources:
        record = resources.get(arn)
        if record is None or record.status not in TRAINING:
            return  # deleted, or already settled by a reader that found this training abandoned
        if record.status == CREATE_STOPPING and attrs.get("status") not in (None, CREATE_FAILED):
            attrs["status"] = CREATE_STOPPED
        record.update(**attrs)
        record.internal["heartbeat"] = now()


class _Heartbeat:
    """Refreshes a version's heartbeat from its own thread while the training runs (fits may be long)."""

    def __init__(self, backend: PersonalizeBackend, arn: str) -> None:
        self.backend = backend
        self.arn = arn
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat {arn}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(HEARTBEAT_SECONDS):
            with self.backend.db.write() as conn:
                conn.execute(
                    "UPDATE resources SET internal = json_set(internal, '$.heartbeat', ?) WHERE arn = ?",
                    (now(), self.arn),
                )

    def check(self) -> None:
        """Raise :class:`_Stopped` when StopSolutionVersionCreation was called (or the version is gone)."""
        record = self.backend.read().get(self.arn)
        if record is None or record.status not in TRAINING:
            raise _Abandoned
        if record.status == CREATE_STOPPING:
            raise _Stopped

    def close(self) -> None:
        self._done.set()


def _train(backend: PersonalizeBackend, arn: str) -> None:
    with cpus.every():  # started by a request thread of a server, which keeps to one CPU
        _train_on_every_cpu(backend, arn)


def _train_on_every_cpu(backend: PersonalizeBackend, arn: str) -> None:
    started = time.monotonic()
    heartbeat = _Heartbeat(backend, arn)
    try:
        while time.monotonic() < started + backend.settings.pace.pending:  # CREATE PENDING at the mirror's pace
            time.sleep(0.05)
            heartbeat.check()
        _set(backend, arn, status=CREATE_IN_PROGRESS)
        heartbeat.check()
        record = backend.read().find(arn, "solution_version").attrs
        group = record["datasetGroupArn"].split("/")[1]
        try:
            recipe = recipe_class(record["recipeArn"])
        except RecipeNotAvailableError as exc:
            raise _Failed(str(exc)) from exc
        interactions = _training_interactions(backend, group, record, required=recipe.needs_interactions)
        items = _items(backend, record["datasetGroupArn"], recipe)
        users = store.read_dataset(backend, group, "USERS")
        hyperparameters = recipe.solution_parameters(record.get("solutionConfig"))
        problems = recipe.check_hyperparameters(hyperparameters)
        if problems:
            raise _Failed("Invalid hyperparameters: " + "; ".join(problems))
        tuned: dict[str, str] | None = None
        if record.get("performHPO") and record.get("trainingMode") != "UPDATE" and not recipe.uses_actions:
            tuned = _tuned(recipe, record, interactions, items, users, hyperparameters, options_of(backend, recipe))
            hyperparameters = {**hyperparameters, **tuned}
        deadline = started + backend.settings.min_training_seconds
        while time.monotonic() < deadline:
            time.sleep(min(max(0.0, deadline - time.monotonic()), 0.2))
            heartbeat.check()
        options = options_of(backend, recipe)
        if record.get("trainingMode") == "UPDATE":
            base = _update_base(backend, record)
            model = _updated(load_model(backend, base, record["recipeArn"]), interactions, items, users)
            metrics = read_metrics(backend, base)
        elif recipe.uses_actions:  # PERSONALIZED_ACTIONS: no item metrics to compute
            metrics = {}
            try:
                model = actions.fit(backend, group, recipe, interactions, users, hyperparameters, options)
            except actions.MissingActionData as exc:
                raise _Failed(str(exc)) from exc
        elif _interactions_problem(interactions) is not None:  # a recipe that trains without interactions
            metrics = {}
            model = _fitted(recipe(**options), interactions, items, users, hyperparameters)
        else:
            metrics, split_model = _offline_metrics(recipe, interactions, items, users, hyperparameters, options)
            heartbeat.check()
            # one training per version: the final model continues from the split's model when the recipe can
            refit = getattr(split_model, "refit", None)
            if refit is not None:
                model = refit(interactions, items, users, hyperparameters)
            else:
                model = _fitted(recipe(**options), interactions, items, users, hyperparameters)
        heartbeat.check()
        directory = model_dir(backend, arn)
        model.save(directory)
        atomic_write_json(directory / "metrics.json", metrics)
        hours = round((time.monotonic() - started) / 3600, 6)
        done: dict[str, Any] = {"status": ACTIVE, "trainingHours": hours}
        if tuned is not None:
            done["tunedHPOParams"] = {"algorithmHyperParameters": hyperparameters}
        _set(backend, arn, **done)
    except _Abandoned:
        pass
    except _Stopped:
        _set(backend, arn, status=CREATE_STOPPED)
    except _Failed as exc:
        _set(backend, arn, status=CREATE_FAILED, failureReason=str(exc))
    except RecipeInputError as exc:  # the data does not suit the recipe (e.g. no Items dataset)
        _set(backend, arn, status=CREATE_FAILED, failureReason=str(exc)[0].upper() + str(exc)[1:] + ".")
    except Exception as exc:  # a bug or bad data must still end the version, never leave it in progress
        logger.exception("training %s failed", arn)
        _set(backend, arn, status=CREATE_FAILED, failureReason=f"Training failed: {type(exc).__name__}: {exc}")
    finally:
        heartbeat.close()


def options_of(backend: PersonalizeBackend, recipe: type[Recipe]) -> dict[str, Any]:
    """Keyword arguments of the recipe class (the mirror's ``recipe_options``)."""
    return backend.settings.recipe_options.get(recipe.name, {})


def _tuned(
    recipe: type[Recipe],
    record: dict[str, Any],
    interactions: pd.DataFrame,
    items: pd.DataFrame | None,
    users: pd.DataFrame | None,
    hyperparameters: dict[str, str],
    options: dict[str, Any],
) -> dict[str, str]:
    """The hyperparameters HPO chose: candidates fitted on the metrics split's training users, scored on a
    validation split of them (the held-out users of the metrics are never seen while tuning)."""
    config = hpo.parse(recipe.name, recipe.hyperparameter_ranges, (record.get("solutionConfig") or {}).get("hpoConfig"))
    train = importlib.import_module("personalize_kit.metrics").holdout_split(interactions, seed=0).train
    return hpo.search(
        config, hyperparameters, lambda params: _offline_metrics(recipe, train, items, users, params, options)[0]
    )


def _update_base(backend: PersonalizeBackend, record: dict[str, Any]) -> str:
    """The newest ACTIVE version of the solution, which an UPDATE version starts from."""
    versions = [
        v for v in backend.read().all("solution_version", solutionArn=record["solutionArn"]) if v.status == ACTIVE
    ]
    if not versions:
        raise _Failed("trainingMode UPDATE needs an ACTIVE solution version to update; train a FULL version first.")
    return versions[-1].arn


def _updated(model: Recipe, interactions: pd.DataFrame, items: pd.DataFrame | None, users: Any) -> Recipe:
    update = getattr(model, "update", None)
    if update is None:
        raise _Failed(f"trainingMode UPDATE is not supported by recipe {model.name}.")
    return update(interactions, items, users)


def selected(frame: pd.DataFrame, record: dict[str, Any]) -> pd.DataFrame:
    """The interactions (or events) a solution version trains on: those of its eventType and at or above
    its eventValueThreshold."""
    event_type = record.get("eventType")
    if event_type:
        frame = frame[frame["EVENT_TYPE"].astype(str) == event_type]
    threshold = (record.get("solutionConfig") or {}).get("eventValueThreshold")
    if threshold is not None:
        frame = frame[pd.to_numeric(frame["EVENT_VALUE"], errors="coerce") >= float(threshold)]
    return frame.reset_index(drop=True)


def _interactions_problem(frame: pd.DataFrame) -> str | None:
    """Why ``frame`` is below the service's minimum of training data, or ``None``."""
    if len(frame) < MIN_INTERACTIONS:
        return (
            f"Dataset has fewer than {MIN_INTERACTIONS} interactions ({len(frame)} after filtering by event "
            "type and event value threshold)."
        )
    per_user = frame.groupby("USER_ID").size()
    if int((per_user >= MIN_USER_INTERACTIONS).sum()) < MIN_USERS:
        return f"Dataset has fewer than {MIN_USERS} users with at least {MIN_USER_INTERACTIONS} interactions each."
    return None


def _training_interactions(
    backend: PersonalizeBackend, group: str, record: dict[str, Any], *, required: bool = True
) -> pd.DataFrame:
    """The interactions a version trains on, after eventType/eventValueThreshold, checked for the minimums
    (unless the recipe trains without them)."""
    frame = selected(store.interactions(backend.state, group), record)
    problem = _interactions_problem(frame)
    if problem is not None and required:
        raise _Failed(problem)
    fields = metadata_fields(backend.read(), record["datasetGroupArn"])
    frame.attrs["context_fields"] = [f.name for f in fields if f.categorical]  # what a request's context may give
    return frame


def metadata_fields(resources: Any, group_arn: str) -> list[schemas.FieldSpec]:
    """The metadata fields of a dataset group's Interactions schema (neither required nor reserved): the
    contextual metadata (``DEVICE``, ``LOCATION`` ...) its interactions carry; empty without that dataset."""
    datasets = resources.all("dataset", datasetGroupArn=group_arn, datasetType="INTERACTIONS")
    if not datasets:
        return []
    schema = json.loads(resources.find(datasets[0].attrs["schemaArn"], "schema").attrs["schema"])
    return [f for f in schemas.schema_fields(schema) if f.name not in schemas.RESERVED_KEYWORDS]


def _items(backend: PersonalizeBackend, group_arn: str, recipe: type[Recipe]) -> pd.DataFrame | None:
    """The Items dataset as it is now, its schema's textual fields in ``attrs["textual"]``; a version of a
    recipe that needs it fails without rows."""
    items = store.read_dataset(backend, group_arn.split("/")[1], "ITEMS")
    dataset = next(iter(backend.read().all("dataset", datasetGroupArn=group_arn, datasetType="ITEMS")), None)
    if recipe.needs_items and (items is None or items.empty):
        raise _Failed(
            f"The recipe {recipe.name} requires an Items dataset with data: create the Items dataset, import "
            "your items, then create a new solution version."
        )
    if items is not None and dataset is not None:
        schema = backend.read().find(dataset.attrs["schemaArn"], "schema").attrs["schema"]
        items.attrs["textual"] = [f["name"] for f in json.loads(schema)["fields"] if f.get("textual")]
    return items


def _fitted(
    model: Recipe, interactions: pd.DataFrame, items: pd.DataFrame | None, users: Any, parameters: dict[str, str]
) -> Recipe:
    """``model`` fitted; data the recipe refuses fails the version with the recipe's reason."""
    try:
        return model.fit(interactions, items, users, parameters)
    except RecipeInputError as exc:
        raise _Failed(str(exc)) from exc


def _offline_metrics(
    recipe: type[Recipe],
    interactions: pd.DataFrame,
    items: pd.DataFrame | None,
    users: pd.DataFrame | None,
    hyperparameters: dict[str, str],
    options: dict[str, Any],
) -> tuple[dict[str, float], Recipe]:
    """GetSolutionMetrics values: a model trained on 90% of users, scored on the other users' newest 10%;
    and that model, which never saw the held-out users (the final model may continue from it).

    Each held-out user's oldest 90% is what the model reads at query time (its recent events; for a
    related-items recipe, the newest of them is the query item).
    """
    metrics_module = importlib.import_module("personalize_kit.metrics")
    if recipe.recipe_type == "USER_SEGMENTATION":
        return _segment_metrics(metrics_module, recipe, interactions, items, users, hyperparameters, options)
    split = metrics_module.holdout_split(interactions, seed=0)
    model = _fitted(recipe(**options), split.train, items, users, hyperparameters)
    recommended: list[list[str]] = []
    relevant: list[set[str]] = []
    inputs = {user: frame for user, frame in split.test_input.groupby("USER_ID")}
    for user, truth in split.test_truth.groupby("USER_ID"):
        recent = inputs.get(user)
        if recipe.recipe_type == "RELATED_ITEMS":
            # related-items recipes are asked about the user's newest item before the held-out ones
            if recent is None or recent.empty:
                continue
            newest = str(recent.sort_values("TIMESTAMP", kind="stable")["ITEM_ID"].iloc[-1])
            ranked = model.recommend(item_id=newest, n=25)
        else:
            ranked = model.recommend(user_id=str(user), n=25, recent_events=recent)
        recommended.append([item for item, _ in ranked])
        relevant.append(set(truth["ITEM_ID"].astype(str)))
    catalogue = set(interactions["ITEM_ID"].astype(str))
    if items is not None:
        catalogue |= set(items["ITEM_ID"].astype(str))
    values = metrics_module.solution_metrics(recommended, relevant, catalogue_size=len(catalogue))
    return {key: float(value) for key, value in values.items()}, model


#: Items whose segments the USER_SEGMENTATION metrics are computed on (the most interacted with in the truth).
SEGMENT_METRIC_ITEMS = 200


def _segment_metrics(
    metrics_module: Any,
    recipe: type[Recipe],
    interactions: pd.DataFrame,
    items: pd.DataFrame | None,
    users: pd.DataFrame | None,
    hyperparameters: dict[str, str],
    options: dict[str, Any],
) -> tuple[dict[str, float], Recipe]:
    """USER_SEGMENTATION metrics: a model trained on each user's oldest 80%, each item's segment scored
    against the users who interacted with it in their newest 20%."""
    train, truth = metrics_module.segment_split(interactions)
    model = recipe(**options).fit(train, items, users, hyperparameters)
    known = set(model.catalogue.tolist())
    truth = truth[truth["ITEM_ID"].astype(str).isin(known)]
    by_item = truth.groupby(truth["ITEM_ID"].astype(str))["USER_ID"].agg(lambda u: set(u.astype(str)))
    queried = by_item.map(len).sort_values(ascending=False, kind="stable").index[:SEGMENT_METRIC_ITEMS]
    n_users = len(model.users)
    top = max(1, int(n_users * metrics_module.SEGMENT_TOP_FRACTION))
    segments = [[user for user, _ in model.segment_of_items([item], n=top)] for item in queried]
    if not segments:
        raise _Failed("No item of the newest 20% of the users' interactions was seen in training: add interactions.")
    values = metrics_module.segment_metrics(segments, [by_item[item] for item in queried], n_users)
    return values, model


__all__ = ["load_model", "model_dir", "read_metrics", "selected", "start"]
