"""``similar``: items related to an item, from a SIMS campaign (personalize-runtime)."""

from __future__ import annotations

import argparse

from personalize_kit.cli._common import identifier
from personalize_kit.cli.recommend import add_runtime_args, get_recommendations, require

EXAMPLE = """\
examples:
  python -m personalize_kit similar --item 50
  python -m personalize_kit similar --item 50 --campaign movielens-sims --num 5
"""


def register(sub: argparse._SubParsersAction, formatter: type) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "similar",
        help="items related to an item, from a SIMS campaign",
        description="GetRecommendations for --item from a SIMS campaign (default: the project's). SIMS gives "
        "no scores; unknown or sparse items get popular items.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    p.add_argument("--item", type=identifier, default=None, metavar="ID", help="the item (required)")
    add_runtime_args(p)
    return p


def run(args: argparse.Namespace) -> int:
    item = require(args.item, "--item ID", "the item to find related items for", "similar --item 50")
    return get_recommendations(args, "similar", "itemId", item)
