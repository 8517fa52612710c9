"""Benchmark: the zero-config pipeline end to end on the local backend, and the second run that changes nothing.

    python scripts/bench_pipeline.py                                  # --recipe user-personalization
    python scripts/bench_pipeline.py --recipe all --source ../shared/data/movielens/ml-latest-small

Each run is `python -m personalize_kit pipeline ...` in a fresh working directory with a fresh state
directory, timed from the outside (interpreter start included). Prints a table and writes
scripts/results/pipeline.json and scripts/results/pipeline.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "scripts" / "results"
#: Target of the first run (issue 14), on 2 cores.
TARGET_S = 60.0


def run(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, str, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "personalize_kit", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"pipeline failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return seconds, done.stdout, done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default="user-personalization")
    parser.add_argument("--source", default=None, help="data source (default: the zero-config default data)")
    parser.add_argument("--note", default="the machine was shared with other work while this ran")
    args = parser.parse_args()

    extra = ["--source", str(Path(args.source).resolve())] if args.source else []
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)
        env = {**os.environ, "PERSONALIZE_KIT_HOME": str(cwd / "state")}
        command = ["pipeline", "--recipe", args.recipe, *extra]
        first, out1, err1 = run(command, cwd, env)
        second, out2, _ = run(command, cwd, env)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    source = next(
        (line.split(": ", 1)[1].split(":")[0] for line in err1.splitlines() if line.startswith("prepared ")), "?"
    )
    metrics = {
        m.group(1): [float(x) for x in m.group(2).split()]
        for m in re.finditer(r"^(\w+_at_\d+|coverage)\s+([\d.\s]+)$", out1, flags=re.M)
    }
    rows = [
        {"run": "first (creates everything)", "seconds": round(first, 1), "created": out1.splitlines()[0]},
        {"run": "second (nothing changed)", "seconds": round(second, 1), "created": out2.splitlines()[0]},
    ]
    table = ["| run | seconds | outcome |", "|---|---:|---|"]
    table += [f"| {r['run']} | {r['seconds']} | {r['created']} |" for r in rows]
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    print("\n".join(table))
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": machine,
        "command": " ".join(command),
        "source": source,
        "runs": rows,
        "metrics": metrics,
        "peak_rss_mib": round(peak),
        "note": args.note,
        "target_s": TARGET_S,
        "verdict": "PASS" if first <= TARGET_S else "FAIL",
    }
    (RESULTS / "pipeline.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "pipeline.md").write_text(
        "# Pipeline benchmark\n\n"
        f"`python scripts/bench_pipeline.py --recipe {args.recipe}` on {machine}, {time.strftime('%Y-%m-%d')} "
        f"({args.note}): "
        f"`python -m personalize_kit {' '.join(command)}` on the local backend, data: {source}. "
        f"Peak memory of the runs: {round(peak)} MiB.\n\n"
        + "\n".join(table)
        + f"\n\nTarget: the first run <= {TARGET_S:.0f} s on 2 cores ({result['verdict']}); the second creates "
        "nothing. A solution version is trained once: on the service's split for the metrics, then continued on "
        "all the data.\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
