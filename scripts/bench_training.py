"""Benchmark: training time and peak memory of each recipe at 100k and 1M synthetic interactions.

Each training runs in its own process (fit only, timed after the data is in memory); peak memory is that
process's maximum resident set. Prints a table and writes scripts/results/training.json and training.md.

    python scripts/bench_training.py
    python scripts/bench_training.py --sizes 100000 --recipes aws-user-personalization
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "scripts" / "results"
TARGETS_S = {100_000: 60.0, 1_000_000: 600.0}
TARGET_RSS_MIB = {1_000_000: 4096}

CHILD = r"""
import json, resource, sys, time
import pandas as pd, pyarrow as pa
from personalize_kit.data.synthetic import SyntheticConfig, generate
from personalize_kit.recipes import recipe_class
n, recipe = int(sys.argv[1]), sys.argv[2]
raw = generate(SyntheticConfig(n_interactions=n, seed=0))
t = pa.concat_tables(list(raw.ratings())).to_pandas()
keep = t["rating"] >= 3
interactions = pd.DataFrame({"USER_ID": t.user_id[keep], "ITEM_ID": t.item_id[keep], "TIMESTAMP": t.timestamp[keep],
                             "EVENT_TYPE": "watch", "EVENT_VALUE": t.rating[keep]}).reset_index(drop=True)
items = pd.DataFrame({"ITEM_ID": raw.items.item_id, "GENRES": raw.items.genres,
                      "CREATION_TIMESTAMP": raw.items.creation_timestamp})
users = raw.users.rename(columns={"user_id": "USER_ID", "age": "AGE", "gender": "GENDER"})[["USER_ID", "AGE", "GENDER"]]
cls = recipe_class("arn:aws:personalize:::recipe/" + recipe)
started = time.perf_counter()
cls().fit(interactions, items, users)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "interactions": len(interactions), "items": len(items),
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument(
        "--recipes", nargs="+", default=["aws-user-personalization", "aws-sims", "aws-popularity-count"]
    )
    args = parser.parse_args()
    rows = []
    for n in args.sizes:
        for recipe in args.recipes:
            done = subprocess.run(
                [sys.executable, "-c", CHILD, str(n), recipe],
                capture_output=True,
                text=True,
                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
            )
            if done.returncode != 0:
                raise SystemExit(f"{recipe} at {n:,} failed:\n{done.stderr[-2000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            target = TARGETS_S.get(n) if recipe == "aws-user-personalization" else None
            memory = TARGET_RSS_MIB.get(n) if recipe == "aws-user-personalization" else None
            ok = (target is None or result["seconds"] < target) and (memory is None or result["peak_rss_mib"] < memory)
            rows.append(
                {
                    "synthetic_ratings": n,
                    "recipe": recipe,
                    "interactions": result["interactions"],
                    "catalogue": result["items"],
                    "fit_s": round(result["seconds"], 1),
                    "peak_rss_mib": round(result["peak_rss_mib"]),
                    "target": (f"< {target:.0f} s" if target else "") + (f", < {memory} MiB" if memory else ""),
                    "verdict": ("PASS" if ok else "FAIL") if target or memory else "",
                }
            )
            print(rows[-1], flush=True)
    header = ("synthetic ratings", "recipe", "interactions kept", "catalogue", "fit s", "peak MiB", "target", "")
    keys = ("synthetic_ratings", "recipe", "interactions", "catalogue", "fit_s", "peak_rss_mib", "target", "verdict")
    table = ["| " + " | ".join(header) + " |", "|---:|---|---:|---:|---:|---:|---|---|"]
    table += ["| " + " | ".join(f"{r[k]:,}" if isinstance(r[k], int) else str(r[k]) for k in keys) + " |" for r in rows]
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    print("\n".join(table))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "training.json").write_text(
        json.dumps({"date": time.strftime("%Y-%m-%d"), "machine": machine, "results": rows}, indent=2) + "\n"
    )
    (RESULTS / "training.md").write_text(
        "# Training benchmark\n\n"
        f"`python scripts/bench_training.py` on {machine}, {time.strftime('%Y-%m-%d')}: synthetic ratings, "
        "those of 3 or more kept as interactions (as `prepare` does), item genres and user demographics as "
        "metadata, default hyperparameters; each fit in its own process.\n\n" + "\n".join(table) + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
