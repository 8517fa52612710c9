"""The pipeline: prepare -> upload (SSE-KMS) -> schemas -> dataset group -> datasets -> import jobs ->
solutions -> solution versions -> metrics -> campaigns -> event tracker -> filters -> sample recommendations
(a domain project, ``domain:``: a domain dataset group and one recommender per use case instead of solutions).

Every step creates or adopts by name, so a second run with nothing changed creates nothing, and a run
killed at any point finishes when started again, without duplicates: import jobs are named after the
digest of their data, a running training is waited for rather than started again, a resource left
``CREATE FAILED`` is replaced and reported (``PipelineResult.replaced``), a resource a racing run made first
is adopted, and a campaign moves to a new solution version only when that version's metrics are not worse
(unless forced). :func:`plan` is this same pipeline in plan mode (``Options(plan=True)``).

>>> from personalize_kit.sdk import load_project, make_backend, run_pipeline
>>> project = load_project(None)                                         # doctest: +SKIP
>>> result = run_pipeline(project, make_backend("local", project))      # doctest: +SKIP
>>> result.created                                                       # doctest: +SKIP
[...]
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from personalize_kit.data.schemas import CSV_NAMES, SCHEMA_NAMES, domain_missing, load_schema
from personalize_kit.sdk import domain as d
from personalize_kit.sdk import resources as r
from personalize_kit.sdk._clients import client
from personalize_kit.sdk.backend import Backend
from personalize_kit.sdk.policies import BATCH_OUTPUT_PREFIX
from personalize_kit.sdk.project import Project, SolutionConfig

RECIPE_ARN = "arn:aws:personalize:::recipe/{}"
#: Seconds an adopted batch job's results may take to appear in their file (another run downloads them).
RESULTS_PATIENCE = 60.0
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
    #: A domain project's recommenders (``domain:`` in the project file, ``pipeline --domain``).
    recommenders: list[d.RecommenderRun] = field(default_factory=list)
    event_tracker: r.Outcome | None = None
    rows_written: dict[str, int] = field(default_factory=dict)
    options: r.Options = field(default_factory=r.Options, repr=False)
    force: bool = False
    say: Say | None = field(default=None, repr=False)

    @property
    def created(self) -> list[r.Outcome]:
        """What this run created or changed; empty when the run found everything in place."""
        return [o for o in self.outcomes if o.action in ("created", "updated", "replaced")]

    @property
    def replaced(self) -> list[tuple[str, str, str]]:
        """The failed resources this run replaced: ``(arn, status, failureReason)``."""
        return [failed for o in self.outcomes for failed in o.replaced]


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


def _import_data(
    project: Project, backend: Backend, prepared: Any, group: r.Outcome, result: PipelineResult, log: Callable
) -> datetime | None:
    """Schemas, datasets, uploads and import jobs; returns when the newest import finished (plan mode: a time
    after everything when data would be imported)."""
    options, out = result.options, Path(project.data.out)
    data_updated: datetime | None = None
    for kind in ("INTERACTIONS", "ITEMS", "USERS"):
        if kind not in prepared.files:
            continue
        csv_path = out / CSV_NAMES[kind]
        schema = load_schema(out / "schemas" / SCHEMA_NAMES[kind])
        missing = domain_missing(schema, project.domain) if project.domain else []
        if missing:  # the domain's variant of this dataset needs fields the data does not have
            if result.say is not None and not options.plan:
                result.say(f"skipped   {kind.lower()} dataset: {project.domain} needs {', '.join(missing)}")
            continue
        name = project.schema_name(kind)
        made = r.ensure_schema(name, schema, domain=project.domain, session=backend.session, options=options)
        schema_arn = log(made).arn
        dataset = log(r.ensure_dataset(group.arn, kind, schema_arn, session=backend.session, options=options))
        key = backend.s3_key(project, csv_path.name)
        uri, uploaded = r.upload(
            csv_path, backend.bucket, key, kms_key_arn=backend.kms_key_arn, session=backend.session, plan=options.plan
        )
        if uploaded and not options.plan and result.say is not None:
            result.say(f"uploaded  {uri} (SSE-KMS)")
        job_name = f"{project.name}-{kind.lower()}-{r.file_digest(csv_path)[:16]}"
        job = log(
            r.ensure_import_job(
                dataset.arn, uri, backend.role_arn, name=job_name, session=backend.session, options=options
            )
        )
        finished = r.PLANNED_NOW if job.action in ("create", "replace") else job.description.get("lastUpdatedDateTime")
        if finished is not None and (data_updated is None or finished > data_updated):
            data_updated = finished
    return data_updated


def _solution(
    project: Project,
    backend: Backend,
    config: SolutionConfig,
    group: r.Outcome,
    data_updated: datetime | None,
    result: PipelineResult,
    log: Callable,
) -> SolutionRun:
    """The solution, its version (trained when the data is newer), its metrics and its campaign."""
    options, session = result.options, backend.session
    solution = log(
        r.ensure_solution(
            group.arn,
            project.solution_name(config),
            RECIPE_ARN.format(config.recipe),
            hyperparameters=config.hyperparameters,
            event_type=config.event_type,
            session=session,
            options=options,
        )
    )
    version = log(
        r.ensure_solution_version(
            solution.arn,
            data_updated=data_updated,
            training_mode=config.training_mode,
            session=session,
            options=options,
        )
    )
    metrics = {} if options.plan else r.solution_metrics(version.arn, session=session)
    run = SolutionRun(config, solution, version, metrics)
    if config.campaign is not None:
        run.campaign = log(
            r.ensure_campaign(
                project.campaign_name(config),
                version.arn,
                min_provisioned_tps=config.campaign.min_provisioned_tps,
                campaign_config=config.campaign.campaign_config(),
                force=result.force,
                session=session,
                options=options,
            )
        )
    return run


def run_pipeline(
    project: Project,
    backend: Backend,
    *,
    force: bool = False,
    say: Say | None = None,
    options: r.Options | None = None,
    samples: bool = True,
) -> PipelineResult:
    """Run the whole lifecycle for ``project`` on ``backend``; see the module docstring for the steps.

    With ``options=Options(plan=True)`` nothing is created, uploaded or trained: each step answers what it
    would do (``result.outcomes``; see :func:`plan`)."""
    options = options or r.Options()
    result = PipelineResult(project, options=options, force=force, say=say)
    prepared = prepare_data(project, say=say)
    result.rows_written = {name: c.written for name, c in prepared.report.counts.items()}

    def log(outcome: r.Outcome) -> r.Outcome:
        result.outcomes.append(outcome)
        return outcome if options.plan else _log(say, outcome)

    group = log(
        r.ensure_dataset_group(
            project.name,
            role_arn=backend.role_arn,
            kms_key_arn=backend.kms_key_arn,
            tags=project.tags,
            domain=project.domain,
            session=backend.session,
            options=options,
        )
    )
    data_updated = _import_data(project, backend, prepared, group, result, log)
    for config in project.solutions:
        result.solutions.append(_solution(project, backend, config, group, data_updated, result, log))
    result.recommenders = d.run_recommenders(project, group.arn, session=backend.session, options=options, log=log)
    result.event_tracker = log(
        r.ensure_event_tracker(group.arn, project.tracker_name, session=backend.session, options=options)
    )
    for flt in project.filters:
        log(r.ensure_filter(group.arn, flt.name, flt.expression, session=backend.session, options=options))
    for batch in project.batch_inference:
        run = next(r for r in result.solutions if r.solution.name == batch.solution)
        log(
            run_batch(
                project,
                backend,
                Path(batch.input),
                version_arn=run.version.arn,
                solution=batch.solution,
                num_results=batch.num_results,
                download=Path(batch.output) if batch.output else None,
                options=options,
            )
        )
    if samples and not options.plan:
        for run in result.solutions:
            if run.campaign is not None:
                run.samples = _samples(backend, run, Path(project.data.out) / CSV_NAMES["INTERACTIONS"])
        for made in result.recommenders:
            made.samples = d.samples(made, Path(project.data.out) / CSV_NAMES["INTERACTIONS"], session=backend.session)
    return result


def batch_job_name(solution: str, version_arn: str, source: Path, num_results: int, filter_arn: str | None) -> str:
    """The batch job's name: the solution, the version and a digest of the input and the request, so the same
    request on the same version runs once (``pipeline`` and ``batch`` name it alike)."""
    digest = r.file_digest(source)
    if num_results != 25 or filter_arn:
        digest = hashlib.sha256(f"{digest}|{num_results}|{filter_arn or ''}".encode()).hexdigest()
    version = version_arn.rsplit("/", 1)[1][:8] if version_arn else "new"
    return f"{solution[:36]}-{version}-{digest[:12]}"


def run_batch(
    project: Project,
    backend: Backend,
    source: Path,
    *,
    version_arn: str,
    solution: str,
    num_results: int = 25,
    output_uri: str | None = None,
    download: Path | None = None,
    filter_arn: str | None = None,
    options: r.Options | None = None,
) -> r.Outcome:
    """Batch inference, the one step ``pipeline`` (``batch_inference:`` entries) and ``batch`` share: upload
    the input under the data prefix, run the job on the version once per input and request (a failed one is
    run again), and download ``<input>.out`` to ``download`` (default: beside the input)."""
    options = options or r.Options()
    if not source.is_file():
        from personalize_kit.exceptions import ProjectFileError

        raise ProjectFileError(f"batch input {source} does not exist; write one JSON object a line")
    name = batch_job_name(solution, version_arn, source, num_results, filter_arn)
    uri, _ = r.upload(
        source,
        backend.bucket,
        backend.s3_key(project, f"batch/{r.file_digest(source)[:16]}/{source.name}"),
        kms_key_arn=backend.kms_key_arn,
        session=backend.session,
        plan=options.plan,
    )
    output = output_uri or f"s3://{backend.bucket}/{BATCH_OUTPUT_PREFIX}{project.name}/{name}/"
    job = r.ensure_batch_inference_job(
        name,
        version_arn,
        uri,
        output,
        backend.role_arn,
        num_results=num_results,
        kms_key_arn=backend.kms_key_arn,
        filter_arn=filter_arn,
        session=backend.session,
        options=options,
    )
    if options.plan:
        return job
    location = job.description.get("jobOutput", {}).get("s3DataDestination", {}).get("path", output)
    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    key = f"{prefix}{source.name}.out"
    target = download or source.with_name(source.name + ".out")
    s3 = client("s3", backend.session)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        body = None
    if body is not None:
        partial = target.with_name(f".{target.name}.{os.getpid()}.part")
        partial.write_bytes(body)
        os.replace(partial, target)  # a run racing this one never reads half a file
    elif job.action != "adopted" or not _results_appear(target):
        # an adopted job's results may be gone: the local backend's S3 lives only in the process that ran
        # the job, which downloads them to the same file as soon as the job ends
        from personalize_kit.exceptions import MissingResourceError

        raise MissingResourceError(
            f"the results of batch inference job {job.name} are not at s3://{bucket}/{key} and not in {target}; "
            "run the job again on a changed input, or clean up the dataset group"
        )
    job.detail = (job.detail + "; " if job.detail else "") + f"results in {target}"
    job.description = {**job.description, "resultsUri": f"s3://{bucket}/{key}", "resultsFile": str(target)}
    return job


def _results_appear(target: Path, *, patience: float = RESULTS_PATIENCE) -> bool:
    """Whether the results file is there, or appears within ``patience`` seconds (the run that made the
    job is downloading it)."""
    deadline = time.monotonic() + patience
    while not target.is_file():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def plan(project: Project, backend: Backend, *, say: Say | None = None) -> list[tuple[str, str, str]]:
    """What :func:`run_pipeline` would do, as ``(kind, name, verdict)`` rows: the pipeline itself, run in plan
    mode (Describe and List calls only; the data is prepared locally to know its digest).

    A verdict is ``create``, ``adopt``, ``update``, ``replace`` (a failed resource made again), ``keep`` or
    ``conflict``, followed by the reason where there is one.
    """
    result = run_pipeline(project, backend, say=say, options=r.Options(plan=True), samples=False)
    return [
        (o.kind.replace("_", " "), o.name, o.action + (f": {o.detail}" if o.detail else "")) for o in result.outcomes
    ]
