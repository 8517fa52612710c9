"""The pipeline's domain steps: the project file's ``domain:`` and ``recommenders:``, one recommender per use
case of a domain dataset group, and their samples.

:func:`ensure_recommender` is idempotent like every ``ensure_*`` step (adopt the recommender of that name,
replace a failed one, start a stopped one); :func:`run_recommenders` makes every recommender of the project
and asks each for sample recommendations once it is ACTIVE.

>>> from personalize_kit.sdk import load_project, make_backend, run_pipeline
>>> project = load_project("project.yaml")   # domain: video-on-demand           # doctest: +SKIP
>>> [r.outcome.name for r in run_pipeline(project, make_backend("local", project)).recommenders]  # doctest: +SKIP
['movielens-top-picks', 'movielens-because-you-watched-x', ...]
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from personalize_kit.domains import EVENT_MAPPINGS, USE_CASES, UseCase, domain_name, use_case, use_cases
from personalize_kit.exceptions import ProjectFileError
from personalize_kit.kinds import ACTIVE, INACTIVE
from personalize_kit.recipes import RECIPE_ARN_PREFIX
from personalize_kit.sdk._clients import client
from personalize_kit.sdk._ensure import Options, Outcome, adopt, conflict, create, existing, settle, with_replaced
from personalize_kit.sdk.project import RecommenderConfig, _Reader
from personalize_kit.sdk.resources import arn

logger = logging.getLogger(__name__)


@dataclass
class RecommenderRun:
    """A recommender the pipeline made or adopted, its use case and its sample recommendations."""

    use_case: UseCase
    outcome: Outcome
    samples: list[tuple[str, list[str]]] = field(default_factory=list)


def parse_domain(root: _Reader) -> str | None:
    """The project file's ``domain:`` as the service names it, or ``None`` (a custom dataset group)."""
    value = root.get("domain", str)
    try:
        return None if value is None else domain_name(value)
    except ValueError as exc:
        raise ProjectFileError(f"domain: {exc}") from None


def default_event_mapping(domain: str | None) -> str:
    """``data.event_mapping`` when the project file gives none: the domain's event types, else ``watch:3``."""
    return EVENT_MAPPINGS[domain] if domain else "watch:3"


def parse_recommenders(root: _Reader, domain: str | None) -> list[RecommenderConfig]:
    """The ``recommenders:`` of a domain project (default: one per use case of the domain)."""
    raw = root.get("recommenders", list)
    if domain is None:
        if raw:
            raise ProjectFileError("recommenders need a domain: add domain: video-on-demand (or e-commerce)")
        return []
    if raw is None:
        return [RecommenderConfig(case.name) for case in use_cases(domain)]
    if not raw:
        raise ProjectFileError("recommenders must list at least one use case (or be left out for all of them)")
    configs = []
    for i, item in enumerate(raw):
        reader = _Reader(item if not isinstance(item, str) else {"use_case": item}, f"recommenders[{i}]")
        value, name = reader.get("use_case", str), reader.name("name")
        reader.done()
        if value is None:
            raise ProjectFileError(f"recommenders[{i}].use_case is required, e.g. use_case: most-popular")
        try:
            configs.append(RecommenderConfig(use_case(value, domain).name, name))
        except ValueError as exc:
            raise ProjectFileError(f"recommenders[{i}].use_case: {exc}") from None
    return configs


def ensure_recommender(
    dataset_group_arn: str,
    name: str,
    recipe_arn: str,
    *,
    session: boto3.Session | None = None,
    options: Options | None = None,
) -> Outcome:
    """Create the recommender of use case ``recipe_arn``, or adopt the one of that name (started again if it
    was stopped); a failed one is replaced, one of another use case or group is a conflict."""
    options = options or Options()
    personalize = client("personalize", session)
    target = arn("recommender", name, session=session)
    found, replaced = existing(personalize, "recommender", target, options)
    if found is not None:
        if found.get("recipeArn") != recipe_arn or found.get("datasetGroupArn") != dataset_group_arn:
            return conflict(
                options,
                "recommender",
                name,
                target,
                f"recommender {name} exists for {found.get('recipeArn', '').rsplit('/', 1)[-1]} in "
                f"{found.get('datasetGroupArn', '').rsplit('/', 1)[-1]}; give this one another name "
                "(recommenders[].name in the project file)",
                found,
            )
        if found.get("status") == INACTIVE:
            if options.plan:
                return Outcome("recommender", name, target, "update", "stopped: would be started", found)
            personalize.start_recommender(recommenderArn=target)
            body = settle(personalize, "recommender", target, options)
            return Outcome("recommender", name, target, "updated", "was stopped: started", body)
        return adopt(personalize, "recommender", name, target, found, options)
    made = create(
        personalize,
        "recommender",
        name,
        target,
        lambda: personalize.create_recommender(name=name, datasetGroupArn=dataset_group_arn, recipeArn=recipe_arn)[
            "recommenderArn"
        ],
        options,
        recipe_arn.rsplit("/", 1)[-1],
    )
    return with_replaced(made, replaced, options)


def run_recommenders(
    project: Any, group_arn: str, *, session: boto3.Session | None, options: Options, log: Callable
) -> list[RecommenderRun]:
    """One recommender per ``project.recommenders`` entry, each waited for (ACTIVE) unless planning."""
    runs = []
    for config in project.recommenders:
        case = USE_CASES[RECIPE_ARN_PREFIX + config.use_case]
        made = ensure_recommender(
            group_arn, project.recommender_name(config), case.arn, session=session, options=options
        )
        runs.append(RecommenderRun(case, log(made)))
    return runs


def samples(run: RecommenderRun, interactions: Path, *, session: boto3.Session | None) -> list[tuple[str, list[str]]]:
    """Five recommendations from the recommender for the data's first user (and first item, for a related-items
    use case)."""
    if run.outcome.description.get("status", ACTIVE) != ACTIVE:
        return []
    with open(interactions, newline="", encoding="utf-8") as handle:
        first = next(csv.DictReader(handle))
    query: dict[str, Any] = {}
    if run.use_case.needs_user:
        query["userId"] = first["USER_ID"]
    if run.use_case.recipe_type == "RELATED_ITEMS":
        query["itemId"] = first["ITEM_ID"]
    runtime = client("personalize-runtime", session)
    answer = runtime.get_recommendations(recommenderArn=run.outcome.arn, numResults=5, **query)
    who = " ".join(f"{'user' if k == 'userId' else 'item'} {v}" for k, v in query.items())
    return [(who, [entry["itemId"] for entry in answer["itemList"]])]


__all__ = [
    "RecommenderRun",
    "default_event_mapping",
    "ensure_recommender",
    "parse_domain",
    "parse_recommenders",
    "run_recommenders",
    "samples",
]
