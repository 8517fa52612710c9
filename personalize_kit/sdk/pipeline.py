"""The pipeline: prepare -> upload (SSE-KMS) -> schemas -> dataset group -> datasets -> import jobs ->
solutions -> solution versions -> metrics -> campaigns -> event tracker -> filters -> sample recommendations.

Every step creates or adopts by name, so a second run with nothing changed creates nothing, and a run
killed at any point finishes when started again, without duplicates: import jobs are named after the
digest of their data, a running training is waited for rather than started again, and a campaign moves
to a new solution version only when that version's metrics are not worse (unless forced).

>>> from personalize_kit.sdk import load_project, make_backend, run_pipeline
>>> project = load_project(None)                                         # doctest: +SKIP
>>> result = run_pipeline(project, make_backend("local", project))      # doctest: +SKIP
>>> result.created                                                       # doctest: +SKIP
[...]
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from personalize_kit.data.schemas import CSV_NAMES, SCHEMA_NAMES, load_schema
from personalize_kit.sdk import resources as r
from personalize_kit.sdk._clients import client
from personalize_kit.sdk.backend import Backend
from personalize_kit.sdk.policies import BATCH_OUTPUT_PREFIX
from personalize_kit.sdk.project import Project, SolutionConfig

RECIPE_ARN = "arn:aws:personalize:::recipe/{}"
Say = Callable[[str], None]


@dataclass
class SolutionRun:
    config: SolutionConfig
    solution: r.Outcome
    version: r.Outcome
    metrics: dict[str, float]
    campaign: r.Outcome | None = None
    samples: list[tuple[str, list[str]]] = field(default_factory=list)


@dataclass
class PipelineResult:
    project: Project
    outcomes: list[r.Outcome] = field(default_factory=list)
    solutions: list[SolutionRun] = field(default_factory=list)
    event_tracker: r.Outcome | None = None
    rows_written: dict[str, int] = field(default_factory=dict)

    @property
    def created(self) -> list[r.Outcome]:
        """What this run created or changed; empty when the run found everything in place."""
        return [o for o in self.outcomes if o.action in ("created", "updated")]


def _log(say: Say | None, outcome: r.Outcome) -> r.Outcome:
    if say is not None:
        detail = f"  ({outcome.detail})" if outcome.detail else ""
        say(f"{outcome.action:>8}  {outcome.kind.replace('_', ' '):<18} {outcome.name}{detail}")
    return outcome


def prepare_data(project: Project, *, say: Say | None = None) -> Any:
    """Prepare the project's data into ``project.data.out`` (a local step: no AWS call)."""
    from personalize_kit.data.events import EventMapping
    from personalize_kit.data.prepare import prepare
    from personalize_kit.data.resolve import open_source
    from personalize_kit.exceptions import ValidationError

    data = project.data
    raw = open_source(data.source, interactions=data.interactions, seed=data.seed, notice=say)
    result = prepare(
        raw,
        data.out,
        mapping=EventMapping.parse(data.event_mapping, value=data.event_value),
        realtime_features=data.realtime_features,
    )
    if not result.report.ok:
        raise ValidationError(
            "the prepared data cannot be imported: "
            + "; ".join(str(p) for p in result.report.errors[:3])
            + f" (see `python -m personalize_kit validate {data.out}`)",
            result.report,
        )
    if say is not None:
        counts = result.report.counts
        say(
            f"prepared {raw.origin or raw.name}: "
            + ", ".join(f"{name} {c.written:,} rows" for name, c in counts.items())
        )
    return result


def _sample_users(path: Path, n: int = 3) -> list[str]:
    users: list[str] = []
    with open(path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["USER_ID"] not in users:
                users.append(row["USER_ID"])
            if len(users) == n:
                break
    return users


def _samples(backend: Backend, run: SolutionRun, interactions: Path) -> list[tuple[str, list[str]]]:
    assert run.campaign is not None
    runtime = client("personalize-runtime", backend.session)
    out = []
    users = _sample_users(interactions)
    if run.config.recipe == "aws-sims":
        with open(interactions, newline="", encoding="utf-8") as handle:
            item = next(csv.DictReader(handle))["ITEM_ID"]
        response = runtime.get_recommendations(campaignArn=run.campaign.arn, itemId=item, numResults=5)
        out.append((f"item {item}", [i["itemId"] for i in response["itemList"]]))
    elif run.config.recipe.startswith("aws-personalized-ranking"):
        with open(interactions, newline="", encoding="utf-8") as handle:
            rows = itertools.islice(csv.DictReader(handle), 200)
            items = list(dict.fromkeys(row["ITEM_ID"] for row in rows))[:10]
        for user in users[:2]:
            response = runtime.get_personalized_ranking(campaignArn=run.campaign.arn, userId=user, inputList=items)
            out.append((f"user {user} (ranking 10)", [i["itemId"] for i in response["personalizedRanking"]][:5]))
    else:
        for user in users:
            response = runtime.get_recommendations(campaignArn=run.campaign.arn, userId=user, numResults=5)
            out.append((f"user {user}", [i["itemId"] for i in response["itemList"]]))
    return out


def run_pipeline(
    project: Project,
    backend: Backend,
    *,
    force: bool = False,
    say: Say | None = None,
    options: r.Options | None = None,
    samples: bool = True,
) -> PipelineResult:
    """Run the whole lifecycle for ``project`` on ``backend``; see the module docstring for the steps."""
    options = options or r.Options()
    session = backend.session
    result = PipelineResult(project)
    add = result.outcomes.append
    prepared = prepare_data(project, say=say)
    result.rows_written = {name: c.written for name, c in prepared.report.counts.items()}
    out = Path(project.data.out)

    group = _log(
        say,
        r.ensure_dataset_group(
            project.name,
            role_arn=backend.role_arn,
            kms_key_arn=backend.kms_key_arn,
            tags=project.tags,
            session=session,
            options=options,
        ),
    )
    add(group)
    data_updated: datetime | None = None
    for kind in ("INTERACTIONS", "ITEMS", "USERS"):
        csv_path = out / CSV_NAMES[kind]
        if kind not in prepared.files:
            continue
        schema = load_schema(out / "schemas" / SCHEMA_NAMES[kind])
        add(_log(say, r.ensure_schema(project.schema_name(kind), schema, session=session)))
        dataset = _log(
            say, r.ensure_dataset(group.arn, kind, result.outcomes[-1].arn, session=session, options=options)
        )
        add(dataset)
        digest = r.file_digest(csv_path)
        uri, uploaded = r.upload(
            csv_path,
            backend.bucket,
            backend.s3_key(project, csv_path.name),
            kms_key_arn=backend.kms_key_arn,
            session=session,
        )
        if say is not None and uploaded:
            say(f"uploaded  {uri} (SSE-KMS)")
        job = _log(
            say,
            r.ensure_import_job(
                dataset.arn,
                uri,
                backend.role_arn,
                name=f"{project.name}-{kind.lower()}-{digest[:16]}",
                session=session,
                options=options,
            ),
        )
        add(job)
        finished = job.description.get("lastUpdatedDateTime")
        if finished is not None and (data_updated is None or finished > data_updated):
            data_updated = finished

    for config in project.solutions:
        name = project.solution_name(config)
        solution = _log(
            say,
            r.ensure_solution(
                group.arn,
                name,
                RECIPE_ARN.format(config.recipe),
                hyperparameters=config.hyperparameters,
                event_type=config.event_type,
                session=session,
                options=options,
            ),
        )
        add(solution)
        version = _log(
            say,
            r.ensure_solution_version(
                solution.arn,
                data_updated=data_updated,
                training_mode=config.training_mode,
                session=session,
                options=options,
            ),
        )
        add(version)
        run = SolutionRun(config, solution, version, r.solution_metrics(version.arn, session=session))
        if config.campaign is not None:
            campaign = _log(
                say,
                r.ensure_campaign(
                    project.campaign_name(config),
                    version.arn,
                    min_provisioned_tps=config.campaign.min_provisioned_tps,
                    campaign_config=config.campaign.campaign_config(),
                    force=force,
                    session=session,
                    options=options,
                ),
            )
            add(campaign)
            run.campaign = campaign
        result.solutions.append(run)

    result.event_tracker = _log(
        say, r.ensure_event_tracker(group.arn, project.tracker_name, session=session, options=options)
    )
    add(result.event_tracker)
    for flt in project.filters:
        add(_log(say, r.ensure_filter(group.arn, flt.name, flt.expression, session=session, options=options)))
    for batch in project.batch_inference:
        run = next(r for r in result.solutions if r.solution.name == batch.solution)
        add(_log(say, run_batch(project, backend, batch, run.version.arn, options=options)))
    if samples:
        for run in result.solutions:
            if run.campaign is not None:
                run.samples = _samples(backend, run, out / CSV_NAMES["INTERACTIONS"])
    return result


def run_batch(
    project: Project, backend: Backend, batch: Any, version_arn: str, *, options: r.Options | None = None
) -> r.Outcome:
    """Batch inference for one ``batch_inference`` entry: upload the input under the data prefix, run the job
    on the version (once per version and input), and download ``<input>.out`` to ``batch.output``."""
    source = Path(batch.input)
    if not source.is_file():
        from personalize_kit.exceptions import ProjectFileError

        raise ProjectFileError(f"batch_inference input {source} does not exist; write one JSON object a line")
    digest = r.file_digest(source)
    name = f"{batch.solution[:36]}-{version_arn.rsplit('/', 1)[1][:8]}-{digest[:12]}"
    uri, _ = r.upload(
        source,
        backend.bucket,
        backend.s3_key(project, f"batch/{digest[:16]}/{source.name}"),
        kms_key_arn=backend.kms_key_arn,
        session=backend.session,
    )
    output = f"s3://{backend.bucket}/{BATCH_OUTPUT_PREFIX}{project.name}/{name}/"
    job = r.ensure_batch_inference_job(
        name,
        version_arn,
        uri,
        output,
        backend.role_arn,
        num_results=batch.num_results,
        kms_key_arn=backend.kms_key_arn,
        session=backend.session,
        options=options,
    )
    location = job.description.get("jobOutput", {}).get("s3DataDestination", {}).get("path", output)
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    body = client("s3", backend.session).get_object(Bucket=bucket, Key=f"{prefix}{source.name}.out")["Body"].read()
    target = Path(batch.output) if batch.output else source.with_name(source.name + ".out")
    target.write_bytes(body)
    job.detail = (job.detail + "; " if job.detail else "") + f"results in {target}"
    return job


def plan(project: Project, backend: Backend, *, say: Say | None = None) -> list[tuple[str, str, str]]:
    """What :func:`run_pipeline` would do, as ``(kind, name, verdict)`` rows, from Describe calls only.

    The data is prepared locally (to know its digest); nothing is created in the account.
    """
    personalize = client("personalize", backend.session)
    prepared = prepare_data(project, say=say)
    out = Path(project.data.out)
    rows: list[tuple[str, str, str]] = []

    def exists(kind: str, name: str, operation: str, param: str, key: str) -> dict | None:
        return r._describe(personalize, operation, param, r.arn(kind, name, session=backend.session), key)

    group = exists("dataset-group", project.name, "describe_dataset_group", "datasetGroupArn", "datasetGroup")
    rows.append(("dataset group", project.name, "exists" if group else "create"))
    new_data = False
    for kind in ("INTERACTIONS", "ITEMS", "USERS"):
        if kind not in prepared.files:
            continue
        schema_name = project.schema_name(kind)
        found = exists("schema", schema_name, "describe_schema", "schemaArn", "schema")
        wanted = load_schema(out / "schemas" / SCHEMA_NAMES[kind])
        import json

        verdict = (
            "create"
            if found is None
            else (
                "exists"
                if json.loads(found["schema"]) == wanted
                else "CONFLICT: the schema changed; schemas are immutable: name a new one under schemas:"
            )
        )
        rows.append(("schema", schema_name, verdict))
        dataset_arn = r.arn("dataset", f"{project.name}/{kind}", session=backend.session)
        dataset = r._describe(personalize, "describe_dataset", "datasetArn", dataset_arn, "dataset")
        rows.append(("dataset", f"{project.name}/{kind}", "exists" if dataset else "create"))
        job = f"{project.name}-{kind.lower()}-{r.file_digest(out / CSV_NAMES[kind])[:16]}"
        found_job = exists(
            "dataset-import-job", job, "describe_dataset_import_job", "datasetImportJobArn", "datasetImportJob"
        )
        rows.append(("import job", job, "exists (same data)" if found_job else "create (new data)"))
        new_data = new_data or found_job is None
    for config in project.solutions:
        name = project.solution_name(config)
        solution = exists("solution", name, "describe_solution", "solutionArn", "solution")
        rows.append(("solution", name, "exists" if solution else "create"))
        trained = False
        if solution:
            versions = personalize.list_solution_versions(solutionArn=solution["solutionArn"])["solutionVersions"]
            trained = any(v["status"] == "ACTIVE" for v in versions)
        rows.append(("solution version", name, "train" if new_data or not trained else "keep (trained on this data)"))
        if config.campaign is not None:
            campaign_name = project.campaign_name(config)
            campaign = exists("campaign", campaign_name, "describe_campaign", "campaignArn", "campaign")
            verdict = (
                "create"
                if not campaign
                else ("update if the new version is not worse" if new_data or not trained else "keep")
            )
            rows.append(("campaign", campaign_name, verdict))
    trackers = (
        personalize.list_event_trackers(datasetGroupArn=group["datasetGroupArn"])["eventTrackers"] if group else []
    )
    rows.append(("event tracker", project.tracker_name, "exists" if trackers else "create"))
    for flt in project.filters:
        found = exists("filter", flt.name, "describe_filter", "filterArn", "filter")
        verdict = (
            "create"
            if not found
            else (
                "exists"
                if found["filterExpression"] == flt.expression
                else "CONFLICT: the expression changed; filters are immutable"
            )
        )
        rows.append(("filter", flt.name, verdict))
    return rows
