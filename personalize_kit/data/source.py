"""The source-neutral raw data that loaders and the synthetic generator produce and preparation consumes.

Ratings arrive as a stream of :class:`pyarrow.Table` chunks so that inputs of any size are processed
with bounded memory; item and user tables are small enough to be held as pandas frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

#: Schema of every ratings chunk: ids as strings, rating as float, timestamp in Unix epoch seconds.
RATINGS_SCHEMA = pa.schema(
    [
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("rating", pa.float64()),
        pa.field("timestamp", pa.int64()),
    ]
)

#: Columns of :attr:`RawDataset.items` (``creation_timestamp`` may be missing or null).
ITEM_COLUMNS = ("item_id", "title", "genres", "creation_timestamp")

#: Columns of :attr:`RawDataset.users`: any of the demographic columns may be missing.
USER_COLUMNS = ("user_id", "age", "gender", "occupation", "location")


@dataclass(frozen=True)
class SourceProblem:
    """Something in the source that was worked around rather than refused (e.g. a malformed optional date):
    reported as a warning on ``lines`` of ``file``, with the count."""

    file: str
    code: str
    field: str | None
    message: str
    lines: tuple[int, ...]


@dataclass
class RawDataset:
    """Raw recommender data before it is put into Amazon Personalize's format.

    - ``ratings()`` returns a fresh iterator of ``pyarrow.Table`` chunks with :data:`RATINGS_SCHEMA`;
      it can be called more than once (each call reads the source again).
    - ``items``: pandas frame with ``item_id`` (str), ``title`` (str), ``genres`` (str, ``|``-joined,
      ``""`` when none) and optionally ``creation_timestamp`` (Int64, epoch seconds).
    - ``users``: pandas frame with ``user_id`` (str) and any of ``age`` (Int64), ``gender``,
      ``occupation``, ``location`` (str); ``None`` when the source has no user data.
    - ``n_ratings``: the number of rating rows when known up front (for progress bars), else ``None``.
    - ``origin``: where the data came from, for messages ("ml-100k at /path", "synthetic seed=7").
    - ``files``: the source file that each part was read from, keyed ``ratings``/``items``/``users``,
      so that problems can be reported against the user's own files.
    - ``first_line``: the physical line number of the first data row of each file in ``files`` (2 for a file
      with a header row, the default 1 otherwise), so that a row's position maps to its line.
    - ``problems``: what the loader worked around (:class:`SourceProblem`), reported by ``prepare`` as warnings.
    """

    name: str
    ratings: Callable[[], Iterator[pa.Table]]
    items: pd.DataFrame | None
    users: pd.DataFrame | None
    n_ratings: int | None = None
    origin: str = ""
    files: dict[str, str] = field(default_factory=dict)
    first_line: dict[str, int] = field(default_factory=dict)
    problems: list[SourceProblem] = field(default_factory=list)
