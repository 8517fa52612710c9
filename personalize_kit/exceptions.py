"""Every error the toolkit raises on purpose, in one place.

Each message says what is wrong, where, and what to do about it. botocore's modelled service errors
(``client.exceptions.ResourceNotFoundException`` ...) are not wrapped: callers may want to catch them.
"""

from __future__ import annotations


class PersonalizeKitError(Exception):
    """Base class of the toolkit's errors."""


class DataSourceError(PersonalizeKitError):
    """Raw data cannot be found or read (unknown layout, missing file, unreadable row)."""


class DownloadError(PersonalizeKitError):
    """A MovieLens release could not be fetched or did not match its checksum."""


class ValidationError(PersonalizeKitError):
    """Prepared data breaks one of Amazon Personalize's blocking rules."""

    def __init__(self, message: str, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class SchemaError(PersonalizeKitError):
    """An Avro schema breaks Amazon Personalize's schema rules."""


class FilterSyntaxError(PersonalizeKitError):
    """A filter expression does not follow Amazon Personalize's filter grammar.

    ``position`` is the 0-based offset of the offending character in the expression; the message
    names what was expected, the column, and repeats the expression with a caret under the problem.
    """

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


class InvalidFilterValuesError(PersonalizeKitError):
    """A recommendation request's ``filterValues`` do not fit its filter (missing or malformed values)."""


class EvaluationError(PersonalizeKitError):
    """Offline metrics cannot be computed from the given recommendations, truth or split."""


class InfraConfigError(PersonalizeKitError, ValueError):
    """A CDK context parameter of the infrastructure app (``cdk.json`` or ``-c key=value``) is invalid."""


class RecipeNotAvailableError(PersonalizeKitError):
    """A service recipe has no local implementation yet: use another recipe or the real service."""


class RecipeInputError(PersonalizeKitError, ValueError):
    """A recipe got a request or hyperparameters it cannot take (e.g. SIMS asked for a user, not an item)."""


class ResourceFailedError(PersonalizeKitError):
    """A Personalize resource ended in a failed state; ``failure_reason`` is the service's own words."""

    def __init__(self, arn: str, status: str, failure_reason: str | None) -> None:
        reason = failure_reason or "the service gave no reason"
        super().__init__(f"{arn} ended {status}: {reason}")
        self.arn, self.status, self.failure_reason = arn, status, failure_reason


class WaitTimeoutError(PersonalizeKitError):
    """A resource did not reach a final state in time; it may still get there (wait again, or raise the timeout)."""

    def __init__(self, arn: str, status: str, seconds: float) -> None:
        super().__init__(
            f"{arn} is still {status} after {seconds:.0f}s; wait again (it keeps going on the service) "
            "or pass a longer timeout"
        )
        self.arn, self.status, self.seconds = arn, status, seconds


class ProjectFileError(PersonalizeKitError, ValueError):
    """The project file is malformed; the message names the key (e.g. ``solutions[1].recipe``) and the fix."""


class ResourceConflictError(PersonalizeKitError):
    """A resource of that name exists with other settings, and Personalize cannot change it in place
    (schemas, solutions and filters are immutable): give the new version another name, or clean up first."""


class StackOutputsError(PersonalizeKitError):
    """The CDK stack's outputs (bucket, role, key) cannot be read for ``--backend aws``."""


class MissingResourceError(PersonalizeKitError, LookupError):
    """A resource a command needs does not exist (dataset group, campaign, solution, filter, event tracker);
    the message names the ones that do and how to create the missing one."""


class StateError(PersonalizeKitError):
    """The mirror's state directory cannot be used (not a directory, unreadable, a foreign database)."""
