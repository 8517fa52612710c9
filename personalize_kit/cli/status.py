"""``status``: the resource tree of the dataset group, with the state of every resource."""

from __future__ import annotations

import argparse
import json
from typing import Any

from personalize_kit.cli._common import add_backend_args, load

EXAMPLE = """\
examples:
  python -m personalize_kit status
  python -m personalize_kit status --name movielens --json
  python -m personalize_kit status --project project.yaml --backend aws
"""


def register(sub: argparse._SubParsersAction, formatter: type) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "status",
        help="show the dataset group's resources and their states, as a tree",
        description="The dataset group -> datasets -> import jobs; solutions -> versions (status, training "
        "mode, creation time) -> campaigns; the event tracker; filters; batch inference jobs. Read-only.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    add_backend_args(p)
    p.add_argument("--json", action="store_true", help="print the tree as JSON")
    return p


def _when(value: str | None) -> str:
    return value.replace("T", " ")[:19] if value else "?"


def _reason(entry: dict[str, Any]) -> str:
    return f" - {entry['failureReason']}" if entry.get("failureReason") else ""


def render(tree: dict[str, Any]) -> str:
    """The tree as indented text, one resource a line."""
    group = tree["datasetGroup"]
    key = group.get("kmsKeyArn")
    lines = [
        f"dataset group {group['name']}: {group['status']}" + (f" (KMS key {key.rsplit('/', 1)[-1]})" if key else "")
    ]
    lines.append("  datasets" + ("" if tree["datasets"] else ": none"))
    for dataset in tree["datasets"]:
        lines.append(f"    {dataset['type']} {dataset['name']}: {dataset['status']}")
        for job in dataset["importJobs"]:
            lines.append(
                f"      import job {job['name']}: {job['status']} ({job.get('importMode') or 'FULL'}, "
                f"{_when(job['created'])}){_reason(job)}"
            )
    lines.append("  solutions" + ("" if tree["solutions"] else ": none"))
    for solution in tree["solutions"]:
        lines.append(f"    {solution['name']} ({solution['recipe']}): {solution['status']}")
        for version in solution["versions"]:
            lines.append(
                f"      version {version['id']}: {version['status']} ({version['trainingMode']}, "
                f"{_when(version['created'])}){_reason(version)}"
            )
            for campaign in version["campaigns"]:
                update = f", update {campaign['update']}" if campaign.get("update") not in (None, "ACTIVE") else ""
                lines.append(
                    f"        campaign {campaign['name']}: {campaign['status']} "
                    f"(min TPS {campaign['minProvisionedTPS']}{update}){_reason(campaign)}"
                )
    tracker = tree["eventTracker"]
    lines.append(
        f"  event tracker {tracker['name']}: {tracker['status']} (trackingId {tracker['trackingId']})"
        if tracker
        else "  event tracker: none"
    )
    lines.append("  filters" + ("" if tree["filters"] else ": none"))
    lines += [f"    {f['name']}: {f['status']}  {f['expression']}" for f in tree["filters"]]
    lines.append("  batch inference jobs" + ("" if tree["batchInferenceJobs"] else ": none"))
    for job in tree["batchInferenceJobs"]:
        lines.append(
            f"    {job['name']}: {job['status']} (version {job['solutionVersionArn'].rsplit('/', 1)[-1]}, "
            f"{_when(job['created'])}){_reason(job)}"
        )
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from personalize_kit.sdk.status import resource_tree

    project, backend = load(args)
    tree = resource_tree(project.name, session=backend.session)
    print(json.dumps(tree, indent=2) if args.json else render(tree))
    return 0
