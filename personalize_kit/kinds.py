"""The kinds of Amazon Personalize resource, written down once.

Each :class:`Kind` says what the service's API says of one kind of resource: its ARN type, its parent
kind, the statuses it passes through, the names of its Create/Describe/List/Delete operations and their
keys, and its quota. The offline mirror (``personalize_kit.local``), the SDK's waits, ``plan``,
``cleanup`` and ``status`` all read this table: adding a kind is one entry in :data:`KINDS`.

This module imports nothing of the toolkit (a leaf), so any layer can use it.

>>> KINDS["dataset_import_job"].describe, KINDS["dataset_import_job"].arn_param
('DescribeDatasetImportJob', 'datasetImportJobArn')
>>> KINDS["campaign"].parent, KINDS["campaign"].quota
('solution_version', Quota(limit=5, per='dataset_group', counted='all'))
>>> kind_of_arn("arn:aws:personalize:us-east-1:123456789012:dataset-group/movielens").name
'dataset_group'
"""

from __future__ import annotations

from dataclasses import dataclass

# The statuses of the service, as the API spells them.
CREATE_PENDING = "CREATE PENDING"
CREATE_IN_PROGRESS = "CREATE IN_PROGRESS"
#: The ARN of a service recipe (and of a domain use case) is this prefix and its name.
RECIPE_ARN_PREFIX = "arn:aws:personalize:::recipe/"
ACTIVE = "ACTIVE"
CREATE_FAILED = "CREATE FAILED"
CREATE_STOPPING = "CREATE STOPPING"
CREATE_STOPPED = "CREATE STOPPED"
DELETE_PENDING = "DELETE PENDING"
DELETE_IN_PROGRESS = "DELETE IN_PROGRESS"
DELETE_FAILED = "DELETE FAILED"
UPDATE_PENDING = "UPDATE PENDING"
UPDATE_IN_PROGRESS = "UPDATE IN_PROGRESS"
UPDATE_FAILED = "UPDATE FAILED"
#: Batch jobs spell their first two states without "CREATE".
PENDING = "PENDING"
IN_PROGRESS = "IN PROGRESS"
STOP_PENDING = "STOP PENDING"
STOP_IN_PROGRESS = "STOP IN_PROGRESS"
INACTIVE = "INACTIVE"
START_PENDING = "START PENDING"
START_IN_PROGRESS = "START IN_PROGRESS"
#: Data deletion jobs spell their states in their own way.
DELETION_IN_PROGRESS = "IN_PROGRESS"
COMPLETED = "COMPLETED"
JOB_FAILED = "FAILED"

#: Statuses from which a resource will still move on by itself.
IN_FLIGHT = (
    CREATE_PENDING,
    CREATE_IN_PROGRESS,
    CREATE_STOPPING,
    PENDING,
    IN_PROGRESS,
    UPDATE_PENDING,
    UPDATE_IN_PROGRESS,
    DELETE_PENDING,
    DELETE_IN_PROGRESS,
    STOP_PENDING,
    STOP_IN_PROGRESS,
    START_PENDING,
    START_IN_PROGRESS,
    DELETION_IN_PROGRESS,
)
#: Statuses still being created (a waiter keeps waiting; a delete is refused).
CREATING = (CREATE_PENDING, CREATE_IN_PROGRESS, CREATE_STOPPING, PENDING, IN_PROGRESS, DELETION_IN_PROGRESS)
#: Statuses of a resource being deleted.
DELETING = (DELETE_PENDING, DELETE_IN_PROGRESS)
#: Statuses that end a wait for ACTIVE with a failure.
FAILED = (CREATE_FAILED, CREATE_STOPPED, DELETE_FAILED, UPDATE_FAILED, JOB_FAILED)

_RESOURCE = (CREATE_PENDING, CREATE_IN_PROGRESS, ACTIVE, CREATE_FAILED, DELETE_PENDING, DELETE_IN_PROGRESS)
#: A job's statuses, in this order: waiting, running, done, failed.
_IMPORT_JOB = (CREATE_PENDING, CREATE_IN_PROGRESS, ACTIVE, CREATE_FAILED)
_BATCH_JOB = (PENDING, IN_PROGRESS, ACTIVE, CREATE_FAILED)
_DELETION_JOB = (PENDING, DELETION_IN_PROGRESS, COMPLETED, JOB_FAILED)
_VERSION = (CREATE_PENDING, CREATE_IN_PROGRESS, ACTIVE, CREATE_FAILED, CREATE_STOPPING, CREATE_STOPPED)
_RECOMMENDER = _RESOURCE + (STOP_PENDING, STOP_IN_PROGRESS, INACTIVE, START_PENDING, START_IN_PROGRESS)
#: A metric attribution goes through UPDATE PENDING -> UPDATE IN_PROGRESS itself when updated.
_METRIC_ATTRIBUTION = _RESOURCE + (UPDATE_PENDING, UPDATE_IN_PROGRESS)


@dataclass(frozen=True)
class Quota:
    """At most ``limit`` resources of a kind ``per`` region or parent resource (``counted``: all, or in flight).

    The limits are the service's default quotas, from its quota page ("Amazon Personalize endpoints and
    quotas", https://docs.aws.amazon.com/personalize/latest/dg/limits.html, section "Service quotas"); an
    account may have had them raised, which the mirror does not model.
    """

    limit: int
    per: str = "region"
    counted: str = "all"


@dataclass(frozen=True)
class Kind:
    """One kind of resource. ``noun`` is its camelCase name in the API (``datasetGroup``)."""

    name: str
    noun: str
    arn_type: str
    parent: str | None
    statuses: tuple[str, ...] = ()
    plural: str = ""
    deletable: bool = True
    quota: Quota | None = None
    #: Name of the member holding the update in flight (``latestCampaignUpdate``), if the kind has one.
    update_member: str | None = None

    @property
    def done(self) -> str:
        """The status a finished resource of this kind has (ACTIVE; COMPLETED for a data deletion job)."""
        return COMPLETED if COMPLETED in self.statuses else ACTIVE

    @property
    def title(self) -> str:
        """``DatasetGroup``: the kind as it appears in operation names."""
        return self.noun[0].upper() + self.noun[1:]

    @property
    def arn_param(self) -> str:
        return f"{self.noun}Arn"

    @property
    def create(self) -> str:
        return f"Create{self.title}"

    @property
    def describe(self) -> str:
        return f"Describe{self.title}"

    @property
    def list(self) -> str:
        return f"List{self.title}s"

    @property
    def list_key(self) -> str:
        return self.plural or f"{self.noun}s"

    @property
    def delete(self) -> str | None:
        return f"Delete{self.title}" if self.deletable else None

    @property
    def label(self) -> str:
        """``dataset group``: the kind in a sentence."""
        return self.name.replace("_", " ")

    def snake(self, operation: str) -> str:
        """The boto3 method name of an operation (``DescribeDatasetGroup`` -> ``describe_dataset_group``)."""
        return "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")


_ENTRIES = (
    Kind("schema", "schema", "schema", None, (), deletable=True),
    Kind("dataset_group", "datasetGroup", "dataset-group", None, _RESOURCE, quota=Quota(5)),
    Kind("dataset", "dataset", "dataset", "dataset_group", _RESOURCE, update_member="latestDatasetUpdate"),
    Kind(
        "dataset_import_job",
        "datasetImportJob",
        "dataset-import-job",
        "dataset",
        _IMPORT_JOB,
        deletable=False,
        quota=Quota(5, "region", "in_flight"),
    ),
    Kind("dataset_export_job", "datasetExportJob", "dataset-export-job", "dataset", _IMPORT_JOB, deletable=False),
    Kind("solution", "solution", "solution", "dataset_group", _RESOURCE, quota=Quota(10, "dataset_group")),
    Kind(
        "solution_version",
        "solutionVersion",
        "solution",
        "solution",
        _VERSION,
        deletable=False,
        quota=Quota(20, "region", "in_flight"),
    ),
    Kind(
        "campaign",
        "campaign",
        "campaign",
        "solution_version",
        _RESOURCE,
        quota=Quota(5, "dataset_group"),
        update_member="latestCampaignUpdate",
    ),
    Kind("event_tracker", "eventTracker", "event-tracker", "dataset_group", _RESOURCE),
    Kind("filter", "filter", "filter", "dataset_group", _RESOURCE, plural="Filters", quota=Quota(30, "dataset_group")),
    Kind(
        "batch_inference_job",
        "batchInferenceJob",
        "batch-inference-job",
        "solution_version",
        _BATCH_JOB,
        deletable=False,
    ),
    Kind("batch_segment_job", "batchSegmentJob", "batch-segment-job", "solution_version", _BATCH_JOB, deletable=False),
    Kind(
        "recommender",
        "recommender",
        "recommender",
        "dataset_group",
        _RECOMMENDER,
        update_member="latestRecommenderUpdate",
    ),
    Kind("metric_attribution", "metricAttribution", "metric-attribution", "dataset_group", _METRIC_ATTRIBUTION),
    Kind(
        "data_deletion_job",
        "dataDeletionJob",
        "data-deletion-job",
        "dataset_group",
        _DELETION_JOB,
        deletable=False,
        quota=Quota(5, "region", "in_flight"),
    ),
)

#: Every kind, by name.
KINDS: dict[str, Kind] = {kind.name: kind for kind in _ENTRIES}
#: Kinds by ARN type, for the ARN types that name one kind (``solution`` names solutions and versions).
_BY_ARN_TYPE: dict[str, Kind] = {kind.arn_type: kind for kind in reversed(_ENTRIES)}


def kind_of_arn(arn: str) -> Kind:
    """The kind an ARN names (a solution version's ARN has one path segment more than its solution's).

    >>> kind_of_arn("arn:aws:personalize:us-east-1:123456789012:solution/up/1a2b3c").name
    'solution_version'
    """
    resource = arn.split(":", 5)[-1]
    arn_type, _, path = resource.partition("/")
    if arn_type == "solution" and "/" in path:
        return KINDS["solution_version"]
    try:
        return _BY_ARN_TYPE[arn_type]
    except KeyError:
        raise ValueError(f"{arn} is not the ARN of a Personalize resource") from None


def children(name: str) -> list[Kind]:
    """The kinds whose parent is ``name``."""
    return [kind for kind in _ENTRIES if kind.parent == name]


__all__ = ["ACTIVE", "CREATING", "DELETING", "FAILED", "IN_FLIGHT", "KINDS", "Kind", "Quota", "children", "kind_of_arn"]
