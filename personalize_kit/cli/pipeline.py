"""``pipeline``: the whole lifecycle, idempotent and resumable, on the local mirror or on AWS."""

from __future__ import annotations

import argparse
import json

from personalize_kit.cli._common import RECIPE_CHOICES, Progress, add_backend_args, load, positive_seconds, say, table
from personalize_kit.domains import DOMAINS

EXAMPLE = """\
examples:
  python -m personalize_kit pipeline --recipe user-personalization
  python -m personalize_kit pipeline --recipe all --source ../shared/data/movielens/ml-100k
  python -m personalize_kit pipeline --project project.yaml --backend aws
  python -m personalize_kit pipeline --domain video-on-demand --name vod
A second run with nothing changed creates nothing; a run that was killed finishes when run again.
"""


def register(sub: argparse._SubParsersAction, formatter: type) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "pipeline",
        help="prepare, import, train, evaluate and deploy: the whole lifecycle",
        description="Prepare the data, upload it (SSE-KMS), create schemas, dataset group, datasets and import "
        "jobs, train solution versions, read their metrics, deploy campaigns (a new version replaces the "
        "deployed one only if its metrics are not worse, unless --force), create the event tracker and filters, "
        "and show sample recommendations.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    what = p.add_mutually_exclusive_group()
    what.add_argument(
        "--recipe",
        choices=(*RECIPE_CHOICES, "all"),
        default=None,
        help="train this recipe (all: the four, side by side); default: the project file's solutions",
    )
    what.add_argument(
        "--domain",
        choices=tuple(DOMAINS),
        default=None,
        help="make a domain dataset group with one recommender per use case of the domain (the project file's "
        "recommenders: when it has a domain) instead of solutions and campaigns",
    )
    p.add_argument("--source", default=None, help="data: a MovieLens folder, 'synthetic' or 'default'")
    add_backend_args(p)
    p.add_argument("--force", action="store_true", help="deploy new solution versions even if their metrics are worse")
    p.add_argument("--timeout", type=positive_seconds, default=3 * 3600.0, help="seconds to wait for any one resource")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    return p


def run(args: argparse.Namespace) -> int:
    from personalize_kit.sdk.pipeline import run_pipeline
    from personalize_kit.sdk.resources import Options

    project, backend = load(args)
    say(
        f"pipeline {project.name} on the {backend.kind} backend"
        + (f" (state in {backend.state_dir})" if backend.state_dir else "")
    )
    result = run_pipeline(
        project, backend, force=args.force, say=say, options=Options(timeout=args.timeout, progress=Progress())
    )
    if args.json:
        print(
            json.dumps(
                {
                    "created": [
                        {"kind": o.kind, "name": o.name, "arn": o.arn, "action": o.action} for o in result.created
                    ],
                    "replaced": [
                        {"arn": arn, "status": status, "failureReason": reason}
                        for arn, status, reason in result.replaced
                    ],
                    "solutions": [
                        {
                            "name": s.solution.name,
                            "recipe": s.config.recipe,
                            "solution_version": s.version.arn,
                            "metrics": s.metrics,
                            "campaign": s.campaign.arn if s.campaign else None,
                            "samples": s.samples,
                        }
                        for s in result.solutions
                    ],
                    "recommenders": [
                        {
                            "name": m.outcome.name,
                            "use_case": m.use_case.name,
                            "arn": m.outcome.arn,
                            "status": m.outcome.description.get("status"),
                            "samples": m.samples,
                        }
                        for m in result.recommenders
                    ],
                },
                indent=2,
            )
        )
        return 0
    print(summary(result))
    return 0


def summary(result) -> str:  # noqa: ANN001 - PipelineResult, imported lazily
    changed = result.created
    lines = [
        f"{len(changed)} resource(s) created or updated"
        if changed
        else "nothing changed: every resource was already in place"
    ]
    for arn, status, reason in result.replaced:
        lines.append(f"replaced {arn} ({status}: {reason})")
    if result.solutions:
        metrics = sorted({m for s in result.solutions for m in s.metrics})
        header = ["metric", *[s.solution.name for s in result.solutions]]
        rows = [[m, *[f"{s.metrics.get(m, float('nan')):.4f}" for s in result.solutions]] for m in metrics]
        lines += [
            "",
            "offline metrics of the solution versions (the service's split: 10% of users held out)",
            table(rows, header),
        ]
    for m in result.recommenders:
        lines += ["", f"sample recommendations from recommender {m.outcome.name} ({m.use_case.description})"]
        lines += [f"  {who}: {', '.join(items)}" for who, items in m.samples]
    for s in result.solutions:
        if s.samples:
            lines += ["", f"sample recommendations from campaign {s.campaign.name}:"]
            lines += [f"  {who}: {', '.join(items)}" for who, items in s.samples]
    return "\n".join(lines)
