"""Offline metrics against hand-computed values, and the hold-out split's invariants."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from personalize_kit.exceptions import EvaluationError
from personalize_kit.metrics import (
    METRIC_NAMES,
    coverage,
    evaluate_recommender,
    hit_matrix,
    holdout_split,
    mean_reciprocal_rank_at_25,
    normalized_discounted_cumulative_gain_at_k,
    precision_at_k,
    relevant_counts,
    solution_metrics,
)

# The keys GetSolutionMetrics documents ("Evaluating a solution version with metrics").
DOCUMENTED_KEYS = [
    "coverage",
    "mean_reciprocal_rank_at_25",
    "normalized_discounted_cumulative_gain_at_5",
    "normalized_discounted_cumulative_gain_at_10",
    "normalized_discounted_cumulative_gain_at_25",
    "precision_at_5",
    "precision_at_10",
    "precision_at_25",
]


def movielens_dir() -> Path:
    env = os.environ.get("PERSONALIZE_KIT_MOVIELENS_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "movielens"


# ------------------------------------------------------------------------------- worked example


def test_guide_worked_example() -> None:
    """Relevant items at positions 2 and 5 of a top-5 list, two relevant items in the truth."""
    recommended = [["a", "b", "c", "d", "e"]]
    relevant = [{"b", "e"}]
    hits = hit_matrix(recommended, relevant, 5)
    assert hits.tolist() == [[False, True, False, False, True]]
    expected_ndcg = (1 / math.log(3) + 1 / math.log(6)) / (1 / math.log(2) + 1 / math.log(3))
    ndcg = normalized_discounted_cumulative_gain_at_k(hits, relevant_counts(relevant), 5)
    assert ndcg == pytest.approx(expected_ndcg)
    assert round(ndcg, 4) == 0.6241
    assert mean_reciprocal_rank_at_25(hits) == 0.5
    assert precision_at_k(hits, 5) == pytest.approx(0.4)


def test_solution_metrics_returns_exactly_the_documented_keys_in_order() -> None:
    metrics = solution_metrics([["a", "b", "c", "d", "e"]], [{"b", "e"}], catalogue_size=20)
    assert list(metrics) == DOCUMENTED_KEYS
    assert list(METRIC_NAMES) == DOCUMENTED_KEYS
    assert all(isinstance(v, float) for v in metrics.values())
    assert metrics["normalized_discounted_cumulative_gain_at_5"] == pytest.approx(0.62406, abs=1e-5)
    # At 10 and 25 the list is the same (5 items) and the ideal is still two relevant items on top.
    assert metrics["normalized_discounted_cumulative_gain_at_25"] == pytest.approx(0.62406, abs=1e-5)
    assert metrics["precision_at_5"] == pytest.approx(2 / 5)
    assert metrics["precision_at_10"] == pytest.approx(2 / 10)
    assert metrics["precision_at_25"] == pytest.approx(2 / 25)
    assert metrics["mean_reciprocal_rank_at_25"] == 0.5
    assert metrics["coverage"] == pytest.approx(5 / 20)


# ---------------------------------------------------------------------------- identity / no hit


def test_perfect_ranking_scores_one() -> None:
    items = [str(i) for i in range(25)]
    metrics = solution_metrics([items, items[:5]], [set(items), set(items[:5])], catalogue_size=25)
    for k in (5, 10, 25):
        assert metrics[f"normalized_discounted_cumulative_gain_at_{k}"] == pytest.approx(1.0)
    assert metrics["mean_reciprocal_rank_at_25"] == 1.0
    assert metrics["precision_at_5"] == 1.0
    # The second query has 5 relevant items only: 5/10 and 5/25.
    assert metrics["precision_at_10"] == pytest.approx((1.0 + 0.5) / 2)
    assert metrics["precision_at_25"] == pytest.approx((1.0 + 0.2) / 2)
    assert metrics["coverage"] == 1.0


def test_no_hit_scores_zero() -> None:
    metrics = solution_metrics([["a", "b", "c"], ["d"]], [{"x"}, {"y", "z"}], catalogue_size=10)
    for name in DOCUMENTED_KEYS[1:]:
        assert metrics[name] == 0.0, name
    assert metrics["coverage"] == pytest.approx(4 / 10)


def test_fewer_relevant_than_k_uses_capped_ideal() -> None:
    # Two relevant items at positions 1 and 2: ideal for k=10 is also two on top, so NDCG = 1.
    hits = hit_matrix([["r1", "r2", "a", "b"]], [{"r1", "r2"}], 10)
    assert normalized_discounted_cumulative_gain_at_k(hits, [2], 10) == pytest.approx(1.0)
    assert precision_at_k(hits, 10) == pytest.approx(0.2)
    # Three relevant, one found at position 3: DCG = 1/log2(4), ideal = 1 + 1/log2(3) + 1/log2(4).
    hits = hit_matrix([["a", "b", "r1"]], [{"r1", "r2", "r3"}], 5)
    expected = (1 / math.log2(4)) / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    assert normalized_discounted_cumulative_gain_at_k(hits, [3], 5) == pytest.approx(expected)


def test_more_relevant_than_k_caps_ideal_at_k() -> None:
    relevant = [{str(i) for i in range(30)}]
    hits = hit_matrix([["0", "x", "1", "2", "3"]], relevant, 5)
    dcg = 1 + 1 / math.log2(4) + 1 / math.log2(5) + 1 / math.log2(6)
    ideal = sum(1 / math.log2(p + 1) for p in range(1, 6))
    assert normalized_discounted_cumulative_gain_at_k(hits, relevant_counts(relevant), 5) == pytest.approx(dcg / ideal)


def test_mean_over_queries_hand_computed() -> None:
    recommended = [["a", "b", "c"], ["x", "y", "z"], ["p", "q"]]
    relevant = [{"c"}, {"x", "q", "r"}, {"n"}]
    hits = hit_matrix(recommended, relevant, 5)
    assert hits.tolist() == [
        [False, False, True, False, False],
        [True, False, False, False, False],
        [False, False, False, False, False],
    ]
    assert mean_reciprocal_rank_at_25(hits) == pytest.approx((1 / 3 + 1 + 0) / 3)
    q1 = (1 / math.log2(4)) / 1.0
    q2 = 1.0 / (1 + 1 / math.log2(3) + 1 / math.log2(4))
    assert normalized_discounted_cumulative_gain_at_k(hits, relevant_counts(relevant), 5) == pytest.approx(
        (q1 + q2 + 0) / 3
    )
    assert precision_at_k(hits, 5) == pytest.approx((1 / 5 + 1 / 5 + 0) / 3)


def test_reciprocal_rank_ignores_hits_after_25() -> None:
    recommended = [[f"i{n}" for n in range(30)]]
    hits = hit_matrix(recommended, [{"i25"}], 30)  # position 26
    assert hits[0, 25]
    assert mean_reciprocal_rank_at_25(hits) == 0.0
    hits = hit_matrix(recommended, [{"i24"}], 30)  # position 25
    assert mean_reciprocal_rank_at_25(hits) == pytest.approx(1 / 25)


def test_empty_recommendation_lists_score_zero() -> None:
    metrics = solution_metrics([[], []], [{"a"}, {"b"}], catalogue_size=5)
    assert metrics == {name: 0.0 for name in DOCUMENTED_KEYS}
    assert hit_matrix([[], []], [{"a"}, {"b"}], 3).tolist() == [[False] * 3] * 2


def test_query_without_relevant_items_scores_zero_and_counts_in_the_mean() -> None:
    hits = hit_matrix([["a"], ["a"]], [{"a"}, set()], 5)
    assert normalized_discounted_cumulative_gain_at_k(hits, [1, 0], 5) == pytest.approx(0.5)
    assert mean_reciprocal_rank_at_25(hits) == pytest.approx(0.5)


def test_repeated_item_counts_once() -> None:
    hits = hit_matrix([["a", "a", "b"]], [{"a"}], 3)
    assert hits.tolist() == [[True, False, False]]
    assert normalized_discounted_cumulative_gain_at_k(hits, [1], 3) == pytest.approx(1.0)


def test_lists_longer_than_k_are_cut_and_hits_narrower_than_k_are_padded() -> None:
    hits = hit_matrix([["a", "b", "c", "d"]], [{"d"}], 2)
    assert hits.shape == (1, 2)
    assert not hits.any()
    narrow = hit_matrix([["a", "b"]], [{"b"}], 2)
    assert precision_at_k(narrow, 5) == pytest.approx(1 / 5)
    assert normalized_discounted_cumulative_gain_at_k(narrow, [1], 5) == pytest.approx(1 / math.log2(3))


def test_coverage_counts_distinct_items_in_top_k() -> None:
    assert coverage([["a", "b"], ["b", "c"], []], catalogue_size=8) == pytest.approx(3 / 8)
    long_list = [[str(i) for i in range(40)]]
    assert coverage(long_list, catalogue_size=100) == pytest.approx(25 / 100)
    assert coverage(long_list, catalogue_size=100, k=40) == pytest.approx(40 / 100)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: hit_matrix([["a"]], [], 5), "recommended has 1 queries but relevant has 0"),
        (lambda: hit_matrix([["a"]], [{"a"}], 0), "k must be at least 1, got 0"),
        (lambda: precision_at_k(np.zeros((0, 5), dtype=bool), 5), "cannot average a metric over zero queries"),
        (lambda: precision_at_k(np.zeros(5, dtype=bool), 5), "hits must be a 2-D"),
        (lambda: coverage([["a"]], catalogue_size=0), "catalogue_size must be at least 1"),
        (
            lambda: normalized_discounted_cumulative_gain_at_k(np.zeros((2, 5), dtype=bool), [1], 5),
            "n_relevant must hold one count per query (2)",
        ),
        (lambda: solution_metrics([], [], catalogue_size=3), "cannot compute metrics over zero queries"),
    ],
)
def test_invalid_inputs_raise_evaluation_error(call, message: str) -> None:
    with pytest.raises(EvaluationError) as err:
        call()
    assert message in str(err.value)


def _naive_metrics(recommended: list[list[str]], relevant: list[set[str]], k: int) -> tuple[float, float, float]:
    """Per-query loops straight from the definitions, for comparison with the vectorised code."""
    precisions, ndcgs, rrs = [], [], []
    for recs, truth in zip(recommended, relevant, strict=True):
        seen: set[str] = set()
        gains = []
        for item in recs[:k]:
            gains.append(1.0 if item in truth and item not in seen else 0.0)
            seen.add(item)
        precisions.append(sum(gains) / k)
        dcg = sum(g / math.log2(p + 2) for p, g in enumerate(gains))
        ideal = sum(1 / math.log2(p + 2) for p in range(min(len(truth), k)))
        ndcgs.append(dcg / ideal if ideal else 0.0)
        first = next((p for p, g in enumerate(gains) if g), None)
        rrs.append(0.0 if first is None or first >= 25 else 1 / (first + 1))
    n = len(recommended)
    return sum(precisions) / n, sum(ndcgs) / n, sum(rrs) / n


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    st.lists(
        st.tuples(
            st.lists(st.sampled_from("abcdefghij"), max_size=12),
            st.sets(st.sampled_from("abcdefghij"), max_size=6),
        ),
        min_size=1,
        max_size=8,
    ),
    st.integers(min_value=1, max_value=12),
)
def test_vectorised_metrics_match_per_query_definitions(queries, k: int) -> None:
    recommended = [q[0] for q in queries]
    relevant = [q[1] for q in queries]
    hits = hit_matrix(recommended, relevant, k)
    precision, ndcg, rr = _naive_metrics(recommended, relevant, k)
    assert precision_at_k(hits, k) == pytest.approx(precision)
    assert normalized_discounted_cumulative_gain_at_k(hits, relevant_counts(relevant), k) == pytest.approx(ndcg)
    assert mean_reciprocal_rank_at_25(hits) == pytest.approx(rr)
    assert 0.0 <= ndcg <= 1.0 + 1e-12


# ------------------------------------------------------------------------------------------ split


def _interactions(n_users: int = 100, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        n = int(rng.integers(1, 31))
        stamps = rng.permutation(1000)[:n]  # shuffled, so row order is not time order
        rows += [(f"u{u}", f"i{rng.integers(200)}", int(t)) for t in stamps]
    return pd.DataFrame(rows, columns=["USER_ID", "ITEM_ID", "TIMESTAMP"])


def test_split_holds_out_ten_percent_of_users_with_ninety_percent_input() -> None:
    df = _interactions()
    split = holdout_split(df, seed=7)
    assert len(split.test_users) == 10
    assert set(split.test_input["USER_ID"]) | set(split.test_truth["USER_ID"]) <= set(split.test_users)
    assert not set(split.train["USER_ID"]) & set(split.test_users)
    sizes = df.groupby("USER_ID").size()
    n_input = split.test_input.groupby("USER_ID").size()
    n_truth = split.test_truth.groupby("USER_ID").size()
    for user in split.test_users:
        n = int(sizes[user])
        expected_input = n if n == 1 else min(max(math.floor(0.9 * n), 1), n - 1)
        assert int(n_input.get(user, 0)) == expected_input, (user, n)
        assert int(n_truth.get(user, 0)) == n - expected_input
        if n >= 2:
            assert int(n_truth.get(user, 0)) >= 1


@pytest.mark.parametrize(("n", "n_input", "n_truth"), [(1, 1, 0), (2, 1, 1), (10, 9, 1), (15, 13, 2), (20, 18, 2)])
def test_split_rounding(n: int, n_input: int, n_truth: int) -> None:
    df = pd.DataFrame(
        {"USER_ID": ["t"] * n + ["o"] * 3, "ITEM_ID": [f"i{i}" for i in range(n + 3)], "TIMESTAMP": range(n + 3)}
    )
    for seed in range(20):  # find the seed that holds out "t"
        split = holdout_split(df, test_user_fraction=0.5, seed=seed)
        if split.test_users == ("t",):
            break
    else:  # pragma: no cover - two users, twenty seeds
        pytest.fail("no seed held out user t")
    assert (len(split.test_input), len(split.test_truth)) == (n_input, n_truth)


def test_split_input_is_older_than_truth_and_sorted() -> None:
    split = holdout_split(_interactions(), seed=1)
    for user in split.test_users:
        inp = split.test_input[split.test_input["USER_ID"] == user]["TIMESTAMP"]
        truth = split.test_truth[split.test_truth["USER_ID"] == user]["TIMESTAMP"]
        assert inp.is_monotonic_increasing and truth.is_monotonic_increasing
        if len(truth):
            assert inp.max() <= truth.min()


def test_split_ties_keep_row_order() -> None:
    df = pd.DataFrame({"USER_ID": ["t"] * 10 + ["o"], "ITEM_ID": [f"i{i}" for i in range(11)], "TIMESTAMP": [5] * 11})
    split = next(
        s for s in (holdout_split(df, test_user_fraction=0.5, seed=k) for k in range(20)) if s.test_users == ("t",)
    )
    assert split.test_input["ITEM_ID"].tolist() == [f"i{i}" for i in range(9)]
    assert split.test_truth["ITEM_ID"].tolist() == ["i9"]


def test_split_loses_no_interaction() -> None:
    df = _interactions()
    split = holdout_split(df, seed=11, fold=3)
    combined = pd.concat([split.train, split.test_input, split.test_truth])
    assert len(combined) == len(df)
    assert sorted(combined.index) == list(df.index)
    pd.testing.assert_frame_equal(combined.sort_index(), df)


def test_folds_are_disjoint_and_cover_the_users() -> None:
    df = _interactions(n_users=100)
    folds = [set(holdout_split(df, seed=5, fold=f).test_users) for f in range(10)]
    assert all(len(f) == 10 for f in folds)
    union = set().union(*folds)
    assert len(union) == 100
    assert union == set(df["USER_ID"])


def test_split_is_deterministic_by_seed() -> None:
    df = _interactions()
    assert holdout_split(df, seed=2).test_users == holdout_split(df, seed=2).test_users
    assert holdout_split(df, seed=2).test_users != holdout_split(df, seed=3).test_users


def test_training_data_flag() -> None:
    df = _interactions()
    split = holdout_split(df)
    assert split.training_data(include_test_input=False) is split.train
    with_input = split.training_data(include_test_input=True)
    assert len(with_input) == len(split.train) + len(split.test_input)
    assert not set(with_input.index) & set(split.test_truth.index)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"fold": 10}, "fold must be in [0, 9] for 100 users held out 10 at a time, got 10"),
        ({"test_user_fraction": 1.0}, "test_user_fraction must be between 0 and 1"),
        ({"input_fraction": 0.0}, "input_fraction must be between 0 and 1"),
    ],
)
def test_split_rejects_bad_arguments(kwargs, message: str) -> None:
    with pytest.raises(EvaluationError) as err:
        holdout_split(_interactions(), **kwargs)
    assert message in str(err.value)


def test_split_requires_columns() -> None:
    with pytest.raises(EvaluationError, match="lack the column\\(s\\) TIMESTAMP"):
        holdout_split(pd.DataFrame({"USER_ID": ["a"], "ITEM_ID": ["b"]}))


# ----------------------------------------------------------------------------- evaluate_recommender


def test_evaluate_recommender_oracle_and_empty() -> None:
    split = holdout_split(_interactions(), seed=4)
    truth = split.truth_by_user()
    assert truth and all(truth.values())
    asked: list[tuple[str, int]] = []

    def oracle(user: str, n: int) -> list[str]:
        asked.append((user, n))
        return sorted(truth[user])[:n]

    metrics = evaluate_recommender(oracle, split, catalogue_size=200)
    assert [u for u, _ in asked] == sorted(truth)
    assert {n for _, n in asked} == {25}
    assert metrics["normalized_discounted_cumulative_gain_at_25"] == pytest.approx(1.0)
    assert metrics["mean_reciprocal_rank_at_25"] == 1.0
    distinct = set().union(*truth.values())
    assert metrics["coverage"] == pytest.approx(len(distinct) / 200)

    empty = evaluate_recommender(lambda user, n: [], split, catalogue_size=200)
    assert empty == {name: 0.0 for name in DOCUMENTED_KEYS}


def test_evaluate_recommender_rejects_non_list_results() -> None:
    split = holdout_split(_interactions(), seed=4)
    with pytest.raises(EvaluationError, match="returned str; it must return a list of item ids"):
        evaluate_recommender(lambda user, n: "i1", split, catalogue_size=200)


def test_evaluate_recommender_popularity_on_movielens() -> None:
    ratings = movielens_dir() / "ml-latest-small" / "ratings.csv"
    if not ratings.exists():
        pytest.skip(f"MovieLens ml-latest-small not found at {ratings}")
    df = pd.read_csv(ratings, dtype={"userId": str, "movieId": str})
    df = df.rename(columns={"userId": "USER_ID", "movieId": "ITEM_ID", "timestamp": "TIMESTAMP"})
    split = holdout_split(df, seed=0)
    assert len(split.test_users) == 61  # floor(0.1 x 610 users)
    assert len(split.train) + len(split.test_input) + len(split.test_truth) == len(df) == 100_836
    train = split.training_data(include_test_input=False)
    popular = train.groupby("ITEM_ID")["USER_ID"].nunique().sort_values(ascending=False, kind="stable")
    top = popular.index[:25].tolist()
    catalogue = df["ITEM_ID"].nunique()
    metrics = evaluate_recommender(lambda user, n: top[:n], split, catalogue_size=catalogue)
    assert metrics["coverage"] == pytest.approx(25 / catalogue)
    # A popularity list finds something for some users but is far from the oracle.
    assert 0.0 < metrics["precision_at_25"] < 0.5
    assert 0.0 < metrics["normalized_discounted_cumulative_gain_at_25"] < 1.0
