"""The service's errors, as the mirror answers them.

Each carries the error code that botocore maps to its modelled exception class
(``client.exceptions.ResourceNotFoundException`` ...) and a message in the service's style.
"""

from __future__ import annotations


class ServiceError(Exception):
    """An error answer of the service: ``code``, ``message`` and the HTTP status."""

    code = "InternalFailure"
    status = 400

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status


class InvalidInputException(ServiceError):
    code = "InvalidInputException"


class ResourceNotFoundException(ServiceError):
    code = "ResourceNotFoundException"

    @classmethod
    def for_arn(cls, arn: str, **kwargs: int) -> ResourceNotFoundException:
        return cls(f"Resource Arn {arn} does not exist.", **kwargs)


class ResourceAlreadyExistsException(ServiceError):
    code = "ResourceAlreadyExistsException"

    @classmethod
    def for_arn(cls, arn: str) -> ResourceAlreadyExistsException:
        return cls(f"Another resource with Arn {arn} already exists.")


class ResourceInUseException(ServiceError):
    code = "ResourceInUseException"


class LimitExceededException(ServiceError):
    code = "LimitExceededException"


class TooManyTagsException(ServiceError):
    code = "TooManyTagsException"


class InvalidNextTokenException(ServiceError):
    code = "InvalidNextTokenException"


class InternalFailure(ServiceError):
    """The mirror itself failed (a bug, or its files): a short reason; the traceback is in its log."""

    code = "InternalFailure"
    status = 500
