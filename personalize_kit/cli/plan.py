"""``plan``: what a pipeline run would create, update or leave, without changing anything."""

from __future__ import annotations

import argparse

from personalize_kit.cli._common import RECIPE_CHOICES, add_backend_args, table

EXAMPLE = """\
examples:
  python -m personalize_kit plan --recipe user-personalization
  python -m personalize_kit plan --project project.yaml --backend aws
"""


def register(sub: argparse._SubParsersAction, formatter: type) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "plan",
        help="show what a pipeline run would create, update or leave",
        description="Run the pipeline in plan mode: the data is prepared locally (to know what would be "
        "imported), and every step answers what it would do (create, adopt, update, replace a failed resource, "
        "keep, or conflict) from Describe and List calls only: nothing is created. Exits 1 on a conflict.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    p.add_argument("--recipe", choices=(*RECIPE_CHOICES, "all"), default=None, help="as for pipeline")
    p.add_argument("--source", default=None, help="as for pipeline")
    add_backend_args(p)
    return p


def run(args: argparse.Namespace) -> int:
    from personalize_kit.cli._common import load, say
    from personalize_kit.sdk.pipeline import plan

    project, backend = load(args)
    rows = plan(project, backend, say=say)
    print(table(rows, ["resource", "name", "a pipeline run would"]))
    return 1 if any(v.startswith("conflict") for _, _, v in rows) else 0
