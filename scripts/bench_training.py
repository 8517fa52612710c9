"""Benchmark: training time and peak memory of each recipe at 100k and 1M synthetic interactions.

Each training runs in its own process (fit only, timed after the data is in memory, so the first fit
includes importing TensorFlow); peak memory is that process's maximum resident set; ``quiet`` says whether
the process wrote nothing to stdout/stderr besides its result. Each fit is repeated ``--repeats`` times (3 by
default, one process after the other): the table shows the median, which the target is judged by, and the
range, since a fit's time moves by several per cent from run to run on a shared machine. The ``fast`` profile
(:data:`personalize_kit.recipes.PROFILES`) is measured for every recipe on the newest 10,000 interactions
(target: 2 s each). Prints a table and writes scripts/results/training.json and training.md.

    python scripts/bench_training.py
    python scripts/bench_training.py --sizes 100000 --recipes aws-user-personalization --no-fast --repeats 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from personalize_kit.recipes import RECIPES  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "scripts" / "results"
#: User-Personalization targets (issue 14): fit seconds and peak memory by synthetic ratings.
TARGETS_S = {100_000: 20.0, 1_000_000: 120.0, 10_000_000: 1200.0}
TARGET_RSS_MIB = {10_000_000: 8192}
#: The fast profile: interactions per fit and the target seconds, for every recipe.
FAST_INTERACTIONS, FAST_TARGET_S = 10_000, 2.0

CHILD = r"""
import json, resource, sys, time
import pandas as pd, pyarrow as pa
from personalize_kit.data.synthetic import SyntheticConfig, generate
from personalize_kit.recipes import profile_options, recipe_class
n, recipe, profile, limit = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
raw = generate(SyntheticConfig(n_interactions=n, seed=0))
t = pa.concat_tables(list(raw.ratings())).to_pandas()
keep = t["rating"] >= 3
interactions = pd.DataFrame({"USER_ID": t.user_id[keep], "ITEM_ID": t.item_id[keep], "TIMESTAMP": t.timestamp[keep],
                             "EVENT_TYPE": "watch", "EVENT_VALUE": t.rating[keep]}).reset_index(drop=True)
if limit:
    interactions = interactions.sort_values("TIMESTAMP", kind="stable").tail(limit).reset_index(drop=True)
items = pd.DataFrame({"ITEM_ID": raw.items.item_id, "GENRES": raw.items.genres,
                      "CREATION_TIMESTAMP": raw.items.creation_timestamp})
users = raw.users.rename(columns={"user_id": "USER_ID", "age": "AGE", "gender": "GENDER"})[["USER_ID", "AGE", "GENDER"]]
cls = recipe_class("arn:aws:personalize:::recipe/" + recipe)
extra = {}
if recipe == "aws-semantic-similarity":  # it reads a textual field: the genres as words
    items = items.assign(DESCRIPTION=items.GENRES.str.replace("|", " "))
    items.attrs["textual"] = ["DESCRIPTION"]
if getattr(cls, "uses_actions", False):  # Next-Best-Action: 20 actions, taken on every 5th interaction
    taken = interactions.iloc[::5]
    extra = {"actions": pd.DataFrame({"ACTION_ID": [f"a{k}" for k in range(20)]}),
             "action_interactions": pd.DataFrame({"USER_ID": taken.USER_ID.to_numpy(),
                 "ACTION_ID": [f"a{k % 20}" for k in pd.factorize(taken.ITEM_ID)[0]],
                 "TIMESTAMP": taken.TIMESTAMP.to_numpy(),
                 "EVENT_TYPE": ["TAKEN" if k % 2 else "NOT_TAKEN" for k in range(len(taken))]})}
started = time.perf_counter()
cls(**profile_options(profile).get(recipe, {})).fit(interactions, items, users, **extra)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "interactions": len(interactions), "items": len(items),
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure(n: int, recipe: str, profile: str = "faithful", limit: int = 0, repeats: int = 1) -> dict[str, object]:
    """``repeats`` fits, each in its own process, one after the other; their result row (median seconds, range,
    largest peak memory; quiet when every run was)."""
    results, quiet = [], True
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(n), recipe, profile, str(limit)], capture_output=True, text=True
        )
        if done.returncode != 0:  # recorded, not hidden: the row says why
            reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
            print(f"{recipe} at {n:,} ({profile}) failed:\n{done.stderr[-2000:]}", file=sys.stderr)
            return {"synthetic_ratings": n, "profile": profile, "recipe": recipe, "interactions": "", "catalogue": "",
                    "fit_s": "", "fit_s_range": "", "peak_rss_mib": "", "quiet": "", "target": reason[:120],
                    "verdict": "FAIL"}  # fmt: skip
        lines = done.stdout.strip().splitlines()
        results.append(json.loads(lines[-1]))
        quiet = quiet and len(lines) == 1 and not done.stderr.strip()
    seconds = sorted(r["seconds"] for r in results)
    median = statistics.median(seconds)
    peak = max(r["peak_rss_mib"] for r in results)
    up = recipe == "aws-user-personalization" and profile == "faithful"
    target = FAST_TARGET_S if profile == "fast" else TARGETS_S.get(n) if up else None
    memory = TARGET_RSS_MIB.get(n) if up else None
    ok = (target is None or median <= target) and (memory is None or peak <= memory)
    return {
        "synthetic_ratings": n,
        "profile": profile,
        "recipe": recipe,
        "interactions": results[0]["interactions"],
        "catalogue": results[0]["items"],
        "fit_s": round(median, 1),
        "fit_s_range": f"{seconds[0]:.1f}-{seconds[-1]:.1f} ({len(seconds)} runs)" if len(seconds) > 1 else "1 run",
        "peak_rss_mib": round(peak),
        "quiet": "yes" if quiet else "no",
        "target": (f"<= {target:.0f} s" if target else "") + (f", <= {memory} MiB" if memory else ""),
        "verdict": ("PASS" if ok else "FAIL") if target or memory else "",
    }


def merged(
    last: dict[str, object], rows: list[dict[str, object]], command: str, note: str
) -> tuple[list[dict[str, object]], list[str], list[str]]:
    """The last results' rows that ``rows`` does not measure again, then ``rows``; the commands and notes of both."""

    def key(row: dict[str, object]) -> tuple[object, ...]:
        return row["synthetic_ratings"], row["profile"], row["recipe"]

    again = {key(r) for r in rows}
    kept = [r for r in last["results"] if key(r) not in again]  # type: ignore[union-attr]
    commands = list(last.get("commands") or [f"python scripts/bench_training.py (run of {last['date']})"])
    notes = list(last.get("notes") or [last.get("note", "")])
    if not kept:
        return rows, [command], [note]
    return kept + rows, commands + [command], notes + [note]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument(
        "--recipes", nargs="+", default=["aws-user-personalization", "aws-sims", "aws-popularity-count"]
    )
    parser.add_argument("--no-fast", action="store_true", help="skip the fast profile's measurements")
    parser.add_argument("--note", default="the machine was shared with other work while this ran")
    parser.add_argument("--repeats", type=int, default=3, help="fits per row (the median is shown, and the range)")
    parser.add_argument(
        "--merge", action="store_true", help="keep the rows of the last results that this run does not measure again"
    )
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, not {args.repeats}")
    rows = []
    if not args.no_fast:
        for info in RECIPES.values():
            rows.append(measure(12_000, info.name, "fast", FAST_INTERACTIONS, args.repeats))
            print(rows[-1], flush=True)
    for n in args.sizes:
        for recipe in args.recipes:
            rows.append(measure(n, recipe, repeats=args.repeats))
            print(rows[-1], flush=True)
    command = f"python {' '.join(sys.argv)}"
    commands, notes = [command], [args.note]
    if args.merge and (RESULTS / "training.json").exists():
        rows, commands, notes = merged(json.loads((RESULTS / "training.json").read_text()), rows, command, args.note)
    for row in rows:  # rows kept from a run before the repeats were measured
        row.setdefault("fit_s_range", "1 run")
    header = ("synthetic ratings", "profile", "recipe", "interactions", "catalogue", "fit s (median)", "range",
              "peak MiB", "quiet", "target", "")  # fmt: skip
    keys = ("synthetic_ratings", "profile", "recipe", "interactions", "catalogue", "fit_s", "fit_s_range",
            "peak_rss_mib", "quiet", "target", "verdict")  # fmt: skip
    table = ["| " + " | ".join(header) + " |", "|---:|---|---|---:|---:|---:|---|---:|---|---|---|"]
    table += ["| " + " | ".join(f"{r[k]:,}" if isinstance(r[k], int) else str(r[k]) for k in keys) + " |" for r in rows]
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    print("\n".join(table))
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {"date": time.strftime("%Y-%m-%d"), "machine": machine, "commands": commands, "notes": notes,
              "results": rows}  # fmt: skip
    (RESULTS / "training.json").write_text(json.dumps(report, indent=2) + "\n")
    runs = "; ".join(f"`{c}` ({n})" for c, n in zip(commands, notes, strict=True))
    (RESULTS / "training.md").write_text(
        "# Training benchmark\n\n"
        f"{runs} on {machine}, {time.strftime('%Y-%m-%d')}: synthetic "
        "ratings, those of 3 or more kept as interactions (as `prepare` does), item genres and user demographics "
        "as metadata, default hyperparameters; each fit in its own process (the first fit of a TensorFlow recipe "
        "includes importing TensorFlow); the fit time is the median of a row's runs, one process after the other, "
        "with their range beside it (a row kept from an earlier run of one fit says so). "
        f"The fast profile fits the newest {FAST_INTERACTIONS:,} interactions.\n\n" + "\n".join(table) + "\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
