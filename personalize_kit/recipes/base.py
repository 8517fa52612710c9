"""The one interface every recipe implements, so that the local mirror can train and serve any of them.

A recipe is fitted on plain pandas frames, answers ``recommend`` and ``rank`` with ``(item_id, score)``
pairs (``score`` is ``None`` where the service gives no score), and saves itself to a directory in open
formats (``.npz`` written with ``allow_pickle=False``, JSON) so that a trained model can be inspected and
served by another process.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from personalize_kit.exceptions import RecipeInputError

#: What ``recommend`` and ``rank`` return: item ids, best first, with a score or ``None``.
Ranked = list[tuple[str, float | None]]

#: A hyperparameter's range: ``("integer", low, high)``, ``("continuous", low, high)`` or
#: ``("categorical", (allowed, values))``, as the service's ``DescribeAlgorithm`` names them.
Range = tuple[Any, ...]


def check_hyperparameters(
    ranges: Mapping[str, Range],
    defaults: Mapping[str, str],
    hyperparameters: Mapping[str, str] | None,
    *,
    recipe: str,
) -> list[str]:
    """Messages for hyperparameters a recipe does not take or that are outside their ranges (empty: fine).

    Values are strings, as CreateSolution takes them; a ``min_X``/``max_X`` pair must stay ordered, the
    value not given taken from ``defaults``.

    >>> check_hyperparameters({"bptt": ("integer", 2, 32)}, {"bptt": "32"}, {"bptt": "1"}, recipe="r")
    ['bptt must be an integer in [2, 32], not 1']
    """
    errors: list[str] = []
    values: dict[str, float] = {}
    for name, raw in (hyperparameters or {}).items():
        spec = ranges.get(name)
        if spec is None:
            known = ", ".join(sorted(ranges)) or "none"
            errors.append(f"{name} is not a hyperparameter of {recipe}; it takes {known}")
            continue
        text = str(raw).strip()
        if spec[0] == "categorical":
            if text.lower() not in spec[1]:
                errors.append(f"{name} must be one of {', '.join(spec[1])}, not {raw}")
            continue
        kind, low, high = spec
        try:
            number = float(int(text)) if kind == "integer" else float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or not low <= number <= high:
            article = "an integer" if kind == "integer" else "a number"
            errors.append(f"{name} must be {article} in [{low}, {high}], not {raw}")
            continue
        values[name] = number
    if not errors:
        for low_name in sorted(n for n in ranges if n.startswith("min_")):
            high_name = "max_" + low_name[4:]
            if high_name not in ranges or (low_name not in values and high_name not in values):
                continue
            low_value = values.get(low_name, float(defaults[low_name]))
            high_value = values.get(high_name, float(defaults[high_name]))
            if low_value >= high_value:
                errors.append(f"{low_name} ({low_value}) must be less than {high_name} ({high_value})")
    return errors


class Recipe(ABC):
    """A trainable recommender with the lifecycle of an Amazon Personalize recipe.

    ``interactions`` has ``USER_ID``, ``ITEM_ID``, ``TIMESTAMP`` (epoch seconds) and optionally
    ``EVENT_TYPE`` / ``EVENT_VALUE``; ``items`` and ``users`` carry ``ITEM_ID`` / ``USER_ID`` plus metadata
    columns, or are ``None``. ``recent_events`` passed at serving time is a frame of the same columns as
    ``interactions`` holding the user's newest events (events recorded after training included).

    >>> from personalize_kit.recipes.popularity import PopularityCount
    >>> frame = pd.DataFrame({"USER_ID": ["u1", "u2"], "ITEM_ID": ["a", "a"], "TIMESTAMP": [1, 2]})
    >>> PopularityCount().fit(frame).recommend(user_id="u1", n=1)
    [('a', None)]
    """

    #: The recipe's name in the service, e.g. ``"aws-popularity-count"``.
    name: ClassVar[str]
    #: The service's recipe type: ``USER_PERSONALIZATION``, ``PERSONALIZED_RANKING``, ``RELATED_ITEMS`` or
    #: ``PERSONALIZED_ACTIONS``.
    recipe_type: ClassVar[str]
    #: Whether ``fit`` also takes ``actions=`` and ``action_interactions=`` frames (the Next-Best-Action datasets).
    uses_actions: ClassVar[bool] = False
    #: Hyperparameters with their defaults (strings, as the service takes them).
    default_hyperparameters: ClassVar[Mapping[str, str]] = {}
    #: Whether ``recent_events`` changes what the model serves (the mirror skips reading them otherwise).
    reads_recent_events: ClassVar[bool] = True

    #: Tunable hyperparameters and their ranges in the service (see :data:`Range`); empty: none.
    hyperparameter_ranges: ClassVar[Mapping[str, Range]] = {}
    #: Names (ranged in :attr:`hyperparameter_ranges`) that CreateSolution takes in the solution config's
    #: ``featureTransformationParameters``; ``None``: the recipe reads none (that map is stored, not read).
    feature_transformation_parameters: ClassVar[tuple[str, ...] | None] = None
    #: Whether training needs the Interactions dataset's minimum (1000 interactions, 25 users with 2 or more).
    needs_interactions: ClassVar[bool] = True
    #: Whether training needs an Items dataset with rows (the version fails without one).
    needs_items: ClassVar[bool] = False
    #: Whether serving first passes the events recorded after training to :meth:`with_events`
    #: (Trending-Now counts new events without a new solution version).
    reads_new_events: ClassVar[bool] = False
    #: Whether ``recommend`` and ``rank`` take ``context=`` (GetRecommendations' contextual metadata).
    uses_context: ClassVar[bool] = False

    @classmethod
    def solution_parameters(cls, config: Mapping[str, Any] | None) -> dict[str, str]:
        """What ``fit`` takes from a solution config: its ``algorithmHyperParameters`` and, for a recipe that
        reads them, its ``featureTransformationParameters``.

        >>> from personalize_kit.recipes.trending import TrendingNow
        >>> TrendingNow.solution_parameters({"featureTransformationParameters": {"trend_discovery_frequency": "1 day"}})
        {'trend_discovery_frequency': '1 day'}
        """
        config = config or {}
        values = {key: str(value) for key, value in (config.get("algorithmHyperParameters") or {}).items()}
        if cls.feature_transformation_parameters is not None:
            values |= {key: str(value) for key, value in (config.get("featureTransformationParameters") or {}).items()}
        return values

    @classmethod
    def check_feature_transformation(cls, parameters: Mapping[str, str] | None) -> list[str]:
        """One message per problem of a solution's ``featureTransformationParameters`` (empty: fine, or not read).

        >>> from personalize_kit.recipes.trending import TrendingNow
        >>> TrendingNow.check_feature_transformation({"trend_discovery_frequency": "5 minutes"})
        ['trend_discovery_frequency must be one of 30 minutes, 1 hour, 2 hours, 3 hours, 1 day, not 5 minutes']
        """
        names = cls.feature_transformation_parameters
        if names is None or not parameters:
            return []
        ranges = {name: cls.hyperparameter_ranges[name] for name in names}
        return check_hyperparameters(ranges, cls.default_hyperparameters, parameters, recipe=cls.name)

    def with_events(self, events: pd.DataFrame) -> Recipe:
        """The model with ``events`` recorded after its training counted (see :attr:`reads_new_events`)."""
        return self

    @classmethod
    def check_hyperparameters(cls, hyperparameters: Mapping[str, str] | None) -> list[str]:
        """One message per problem of ``hyperparameters`` (service strings); empty when all is well.

        >>> from personalize_kit.recipes.popularity import PopularityCount
        >>> PopularityCount.check_hyperparameters({"bptt": "8"})
        ['bptt is not a hyperparameter of aws-popularity-count; it takes none']
        """
        return check_hyperparameters(
            cls.hyperparameter_ranges, cls.default_hyperparameters, hyperparameters, recipe=cls.name
        )

    @classmethod
    def resolved_hyperparameters(cls, hyperparameters: Mapping[str, str] | None) -> dict[str, str]:
        """The defaults with ``hyperparameters`` (as strings) over them; :class:`RecipeInputError` naming every
        problem when one is not the recipe's or out of its range (what each ``fit`` starts with).

        >>> from personalize_kit.recipes.sims import Sims
        >>> Sims.resolved_hyperparameters({"min_cointeraction_count": 5})["min_cointeraction_count"]
        '5'
        """
        given = {key: str(value) for key, value in (hyperparameters or {}).items()}
        problems = cls.check_hyperparameters(given)
        if problems:
            raise RecipeInputError(f"invalid hyperparameters for {cls.name}: " + "; ".join(problems))
        return dict(cls.default_hyperparameters) | given

    @abstractmethod
    def fit(
        self,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        users: pd.DataFrame | None = None,
        hyperparameters: Mapping[str, str] | None = None,
    ) -> Recipe:
        """Train on the frames and return ``self``."""

    @abstractmethod
    def recommend(
        self,
        *,
        user_id: str | None = None,
        item_id: str | None = None,
        n: int = 25,
        recent_events: pd.DataFrame | None = None,
        exclude: Sequence[str] = (),
    ) -> Ranked:
        """Return at most ``n`` items for a user (or related to an item), best first, skipping ``exclude``."""

    @abstractmethod
    def rank(self, user_id: str, items: Sequence[str], recent_events: pd.DataFrame | None = None) -> Ranked:
        """Order ``items`` for ``user_id``; items the model does not know go last, unscored."""

    @property
    @abstractmethod
    def catalogue(self) -> np.ndarray:
        """Every item id the model can recommend (``numpy`` array of ``str``)."""

    @abstractmethod
    def _save_arrays(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Return the arrays (for ``model.npz``) and the JSON-able settings (for ``model.json``)."""

    @classmethod
    @abstractmethod
    def _from_arrays(cls, arrays: Mapping[str, np.ndarray], settings: Mapping[str, Any]) -> Recipe:
        """Rebuild a fitted recipe from what :meth:`_save_arrays` returned."""

    def save(self, directory: str | Path) -> Path:
        """Write ``model.npz`` and ``model.json`` into ``directory`` atomically; return the directory.

        >>> # PopularityCount().fit(frame).save("models/v1")
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        arrays, settings = self._save_arrays()
        for name, payload in (
            ("model.npz", lambda fh: np.savez(fh, **arrays)),  # type: ignore[arg-type]
            ("model.json", lambda fh: fh.write(json.dumps({"recipe": self.name, **settings}).encode())),
        ):
            fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
            try:
                with os.fdopen(fd, "wb") as fh:
                    payload(fh)
                os.replace(tmp, directory / name)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> Recipe:
        """Read a recipe written by :meth:`save` (no pickles are ever loaded)."""
        directory = Path(directory)
        settings = json.loads((directory / "model.json").read_text())
        with np.load(directory / "model.npz", allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
        return cls._from_arrays(arrays, settings)
