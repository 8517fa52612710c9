"""``cleanup``: delete everything in the dataset group, in dependency order (a dry run unless --yes)."""

from __future__ import annotations

import argparse
import json

from personalize_kit.cli._common import add_backend_args, load, positive_seconds, say, table

EXAMPLE = """\
examples:
  python -m personalize_kit cleanup
  python -m personalize_kit cleanup --yes
  python -m personalize_kit cleanup --name movielens --backend aws --yes
Without --yes nothing is deleted: the list shows what would be. Batch inference jobs stay (the service
cannot delete them); schemas another dataset group uses stay too.
"""


def register(sub: argparse._SubParsersAction, formatter: type) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "cleanup",
        help="delete everything in the dataset group (lists only, unless --yes)",
        description="Campaigns, filters, the event tracker, solutions (and their versions), datasets (and their "
        "import jobs), the dataset group, then the schemas its datasets used; each deletion is waited for "
        "until the resource is gone. Idle campaigns cost money: clean up what you no longer use.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    add_backend_args(p)
    p.add_argument("--yes", action="store_true", help="delete for real (default: list what would be deleted)")
    p.add_argument("--timeout", type=positive_seconds, default=3600.0, help="seconds to wait for any one deletion")
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    return p


def _short(arn: str) -> str:
    return arn.split(":", 5)[-1]


def run(args: argparse.Namespace) -> int:
    from personalize_kit.sdk.cleanup import cleanup

    project, backend = load(args)
    rows = cleanup(project.name, session=backend.session, dry_run=not args.yes, say=say, timeout=args.timeout)
    if args.json:
        print(json.dumps([{"kind": k, "arn": a, "action": x} for k, a, x in rows], indent=2))
    elif not rows:
        print(f"nothing to clean up: dataset group {project.name} does not exist and no schema of its name is left")
    else:
        print(table([(k.replace("_", " "), _short(a), x) for k, a, x in rows], ["resource", "name", "action"]))
        if not args.yes:
            deletions = sum(1 for _, _, x in rows if not x.startswith("keep"))
            print(f"dry run: {deletions} resource(s) would be deleted; run again with --yes to delete them")
    return 0
