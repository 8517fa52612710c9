"""Amazon Personalize's per-value data rules, as vectorised checks over Arrow columns.

Each check returns :class:`RowIssue` objects: a rule code, the field, a boolean mask of the offending rows and
a message that says what to do. Preparation rejects the rows a mask marks; validation reports them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from personalize_kit.data.report import Report
from personalize_kit.data.schemas import RESERVED_KEYWORDS

#: Minimums the service needs to import and train.
MIN_INTERACTIONS = 1_000
MIN_USERS_WITH_TWO = 25

MAX_ID_CHARS = 256
MAX_CATEGORICAL_CHARS = 1_000
#: A timestamp above this is far past the year 5000 in seconds, but a present-day date in milliseconds.
MILLISECONDS_THRESHOLD = 100_000_000_000
#: Timestamps up to this long after "now" are tolerated (clock skew between systems).
FUTURE_TOLERANCE_SECONDS = 86_400

_RESERVED = pa.array(sorted(RESERVED_KEYWORDS))
_SHORTEST = min(len(k) for k in RESERVED_KEYWORDS)
_LONGEST = max(len(k) for k in RESERVED_KEYWORDS)


@dataclass
class RowIssue:
    code: str
    field: str
    mask: np.ndarray
    message: str
    severity: str = "error"


def _mask(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean numpy mask from an Arrow boolean array, nulls counting as False."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _issue(out: list[RowIssue], code: str, field: str, mask: np.ndarray, message: str, severity: str = "error"):
    if mask.any():
        out.append(RowIssue(code, field, mask, message, severity))


def _blank(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Null, empty or only white space."""
    return _mask(pc.or_kleene(pc.equal(pc.binary_length(values), 0), pc.utf8_is_space(values))) | _mask(
        pc.is_null(values)
    )


def _longer_than(values: pa.Array | pa.ChunkedArray, limit: int) -> np.ndarray:
    """More than ``limit`` characters (bytes bound characters from above: count characters only where needed)."""
    over = _mask(pc.greater(pc.binary_length(values), limit))
    if over.any():
        over[over] = _mask(pc.greater(pc.utf8_length(pc.filter(values, pa.array(over))), limit))
    return over


def check_id(values: pa.Array | pa.ChunkedArray, field: str) -> list[RowIssue]:
    """USER_ID / ITEM_ID: present, at most 256 characters, not a reserved keyword."""
    out: list[RowIssue] = []
    _issue(
        out, "empty-id", field, _blank(values), f"{field} is empty; every row needs one: fill it in or drop the row."
    )
    _issue(
        out,
        "id-too-long",
        field,
        _longer_than(values, MAX_ID_CHARS),
        f"{field} is longer than {MAX_ID_CHARS} characters; shorten it (e.g. a hash of the id).",
    )
    out.extend(check_reserved(values, field))
    return out


def check_reserved(values: pa.Array | pa.ChunkedArray, field: str) -> list[RowIssue]:
    """A reserved keyword (a field name such as ITEM_ID) as a value, typically a repeated header line."""
    out: list[RowIssue] = []
    lengths = pc.binary_length(values)
    if not pc.any(pc.and_(pc.greater_equal(lengths, _SHORTEST), pc.less_equal(lengths, _LONGEST))).as_py():
        return out  # no value has the length of a keyword
    _issue(
        out,
        "reserved-keyword",
        field,
        _mask(pc.is_in(pc.ascii_upper(values), value_set=_RESERVED)),  # the keywords are ASCII
        f"{field} holds a reserved keyword such as USER_ID or ITEM_ID (a repeated header line?); "
        "remove the row or change the value.",
    )
    return out


def check_categorical(values: pa.Array | pa.ChunkedArray, field: str) -> list[RowIssue]:
    """A categorical value: at most 1,000 characters, no reserved keyword among its ``|``-separated values."""
    out: list[RowIssue] = []
    _issue(
        out,
        "categorical-too-long",
        field,
        _longer_than(values, MAX_CATEGORICAL_CHARS),
        f"{field} is longer than {MAX_CATEGORICAL_CHARS:,} characters; shorten it or split it into fewer values.",
    )
    parts = pc.split_pattern(pc.utf8_upper(values), "|")
    flat = pc.is_in(pc.list_flatten(parts), value_set=_RESERVED)
    if pc.any(flat).as_py():
        parents = pc.list_parent_indices(parts).to_numpy()
        mask = np.zeros(len(values), dtype=bool)
        mask[parents[_mask(flat)]] = True
        _issue(
            out,
            "reserved-keyword",
            field,
            mask,
            f"{field} holds a reserved keyword such as USER_ID or ITEM_ID; change the value.",
        )
    return out


def check_finite(values: pa.Array | pa.ChunkedArray, field: str, what: str = "") -> list[RowIssue]:
    """A number that is present must be finite: NaN and infinity are refused (a float column's text ``nan``,
    ``inf`` and ``-inf`` parse, but mean nothing to a model)."""
    out: list[RowIssue] = []
    present = ~_mask(pc.is_null(values))
    _issue(
        out,
        "not-finite",
        field,
        present & ~_mask(pc.is_finite(values)),
        f"{field} is not a finite number (NaN or infinity); {what or 'fix or remove the value'}.",
    )
    return out


def check_timestamp(
    values: pa.Array | pa.ChunkedArray, field: str, *, now: int | None = None, future_severity: str = "error"
) -> list[RowIssue]:
    """Unix epoch seconds: present, not milliseconds, not in the future."""
    now = int(time.time()) if now is None else now
    out: list[RowIssue] = []
    _issue(
        out,
        "timestamp-missing",
        field,
        _mask(pc.is_null(values)),
        f"{field} is missing; every row needs a Unix epoch time in seconds.",
    )
    millis = _mask(pc.greater(values, MILLISECONDS_THRESHOLD))
    _issue(
        out,
        "timestamp-milliseconds",
        field,
        millis,
        f"{field} looks like milliseconds; Personalize wants Unix epoch seconds: divide by 1000.",
    )
    future = _mask(pc.greater(values, now + FUTURE_TOLERANCE_SECONDS)) & ~millis
    _issue(
        out,
        "timestamp-future",
        field,
        future,
        f"{field} lies in the future (after {time.strftime('%Y-%m-%d', time.gmtime(now))}); "
        "check the clock or the unit of the source.",
        future_severity,
    )
    _issue(
        out,
        "timestamp-negative",
        field,
        _mask(pc.less(values, 0)),
        f"{field} is before 1970; Personalize wants a positive Unix epoch time in seconds.",
    )
    return out


def first_reason(issues: Sequence[RowIssue], n: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows any issue marks, and for each of them the index of its first issue (by the order given)."""
    if not issues:
        return np.zeros(n, dtype=bool), np.zeros(0, dtype=np.int64)
    stacked = np.vstack([i.mask for i in issues])
    bad = stacked.any(axis=0)
    return bad, stacked[:, bad].argmax(axis=0)


def users_with_two(user_counts: Sequence[pa.Table]) -> int:
    """Users with at least 2 interactions, from per-chunk ``(values, counts)`` tables of user ids."""
    if not user_counts:
        return 0
    counts = pa.concat_tables(user_counts).group_by("values").aggregate([("counts", "sum")])
    return int(pc.sum(pc.greater_equal(counts["counts_sum"], 2)).as_py() or 0)


def check_minimums(
    report: Report, file: str, interactions: int, user_counts: Sequence[pa.Table], *, kept: str, hint: str = ""
) -> None:
    """The blocking minimums: 1,000 interactions and 25 users with at least 2 interactions each."""
    if interactions < MIN_INTERACTIONS:
        report.add(
            "error",
            file,
            "too-few-interactions",
            f"{interactions:,} {kept}; Personalize needs at least {MIN_INTERACTIONS:,} to import and train.{hint}",
        )
    with_two = users_with_two(user_counts)
    if with_two < MIN_USERS_WITH_TWO:
        report.add(
            "error",
            file,
            "too-few-users",
            f"{with_two} users have at least 2 interactions; Personalize needs at least {MIN_USERS_WITH_TWO}.{hint}",
        )
