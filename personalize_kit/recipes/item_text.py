"""Item metadata as TF-IDF vectors, and each item's most similar items by cosine: what Similar-Items and
Semantic-Similarity compare items by.

Each item of the Items dataset becomes a bag of tokens:

- the words (runs of letters and digits, lowercased, common English stop words left out) of its textual
  fields: the schema's ``textual`` field, named in ``items.attrs["textual"]`` by the mirror; without that
  note, every string column whose values hold three or more words on average;
- one token per value of its other string (categorical) fields, ``COLUMN=value`` (a ``|`` separates the
  values of a multi-valued field, as the service's categorical fields do).

Tokens are weighted by sublinear term frequency times smoothed inverse document frequency, rows are
L2-normalised, and two items' similarity is the dot product of their rows (cosine, in ``[0, 1]``): items
sharing rare words or categories come first.

>>> items = pd.DataFrame({"ITEM_ID": ["a", "b", "c"], "GENRE": ["Jazz", "Jazz", "Rock"]})
>>> ids, (indptr, indices, data) = metadata_neighbours(items)
>>> ids[indices[indptr[0]:indptr[1]]].tolist()
['b']
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from personalize_kit.recipes.sims import MAX_NEIGHBOURS, as_csr, top_per_row

__all__ = ["MAX_NEIGHBOURS", "metadata_neighbours", "string_columns", "text_columns", "tokens"]

#: Columns that are never metadata to compare by.
_NOT_METADATA = frozenset({"ITEM_ID", "CREATION_TIMESTAMP"})
#: Average words per value from which a string column counts as text when the schema is not known.
_TEXT_WORDS = 3
#: Rows of the similarity matrix computed at once (bounds memory on large catalogues).
_BLOCK_ITEMS = 2048
_WORD = re.compile(r"[a-z0-9]+")
_STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "will",
        "with",
    ]
)


def string_columns(items: pd.DataFrame) -> list[str]:
    """The metadata columns holding strings (numbers and the reserved columns are not compared)."""
    return [
        column
        for column in items.columns
        if column not in _NOT_METADATA
        and not pd.api.types.is_numeric_dtype(items[column])
        and not pd.api.types.is_bool_dtype(items[column])
    ]


def text_columns(items: pd.DataFrame) -> list[str]:
    """The textual columns: as the schema says (``items.attrs["textual"]``), else guessed from the values."""
    if "textual" in items.attrs:
        return [column for column in items.attrs["textual"] if column in items.columns]
    out = []
    for column in string_columns(items):
        values = items[column].dropna().astype(str)
        if len(values) and values.str.split().str.len().mean() >= _TEXT_WORDS:
            out.append(column)
    return out


def words(text: str) -> list[str]:
    """The words of ``text`` that carry meaning: lowercased, stop words left out.

    >>> words("The Art of the Fugue, BWV 1080")
    ['art', 'fugue', 'bwv', '1080']
    """
    return [word for word in _WORD.findall(text.lower()) if word not in _STOP_WORDS]


def tokens(items: pd.DataFrame, columns: Sequence[str] | None = None) -> list[list[str]]:
    """Each row's tokens: words of its textual columns, ``COLUMN=value`` of its other string columns.

    ``columns`` limits the columns read (default: every string column).
    """
    text = set(text_columns(items))
    chosen = [c for c in (string_columns(items) if columns is None else columns) if c in items.columns]
    out: list[list[str]] = [[] for _ in range(len(items))]
    for column in chosen:
        for row, value in enumerate(items[column].tolist()):
            if value is None or (isinstance(value, float) and np.isnan(value)):
                continue
            if column in text:
                out[row].extend(words(str(value)))
            else:
                out[row].extend(f"{column}={part.strip().lower()}" for part in str(value).split("|") if part.strip())
    return out


def _tfidf(bags: list[list[str]]):  # noqa: ANN202 - a scipy.sparse matrix
    """L2-normalised TF-IDF rows (sublinear tf, smoothed idf) of the token bags."""
    from scipy import sparse

    vocabulary: dict[str, int] = {}
    rows, cols, counts = [], [], []
    for row, bag in enumerate(bags):
        for token, count in zip(*np.unique(np.asarray(bag, dtype=str), return_counts=True), strict=True):
            rows.append(row)
            cols.append(vocabulary.setdefault(str(token), len(vocabulary)))
            counts.append(float(count))
    shape = (len(bags), max(len(vocabulary), 1))
    tf = sparse.csr_matrix((1.0 + np.log(np.asarray(counts)), (rows, cols)), shape=shape)
    df = np.bincount(np.asarray(cols, dtype=np.int64), minlength=shape[1])
    idf = np.log((1.0 + shape[0]) / (1.0 + df)) + 1.0
    weighted = (tf @ sparse.diags(idf)).tocsr()
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags(1.0 / norms) @ weighted


def metadata_neighbours(
    items: pd.DataFrame, columns: Sequence[str] | None = None
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The item ids (sorted, one per item) and CSR parts (indptr, indices, cosine) of each item's
    :data:`MAX_NEIGHBOURS` most similar other items; only items sharing a token are neighbours.

    Within a row, items are ordered by similarity, then by index, so that results are deterministic.
    """
    rows = items.drop_duplicates("ITEM_ID", keep="last").copy()
    rows["ITEM_ID"] = rows["ITEM_ID"].astype(str)
    rows = rows.sort_values("ITEM_ID", kind="stable").reset_index(drop=True)
    rows.attrs = dict(items.attrs)
    ids = rows["ITEM_ID"].to_numpy(dtype=str)
    matrix = _tfidf(tokens(rows, columns))
    transposed = matrix.T.tocsc()
    n = len(ids)
    lengths, indices, data = [], [], []
    for start in range(0, n, _BLOCK_ITEMS):
        stop = min(start + _BLOCK_ITEMS, n)
        block = (matrix[start:stop] @ transposed).tocoo()
        row = block.row.astype(np.int64) + start
        col = block.col.astype(np.int64)
        score = np.round(block.data, 6)  # equal texts tie exactly, whatever the summation order
        keep = (row != col) & (score > 0)
        parts = top_per_row(row[keep] - start, col[keep], score[keep], stop - start)
        for found, part in zip((lengths, indices, data), parts, strict=True):
            found.append(part)
    return ids, as_csr(lengths, indices, data)
