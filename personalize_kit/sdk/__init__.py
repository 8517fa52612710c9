"""The orchestration SDK: create-or-adopt steps for every Personalize resource, a declarative project file,
and the pipeline that runs the whole lifecycle on the local mirror or on AWS with the same code.

Every function takes a ``boto3.Session`` (``session=``); the local mirror is just another session.
"""

from __future__ import annotations

from personalize_kit.sdk._wait import wait
from personalize_kit.sdk.backend import Backend, aws_backend, local_backend, make_backend
from personalize_kit.sdk.cleanup import cleanup, plan_cleanup
from personalize_kit.sdk.domain import ensure_recommender
from personalize_kit.sdk.evaluate import evaluate_campaign, send_inputs
from personalize_kit.sdk.pipeline import PipelineResult, plan, prepare_data, run_batch, run_pipeline
from personalize_kit.sdk.project import Project, load_project, parse_project, recipe_name
from personalize_kit.sdk.resources import (
    Options,
    Outcome,
    arn,
    ensure_batch_inference_job,
    ensure_campaign,
    ensure_dataset,
    ensure_dataset_group,
    ensure_event_tracker,
    ensure_filter,
    ensure_import_job,
    ensure_schema,
    ensure_solution,
    ensure_solution_version,
    solution_metrics,
    upload,
)
from personalize_kit.sdk.stack import StackResources, stack_resources
from personalize_kit.sdk.status import campaigns, dataset_group_arn, pick_campaign, resource_tree, version_metrics

__all__ = [
    "Backend",
    "Options",
    "Outcome",
    "PipelineResult",
    "Project",
    "StackResources",
    "arn",
    "aws_backend",
    "campaigns",
    "cleanup",
    "dataset_group_arn",
    "ensure_batch_inference_job",
    "ensure_campaign",
    "evaluate_campaign",
    "ensure_dataset",
    "ensure_dataset_group",
    "ensure_event_tracker",
    "ensure_filter",
    "ensure_recommender",
    "ensure_import_job",
    "ensure_schema",
    "ensure_solution",
    "ensure_solution_version",
    "load_project",
    "local_backend",
    "make_backend",
    "parse_project",
    "pick_campaign",
    "plan",
    "plan_cleanup",
    "prepare_data",
    "recipe_name",
    "resource_tree",
    "run_batch",
    "run_pipeline",
    "send_inputs",
    "solution_metrics",
    "stack_resources",
    "upload",
    "version_metrics",
    "wait",
]
