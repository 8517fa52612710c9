"""``prepare``: raw data -> interaction.csv, item-meta.csv, user-meta.csv and their schemas."""

from __future__ import annotations

import argparse
import json
import sys

from personalize_kit.cli._common import positive_int

EXAMPLE = """\
examples:
  python -m personalize_kit prepare --out out
  python -m personalize_kit prepare --source ../shared/data/movielens/ml-100k --out out
  python -m personalize_kit prepare --source synthetic --interactions 1000000 --seed 7 --out out \\
      --event-mapping "love:4.5-5,watch:3"
"""


def register(sub: argparse._SubParsersAction, formatter: type) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "prepare",
        help="turn raw data into Personalize-ready CSVs and Avro schemas",
        description="Read a MovieLens folder (ml-100k, ml-1m, ml-latest-small, ml-20m/25m/32m) or generate "
        "synthetic data, and write interaction.csv, item-meta.csv, user-meta.csv and schemas/*.json. Rows "
        "that cannot be kept go to *.rejected.csv with the reason.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    p.add_argument(
        "--source",
        default="default",
        help="a MovieLens folder, 'synthetic', or 'default' (ml-latest-small from the cache or GroupLens, "
        "else synthetic)",
    )
    p.add_argument("--out", default="out", help="output folder")
    p.add_argument("--interactions", type=positive_int, default=None, help="synthetic: number of interactions")
    p.add_argument("--seed", type=int, default=0, help="synthetic: random seed")
    p.add_argument(
        "--event-mapping",
        default="watch:3",
        help="rating -> event rules EVENT:MIN[-MAX], first match wins; unmatched ratings are rejected",
    )
    p.add_argument("--event-value", choices=("rating", "none"), default="rating", help="what goes into EVENT_VALUE")
    p.add_argument(
        "--realtime-features",
        action="store_true",
        help="also write LAST_WATCHED_MOVIE and LAST_RATING into interaction.csv",
    )
    p.add_argument("--chunk-rows", type=positive_int, default=1_000_000, help="rows per streamed chunk")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    return p


def run(args: argparse.Namespace) -> int:
    from personalize_kit.data.events import EventMapping
    from personalize_kit.data.prepare import prepare
    from personalize_kit.data.resolve import open_source

    mapping = EventMapping.parse(args.event_mapping, value=args.event_value)
    raw = open_source(args.source, interactions=args.interactions, seed=args.seed, chunk_rows=args.chunk_rows)
    result = prepare(
        raw, args.out, mapping=mapping, realtime_features=args.realtime_features, progress=sys.stderr.isatty()
    )
    if args.json:
        print(json.dumps({"source": raw.origin or raw.name, **result.summary()}, indent=2))
    else:
        print(f"source: {raw.origin or raw.name}")
        print(result.report.to_table())
        for name, reasons in result.rejected.items():
            for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
                print(f"  rejected from {name}: {count:,} x {reason}")
        written = ", ".join(str(p) for p in [*result.files.values(), *result.schemas.values()])
        print(f"wrote {written} in {result.seconds:.1f}s")
    return 0 if result.report.ok else 1
