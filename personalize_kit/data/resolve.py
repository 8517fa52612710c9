"""Turn what the user names as a source (a directory, ``synthetic``, or nothing) into a :class:`RawDataset`.

Explicit argument beats environment beats default. The default is MovieLens ml-latest-small from the local
cache, downloaded on first use where the machine is online; where it cannot be had, the synthetic generator,
with a one-line notice that says so and how to point at real files.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from personalize_kit.data.source import RawDataset
from personalize_kit.exceptions import DataSourceError, DownloadError, shorten

DEFAULT_RELEASE = "ml-latest-small"
#: Interactions in the synthetic stand-in for the default data (about the size of ml-latest-small).
DEFAULT_SYNTHETIC_INTERACTIONS = 100_000


def offline() -> bool:
    """True when ``PERSONALIZE_KIT_OFFLINE`` is set: never try to download."""
    return os.environ.get("PERSONALIZE_KIT_OFFLINE", "").lower() not in ("", "0", "false", "no")


def open_source(
    source: str | Path | None = None,
    *,
    interactions: int | None = None,
    seed: int = 0,
    chunk_rows: int = 1_000_000,
    notice: Callable[[str], None] | None = None,
) -> RawDataset:
    """Open a raw data source.

    - a directory: a MovieLens release in any GroupLens layout (ml-100k, ml-1m, the csv family);
    - ``"synthetic"``: the generator, with ``interactions`` rows (default 100,000) and ``seed``;
    - ``None`` / ``"default"``: ml-latest-small from the cache or GroupLens, else the synthetic stand-in.

    >>> raw = open_source("synthetic", interactions=5_000, seed=7)   # doctest: +SKIP
    """
    notice = notice or (lambda message: print(message, file=sys.stderr))
    if interactions is not None and (isinstance(interactions, bool) or interactions < 1):
        raise DataSourceError(f"interactions must be a whole number of at least 1, not {interactions!r}")
    if chunk_rows < 1:
        raise DataSourceError(f"chunk_rows must be a whole number of at least 1, not {chunk_rows!r}")
    if source is None or str(source) == "default":
        return _default(interactions, seed, chunk_rows, notice)
    if str(source) == "synthetic":
        return _synthetic(interactions or DEFAULT_SYNTHETIC_INTERACTIONS, seed, chunk_rows)
    path = Path(source).expanduser()
    if not path.exists():
        raise DataSourceError(
            f"source {shorten(str(source))!r} does not exist; pass --source DIR with a MovieLens folder, "
            "or --source synthetic"
        )
    from personalize_kit.data.movielens import load_movielens

    return load_movielens(path, chunk_rows=chunk_rows)


def _synthetic(interactions: int, seed: int, chunk_rows: int) -> RawDataset:
    from personalize_kit.data.synthetic import SyntheticConfig, generate

    return generate(SyntheticConfig(n_interactions=interactions, seed=seed, chunk_rows=chunk_rows))


def _default(interactions: int | None, seed: int, chunk_rows: int, notice: Callable[[str], None]) -> RawDataset:
    from personalize_kit.data.movielens import find_local_movielens, load_movielens

    local = find_local_movielens(DEFAULT_RELEASE)
    if local is not None:
        return load_movielens(local, chunk_rows=chunk_rows)
    reason = "offline mode (PERSONALIZE_KIT_OFFLINE)"
    if not offline():
        from personalize_kit.data.download import fetch_movielens

        try:
            return load_movielens(fetch_movielens(DEFAULT_RELEASE), chunk_rows=chunk_rows)
        except DownloadError as exc:
            reason = str(exc).split("\n")[0]
    size = interactions or DEFAULT_SYNTHETIC_INTERACTIONS
    notice(
        f"notice: MovieLens {DEFAULT_RELEASE} is not available ({reason}); using {size:,} synthetic interactions "
        "instead. Point at real files with --source DIR."
    )
    return _synthetic(size, seed, chunk_rows)
