"""Batch inference and batch segment jobs (JSON Lines in S3 -> ``<input>.out`` in S3) and dataset export
jobs (CSV to S3).

Both run in a thread of the process that created them (moto's S3 lives in this process; see
:func:`personalize_kit.local.lifecycle.run_job`) and end ``ACTIVE`` or ``CREATE FAILED`` with a
``failureReason``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd

from personalize_kit.exceptions import RecipeInputError
from personalize_kit.local import access, runtime, store
from personalize_kit.local._moto import internal_client
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.exceptions import InvalidInputException, ServiceError
from personalize_kit.local.resources import Resources
from personalize_kit.recipes import RECIPES


class _JobFailed(Exception):
    pass


def _split(path: str) -> tuple[str, str]:
    if not path.startswith("s3://"):
        raise _JobFailed(f"The local mirror reads and writes s3:// locations only, not {path}.")
    bucket, _, key = path.removeprefix("s3://").partition("/")
    return bucket, key


def _s3(backend: PersonalizeBackend) -> Any:
    return internal_client("s3", backend.region)


def _check_access(backend: PersonalizeBackend, job: dict[str, Any], arn: str, paths: dict[str, dict]) -> None:
    """The job's role may read its input and write its output (and use their keys), or the job fails."""
    try:
        for purpose, location in paths.items():
            access.check_s3_access(job["roleArn"], purpose, location["path"], backend.region, source_arn=arn)
            if location.get("kmsKeyArn"):
                access.check_kms_key(location["kmsKeyArn"], job["roleArn"], backend.region, purpose=purpose)
    except InvalidInputException as exc:
        raise _JobFailed(exc.message) from exc


def _answer(backend: PersonalizeBackend, resources: Resources, job: dict[str, Any], query: dict[str, Any]) -> dict:
    version_arn = job["solutionVersionArn"]
    version = resources.find(version_arn, "solution_version").attrs
    recipe = RECIPES[version["recipeArn"]]
    user_id = query.get("userId")
    if recipe.recipe_type == "PERSONALIZED_RANKING":
        if not user_id or not isinstance(query.get("itemList"), list):
            raise InvalidInputException("an input line of a Personalized-Ranking job needs userId and itemList")
        group = version["datasetGroupArn"].split("/")[1]
        model = runtime.model_for(backend, version_arn, version["recipeArn"])
        ranked = model.rank(
            user_id, [str(i) for i in query["itemList"]], runtime.recent_events(backend, group, user_id)
        )
    else:
        key = "itemId" if recipe.recipe_type == "RELATED_ITEMS" else "userId"
        if not query.get(key):
            raise InvalidInputException(f"an input line of a {recipe.name} job needs {key}")
        ranked = runtime.recommend(
            backend,
            resources,
            version_arn,
            user_id=user_id,
            item_id=query.get("itemId"),
            n=job["numResults"],
            filter_arn=job.get("filterArn"),
            filter_values=query.get("filterValues"),
            exploration_config=(job.get("batchInferenceJobConfig") or {}).get("itemExplorationConfig"),
        )
    output: dict[str, Any] = {"recommendedItems": [item for item, _ in ranked]}
    if any(score is not None for _, score in ranked):
        output["scores"] = [score for _, score in ranked]
    return output


def _inputs(s3: Any, bucket: str, key: str) -> list[tuple[str, str]]:
    """``(key, text)`` of the input: the object at ``key``, or else every object under that prefix (as the
    service reads ``s3://bucket/folder`` and ``s3://bucket/folder/``)."""
    try:
        return [(key, s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8"))]
    except Exception as exc:
        try:
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
            keys = [o["Key"] for page in pages for o in page.get("Contents", []) if not o["Key"].endswith("/")]
            found = [(k, s3.get_object(Bucket=bucket, Key=k)["Body"].read().decode("utf-8")) for k in sorted(keys)]
        except Exception:
            found = []
        if not found:
            raise _JobFailed(f"Failed to read the input data at s3://{bucket}/{key}: {exc}") from exc
        return found


def _answered(location: str, body: str, answer: Callable[[dict[str, Any]], dict[str, Any]]) -> list[str]:
    """The output lines of one input file: a refused line gets its ``error``; a line that is no JSON fails the job."""
    lines = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            query = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _JobFailed(f"line {number} of {location} is not valid JSON: {exc}") from exc
        try:
            if not isinstance(query, dict):
                raise InvalidInputException("an input line must be a JSON object")
            output, error = answer(query), None
        except ServiceError as exc:
            output, error = None, exc.message
        except RecipeInputError as exc:
            output, error = None, str(exc)
        lines.append(json.dumps({"input": query, "output": output, "error": error}))
    return lines


def _run_json_lines(
    backend: PersonalizeBackend,
    job: dict[str, Any],
    arn: str,
    answer: Callable[[dict[str, Any]], dict[str, Any]],
    max_lines: int | None = None,
) -> str | None:
    """Answer every line of the job's JSON Lines input, each input file's answers in ``<its name>.out``
    under the output path; the failure reason, or ``None``."""
    try:
        paths = {"read": job["jobInput"]["s3DataSource"], "write": job["jobOutput"]["s3DataDestination"]}
        _check_access(backend, job, arn, paths)
        s3 = _s3(backend)
        in_bucket, in_key = _split(job["jobInput"]["s3DataSource"]["path"])
        out_bucket, out_prefix = _split(job["jobOutput"]["s3DataDestination"]["path"])
        inputs = _inputs(s3, in_bucket, in_key)
        total = sum(1 for _, body in inputs for line in body.splitlines() if line.strip())
        if max_lines is not None and total > max_lines:
            raise _JobFailed(
                f"The input data at s3://{in_bucket}/{in_key} has {total} lines; this job takes at most "
                f"{max_lines}. Split it into several jobs."
            )
        outputs = {key: _answered(f"s3://{in_bucket}/{key}", body, answer) for key, body in inputs}
        for key, lines in outputs.items():
            out_key = (out_prefix.rstrip("/") + "/" if out_prefix else "") + key.rsplit("/", 1)[-1] + ".out"
            s3.put_object(Bucket=out_bucket, Key=out_key, Body=("\n".join(lines) + "\n").encode())
    except _JobFailed as exc:
        return str(exc)
    return None


def run_batch_inference_job(backend: PersonalizeBackend, arn: str) -> str | None:
    """Read the job's JSON Lines input, write ``<input file>.out`` under the output path; the failure reason."""
    resources = backend.read()
    job = resources.find(arn, "batch_inference_job").attrs
    return _run_json_lines(backend, job, arn, lambda query: _answer(backend, resources, job, query))


#: Input lines a batch segment job takes, by recipe (the recipes' pages of the developer guide).
SEGMENT_INPUT_LINES = {"aws-item-affinity": 500, "aws-item-attribute-affinity": 10}


def run_batch_segment_job(backend: PersonalizeBackend, arn: str) -> str | None:
    """A batch segment job: one ``{"input", "output": {"usersList": [...]}, "error"}`` line per input line."""
    resources = backend.read()
    job = resources.find(arn, "batch_segment_job").attrs
    recipe_arn = resources.find(job["solutionVersionArn"], "solution_version").attrs["recipeArn"]
    model = runtime.model_for(backend, job["solutionVersionArn"], recipe_arn)
    key = "itemAttributes" if RECIPES[recipe_arn].name == "aws-item-attribute-affinity" else "itemId"

    def answer(query: dict[str, Any]) -> dict[str, Any]:
        value = query.get(key)
        if not isinstance(value, str) or not value.strip():
            raise InvalidInputException(f"an input line of a {RECIPES[recipe_arn].name} job needs {key} (a string)")
        ranked = model.segment(**{"item_id" if key == "itemId" else "item_attributes": value}, n=job["numResults"])
        return {"usersList": [user for user, _ in ranked]}

    return _run_json_lines(backend, job, arn, answer, SEGMENT_INPUT_LINES.get(RECIPES[recipe_arn].name))


def run_export_job(backend: PersonalizeBackend, arn: str) -> str | None:
    """Write the dataset's rows (BULK: imported, PUT: recorded with the events API, ALL: both) as CSV."""
    resources = backend.read()
    job = resources.find(arn, "dataset_export_job").attrs
    dataset = resources.find(job["datasetArn"], "dataset").attrs
    group = dataset["datasetGroupArn"].split("/")[1]
    try:
        _check_access(backend, job, arn, {"write": job["jobOutput"]["s3DataDestination"]})
        bucket, prefix = _split(job["jobOutput"]["s3DataDestination"]["path"])
        parts = []
        if job["ingestionMode"] in ("BULK", "ALL") or dataset["datasetType"] != "INTERACTIONS":
            imported = store.read_dataset(backend, group, dataset["datasetType"])
            if imported is not None:
                parts.append(imported)
        if job["ingestionMode"] in ("PUT", "ALL") and dataset["datasetType"] == "INTERACTIONS":
            events = store.read_events(backend.state, group)
            if not events.empty:
                parts.append(events[list(store.INTERACTION_COLUMNS)].dropna(axis=1, how="all"))
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        key = (prefix.rstrip("/") + "/" if prefix else "") + f"{job['jobName']}_{dataset['datasetType']}_0.csv"
        _s3(backend).put_object(Bucket=bucket, Key=key, Body=frame.to_csv(index=False).encode())
    except _JobFailed as exc:
        return str(exc)
    return None
