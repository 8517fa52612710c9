"""``recommend``: recommendations for a user from a deployed campaign (personalize-runtime).

The campaign defaults to the project's campaign whose recipe suits the request (the user recipes here;
SIMS for ``similar``, Personalized-Ranking for ``rank``), else any campaign of the dataset group that suits.
``similar`` and ``rank`` live in their own modules and share the helpers below.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from personalize_kit.cli._common import add_backend_args, identifier, load, say, table

EXAMPLE = """\
examples:
  python -m personalize_kit recommend --user 1
  python -m personalize_kit recommend --user 1 --num 5 --json
  python -m personalize_kit recommend --user 1 --filter by-genre --filter-values '{"GENRE": "\\"Comedy\\""}'
"""
MAX_RESULTS = 500


def add_runtime_args(p: argparse.ArgumentParser, *, num: bool = True) -> None:
    """Options every runtime command takes: the backend, the campaign, a filter, the output format."""
    add_backend_args(p)
    p.add_argument("--campaign", default=None, help="campaign name (default: the project's campaign that suits)")
    if num:
        p.add_argument("--num", type=int, default=10, help=f"number of results (1-{MAX_RESULTS})")
    p.add_argument("--filter", default=None, help="name of a filter of the dataset group to apply")
    p.add_argument(
        "--filter-values",
        default=None,
        metavar="JSON",
        help='values of the filter\'s $PARAMETERS as a JSON object, e.g. \'{"GENRE": "\\"Comedy\\""}\'',
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def require(value: Any, option: str, what: str, example: str) -> Any:
    """``value``, or a one-line error naming the missing option and an example."""
    if value is None or value == "":
        raise ValueError(f"{option} is required: {what} (e.g. `python -m personalize_kit {example}`)")
    return value


def filter_args(args: argparse.Namespace, group: str, session: Any) -> dict[str, Any]:
    """``filterArn`` and ``filterValues`` request parameters from --filter / --filter-values, checked."""
    from personalize_kit.exceptions import MissingResourceError
    from personalize_kit.sdk._clients import client
    from personalize_kit.sdk.status import dataset_group_arn, list_all

    filter_values = getattr(args, "filter_values", None)
    if args.filter is None:
        if filter_values is not None:
            raise ValueError("--filter-values needs --filter NAME: the filter whose $PARAMETERS they fill")
        return {}
    personalize = client("personalize", session)
    filters = list_all(
        personalize, "list_filters", "Filters", datasetGroupArn=dataset_group_arn(group, session=session)
    )
    chosen = next((f for f in filters if f["name"] == args.filter), None)
    if chosen is None:
        raise MissingResourceError(
            f"filter {args.filter!r} is not in dataset group {group} (filters: "
            f"{', '.join(f['name'] for f in filters) or 'none'}); add it under `filters:` in the project file "
            "and run the pipeline"
        )
    params: dict[str, Any] = {"filterArn": chosen["filterArn"]}
    if filter_values is not None:
        try:
            values = json.loads(filter_values)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"--filter-values is not valid JSON ({exc.msg} at column {exc.colno}); write an "
                'object such as \'{"GENRE": "\\"Comedy\\",\\"Drama\\""}\''
            ) from None
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()):
            raise ValueError('--filter-values must be a JSON object of strings, e.g. \'{"GENRE": "\\"Comedy\\""}\'')
        params["filterValues"] = values
    return params


def campaign_for(args: argparse.Namespace, purpose: str) -> tuple[Any, Any, dict[str, Any]]:
    """The project, the backend and the campaign to ask (see :func:`personalize_kit.sdk.status.pick_campaign`)."""
    from personalize_kit.sdk.status import pick_campaign

    project, backend = load(args)
    preferred = tuple(project.campaign_name(s) for s in project.solutions if s.campaign is not None)
    campaign = pick_campaign(project.name, purpose, name=args.campaign, preferred=preferred, session=backend.session)
    if campaign["status"] != "ACTIVE":
        say(f"note: campaign {campaign['name']} is {campaign['status']}")
    return project, backend, campaign


def show(items: list[dict[str, Any]], as_json: bool) -> None:
    """Print ``itemId`` and ``score`` of each result (``-`` where the recipe gives no score)."""
    if as_json:
        print(json.dumps([{"itemId": i["itemId"], "score": i.get("score")} for i in items], indent=2))
        return
    rows = [(i["itemId"], "-" if i.get("score") is None else f"{i['score']:.6f}") for i in items]
    print(table(rows, ["item", "score"]))


def check_num(num: int) -> int:
    if not 1 <= num <= MAX_RESULTS:
        raise ValueError(f"--num must be between 1 and {MAX_RESULTS}, not {num}")
    return num


def register(sub: argparse._SubParsersAction, formatter: type) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "recommend",
        help="recommendations for a user from a campaign",
        description="GetRecommendations for --user from a User-Personalization or Popularity-Count campaign "
        "(default: the project's). Events recorded with `events put` count at once.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    p.add_argument("--user", type=identifier, default=None, metavar="ID", help="the user (required)")
    add_runtime_args(p)
    return p


def get_recommendations(args: argparse.Namespace, command: str, key: str, value: str) -> int:
    """GetRecommendations for ``key`` (``userId`` or ``itemId``) from the campaign ``command`` picks; print it."""
    from personalize_kit.sdk._clients import client

    check_num(args.num)
    project, backend, campaign = campaign_for(args, command)
    request = {"campaignArn": campaign["arn"], key: str(value), "numResults": args.num}
    request.update(filter_args(args, project.name, backend.session))
    response = client("personalize-runtime", backend.session).get_recommendations(**request)
    say(f"campaign {campaign['name']} ({campaign['recipe']}), {key.removesuffix('Id')} {value}")
    show(response["itemList"], args.json)
    return 0


def run(args: argparse.Namespace) -> int:
    user = require(args.user, "--user ID", "the user to recommend items to", "recommend --user 1")
    return get_recommendations(args, "recommend", "userId", user)
