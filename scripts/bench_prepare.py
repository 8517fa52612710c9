"""Benchmark: prepare + validate + write throughput and peak memory on synthetic interactions.

The input is written first (untimed) as a MovieLens csv-layout folder (ratings.csv, movies.csv), so that
the timed run reads real files exactly as `prepare --source DIR` does. Each timed step runs in a child
process so that its peak resident memory (ru_maxrss) is its own.

    python scripts/bench_prepare.py                 # 1M and 25M interactions
    python scripts/bench_prepare.py --sizes 1000000 --work /tmp/bench

Prints a table and writes scripts/results/prepare.json and scripts/results/prepare.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "scripts" / "results"

CHILD = r"""
import json, resource, sys, time
step, source, out = sys.argv[1:4]
from personalize_kit.data.movielens import load_movielens
from personalize_kit.data.prepare import prepare
from personalize_kit.data.validate import validate_directory
started = time.perf_counter()  # after the imports: the steps are timed, not the interpreter's start
if step == "prepare":
    result = prepare(load_movielens(source), out)
    counts = result.report.counts["interaction.csv"]
    info = {"read": counts.read, "written": counts.written, "rejected": counts.rejected,
            "balanced": counts.balanced}
else:
    report = validate_directory(out)
    rows, bad = report.rows_checked["interaction.csv"]
    info = {"read": rows, "with_errors": bad, "ok": report.ok}
info["seconds"] = time.perf_counter() - started
info["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(info))
"""


def write_input(n: int, folder: Path, seed: int = 0) -> float:
    """Write synthetic ratings.csv + movies.csv; return the seconds it took (not part of the benchmark)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from personalize_kit.data.synthetic import SyntheticConfig, generate

    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    raw = generate(SyntheticConfig(n_interactions=n, seed=seed))
    with open(folder / "ratings.csv", "wb") as handle:
        handle.write(b"userId,movieId,rating,timestamp\n")
        for chunk in raw.ratings():
            table = pa.table(
                {
                    "userId": chunk["user_id"],
                    "movieId": chunk["item_id"],
                    "rating": chunk["rating"],
                    "timestamp": chunk["timestamp"],
                }
            )
            pcsv.write_csv(table, handle, pcsv.WriteOptions(include_header=False, quoting_style="none"))
    items = raw.items[["item_id", "title", "genres"]].rename(columns={"item_id": "movieId"})
    items.to_csv(folder / "movies.csv", index=False)
    return time.perf_counter() - started


def run_child(step: str, source: Path, out: Path) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHILD, step, str(source), str(out)], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 25_000_000])
    parser.add_argument("--work", type=Path, default=Path("/tmp/personalize_kit_bench_prepare"))
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per size; the median is reported")
    parser.add_argument("--keep", action="store_true", help="keep the generated input and output")
    args = parser.parse_args()

    rows = []
    for n in args.sizes:
        source, out = args.work / f"in-{n}", args.work / f"out-{n}"
        gen_seconds = write_input(n, source)
        runs = [(run_child("prepare", source, out), run_child("validate", source, out)) for _ in range(args.repeat)]
        prep = sorted((p for p, _ in runs), key=lambda r: r["seconds"])[len(runs) // 2]
        val = sorted((v for _, v in runs), key=lambda r: r["seconds"])[len(runs) // 2]
        assert prep["balanced"] and prep["read"] == n
        rows.append(
            {
                "interactions": n,
                "input_mib": round((source / "ratings.csv").stat().st_size / 2**20, 1),
                "generate_input_s": round(gen_seconds, 2),
                "prepare_s": round(prep["seconds"], 2),
                "prepare_rows_per_s": round(n / prep["seconds"]),
                "prepare_peak_rss_mib": round(prep["peak_rss_mib"]),
                "written": prep["written"],
                "rejected": prep["rejected"],
                "validate_s": round(val["seconds"], 2),
                "validate_rows_per_s": round(val["read"] / val["seconds"]),
                "validate_peak_rss_mib": round(val["peak_rss_mib"]),
                "repeats": args.repeat,
            }
        )
        if not args.keep:
            shutil.rmtree(args.work, ignore_errors=True)

    header = (
        "interactions",
        "input MiB",
        "prepare s",
        "prepare rows/s",
        "prepare peak MiB",
        "validate s",
        "validate rows/s",
        "validate peak MiB",
    )
    keys = (
        "interactions",
        "input_mib",
        "prepare_s",
        "prepare_rows_per_s",
        "prepare_peak_rss_mib",
        "validate_s",
        "validate_rows_per_s",
        "validate_peak_rss_mib",
    )
    table = ["| " + " | ".join(header) + " |", "|" + "---:|" * len(header)]
    table += ["| " + " | ".join(f"{r[k]:,}" if isinstance(r[k], int) else str(r[k]) for k in keys) + " |" for r in rows]
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    print("\n".join(table))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "prepare.json").write_text(
        json.dumps({"date": time.strftime("%Y-%m-%d"), "machine": machine, "results": rows}, indent=2) + "\n"
    )
    (RESULTS / "prepare.md").write_text(
        "# Preparation benchmark\n\n"
        f"`python scripts/bench_prepare.py` on {machine}, {time.strftime('%Y-%m-%d')}. Input: synthetic "
        "interactions written as a MovieLens csv folder; prepare = read + check + map + deduplicate + write "
        "interaction.csv, item-meta.csv, schemas and rejects; validate = re-read and check the written "
        "folder. Each step runs in its own process, timed after its imports; the median of the repeats is "
        "shown. Peak memory is the child process's maximum resident set.\n\n"
        + "\n".join(table)
        + "\n\nTargets: prepare at 2M interactions/s or more; peak memory under 2 GiB at 25M.\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
