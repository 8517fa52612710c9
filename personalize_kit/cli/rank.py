"""``rank``: a list of items re-ranked for a user, from a Personalized-Ranking campaign (personalize-runtime)."""

from __future__ import annotations

import argparse

from personalize_kit.cli._common import MAX_ID_LENGTH, identifier
from personalize_kit.cli.recommend import add_runtime_args, campaign_for, filter_args, require, show
from personalize_kit.exceptions import shorten

EXAMPLE = """\
examples:
  python -m personalize_kit rank --user 1 --items 50,172,133
  python -m personalize_kit rank --user 1 --items 50,172,133 --campaign movielens-personalized-ranking --json
"""
MAX_ITEMS = 500


def register(sub: argparse._SubParsersAction, formatter: type) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "rank",
        help="re-rank a list of items for a user, from a Personalized-Ranking campaign",
        description="GetPersonalizedRanking of --items for --user (default campaign: the project's "
        "Personalized-Ranking one). Items the model does not know come last, without a score.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    p.add_argument("--user", type=identifier, default=None, metavar="ID", help="the user to rank for (required)")
    p.add_argument("--items", default=None, metavar="A,B,C", help="comma-separated item IDs to rank (required)")
    add_runtime_args(p, num=False)
    return p


def run(args: argparse.Namespace) -> int:
    from personalize_kit.cli._common import say
    from personalize_kit.sdk._clients import client

    example = "rank --user 1 --items 50,172,133"
    user = require(args.user, "--user ID", "the user to rank the items for", example)
    items = [i.strip() for i in require(args.items, "--items A,B,C", "the items to rank", example).split(",")]
    items = [i for i in items if i]
    too_long = next((i for i in items if len(i) > MAX_ID_LENGTH), None)
    if too_long is not None:
        raise ValueError(
            f"--items: {shorten(too_long, 40)!r} is too long; item IDs are at most {MAX_ID_LENGTH} characters"
        )
    if not 1 <= len(items) <= MAX_ITEMS:
        raise ValueError(f"--items must name 1 to {MAX_ITEMS} comma-separated item IDs, e.g. 50,172,133")
    project, backend, campaign = campaign_for(args, "rank")
    request = {"campaignArn": campaign["arn"], "userId": str(user), "inputList": items}
    request.update(filter_args(args, project.name, backend.session))
    response = client("personalize-runtime", backend.session).get_personalized_ranking(**request)
    say(f"campaign {campaign['name']} ({campaign['recipe']}), user {user}, {len(items)} item(s)")
    show(response["personalizedRanking"], args.json)
    return 0
