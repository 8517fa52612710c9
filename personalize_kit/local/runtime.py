"""The runtime (service id ``personalize-runtime``): GetRecommendations and GetPersonalizedRanking.

A campaign serves the model of its solution version; the user's recent events (recorded with PutEvents,
also for users the model never saw) are passed to the recipe at every call, and filters see the items,
users and interactions as they are now.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from personalize_kit.local import attribution, filtering, recommenders, store, training
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.exceptions import InternalFailure, InvalidInputException
from personalize_kit.local.resources import Resource, Resources
from personalize_kit.recipes import RECIPES, Ranked, Recipe, RecipeInfo

MAX_NUM_RESULTS = 500
MAX_RESULTS_WITH_METADATA = 50
MAX_INPUT_LIST = 500
#: Most entries of a request's ``context``.
MAX_CONTEXT = 150
#: The service's ``itemExplorationConfig`` keys, and the recipe arguments they set.
EXPLORATION_ARGUMENTS = {
    "explorationWeight": "exploration_weight",
    "explorationItemAgeCutOff": "exploration_item_age_cut_off",
}
#: How many of a user's newest events are passed to the recipe.
RECENT_EVENTS = 100


def model_for(backend: PersonalizeBackend, version_arn: str, recipe_arn: str, generation: int | None = None) -> Recipe:
    """The trained model of a version, loaded once per process and reloaded when its files change.

    ``generation`` is the resources table's (:attr:`.Resources.generation`): a version's files are written
    before it becomes ACTIVE and go only with it, so while the table is unchanged the model kept is looked
    up without asking the file system again.
    """
    cached = backend.caches.models.get(version_arn)  # (stamp, model, path of its weights, generation)
    if cached is not None and generation is not None and cached[3] == generation:
        return cached[1]
    try:
        weights = cached[2] if cached is not None else str(training.model_dir(backend, version_arn) / "model.npz")
        stamp = os.stat(weights).st_mtime_ns
        if cached is None or cached[0] != stamp:
            cached = (stamp, training.load_model(backend, version_arn, recipe_arn), weights, generation)
        else:
            cached = (*cached[:3], generation)
        backend.caches.models[version_arn] = cached
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # a full disk, a killed copy, a hand edit
        raise InternalFailure(
            f"a trained model in {backend.state.root} is damaged or truncated ({type(exc).__name__}: "
            f"{str(exc)[:120]}): solution version {version_arn}; delete what was trained (its solution, or with "
            "the CLI `python -m personalize_kit cleanup --yes`) and train again (`python -m personalize_kit pipeline`)"
        ) from exc
    return cached[1]


def recent_events(backend: PersonalizeBackend, group: str, user_id: str | None) -> pd.DataFrame | None:
    """The user's newest recorded events, oldest first, or ``None`` when there are none."""
    if user_id is None:
        return None
    return store.recent_events(backend.state, group, str(user_id), RECENT_EVENTS, backend.caches.recent_events)


def exploration(model: Recipe, config: dict[str, str] | None) -> dict[str, float]:
    """Exploration keyword arguments for a recipe that explores: its defaults, overridden by ``config``.

    ``config`` is a campaign's (or batch job's) ``itemExplorationConfig``; recipes that do not explore
    (no ``default_exploration``) get none.
    """
    defaults = getattr(model, "default_exploration", None)
    if not defaults:
        return {}
    options = {key: float(value) for key, value in defaults.items()}
    for key, value in (config or {}).items():
        if EXPLORATION_ARGUMENTS.get(key) in defaults:
            options[EXPLORATION_ARGUMENTS[key]] = float(value)
    return options


def recommend(
    backend: PersonalizeBackend,
    resources: Resources,
    version_arn: str,
    *,
    user_id: str | None,
    item_id: str | None,
    n: int,
    filter_arn: str | None = None,
    filter_values: dict[str, str] | None = None,
    exploration_config: dict[str, str] | None = None,
) -> Ranked:
    """Top ``n`` of a version for a user or an item, with the filter applied (shared with batch inference)."""
    version = resources.find(version_arn, "solution_version").attrs
    model = model_for(backend, version_arn, version["recipeArn"], resources.generation)
    return ranked_by(
        backend,
        resources,
        model,
        version["datasetGroupArn"],
        user_id=user_id,
        item_id=item_id,
        n=n,
        filter_arn=filter_arn,
        filter_values=filter_values,
        exploration_config=exploration_config,
    )


def ranked_by(
    backend: PersonalizeBackend,
    resources: Resources,
    model: Recipe,
    group_arn: str,
    *,
    user_id: str | None,
    item_id: str | None,
    n: int,
    filter_arn: str | None = None,
    filter_values: dict[str, str] | None = None,
    exploration_config: dict[str, str] | None = None,
    context: dict[str, str] | None = None,
) -> Ranked:
    """Top ``n`` of a model of ``group_arn`` for a user or an item (in ``context``), with the filter applied."""
    recent = recent_events(backend, group_arn.split("/")[1], user_id) if model.reads_recent_events else None
    options: dict[str, Any] = exploration(model, exploration_config)
    if context and model.uses_context:
        options["context"] = context
    if filter_arn is None:
        return model.recommend(user_id=user_id, item_id=item_id, n=n, recent_events=recent, **options)
    filter_record = _filter(resources, filter_arn, group_arn)
    ranked = model.recommend(user_id=user_id, item_id=item_id, n=len(model.catalogue), recent_events=recent, **options)
    keep = filtering.mask(
        backend, filter_record, [item for item, _ in ranked], user_id=user_id, values=filter_values, item_id=item_id
    )
    return [pair for pair, kept in zip(ranked, keep.tolist(), strict=True) if kept][:n]


def request_context(resources: Resources, group_arn: str, params: dict[str, Any]) -> dict[str, str] | None:
    """A request's ``context``, checked: each key must be a metadata field of the dataset group's Interactions
    schema (``DEVICE``, ``LOCATION`` ...); ``None`` when there is none."""
    given = params.get("context") or {}
    if len(given) > MAX_CONTEXT:
        raise InvalidInputException(f"context must have at most {MAX_CONTEXT} entries.")
    if not given:
        return None
    fields = [f.name for f in training.metadata_fields(resources, group_arn)]
    for key in given:
        if key not in fields:
            usable = f"use one of {', '.join(fields)}" if fields else "it has no metadata field such as DEVICE"
            raise InvalidInputException(
                f"context key {key!r} is not a metadata field of the Interactions schema of dataset group "
                f"{group_arn.split('/')[-1]}: {usable}."
            )
    return {str(key): str(value) for key, value in given.items()}


def _filter(resources: Resources, filter_arn: str, group_arn: str) -> Resource:
    record = resources.find(filter_arn, "filter", status=404)
    record.require_active()
    if record.attrs["datasetGroupArn"] != group_arn:
        raise InvalidInputException(
            f"Filter {filter_arn} belongs to another dataset group than the campaign's ({group_arn})."
        )
    return record


def _campaign(resources: Resources, params: dict[str, Any]) -> dict[str, Any]:
    if not params.get("campaignArn"):
        raise InvalidInputException("campaignArn is required.")
    campaign = resources.find(params["campaignArn"], "campaign", status=404)
    campaign.require_active()
    return campaign.attrs


@dataclass
class _Served:
    """What answers a GetRecommendations: a campaign's version, or a recommender's own model."""

    model: Recipe
    recipe: Any  # name and recipe_type
    group_arn: str
    config: dict[str, Any]


def _served(backend: PersonalizeBackend, resources: Resources, params: dict[str, Any]) -> _Served:
    if params.get("campaignArn") and params.get("recommenderArn"):
        raise InvalidInputException("Give a campaignArn or a recommenderArn, not both.")
    if params.get("recommenderArn"):
        recommender = resources.find(params["recommenderArn"], "recommender", status=404)
        recommender.require_active()
        attrs = recommender.attrs
        case = recommenders.USE_CASES[attrs["recipeArn"]]
        model = recommenders.load(backend, recommender.arn, attrs["recipeArn"])
        model = with_new_events(backend, model, attrs["datasetGroupArn"], lambda f: recommenders.selected(f, case))
        return _Served(model, case, attrs["datasetGroupArn"], attrs.get("recommenderConfig") or {})
    campaign = _campaign(resources, params)
    version = resources.find(campaign["solutionVersionArn"], "solution_version").attrs
    model = model_for(backend, campaign["solutionVersionArn"], version["recipeArn"], resources.generation)
    model = with_new_events(backend, model, version["datasetGroupArn"], lambda f: training.selected(f, version))
    recipe = RECIPES[version["recipeArn"]]
    return _Served(model, recipe, version["datasetGroupArn"], campaign.get("campaignConfig") or {})


def with_new_events(
    backend: PersonalizeBackend, model: Recipe, group_arn: str, select: Callable[[pd.DataFrame], pd.DataFrame]
) -> Recipe:
    """``model`` with the events recorded after its training counted, as ``select`` picks those it trains on,
    for a recipe that reads them (Trending-Now); ``model`` itself for the others."""
    if not model.reads_new_events:
        return model
    group, since = group_arn.split("/")[1], int(getattr(model, "trained_through", -1))
    newest = store.newest_event(backend.state)
    key = (id(model), group)
    kept = backend.caches.new_events.get(key)
    if kept is not None and kept[0] is model and kept[1] == newest:
        return kept[3]  # no event recorded since: what was counted stands
    if kept is not None and kept[0] is model and kept[1][1] == newest[1]:  # only the events recorded since
        fresh = store.events_since(backend.state, group, since, after=kept[1][0])
        events = pd.concat([kept[2], fresh], ignore_index=True) if len(fresh) else kept[2]
    else:
        events = store.events_since(backend.state, group, since)
    events = events.sort_values("TIMESTAMP", kind="stable", ignore_index=True)
    served = model.with_events(select(events))
    backend.caches.new_events.put(key, (model, newest, events, served))
    return served


def _metadata(
    backend: PersonalizeBackend, group: str, config: dict[str, Any], params: dict[str, Any], n: int
) -> list[str]:
    columns = (params.get("metadataColumns") or {}).get("ITEMS") or []
    unknown_types = set(params.get("metadataColumns") or {}) - {"ITEMS"}
    if unknown_types:
        raise InvalidInputException(f"metadataColumns supports the ITEMS dataset only, not {sorted(unknown_types)}.")
    if not columns:
        return []
    if not config.get("enableMetadataWithRecommendations"):
        raise InvalidInputException(
            "The campaign does not return metadata: update it with campaignConfig "
            "enableMetadataWithRecommendations=true."
        )
    if n > MAX_RESULTS_WITH_METADATA:
        raise InvalidInputException(
            f"numResults must be at most {MAX_RESULTS_WITH_METADATA} when metadataColumns is given: {n}."
        )
    items = store.read_dataset(backend, group, "ITEMS")
    known = set(items.columns) if items is not None else set()
    missing = [c for c in columns if c not in known]
    if missing:
        raise InvalidInputException(f"metadataColumns {missing} are not columns of the Items dataset.")
    return list(columns)


def _with_metadata(
    backend: PersonalizeBackend, group: str, entries: list[dict[str, Any]], columns: list[str]
) -> list[dict[str, Any]]:
    if not columns:
        return entries
    items = store.read_dataset(backend, group, "ITEMS")
    assert items is not None
    rows = items.drop_duplicates("ITEM_ID", keep="last")
    rows.index = rows["ITEM_ID"].astype(str).to_numpy()
    for entry in entries:
        if entry["itemId"] in rows.index:
            row = rows.loc[entry["itemId"]]
            entry["metadata"] = {c: "" if pd.isna(row[c]) else str(row[c]) for c in columns}
    return entries


def _entries(ranked: Ranked) -> list[dict[str, Any]]:
    return [{"itemId": item, **({"score": score} if score is not None else {})} for item, score in ranked]


def _promoted(
    backend: PersonalizeBackend,
    resources: Resources,
    group_arn: str,
    ranked: Ranked,
    promotion: dict[str, Any],
    params: dict[str, Any],
    n: int,
) -> list[dict[str, Any]]:
    """``n`` entries of which ``percentPromotedItems`` percent (at least one) are the best-ranked items the
    promotion's filter keeps, each marked with ``promotionName`` and spread evenly through the list."""
    if not promotion.get("filterArn") or not promotion.get("name"):
        raise InvalidInputException("A promotion needs a name and a filterArn naming the items it promotes.")
    record = _filter(resources, promotion["filterArn"], group_arn)
    items = [item for item, _ in ranked]
    keep = filtering.mask(
        backend,
        record,
        items,
        user_id=params.get("userId"),
        values=promotion.get("filterValues"),
        item_id=params.get("itemId"),
    )
    wanted = max(1, n * int(promotion.get("percentPromotedItems", 100)) // 100)
    promoted = [pair for pair, kept in zip(ranked, keep.tolist(), strict=True) if kept][:wanted]
    chosen = {item for item, _ in promoted}
    regular = [pair for pair in ranked if pair[0] not in chosen][: n - len(promoted)]
    entries = _entries(regular)
    total = len(entries) + len(promoted)
    for k, entry in enumerate(_entries(promoted)):
        entry["promotionName"] = promotion["name"]
        entries.insert(min(len(entries), (k * total) // max(1, len(promoted))), entry)
    return entries


def _already(backend: PersonalizeBackend, group: str, user_id: str | None, event_type: str | None) -> set[str]:
    """The items ``user_id`` interacted with in events of ``event_type``: a use case that leaves out what the
    user watched (or bought) does not recommend them."""
    if not user_id or not event_type:
        return set()
    frame = store.user_interactions(backend, group, user_id)
    return set(frame.loc[frame["EVENT_TYPE"].astype(str).str.lower() == event_type, "ITEM_ID"].astype(str))


def get_recommendations(backend: PersonalizeBackend, params: dict[str, Any]) -> dict[str, Any]:
    resources = backend.read()
    served = _served(backend, resources, params)
    recipe = served.recipe
    n = int(params.get("numResults", 25))
    if n > MAX_NUM_RESULTS:
        raise InvalidInputException(f"numResults must be at most {MAX_NUM_RESULTS}: {n}.")
    context = request_context(resources, served.group_arn, params)
    if getattr(recipe, "needs_user", False) and not params.get("userId"):  # a recommender's use case
        raise InvalidInputException(f"userId is required for a recommender of use case {recipe.name}.")
    if recipe.recipe_type == "RELATED_ITEMS":
        if not params.get("itemId"):
            raise InvalidInputException(f"itemId is required for a campaign of recipe {recipe.name}.")
    elif recipe.recipe_type == "USER_PERSONALIZATION":
        info = recipe if isinstance(recipe, RecipeInfo) else recipe.local
        if not params.get("userId") and info.requires_user:
            raise InvalidInputException(f"userId is required for a campaign of recipe {recipe.name}.")
    else:
        other = "GetActionRecommendations" if recipe.recipe_type == "PERSONALIZED_ACTIONS" else "GetPersonalizedRanking"
        raise InvalidInputException(f"GetRecommendations does not serve recipe {recipe.name}: use {other}.")
    if params.get("filterValues") and not params.get("filterArn"):
        raise InvalidInputException("filterValues needs a filterArn.")
    group = served.group_arn.split("/")[1]
    columns = _metadata(backend, group, served.config, params, n)
    promotion = (params.get("promotions") or [None])[0]
    skip = _already(backend, group, params.get("userId"), getattr(recipe, "excludes", None))
    ranked = ranked_by(
        backend,
        resources,
        served.model,
        served.group_arn,
        user_id=params.get("userId"),
        item_id=params.get("itemId"),
        n=(n if promotion is None else MAX_NUM_RESULTS * 10) + len(skip),
        filter_arn=params.get("filterArn"),
        filter_values=params.get("filterValues"),
        exploration_config=served.config.get("itemExplorationConfig"),
        context=context,
    )
    ranked = [pair for pair in ranked if pair[0] not in skip]
    if promotion is None:
        entries = _entries(ranked[:n])
    else:
        entries = _promoted(backend, resources, served.group_arn, ranked, promotion, params, n)
    entries = _with_metadata(backend, group, entries, columns)
    source = params.get("recommenderArn") or params["campaignArn"]
    return {"itemList": entries, "recommendationId": attribution.recommendation_id(source)}


def get_personalized_ranking(backend: PersonalizeBackend, params: dict[str, Any]) -> dict[str, Any]:
    resources = backend.read()
    campaign = _campaign(resources, params)
    version = resources.find(campaign["solutionVersionArn"], "solution_version").attrs
    recipe = RECIPES[version["recipeArn"]]
    if recipe.recipe_type != "PERSONALIZED_RANKING":
        raise InvalidInputException(
            f"GetPersonalizedRanking needs a campaign of a Personalized-Ranking recipe, not {recipe.name}."
        )
    items = [str(item) for item in params["inputList"]]
    if len(items) > MAX_INPUT_LIST:
        raise InvalidInputException(f"inputList must have at most {MAX_INPUT_LIST} items: {len(items)}.")
    group = version["datasetGroupArn"].split("/")[1]
    model = model_for(backend, campaign["solutionVersionArn"], version["recipeArn"], resources.generation)
    context = request_context(resources, version["datasetGroupArn"], params)
    options = {"context": context} if context and model.uses_context else {}
    ranked = model.rank(params["userId"], items, recent_events(backend, group, params["userId"]), **options)
    if params.get("filterArn"):
        filter_record = _filter(resources, params["filterArn"], version["datasetGroupArn"])
        keep = filtering.mask(
            backend,
            filter_record,
            [item for item, _ in ranked],
            user_id=params["userId"],
            values=params.get("filterValues"),
        )
        ranked = [pair for pair, kept in zip(ranked, keep.tolist(), strict=True) if kept]
    columns = _metadata(backend, group, campaign.get("campaignConfig") or {}, params, len(ranked))
    entries = _with_metadata(backend, group, _entries(ranked), columns)
    return {"personalizedRanking": entries, "recommendationId": attribution.recommendation_id(campaign["campaignArn"])}


OPERATIONS: dict[str, Any] = {
    "GetRecommendations": get_recommendations,
    "GetPersonalizedRanking": get_personalized_ranking,
}
