"""The data layer: raw sources (MovieLens, synthetic), preparation into Personalize's CSVs, validation."""

from __future__ import annotations

from personalize_kit.data.events import EventMapping, EventRule
from personalize_kit.data.prepare import PrepareResult, prepare
from personalize_kit.data.report import Problem, Report
from personalize_kit.data.resolve import open_source
from personalize_kit.data.schemas import FieldSpec, interactions_schema, make_schema, validate_schema
from personalize_kit.data.source import RATINGS_SCHEMA, RawDataset
from personalize_kit.data.synthetic import SyntheticConfig, generate, planted_successors
from personalize_kit.data.validate import validate_dataset, validate_directory

__all__ = [
    "RATINGS_SCHEMA",
    "EventMapping",
    "EventRule",
    "FieldSpec",
    "PrepareResult",
    "Problem",
    "RawDataset",
    "Report",
    "SyntheticConfig",
    "generate",
    "planted_successors",
    "interactions_schema",
    "make_schema",
    "open_source",
    "prepare",
    "validate_dataset",
    "validate_directory",
    "validate_schema",
]
