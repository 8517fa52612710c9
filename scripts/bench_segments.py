"""Benchmark: offline quality of the user-segmentation recipes against baselines, with the service's metrics.

Each dataset (as ``bench_quality.load`` prepares it) is split as the service splits it for USER_SEGMENTATION
recipes (:func:`personalize_kit.metrics.segment_split`: each user's oldest 80% of interactions train, the
newest 20% are the truth). For the :data:`ITEMS` items most often in the truth, every model ranks all users;
``hits_at_1_percent`` / ``recall_at_1_percent`` (:func:`personalize_kit.metrics.segment_metrics`) count the
truth's users in the top 1%, and ``recall_at_10_percent`` in the top 10%.

Models: Item-Affinity (``aws-item-affinity``, default hyperparameters); Item-Attribute-Affinity asked about
each item's genre set (``ITEMS.GENRES = "a" AND ...``); baselines: random users (seeded), the most active
users (training interactions), and item-kNN (a user's score is the summed cosine similarity, over the binary
user-item matrix, of the item to the items of their history).

Target (PASS/FAIL): Item-Affinity ahead of every baseline on ``recall_at_10_percent``.

    python scripts/bench_segments.py                          # synthetic 100k
    python scripts/bench_segments.py --source /data/ml-100k   # a MovieLens folder
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from bench_quality import load
from scipy import sparse

from personalize_kit.metrics import segment_metrics, segment_split
from personalize_kit.recipes.affinity import ItemAffinity, ItemAttributeAffinity

ITEMS = 200
RESULTS = Path(__file__).parent / "results"
#: A ranker: the item's id -> every user id, best first.
Ranker = Callable[[str], list[str]]


def _matrix(train: pd.DataFrame) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    users, user_ids = pd.factorize(train["USER_ID"].astype(str), sort=True)
    items, item_ids = pd.factorize(train["ITEM_ID"].astype(str), sort=True)
    matrix = sparse.csr_matrix((np.ones(len(train)), (users, items)), shape=(len(user_ids), len(item_ids)))
    matrix.data[:] = 1.0
    return matrix, np.asarray(user_ids, dtype=str), np.asarray(item_ids, dtype=str)


def baselines(train: pd.DataFrame, seed: int) -> dict[str, Ranker]:
    matrix, users, items = _matrix(train)
    position = {item: k for k, item in enumerate(items.tolist())}
    shuffled = users[np.random.default_rng(seed).permutation(len(users))].tolist()
    activity = np.asarray(matrix.sum(axis=1)).ravel()
    active = users[np.lexsort((users, -activity))].tolist()
    norms = np.sqrt(np.asarray(matrix.sum(axis=0)).ravel()) + 1e-12

    def knn(item: str) -> list[str]:
        column = matrix[:, position[item]].toarray().ravel()
        similarity = (matrix.T @ column) / (norms * norms[position[item]])
        similarity[position[item]] = 0.0
        scores = matrix @ similarity
        return users[np.lexsort((users, -scores))].tolist()

    return {"random": lambda item: shuffled, "most active": lambda item: active, "item-kNN": knn}


def recipes(train: pd.DataFrame, items: pd.DataFrame | None) -> tuple[dict[str, Ranker], dict[str, float]]:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    affinity = ItemAffinity().fit(train)
    seconds["aws-item-affinity"] = time.perf_counter() - started
    everyone = len(affinity.users)
    models: dict[str, Ranker] = {
        "aws-item-affinity": lambda item: [u for u, _ in affinity.segment(item_id=item, n=everyone)],
    }
    if items is not None:
        started = time.perf_counter()
        attribute = ItemAttributeAffinity().fit(train, items.dropna())
        seconds["aws-item-attribute-affinity"] = time.perf_counter() - started
        genres = items.dropna().set_index("ITEM_ID")["GENRES"].to_dict()

        def by_genres(item: str) -> list[str]:
            if item not in genres:
                return []
            expression = " AND ".join(f'ITEMS.GENRES = "{g}"' for g in str(genres[item]).split("|"))
            return [u for u, _ in attribute.segment(item_attributes=expression, n=everyone)]

        models["aws-item-attribute-affinity (the item's genres)"] = by_genres
    return models, seconds


def run(source: str, interactions: int, seed: int) -> dict:
    data = load(source, interactions, seed, "watch:3")
    train, truth = segment_split(data.interactions)
    known = set(train["ITEM_ID"].astype(str))
    truth = truth[truth["ITEM_ID"].astype(str).isin(known)]
    by_item = truth.groupby(truth["ITEM_ID"].astype(str))["USER_ID"].agg(lambda u: set(u.astype(str)))
    queried = by_item.map(len).sort_values(ascending=False, kind="stable").index[:ITEMS].tolist()
    relevant = [by_item[item] for item in queried]
    n_users = train["USER_ID"].nunique()
    models, seconds = recipes(train, data.items)
    rows = {}
    for name, ranker in {**models, **baselines(train, seed)}.items():
        segments = [ranker(item) for item in queried]
        values = segment_metrics(segments, relevant, n_users)
        top10 = max(1, n_users // 10)
        values["recall_at_10_percent"] = float(
            np.mean([len(set(s[:top10]) & r) / len(r) for s, r in zip(segments, relevant, strict=True)])
        )
        rows[name] = values
    return {"dataset": data.name, "users": n_users, "items_queried": len(queried), "fit_seconds": seconds, "rows": rows}


def table(result: dict) -> str:
    lines = [
        f"### {result['dataset']}: {result['users']} users, {result['items_queried']} items queried",
        "",
        "| model | hits_at_1_percent | recall_at_1_percent | recall_at_10_percent |",
        "|---|---|---|---|",
    ]
    for name, values in result["rows"].items():
        lines.append(
            f"| {name} | {values['hits_at_1_percent']:.3f} | {values['recall_at_1_percent']:.4f} "
            f"| {values['recall_at_10_percent']:.4f} |"
        )
    best = max(v["recall_at_10_percent"] for k, v in result["rows"].items() if not k.startswith("aws-"))
    ours = result["rows"]["aws-item-affinity"]["recall_at_10_percent"]
    verdict = "PASS" if ours > best else "FAIL"
    fits = ", ".join(f"{k} {v:.1f} s" for k, v in result["fit_seconds"].items())
    lines += ["", f"Target: Item-Affinity recall_at_10_percent {ours:.4f} > best baseline {best:.4f}: {verdict}"]
    lines += [f"Training: {fits}", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", action="append", help="'synthetic' or a MovieLens folder (default: synthetic)")
    parser.add_argument("--interactions", type=int, default=100_000, help="size of the synthetic data (100000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    results = [run(source, args.interactions, args.seed) for source in args.source or ["synthetic"]]
    command = "python scripts/bench_segments.py " + " ".join(sys.argv[1:])
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = f"# User segmentation: offline quality\n\n`{command.strip()}`, {stamp}\n\n" + "\n".join(
        table(r) for r in results
    )
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "segments.md").write_text(text)
    (RESULTS / "segments.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
