"""``events put``: record what a user just did (PutEvents through the dataset group's event tracker)."""

from __future__ import annotations

import argparse
import time

from personalize_kit.cli._common import add_backend_args, finite_number, identifier, load, say
from personalize_kit.cli.recommend import require

EXAMPLE = """\
examples:
  python -m personalize_kit events put --user 1 --item 50
  python -m personalize_kit events put --user 1 --item 50 --type watch --value 4 --session-id web-42
Events count at once: User-Personalization campaigns and filters on Interactions see them.
"""


def register(sub: argparse._SubParsersAction, formatter: type) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "events",
        help="record interaction events through the dataset group's event tracker",
        description="`events put` sends one event with PutEvents, using the trackingId of the dataset group's "
        "event tracker (created by the pipeline).",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    put = actions.add_parser(
        "put",
        help="record one event",
        description="Record that --user did --type (e.g. watch) on --item, now.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    put.add_argument("--user", type=identifier, default=None, metavar="ID", help="the user (required)")
    put.add_argument("--item", type=identifier, default=None, metavar="ID", help="the item (required)")
    put.add_argument("--type", default="watch", help="the event type (the project's event mapping writes watch)")
    put.add_argument("--value", type=finite_number, default=None, help="the event value, e.g. a rating")
    put.add_argument("--session-id", default=None, help="the session (default: the user ID)")
    add_backend_args(put)
    return p


def tracking_id(group: str, session: object) -> tuple[str, str]:
    """The (name, trackingId) of the dataset group's event tracker; a clear error when it has none."""
    from personalize_kit.exceptions import MissingResourceError
    from personalize_kit.sdk._clients import client
    from personalize_kit.sdk.status import dataset_group_arn, list_all

    personalize = client("personalize", session)
    trackers = list_all(
        personalize, "list_event_trackers", "eventTrackers", datasetGroupArn=dataset_group_arn(group, session=session)
    )
    if not trackers:
        raise MissingResourceError(
            f"dataset group {group} has no event tracker; create one with `python -m personalize_kit pipeline`"
        )
    tracker = personalize.describe_event_tracker(eventTrackerArn=trackers[0]["eventTrackerArn"])["eventTracker"]
    return tracker["name"], tracker["trackingId"]


def run(args: argparse.Namespace) -> int:
    from personalize_kit.sdk._clients import client

    example = "events put --user 1 --item 50"
    user = str(require(args.user, "--user ID", "the user who did something", example))
    item = str(require(args.item, "--item ID", "the item it was done to", example))
    if not args.type:
        raise ValueError("--type must name the event type, e.g. --type watch")
    project, backend = load(args)
    name, tracking = tracking_id(project.name, backend.session)
    event: dict[str, object] = {"eventType": args.type, "itemId": item, "sentAt": time.time()}
    if args.value is not None:
        event["eventValue"] = args.value
    session_id = args.session_id or user
    client("personalize-events", backend.session).put_events(
        trackingId=tracking, userId=user, sessionId=session_id, eventList=[event]
    )
    value = f" value {args.value:g}" if args.value is not None else ""
    say(f"event tracker {name} of dataset group {project.name}")
    print(f"recorded {args.type} of item {item} by user {user}{value} (session {session_id})")
    return 0
