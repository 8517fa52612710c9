"""Hyperparameter optimization (``performHPO``): a small seeded random search, scored on a validation split.

``solutionConfig.hpoConfig`` names the objective (``hpoObjective``: ``type`` Maximize or Minimize of one of
GetSolutionMetrics' ``metricName``), the budget (``hpoResourceConfig.maxNumberOfTrainingJobs``, capped
locally at :data:`MAX_LOCAL_JOBS`; ``maxParallelTrainingJobs`` is checked, the mirror trains one at a
time) and the ranges (``algorithmHyperParameterRanges``: integer, continuous, categorical), which must lie
inside the recipe's tunable ranges (its ``hyperparameter_ranges`` less the featurization ones, as
DescribeAlgorithm lists them). Without ranges every tunable hyperparameter of the recipe is searched over
its whole range. Candidates are drawn with a fixed seed (distinct, up to the budget), each trained on the
training users of the metrics split and scored on a validation split of them; the best (the first of
equals) is kept and reported as ``tunedHPOParams``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping
from typing import Any

from personalize_kit.local.exceptions import InvalidInputException
from personalize_kit.metrics import METRIC_NAMES
from personalize_kit.recipes.base import Range

logger = logging.getLogger(__name__)

#: Most candidates the mirror trains for one version, whatever ``maxNumberOfTrainingJobs`` says.
MAX_LOCAL_JOBS = 8
#: Candidates when ``hpoResourceConfig`` names none.
DEFAULT_JOBS = 4
SEED = 0
OBJECTIVE_TYPES = ("Maximize", "Minimize")
#: The ``algorithmHyperParameterRanges`` member of each value type.
RANGE_MEMBERS = {
    "integer": "integerHyperParameterRanges",
    "continuous": "continuousHyperParameterRanges",
    "categorical": "categoricalHyperParameterRanges",
}


def tunable(ranges: Mapping[str, Range]) -> dict[str, Range]:
    """The ranges HPO may search (featurization hyperparameters are not tunable)."""
    from personalize_kit.local.control.algorithms import _FEATURIZATION  # the control plane imports this module

    return {name: spec for name, spec in ranges.items() if name not in _FEATURIZATION}


def _resource(config: dict[str, Any], key: str) -> int | None:
    raw = (config.get("hpoResourceConfig") or {}).get(key)
    if raw is None:
        return None
    try:
        value = int(str(raw).strip())
    except ValueError:
        value = 0
    if value < 1:
        raise InvalidInputException(f"hpoConfig.hpoResourceConfig.{key} must be a positive integer, not {raw!r}.")
    return value


def _objective(config: dict[str, Any]) -> tuple[str, str]:
    objective = config.get("hpoObjective")
    if not objective:
        raise InvalidInputException("performHPO needs solutionConfig.hpoConfig.hpoObjective (type and metricName).")
    kind, metric = objective.get("type"), objective.get("metricName")
    if kind not in OBJECTIVE_TYPES:
        raise InvalidInputException(
            f"hpoConfig.hpoObjective.type {kind!r} is not valid: use {' or '.join(OBJECTIVE_TYPES)}."
        )
    if metric not in METRIC_NAMES:
        raise InvalidInputException(
            f"hpoConfig.hpoObjective.metricName {metric!r} is not a metric: use one of {', '.join(METRIC_NAMES)}."
        )
    return kind, metric


def _range_of(recipe: str, allowed: Mapping[str, Range], value_type: str, entry: dict[str, Any]) -> Range:
    name = entry.get("name")
    where = f"hpoConfig.algorithmHyperParameterRanges.{RANGE_MEMBERS[value_type]} {name!r}"
    spec = allowed.get(name or "")
    if spec is None:
        raise InvalidInputException(
            f"{where}: not a tunable hyperparameter of {recipe}; it tunes {', '.join(sorted(allowed)) or 'none'}."
        )
    if spec[0] != value_type:
        raise InvalidInputException(f"{where}: {name} is a {spec[0]} hyperparameter; give it a {spec[0]} range.")
    if value_type == "categorical":
        values = [str(v).strip().lower() for v in entry.get("values") or []]
        bad = [v for v in values if v not in spec[1]]
        if not values or bad:
            raise InvalidInputException(f"{where}: values must be some of {', '.join(spec[1])}, not {values}.")
        return ("categorical", tuple(dict.fromkeys(values)))
    low, high = entry.get("minValue"), entry.get("maxValue")
    if low is None or high is None or not spec[1] <= low <= high <= spec[2]:
        raise InvalidInputException(
            f"{where}: [{low}, {high}] must be an ordered range inside the recipe's [{spec[1]}, {spec[2]}]."
        )
    return (value_type, low, high)


def parse(recipe: str, recipe_ranges: Mapping[str, Range], config: dict[str, Any] | None) -> dict[str, Any]:
    """The search ``hpoConfig`` asks for: objective, number of candidates and ranges; refused as the service
    does when it names what the recipe cannot tune or a range outside the recipe's."""
    config = config or {}
    allowed = tunable(recipe_ranges)
    if not allowed:
        raise InvalidInputException(f"performHPO: recipe {recipe} has no tunable hyperparameters.")
    kind, metric = _objective(config)
    jobs = _resource(config, "maxNumberOfTrainingJobs") or DEFAULT_JOBS
    parallel = _resource(config, "maxParallelTrainingJobs")
    if parallel is not None and parallel > jobs:
        raise InvalidInputException(
            f"hpoConfig.hpoResourceConfig.maxParallelTrainingJobs ({parallel}) exceeds "
            f"maxNumberOfTrainingJobs ({jobs})."
        )
    given = config.get("algorithmHyperParameterRanges") or {}
    ranges: dict[str, Range] = {}
    for value_type, member in RANGE_MEMBERS.items():
        for entry in given.get(member) or []:
            if entry.get("name") in ranges:
                raise InvalidInputException(f"hpoConfig: {entry['name']} has more than one range.")
            ranges[entry.get("name")] = _range_of(recipe, allowed, value_type, entry)
    return {"type": kind, "metric": metric, "jobs": min(jobs, MAX_LOCAL_JOBS), "ranges": ranges or allowed}


def _draw(spec: Range, rng: random.Random) -> str:
    if spec[0] == "categorical":
        return rng.choice(list(spec[1]))
    if spec[0] == "integer":
        return str(rng.randint(int(spec[1]), int(spec[2])))
    return repr(round(rng.uniform(float(spec[1]), float(spec[2])), 4))


def candidates(ranges: Mapping[str, Range], jobs: int, seed: int = SEED) -> list[dict[str, str]]:
    """Up to ``jobs`` distinct assignments of the ranges, drawn with ``seed`` (fewer when the space is smaller).

    >>> candidates({"bptt": ("integer", 2, 3)}, 5)
    [{'bptt': '3'}, {'bptt': '2'}]
    """
    rng = random.Random(seed)
    found: list[dict[str, str]] = []
    for _ in range(jobs * 50):
        if len(found) == jobs:
            break
        candidate = {name: _draw(spec, rng) for name, spec in sorted(ranges.items())}
        if candidate not in found:
            found.append(candidate)
    return found


#: Scores one assignment of hyperparameters: its metrics (GetSolutionMetrics' keys).
Score = Callable[[dict[str, str]], dict[str, float]]


def search(search_config: dict[str, Any], fixed: dict[str, str], score: Score) -> dict[str, str]:
    """The best of the candidates (``fixed`` hyperparameters under each), by the objective; the first of equals."""
    sign = 1.0 if search_config["type"] == "Maximize" else -1.0
    best: tuple[float, dict[str, str]] | None = None
    for candidate in candidates(search_config["ranges"], search_config["jobs"]):
        value = float(score({**fixed, **candidate})[search_config["metric"]])
        logger.info("HPO candidate %s: %s = %s", candidate, search_config["metric"], value)
        if best is None or sign * value > sign * best[0]:
            best = (value, candidate)
    assert best is not None
    return best[1]


__all__ = ["MAX_LOCAL_JOBS", "candidates", "parse", "search", "tunable"]
