"""``similar``: items related to an item, from a SIMS campaign (personalize-runtime)."""

from __future__ import annotations

import argparse

from personalize_kit.cli.recommend import add_runtime_args, campaign_for, check_num, filter_args, require, show

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
    p.add_argument("--item", default=None, metavar="ID", help="the item to find related items for (required)")
    add_runtime_args(p)
    return p


def run(args: argparse.Namespace) -> int:
    from personalize_kit.cli._common import say
    from personalize_kit.sdk._clients import client

    item = require(args.item, "--item ID", "the item to find related items for", "similar --item 50")
    check_num(args.num)
    project, backend, campaign = campaign_for(args, "similar")
    request = {"campaignArn": campaign["arn"], "itemId": str(item), "numResults": args.num}
    request.update(filter_args(args, project.name, backend.session))
    response = client("personalize-runtime", backend.session).get_recommendations(**request)
    say(f"campaign {campaign['name']} ({campaign['recipe']}), item {item}")
    show(response["itemList"], args.json)
    return 0
