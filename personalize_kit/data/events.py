"""How ratings become Personalize interaction events.

A mapping is an ordered list of rules ``EVENT_TYPE:MIN[-MAX]`` (inclusive bounds on the rating); the first rule
that matches a rating names its event type, and a rating no rule matches is not kept. The default keeps ratings
of 3 or more as ``watch`` events, with the rating as ``EVENT_VALUE``.

>>> mapping = EventMapping.parse("love:4.5-5,watch:3")
>>> mapping.apply(pa.array([5.0, 4.0, 2.0])).to_pylist()
['love', 'watch', None]
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa

_RULE = re.compile(r"^\s*([^:,|\s]+)\s*:\s*(-?\d+(?:\.\d+)?)\s*(?:-\s*(-?\d+(?:\.\d+)?))?\s*$")


@dataclass(frozen=True)
class EventRule:
    """Ratings in ``[min_rating, max_rating]`` become events of ``event_type``."""

    event_type: str
    min_rating: float
    max_rating: float = math.inf

    def __post_init__(self) -> None:
        from personalize_kit.data.schemas import RESERVED_KEYWORDS

        if not self.event_type or len(self.event_type) > 256 or any(c in self.event_type for c in ',|"\n'):
            raise ValueError(
                f"event type {self.event_type!r} must be 1-256 characters without commas, '|', quotes or newlines"
            )
        if self.event_type.upper() in RESERVED_KEYWORDS:
            raise ValueError(f"event type {self.event_type!r} is a reserved keyword; choose another name")
        if self.min_rating > self.max_rating:
            raise ValueError(
                f"rule {self}: the minimum rating {self.min_rating} is above the maximum {self.max_rating}"
            )

    def __str__(self) -> str:
        high = "" if math.isinf(self.max_rating) else f"-{self.max_rating:g}"
        return f"{self.event_type}:{self.min_rating:g}{high}"


@dataclass(frozen=True)
class EventMapping:
    """Ordered rating -> event type rules, and what goes into ``EVENT_VALUE`` (the rating, or nothing)."""

    rules: tuple[EventRule, ...] = (EventRule("watch", 3.0),)
    value: Literal["rating", "none"] = "rating"

    def __post_init__(self) -> None:
        if not self.rules:
            raise ValueError("an event mapping needs at least one rule, e.g. 'watch:3'")
        if self.value not in ("rating", "none"):
            raise ValueError(f"event value must be 'rating' or 'none', not {self.value!r}")

    @classmethod
    def parse(cls, text: str, value: Literal["rating", "none"] = "rating") -> EventMapping:
        """Parse ``"EVENT:MIN[-MAX],EVENT:MIN[-MAX],..."``, e.g. ``"watch:3"`` or ``"love:4.5-5,watch:3-4"``."""
        rules = []
        for part in text.split(","):
            match = _RULE.match(part)
            if not match:
                raise ValueError(
                    f"event mapping rule {part.strip()!r} is not of the form EVENT:MIN or EVENT:MIN-MAX "
                    "(e.g. 'watch:3' or 'love:4.5-5')"
                )
            name, low, high = match.groups()
            rules.append(EventRule(name, float(low), float(high) if high is not None else math.inf))
        return cls(tuple(rules), value)

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.rules)

    def apply(self, ratings: pa.Array | pa.ChunkedArray) -> pa.DictionaryArray:
        """The event type of each rating (null where no rule matches, or the rating is null), dictionary-encoded."""
        if isinstance(ratings, pa.ChunkedArray):
            ratings = ratings.combine_chunks()
        values = ratings.to_numpy(zero_copy_only=False)
        known = ~np.asarray(ratings.is_null())
        codes = np.full(len(values), -1, dtype=np.int8)
        for index in range(len(self.rules) - 1, -1, -1):  # the first rule that matches wins
            rule = self.rules[index]
            with np.errstate(invalid="ignore"):
                codes[known & (values >= rule.min_rating) & (values <= rule.max_rating)] = index
        return pa.DictionaryArray.from_arrays(
            pa.array(codes, pa.int8(), mask=codes < 0), pa.array([r.event_type for r in self.rules], pa.string())
        )

    def describe_unmapped(self) -> str:
        return f"rating matches no event mapping rule ({self})"
