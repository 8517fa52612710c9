"""``validate``: check a prepared folder against its schemas and Personalize's data rules."""

from __future__ import annotations

import argparse
import sys

EXAMPLE = """\
examples:
  python -m personalize_kit validate out
  python -m personalize_kit validate out --json > report.json
exit status: 0 when nothing blocks an import, 1 when there are blocking errors.
"""


def register(sub: argparse._SubParsersAction, formatter: type) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "validate",
        help="check prepared CSVs against their schemas and the service's data rules",
        description="Validate interaction.csv, item-meta.csv and user-meta.csv in a folder against "
        "schemas/*.json and Amazon Personalize's data rules. Every problem names file, line and field.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    p.add_argument("directory", help="the folder `prepare` wrote")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--now", type=int, default=None, help="reference time (epoch seconds) for future timestamps")
    return p


def run(args: argparse.Namespace) -> int:
    from personalize_kit.data.validate import validate_directory

    report = validate_directory(args.directory, now=args.now, progress=sys.stderr.isatty())
    print(report.to_json() if args.json else report.to_table())
    return 0 if report.ok else 1
