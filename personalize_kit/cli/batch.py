"""``batch``: batch inference from a JSON Lines file of users or items, and its results as a local file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from personalize_kit.cli._common import Progress, add_backend_args, load, positive_seconds, say

EXAMPLE = """\
examples:
  python -m personalize_kit batch --solution movielens-user-personalization --input users.jsonl
  python -m personalize_kit batch --solution movielens-sims --input items.jsonl --num 10
  python -m personalize_kit batch --solution movielens-user-personalization --input users.jsonl \\
      --output s3://my-bucket/batch-output/run1/ --backend aws
Input: one JSON object a line, {"userId": "1"} (user recipes), {"itemId": "50"} (SIMS) or
{"userId": "1", "itemList": ["50", "172"]} (Personalized-Ranking).
"""


def register(sub: argparse._SubParsersAction, formatter: type) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "batch",
        help="batch recommendations for a JSON Lines file of users or items",
        description="Upload the input to the backend's bucket (SSE-KMS), run a batch inference job on the "
        "solution's newest ACTIVE version, wait for it, and download the results (<input>.out). Exits 1 if any "
        "line of the results carries an error.",
        epilog=EXAMPLE,
        formatter_class=formatter,
    )
    p.add_argument("--solution", default=None, help="the solution whose newest ACTIVE version answers (required)")
    p.add_argument("--input", default=None, metavar="FILE.jsonl", help="JSON Lines input (required)")
    p.add_argument(
        "--output",
        default=None,
        metavar="s3://BUCKET/PREFIX/",
        help="where the job writes (default: the backend's bucket, under batch-output/PROJECT/JOB/)",
    )
    p.add_argument(
        "--download", default=None, metavar="FILE", help="local file for the results (default: the input's path + .out)"
    )
    p.add_argument("--num", type=int, default=25, help="results per line (1-500)")
    p.add_argument("--filter", default=None, help="name of a filter of the dataset group to apply")
    add_backend_args(p)
    p.add_argument("--timeout", type=positive_seconds, default=6 * 3600.0, help="seconds to wait for the job")
    return p


def read_input(path: Path) -> int:
    """Check the JSON Lines input before anything is uploaded; return the number of records."""
    if not path.is_file():
        raise ValueError(f'--input {path} does not exist; write one JSON object a line, e.g. {{"userId": "1"}}')
    count = 0
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f'{path}, line {number}: not JSON ({exc.msg}); write one object a line, e.g. {{"userId": "1"}}'
                ) from None
            if not isinstance(record, dict) or not ({"userId", "itemId"} & set(record)):
                raise ValueError(
                    f'{path}, line {number}: each line needs a userId or an itemId, e.g. {{"userId": "1"}}'
                )
            count += 1
    if count == 0:
        raise ValueError(f'--input {path} has no records; write one JSON object a line, e.g. {{"userId": "1"}}')
    return count


def newest_active_version(group: str, solution: str, session: Any) -> str:
    from personalize_kit.exceptions import MissingResourceError
    from personalize_kit.sdk.status import version_metrics

    rows = [r for r in version_metrics(group, solution=solution, session=session) if r["status"] == "ACTIVE"]
    if not rows:
        raise MissingResourceError(
            f"solution {solution} has no ACTIVE version; train one with `python -m personalize_kit pipeline`"
        )
    return rows[-1]["solutionVersionArn"]


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def run(args: argparse.Namespace) -> int:
    from personalize_kit.cli.recommend import filter_args, require
    from personalize_kit.sdk.pipeline import run_batch
    from personalize_kit.sdk.resources import Options

    example = "batch --solution movielens-user-personalization --input users.jsonl"
    solution = require(args.solution, "--solution NAME", "the solution to run the job on", example)
    source = Path(require(args.input, "--input FILE.jsonl", "the users or items to recommend for", example))
    records = read_input(source)
    if not 1 <= args.num <= 500:
        raise ValueError(f"--num must be between 1 and 500, not {args.num}")
    if args.output is not None and (not args.output.startswith("s3://") or not _split(args.output)[0]):
        raise ValueError(f"--output {args.output}: give an S3 location, e.g. s3://my-bucket/batch-output/run1/")
    project, backend = load(args)
    version_arn = newest_active_version(project.name, solution, backend.session)
    filter_arn = filter_args(args, project.name, backend.session).get("filterArn")
    say(f"batch inference on version {version_arn.rsplit('/', 1)[-1]} of {solution}: {records} record(s)")
    job = run_batch(
        project,
        backend,
        source,
        version_arn=version_arn,
        solution=solution,
        num_results=args.num,
        output_uri=args.output,
        download=Path(args.download) if args.download else None,
        filter_arn=filter_arn,
        options=Options(timeout=args.timeout, progress=Progress()),
    )
    say(f"{job.action:>8}  batch inference job {job.name}")
    target = Path(job.description["resultsFile"])
    lines = [json.loads(line) for line in target.read_text(encoding="utf-8").splitlines() if line.strip()]
    failed = [line for line in lines if line.get("error")]
    print(f"{len(lines)} result(s), {len(failed)} error(s): {job.description['resultsUri']} -> {target}")
    for line in lines[:3]:
        query = line["input"].get("userId") or line["input"].get("itemId")
        items = (line.get("output") or {}).get("recommendedItems") or []
        print(
            f"  {query}: {', '.join(items[:5])}"
            + (" ..." if len(items) > 5 else "")
            + (f" error: {line['error']}" if line.get("error") else "")
        )
    return 0 if not failed else 1
