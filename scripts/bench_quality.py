"""Benchmark: offline quality of the mirror's recipes against baselines, with the service's metrics.

Every dataset is turned into Interactions the way ``prepare`` does (by default ratings of 3 or more become
``watch`` events, ``--events`` changes that) and split as GetSolutionMetrics does
(:func:`personalize_kit.metrics.holdout_split`: 10% of users held out, their oldest 90% of interactions are
the input and the newest 10% the truth). ``--folds`` disjoint sets of held-out users give a mean and a
standard deviation (over folds, ddof=1) of coverage, MRR@25, NDCG@5/10/25 and precision@5/10/25. The
default, 10 folds, holds every user out once: with a few hundred users a fold has only a few dozen, and
single folds differ by more than the effects being measured.

Tasks and protocols:

- ``batch``: the held-out users' input interactions are part of the training data; each user asks for 25
  items. User-Personalization recipes answer ``recommend(user_id=...)``, Personalized-Ranking recipes rank
  the training catalogue (``rank``; to save time only on ``--ranking-folds`` folds, default 1, and in
  ``realtime`` only with ``--ranking-realtime``).
  Items of the user's input are excluded for every model (MovieLens has no re-watches, so they can never
  be relevant).
- ``realtime``: the held-out users are absent from training; their input arrives as ``recent_events`` (the
  newest 100, as the mirror passes events recorded through PutEvents). With ``--e2e`` the same protocol also
  runs end to end through boto3 on :func:`personalize_kit.local.mock_personalize` (CreateSolutionVersion,
  CreateCampaign, PutEvents, GetRecommendations) on the first fold, for the recipes the mirror can train.
- ``item-to-item``: for each held-out user, the query is the last item of its input and the truth is the
  item that came right after it (the first truth interaction); models are trained as in ``batch``.
  RELATED_ITEMS recipes answer ``recommend(item_id=...)``; the baselines give their most related items.

Baselines, under the same splits (``scripts/baselines.py``): popularity, item-kNN (cosine over the binary
user-item matrix, 100 neighbours), the recency-weighted item-kNN (the user's k-th newest item weighted by
``decay ** k``; its decay and neighbours are tuned per data set on the batch task of the first
:data:`TUNING_FOLDS` folds, which favours it), BPR (``implicit``'s) and implicit-feedback ALS (``implicit``'s,
or a numpy version when ``implicit`` is not installed; the tables say which). Every target is against the
best of all baselines.

Targets (printed PASS/FAIL, also in the results): each User-Personalization recipe (v1 and v2) at least
1.1x the best baseline on NDCG@10 and MRR@25 in ``batch``; its ``realtime`` NDCG@10 and MRR@25 each at least
90% of its ``batch`` value; SIMS ahead of popularity on NDCG@10 and MRR@25 in ``item-to-item``.

Recipes are found through :data:`personalize_kit.recipes.RECIPES`; a recipe that is not registered there but
whose class (with the recipe's ``name``) exists in a module of ``personalize_kit.recipes`` is used with a
note; any other is skipped with the reason.

    python scripts/bench_quality.py                          # synthetic 100k, ml-100k, ml-latest-small
    python scripts/bench_quality.py --source synthetic --interactions 100000 --folds 3   # quicker, noisier
    python scripts/bench_quality.py --source /work/shared/data/movielens/ml-100k --e2e
    python scripts/bench_quality.py --source path/to/a/movielens-or-u.data-folder --min-rating 4

Prints the tables and writes scripts/results/quality.json and scripts/results/quality.md.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import pkgutil
import platform
import shlex
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "scripts" / "results"
MOVIELENS = ROOT / ".." / "shared" / "data" / "movielens"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from baselines import BPR, DECAY_GRID, ItemKNN, Popularity, RecencyItemKNN, make_als  # noqa: E402

from personalize_kit.metrics import METRIC_NAMES, HoldoutSplit, holdout_split, solution_metrics  # noqa: E402
from personalize_kit.recipes import RECIPES, Recipe, recipe_class  # noqa: E402

#: How many of a user's newest events the mirror passes to a recipe (personalize_kit.local.runtime).
RECENT_EVENTS = 100
N = 25
USER_TYPES = ("USER_PERSONALIZATION", "PERSONALIZED_RANKING")
SHORT = {
    "coverage": "coverage",
    "mean_reciprocal_rank_at_25": "MRR@25",
    "normalized_discounted_cumulative_gain_at_5": "NDCG@5",
    "normalized_discounted_cumulative_gain_at_10": "NDCG@10",
    "normalized_discounted_cumulative_gain_at_25": "NDCG@25",
    "precision_at_5": "P@5",
    "precision_at_10": "P@10",
    "precision_at_25": "P@25",
}
NDCG10, MRR = "normalized_discounted_cumulative_gain_at_10", "mean_reciprocal_rank_at_25"
#: Folds on which the recency-weighted item-kNN's settings are chosen (batch NDCG@10), and the neighbours tried.
TUNING_FOLDS = 3
#: Baselines with their own related-items answer (the recency weighting does not apply to one query item).
RELATED_BASELINES = ("popularity", "item-knn", "als")
NEIGHBOUR_GRID = (300, 1000)


# ------------------------------------------------------------------------------------------ data


@dataclass
class Dataset:
    name: str
    origin: str
    interactions: pd.DataFrame
    items: pd.DataFrame | None
    users: pd.DataFrame | None

    @property
    def catalogue_size(self) -> int:
        """Distinct items of the Interactions and Items datasets (the denominator of coverage)."""
        ids = set(self.interactions["ITEM_ID"].astype(str))
        if self.items is not None:
            ids |= set(self.items["ITEM_ID"].astype(str))
        return len(ids)


def load(source: str, interactions: int, seed: int, events: str) -> Dataset:
    """Open ``source`` (``synthetic`` or a MovieLens folder) and map ratings to events as ``prepare`` does."""
    import pyarrow as pa

    from personalize_kit.data import open_source
    from personalize_kit.data.events import EventMapping

    raw = open_source(source, interactions=interactions, seed=seed)
    table = pa.concat_tables(list(raw.ratings()))
    event_type = EventMapping.parse(events).apply(table.column("rating"))
    frame = pd.DataFrame(
        {
            "USER_ID": table.column("user_id").to_numpy(zero_copy_only=False).astype(str),
            "ITEM_ID": table.column("item_id").to_numpy(zero_copy_only=False).astype(str),
            "TIMESTAMP": table.column("timestamp").to_numpy(zero_copy_only=False),
            "EVENT_TYPE": event_type.to_numpy(zero_copy_only=False),
            "EVENT_VALUE": table.column("rating").to_numpy(zero_copy_only=False),
        }
    )
    frame = frame[frame["EVENT_TYPE"].notna()].reset_index(drop=True)
    items = users = None
    if raw.items is not None and "genres" in raw.items:
        genres = raw.items["genres"].fillna("").astype(str)
        items = pd.DataFrame({"ITEM_ID": raw.items["item_id"].astype(str), "GENRES": genres.where(genres != "", None)})
    if raw.users is not None:
        users = pd.DataFrame({"USER_ID": raw.users["user_id"].astype(str)})
        if "age" in raw.users and raw.users["age"].notna().any():
            users["AGE"] = pd.to_numeric(raw.users["age"], errors="coerce").astype("Int64")
        for column in ("gender", "occupation"):
            if column in raw.users and raw.users[column].notna().any():
                users[column.upper()] = raw.users[column].astype("string")
        if len(users.columns) == 1:
            users = None
    name = f"synthetic-{interactions // 1000}k" if source == "synthetic" else raw.name
    return Dataset(name, raw.origin or source, frame, items, users)


def default_sources() -> list[str]:
    base = Path(os.environ.get("PERSONALIZE_KIT_MOVIELENS_DIR", MOVIELENS)).resolve()
    return ["synthetic"] + [str(base / name) for name in ("ml-100k", "ml-latest-small") if (base / name).is_dir()]


# --------------------------------------------------------------------------------------- recipes


@dataclass
class Found:
    label: str
    cls: type[Recipe]
    recipe_type: str
    arn: str
    note: str = ""


def discover(wanted: Sequence[str] | None) -> tuple[list[Found], list[tuple[str, str]]]:
    """The recipes with a local implementation, and (recipe, reason) for the ones skipped."""
    found: list[Found] = []
    skipped: list[tuple[str, str]] = []
    seen: dict[type, str] = {}
    modules = _recipe_classes()
    for arn, info in RECIPES.items():
        if wanted and info.name not in wanted:
            continue
        note = ""
        try:
            cls = recipe_class(arn)
        except Exception as exc:  # not implemented yet, or an implementation that does not import
            cls = modules.get(info.name)
            if cls is None:
                skipped.append((info.name, f"{type(exc).__name__}: {exc}"))
                continue
            note = f"not registered in RECIPES yet; found {cls.__module__}:{cls.__name__}"
        if cls in seen:
            skipped.append((info.name, f"same implementation as {seen[cls]} ({cls.__name__})"))
            continue
        seen[cls] = info.name
        found.append(Found(info.name, cls, info.recipe_type, arn, note))
    return found, skipped


def _recipe_classes() -> dict[str, type[Recipe]]:
    """Concrete Recipe classes defined in the modules of ``personalize_kit.recipes``, by recipe name."""
    import personalize_kit.recipes as package

    out: dict[str, type[Recipe]] = {}
    for module_info in pkgutil.iter_modules(package.__path__):
        if module_info.name in ("base", "__init__"):
            continue
        try:
            module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        except Exception as exc:
            print(f"  note: personalize_kit.recipes.{module_info.name} does not import: {exc}", file=sys.stderr)
            continue
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, Recipe) and not inspect.isabstract(obj) and isinstance(getattr(obj, "name", None), str):
                out.setdefault(obj.name, obj)
    return out


# ------------------------------------------------------------------------------------ evaluation


@dataclass
class Fold:
    split: HoldoutSplit
    users: list[str]
    truth: list[set[str]]
    inputs: dict[str, pd.DataFrame]
    histories: list[list[str]]
    queries: list[str] = field(default_factory=list)
    next_items: list[set[str]] = field(default_factory=list)


def make_fold(frame: pd.DataFrame, seed: int, fold: int) -> Fold:
    split = holdout_split(frame, seed=seed, fold=fold)
    truth_map = split.truth_by_user()
    users = list(truth_map)
    inputs = {str(u): f for u, f in split.test_input.groupby(split.test_input["USER_ID"].astype(str), sort=False)}
    histories = [inputs[u]["ITEM_ID"].astype(str).tolist() for u in users]
    firsts = split.test_truth.groupby(split.test_truth["USER_ID"].astype(str), sort=False)["ITEM_ID"].first()
    queries = [h[-1] for h in histories]
    next_items = [{str(firsts[u])} for u in users]
    return Fold(split, users, [truth_map[u] for u in users], inputs, histories, queries, next_items)


def timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - started


def recipe_lists(found: Found, model: Recipe, fold: Fold, realtime: bool) -> list[list[str]]:
    """Each held-out user's 25 items from a user recipe (ranking the training catalogue for a ranking one)."""
    lists = []
    catalogue = model.catalogue.tolist() if found.recipe_type == "PERSONALIZED_RANKING" else []
    for user, history in zip(fold.users, fold.histories, strict=True):
        recent = fold.inputs[user].tail(RECENT_EVENTS).reset_index(drop=True) if realtime else None
        if found.recipe_type == "PERSONALIZED_RANKING":
            seen = set(history)
            ranked = model.rank(user, [i for i in catalogue if i not in seen], recent_events=recent)
        else:
            ranked = model.recommend(user_id=user, n=N, recent_events=recent, exclude=history)
        lists.append([item for item, _ in ranked][:N])
    return lists


def related_lists(model: Recipe, queries: Sequence[str]) -> list[list[str]]:
    return [[item for item, _ in model.recommend(item_id=q, n=N)] for q in queries]


def choose_recency(dataset: Dataset, seed: int, log: Callable[[str], None]) -> dict[str, float]:
    """The recency-weighted item-kNN's neighbours and decay with the best mean batch NDCG@10 on the first folds."""
    folds = [make_fold(dataset.interactions, seed, f) for f in range(TUNING_FOLDS)]
    scores: dict[tuple[int, float], list[float]] = {}
    for fold in folds:
        train = fold.split.training_data(include_test_input=True)
        for neighbours in NEIGHBOUR_GRID:
            model = RecencyItemKNN(neighbours=neighbours).fit(train)
            for decay in DECAY_GRID:
                model.decay = decay
                lists = model.recommend(fold.histories, N, fold.users)
                value = solution_metrics(lists, fold.truth, catalogue_size=dataset.catalogue_size)[NDCG10]
                scores.setdefault((neighbours, decay), []).append(value)
    (neighbours, decay), values = max(scores.items(), key=lambda kv: float(np.mean(kv[1])))
    log(f"  recency-item-knn: {neighbours} neighbours, decay {decay:g} (batch NDCG@10 {np.mean(values):.4f})")
    return {"neighbours": neighbours, "decay": decay}


def fit_baseline(make: Callable[[], Any], train: pd.DataFrame) -> Any:
    return make().fit(train)


#: Keyword arguments of the recipe classes by recipe name (``--options``), e.g. a profile's.
RECIPE_OPTIONS: dict[str, dict[str, Any]] = {}


def fit_recipe(cls: type[Recipe], train: pd.DataFrame, dataset: Dataset, hyperparameters: dict[str, str]) -> Recipe:
    options = RECIPE_OPTIONS.get(str(getattr(cls, "name", "")), {})
    return cls(**options).fit(train, dataset.items, dataset.users, hyperparameters or None)


#: Extra runs of a recipe with other hyperparameters, shown next to the defaults.
VARIANTS: dict[str, list[dict[str, str]]] = {"aws-sims": [{"max_item_interaction_count_percentile": "1"}]}


def evaluate_dataset(
    dataset: Dataset,
    recipes: list[Found],
    folds: int,
    seed: int,
    protocols: Sequence[str],
    e2e: bool,
    log: Callable[[str], None],
    ranking_realtime: bool = False,
    ranking_folds: int = 1,
) -> dict[str, Any]:
    runs: dict[str, dict[str, list[dict[str, float]]]] = {}
    seconds: dict[str, dict[str, list[float]]] = {}
    notes: dict[str, dict[str, str]] = {}
    catalogue = dataset.catalogue_size

    def record(protocol: str, model: str, recommended: list[list[str]], truth: list[set[str]], secs: float) -> None:
        metrics = solution_metrics(recommended, truth, catalogue_size=catalogue)
        runs.setdefault(protocol, {}).setdefault(model, []).append(metrics)
        seconds.setdefault(protocol, {}).setdefault(model, []).append(secs)
        scores = f"NDCG@10 {metrics[NDCG10]:.4f}  MRR@25 {metrics[MRR]:.4f}"
        log(f"    {protocol:<12} {model:<40} {scores}  {secs:6.1f}s")

    def failed(protocol: str, model: str, exc: BaseException) -> None:
        message = f"{type(exc).__name__}: {exc}"
        notes.setdefault(protocol, {})[model] = f"failed: {message}"
        log(f"    {protocol:<12} {model:<40} FAILED {message}")
        traceback.print_exc(file=sys.stderr)

    recency = choose_recency(dataset, seed, log)
    baselines: dict[str, Callable[[], Any]] = {
        "popularity": Popularity,
        "item-knn": ItemKNN,
        "recency-item-knn": lambda: RecencyItemKNN(recency["decay"], int(recency["neighbours"])),
        "bpr": BPR,
        "als": make_als,
    }
    user_protocols = [p for p in protocols if p in ("batch", "realtime")]
    item_task = "item-to-item" in protocols
    for f in range(folds):
        fold = make_fold(dataset.interactions, seed, f)
        log(f"  fold {f}: {len(fold.users)} held-out users with truth, {len(fold.split.train)} training rows")
        for protocol in user_protocols:
            realtime = protocol == "realtime"
            train = fold.split.training_data(include_test_input=not realtime)
            for name, make in baselines.items():
                base, fit_s = timed(fit_baseline, make, train)
                label = f"baseline: {base.name}"
                lists, rec_s = timed(base.recommend, fold.histories, N, None if realtime else fold.users)
                record(protocol, label, lists, fold.truth, fit_s + rec_s)
                if protocol == "batch" and item_task and name in RELATED_BASELINES:
                    related, rel_s = timed(base.related, fold.queries, N)
                    record("item-to-item", label, related, fold.next_items, fit_s + rel_s)
            for found in recipes:
                if found.recipe_type == "PERSONALIZED_RANKING" and (
                    f >= ranking_folds or (realtime and not ranking_realtime)
                ):
                    continue
                if found.recipe_type in USER_TYPES:
                    try:
                        model, fit_s = timed(fit_recipe, found.cls, train, dataset, {})
                        lists, rec_s = timed(recipe_lists, found, model, fold, realtime)
                        record(protocol, found.label, lists, fold.truth, fit_s + rec_s)
                    except Exception as exc:
                        failed(protocol, found.label, exc)
                elif protocol == "batch" and item_task:
                    for params in [{}, *VARIANTS.get(found.label, [])]:
                        label = found.label + "".join(f" [{k}={v}]" for k, v in params.items())
                        try:
                            model, fit_s = timed(fit_recipe, found.cls, train, dataset, params)
                            related, rel_s = timed(related_lists, model, fold.queries)
                            record("item-to-item", label, related, fold.next_items, fit_s + rel_s)
                        except Exception as exc:
                            failed("item-to-item", label, exc)
            if realtime and e2e and f == 0:
                for found in recipes:
                    if found.recipe_type != "USER_PERSONALIZATION":
                        continue
                    label = f"{found.label} (mirror e2e, fold 0)"
                    try:
                        answers, secs = timed(mirror_lists, found.arn, fold, dataset, log)
                        for campaign, lists in answers.items():
                            record("realtime", f"{label} {campaign}", lists, fold.truth, secs)
                    except Exception as exc:
                        failed("realtime", label, exc)
    return {
        "name": dataset.name,
        "origin": dataset.origin,
        "interactions": len(dataset.interactions),
        "users": int(dataset.interactions["USER_ID"].nunique()),
        "items_interacted": int(dataset.interactions["ITEM_ID"].nunique()),
        "catalogue_size": catalogue,
        "recency_item_knn": recency,
        "results": {p: summarise(runs[p], seconds[p]) for p in protocols if p in runs},
        "notes": notes,
    }


# ------------------------------------------------------------------------------ mirror, end to end

E2E_BUCKET = "bench-quality"
E2E_ROLE = "arn:aws:iam::123456789012:role/PersonalizeBench"
E2E_TIMEOUT = 3600.0


def _wait(describe: Callable[[], dict[str, Any]], what: str, timeout: float = E2E_TIMEOUT) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        description = describe()
        status = description["status"]
        if status == "ACTIVE":
            return description
        if status in ("CREATE FAILED", "CREATE STOPPED"):
            raise RuntimeError(f"{what} ended {status}: {description.get('failureReason')}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} still {status} after {timeout:.0f}s")
        time.sleep(0.2)


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def mirror_lists(
    recipe_arn: str, fold: Fold, dataset: Dataset, log: Callable[[str], None]
) -> dict[str, list[list[str]]]:
    """The realtime protocol through boto3 on the mirror: import the training users' interactions (and the
    Items/Users datasets), train, deploy a campaign, send each held-out user's newest 100 input events with
    PutEvents, then GetRecommendations (asking for 25 more than the user's history, whose items are dropped)
    from a campaign with the default exploration and, for User-Personalization, one without exploration.
    """
    import boto3

    from personalize_kit.data.schemas import FieldSpec, interactions_schema, make_schema
    from personalize_kit.local import mock_personalize
    from personalize_kit.sdk.backend import grant_personalize

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ[key] = value
    columns = ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE", "EVENT_VALUE"]
    datasets: dict[str, tuple[dict[str, Any], pd.DataFrame]] = {
        "INTERACTIONS": (interactions_schema(), fold.split.train[columns])
    }
    if dataset.items is not None:
        fields = [
            FieldSpec("ITEM_ID", "string"),
            FieldSpec("GENRES", "string", nullable=True, categorical=True),
        ]
        datasets["ITEMS"] = (make_schema("ITEMS", fields), dataset.items[["ITEM_ID", "GENRES"]])
    if dataset.users is not None:
        fields = [FieldSpec("USER_ID", "string")]
        for column in dataset.users.columns[1:]:
            kind = ("int", False) if column == "AGE" else ("string", True)
            fields.append(FieldSpec(column, kind[0], nullable=True, categorical=kind[1]))
        datasets["USERS"] = (make_schema("USERS", fields), dataset.users)
    # the quality of the served campaigns, not the service's states: everything settles at once
    with tempfile.TemporaryDirectory() as state, mock_personalize(state, training_seconds=0, pace="instant"):
        s3 = boto3.client("s3", region_name="us-east-1")
        personalize = boto3.client("personalize", region_name="us-east-1")
        events = boto3.client("personalize-events", region_name="us-east-1")
        runtime = boto3.client("personalize-runtime", region_name="us-east-1")
        s3.create_bucket(Bucket=E2E_BUCKET)
        grant_personalize(
            boto3.Session(region_name="us-east-1"),
            E2E_BUCKET,
            role_name=E2E_ROLE.rsplit("/", 1)[-1],
            output_prefixes=("",),
        )
        group = personalize.create_dataset_group(name="bench")["datasetGroupArn"]
        _wait(lambda: personalize.describe_dataset_group(datasetGroupArn=group)["datasetGroup"], "dataset group")
        for kind, (schema, frame) in datasets.items():
            key = f"{kind.lower()}.csv"
            s3.put_object(Bucket=E2E_BUCKET, Key=key, Body=_csv(frame))
            schema_arn = personalize.create_schema(name=f"bench-{kind.lower()}", schema=json.dumps(schema))["schemaArn"]
            dataset_arn = personalize.create_dataset(
                name=f"bench-{kind.lower()}", datasetGroupArn=group, datasetType=kind, schemaArn=schema_arn
            )["datasetArn"]
            _wait(
                lambda arn=dataset_arn: personalize.describe_dataset(datasetArn=arn)["dataset"],
                f"{kind} dataset",
            )
            job = personalize.create_dataset_import_job(
                jobName=f"bench-{kind.lower()}",
                datasetArn=dataset_arn,
                dataSource={"dataLocation": f"s3://{E2E_BUCKET}/{key}"},
                roleArn=E2E_ROLE,
            )["datasetImportJobArn"]
            _wait(
                lambda job=job: personalize.describe_dataset_import_job(datasetImportJobArn=job)["datasetImportJob"],
                f"{kind} import",
            )
        solution = personalize.create_solution(name="bench", datasetGroupArn=group, recipeArn=recipe_arn)
        version = personalize.create_solution_version(solutionArn=solution["solutionArn"])["solutionVersionArn"]
        log("    (mirror) training ...")
        _wait(
            lambda: personalize.describe_solution_version(solutionVersionArn=version)["solutionVersion"],
            "training",
        )
        tracker = personalize.create_event_tracker(name="bench", datasetGroupArn=group)
        _wait(
            lambda: personalize.describe_event_tracker(eventTrackerArn=tracker["eventTrackerArn"])["eventTracker"],
            "event tracker",
        )
        campaigns = {"default exploration": _campaign(personalize, "bench-default", version, None)}
        if RECIPES[recipe_arn].recipe_type == "USER_PERSONALIZATION" and "personalization" in RECIPES[recipe_arn].name:
            campaigns["explorationWeight=0"] = _campaign(
                personalize, "bench-no-exploration", version, {"explorationWeight": "0"}
            )
        log(f"    (mirror) sending events of {len(fold.users)} users ...")
        for user in fold.users:
            recent = fold.inputs[user].tail(RECENT_EVENTS)
            batch = [
                {
                    "eventType": str(row.EVENT_TYPE),
                    "itemId": str(row.ITEM_ID),
                    "sentAt": datetime.fromtimestamp(int(row.TIMESTAMP), UTC),
                    "eventValue": float(row.EVENT_VALUE),
                }
                for row in recent.itertuples(index=False)
            ]
            for start in range(0, len(batch), 10):
                events.put_events(
                    trackingId=tracker["trackingId"],
                    userId=user,
                    sessionId=f"bench-{user}",
                    eventList=batch[start : start + 10],
                )
        out: dict[str, list[list[str]]] = {}
        for label, campaign_arn in campaigns.items():
            lists = []
            for user, history in zip(fold.users, fold.histories, strict=True):
                answer = runtime.get_recommendations(
                    campaignArn=campaign_arn, userId=user, numResults=min(500, N + len(history))
                )
                seen = set(history)
                lists.append([i["itemId"] for i in answer["itemList"] if i["itemId"] not in seen][:N])
            out[label] = lists
        return out


def _campaign(personalize: Any, name: str, version: str, exploration: dict[str, str] | None) -> str:
    config = {"campaignConfig": {"itemExplorationConfig": exploration}} if exploration else {}
    arn = personalize.create_campaign(name=name, solutionVersionArn=version, minProvisionedTPS=1, **config)[
        "campaignArn"
    ]
    _wait(lambda: personalize.describe_campaign(campaignArn=arn)["campaign"], f"campaign {name}")
    return str(arn)


def summarise(runs: dict[str, list[dict[str, float]]], seconds: dict[str, list[float]]) -> dict[str, Any]:
    out = {}
    for model, folds in runs.items():
        values = {name: np.array([m[name] for m in folds]) for name in METRIC_NAMES}
        out[model] = {
            "folds": len(folds),
            "mean": {name: float(v.mean()) for name, v in values.items()},
            "std": {name: float(v.std(ddof=1)) if v.size > 1 else 0.0 for name, v in values.items()},
            "per_fold": {name: [float(x) for x in v] for name, v in values.items()},
            "seconds_per_fold": float(np.mean(seconds[model])),
        }
    return out


# --------------------------------------------------------------------------------------- targets


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    """PASS/FAIL/SKIP of each quality target on one dataset."""
    res = result["results"]
    out: list[dict[str, Any]] = []

    def add(name: str, status: str, detail: str) -> None:
        out.append({"target": name, "status": status, "detail": detail})

    batch, realtime, items = res.get("batch", {}), res.get("realtime", {}), res.get("item-to-item", {})
    baselines = {m: r for m, r in batch.items() if m.startswith("baseline:")}
    found = [m for m in ("aws-user-personalization", "aws-user-personalization-v2") if m in batch]
    if not found:
        add("User-Personalization >= 1.1x best baseline (batch)", "SKIP", "no User-Personalization results")
    for up in found:
        for metric in (NDCG10, MRR):
            name = f"{up} >= 1.1x best baseline on {SHORT[metric]} (batch)"
            if not baselines:
                add(name, "SKIP", "no baseline results")
                continue
            best = max(baselines, key=lambda m: baselines[m]["mean"][metric])
            mine, theirs = batch[up]["mean"][metric], baselines[best]["mean"][metric]
            ratio = mine / theirs if theirs else float("inf")
            add(name, "PASS" if ratio >= 1.1 else "FAIL", f"{mine:.4f} vs {best} {theirs:.4f}: {ratio:.3f}x")
        for metric in (NDCG10, MRR):
            name = f"{up} realtime {SHORT[metric]} >= 90% of its batch {SHORT[metric]}"
            if up not in realtime:
                add(name, "SKIP", "no realtime results")
                continue
            mine, ref = realtime[up]["mean"][metric], batch[up]["mean"][metric]
            share = mine / ref if ref else float("inf")
            add(name, "PASS" if share >= 0.9 else "FAIL", f"realtime {mine:.4f} vs batch {ref:.4f}: {share:.1%}")
    pop = items.get("baseline: popularity")
    for metric in (NDCG10, MRR):
        name = f"SIMS ahead of popularity on {SHORT[metric]} (item-to-item)"
        if "aws-sims" not in items or pop is None:
            add(name, "SKIP", "no SIMS results" if "aws-sims" not in items else "no popularity results")
            continue
        mine, theirs = items["aws-sims"]["mean"][metric], pop["mean"][metric]
        add(name, "PASS" if mine > theirs else "FAIL", f"aws-sims {mine:.4f} vs popularity {theirs:.4f}")
    return out


# ---------------------------------------------------------------------------------------- output


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
    }
    from personalize_kit.recipes.sequence.backend import load_tensorflow

    for module in ("numpy", "scipy", "pandas", "implicit", "tensorflow"):
        try:  # TensorFlow as the recipes import it (quietly, with their settings)
            loaded = load_tensorflow()[0] if module == "tensorflow" else importlib.import_module(module)
            info[module] = loaded.__version__
        except Exception:
            info[module] = None
    return info


def table(results: dict[str, Any]) -> list[str]:
    header = ["model", "folds", *(SHORT[m] for m in METRIC_NAMES), "s/fold"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for model, r in results.items():
        cells = [f"{r['mean'][m]:.4f} ± {r['std'][m]:.4f}" for m in METRIC_NAMES]
        lines.append(f"| {model} | {r['folds']} | " + " | ".join(cells) + f" | {r['seconds_per_fold']:.1f} |")
    return lines


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Quality benchmark: the mirror's recipes against baselines",
        "",
        f"- date: {report['date']}",
        f"- command: `{report['command']}`",
        f"- machine: {report['machine']['platform']}, {report['machine']['cpus']} CPUs, "
        f"Python {report['machine']['python']}, implicit {report['machine']['implicit']}",
        f"- split: holdout_split (10% of users held out, oldest 90% input / newest 10% truth), "
        f"{report['settings']['folds']} folds of seed {report['settings']['seed']}; mean ± std over folds",
        f"- interactions: ratings mapped with `{report['settings']['events']}` (as `prepare`)",
        f"- ALS baseline: {report['settings']['als']}; BPR baseline: {report['settings']['bpr']}",
        "- recency-item-knn: neighbours and decay tuned per data set (batch NDCG@10 on the first "
        f"{TUNING_FOLDS} folds, grid {list(NEIGHBOUR_GRID)} x {list(DECAY_GRID)}); the chosen ones are in its name",
        f"- {report['settings'].get('machine_note', '')}",
        "- batch: held-out users' input in training; realtime: held-out users not in training, input as "
        "recent_events (newest 100); item-to-item: query = last input item, truth = the next item",
        "- every model skips the held-out user's input items in the user tasks; lists of 25",
        "",
    ]
    if report["recipes"]:
        lines.append(
            "Recipes: "
            + ", ".join(f"{r['name']}" + (f" ({r['note']})" if r["note"] else "") for r in report["recipes"])
        )
    for name, reason in report["skipped"]:
        lines.append(f"- skipped {name}: {reason}")
    lines.append("")
    for dataset in report["datasets"]:
        lines += [
            f"## {dataset['name']}",
            "",
            f"{dataset['origin']}: {dataset['interactions']} interactions, {dataset['users']} users, "
            f"{dataset['items_interacted']} items interacted with, catalogue {dataset['catalogue_size']}; "
            f"{dataset['seconds']:.0f} s",
            "",
        ]
        for protocol, results in dataset["results"].items():
            lines += [f"### {protocol}", "", *table(results), ""]
            for model, note in dataset["notes"].get(protocol, {}).items():
                lines.append(f"- {model}: {note}")
        lines += ["### targets", ""]
        lines += [f"- **{t['status']}** {t['target']}: {t['detail']}" for t in dataset["targets"]]
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source",
        action="append",
        help="'synthetic' or a MovieLens folder, repeatable (default: synthetic, ml-100k, ml-latest-small)",
    )
    parser.add_argument("--interactions", type=int, default=100_000, help="size of the synthetic data (100000)")
    parser.add_argument("--folds", type=int, default=10, help="folds of held-out users (10: every user once)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the synthetic data (0)")
    parser.add_argument("--events", default="watch:3", help="rating -> event rules as prepare takes them (watch:3)")
    parser.add_argument(
        "--min-rating", type=float, help="keep ratings of at least this as watch events (same as --events watch:N)"
    )
    parser.add_argument("--protocol", action="append", choices=("batch", "realtime", "item-to-item"))
    parser.add_argument("--recipe", action="append", help="only these recipe names (default: all found)")
    parser.add_argument("--e2e", action="store_true", help="also run the realtime protocol through the mirror")
    parser.add_argument(
        "--ranking-folds",
        type=int,
        default=1,
        help="folds on which Personalized-Ranking recipes run (default 1, to save time)",
    )
    parser.add_argument(
        "--ranking-realtime",
        action="store_true",
        help="also run Personalized-Ranking recipes in the realtime protocol (default: batch only)",
    )
    parser.add_argument(
        "--note", default="the machine was shared with other work while this ran", help="a line for the results"
    )
    parser.add_argument(
        "--options",
        type=json.loads,
        default={},
        help='recipe keyword arguments by recipe name, JSON: {"aws-user-personalization": {"cooccurrence_weight": 8}}',
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "quality", help="results path without suffix")
    args = parser.parse_args(argv)
    RECIPE_OPTIONS.update(args.options)
    if args.min_rating is not None:
        args.events = f"watch:{args.min_rating:g}"
    protocols = args.protocol or ["batch", "realtime", "item-to-item"]
    if "item-to-item" in protocols and "batch" not in protocols:
        protocols = ["batch", *protocols]

    def log(message: str) -> None:
        print(message, flush=True)

    recipes, skipped = discover(args.recipe)
    for found in recipes:
        log(f"recipe {found.label}: {found.cls.__module__}.{found.cls.__name__} {found.note}".rstrip())
    for name, reason in skipped:
        log(f"skipping {name}: {reason}")
    als = make_als()
    report: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": shlex.join([Path(sys.executable).name, *sys.argv]) if argv is None else shlex.join(argv),
        "machine": machine(),
        "settings": {
            "folds": args.folds,
            "seed": args.seed,
            "events": args.events,
            "protocols": protocols,
            "als": f"{als.name} {als.params}",
            "bpr": f"{BPR().name} {BPR().params}",
            "machine_note": args.note,
            "recipe_options": args.options,
        },
        "recipes": [
            {"name": r.label, "class": f"{r.cls.__module__}:{r.cls.__name__}", "note": r.note} for r in recipes
        ],
        "skipped": skipped,
        "datasets": [],
    }
    for source in args.source or default_sources():
        started = time.perf_counter()
        dataset = load(source, args.interactions, args.seed, args.events)
        log(f"\n{dataset.name} ({dataset.origin}): {len(dataset.interactions)} interactions")
        result = evaluate_dataset(
            dataset,
            recipes,
            args.folds,
            args.seed,
            protocols,
            args.e2e,
            log,
            ranking_realtime=args.ranking_realtime,
            ranking_folds=args.ranking_folds,
        )
        result["seconds"] = time.perf_counter() - started
        result["targets"] = targets(result)
        report["datasets"].append(result)
        for protocol, results in result["results"].items():
            log(f"\n{dataset.name} / {protocol}")
            for line in table(results):
                log(line)
        for t in result["targets"]:
            log(f"{t['status']:<4} {t['target']}: {t['detail']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for suffix, text in ((".json", json.dumps(report, indent=2) + "\n"), (".md", markdown(report))):
        path = args.out.with_suffix(suffix)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as fh:
            fh.write(text)
        os.replace(fh.name, path)
        log(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
