"""What every control-plane operation shares: the operation table, one declarative create path, and
Describe/List/Delete helpers driven by the kinds registry (:mod:`personalize_kit.kinds`).

A create is a :class:`Create`: the mirror checks the tags, the parent (it must exist and be ACTIVE), that
the name is free, the kind's quota, then the operation's own checks, records the resource and answers;
the family modules only say what is particular to their kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from personalize_kit.kinds import ACTIVE, CREATING, KINDS, Kind
from personalize_kit.local import lifecycle
from personalize_kit.local.backend import PersonalizeBackend
from personalize_kit.local.exceptions import (
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceInUseException,
    TooManyTagsException,
)
from personalize_kit.local.resources import Resource, Resources, new_resource, paginate

#: An operation of the mirror: the backend and the request's parameters in, the response dict out.
Operation = Callable[[PersonalizeBackend, dict[str, Any]], dict[str, Any]]
OPERATIONS: dict[str, Operation] = {}
MAX_TAGS = 200


def operation(func: Operation) -> Operation:
    """Register ``func`` under its CamelCase operation name (``create_schema`` -> ``CreateSchema``)."""
    OPERATIONS["".join(part.title() for part in func.__name__.split("_"))] = func
    return func


def check_tags(tags: list | None) -> None:
    if tags and len(tags) > MAX_TAGS:
        raise TooManyTagsException(f"The number of tags ({len(tags)}) exceeds the limit of {MAX_TAGS}.")


def group_of(resource: Resource | None) -> str | None:
    """The dataset group a resource belongs to (itself, for a dataset group)."""
    if resource is None:
        return None
    if resource.kind.name == "dataset_group":
        return resource.arn
    return resource.attrs.get("datasetGroupArn") or resource.internal.get("datasetGroupArn")


def _check_quota(resources: Resources, kind: Kind, group: str | None) -> None:
    quota = kind.quota
    if quota is None:
        return
    statuses = CREATING if quota.counted == "in_flight" else None
    if quota.per == "region":
        count = resources.count(kind.name, statuses=statuses, region=resources.region)
        where = "in this region" if statuses is None else "in progress"
    else:
        count = sum(1 for r in resources.all(kind.name) if group_of(r) == group)
        where = f"in dataset group {group}"
    if count >= quota.limit:
        raise LimitExceededException(
            f"You have reached the limit of {quota.limit} {kind.label.replace('_', ' ')}s {where}. "
            "Delete one or request a quota increase."
        )


@dataclass(frozen=True)
class Create:
    """How one kind is created; everything not said here is the shared path of :func:`create`."""

    kind: str
    #: The ARN of the new resource from the request.
    arn: Callable[[PersonalizeBackend, dict[str, Any]], str]
    #: The new resource's attributes (its ARN and status are added by :func:`create`).
    attrs: Callable[[Resources, dict[str, Any], Resource | None], dict[str, Any]]
    #: Request member naming the parent, which must exist and be ACTIVE.
    parent_param: str | None = None
    parent_kind: str | None = None
    #: Status of the new resource (None: the kind has none); ACTIVE ones go CREATE PENDING ->
    #: CREATE IN_PROGRESS -> ACTIVE at the mirror's pace.
    status: str | None = ACTIVE
    #: Checks of the request alone, before the transaction.
    prepare: Callable[[PersonalizeBackend, dict[str, Any]], None] | None = None
    #: Checks against the other resources, inside the transaction.
    check: Callable[[Resources, dict[str, Any], Resource | None], None] | None = None
    #: Work started once the record is committed (a job, a training), given the backend and the ARN.
    after: Callable[[PersonalizeBackend, str], None] | None = None
    #: Bookkeeping of the new record inside the transaction (a solution's automatic training schedule).
    added: Callable[[Resources, Resource], None] | None = None
    #: The answer; default ``{"<noun>Arn": arn}``.
    response: Callable[[Resource], dict[str, Any]] | None = None


def create(spec: Create, backend: PersonalizeBackend, params: dict[str, Any]) -> dict[str, Any]:
    """Create a resource the shared way (see the module docstring)."""
    kind = KINDS[spec.kind]
    check_tags(params.get("tags"))
    if spec.prepare is not None:
        spec.prepare(backend, params)
    arn = spec.arn(backend, params)
    with backend.transaction() as resources:
        resource = create_in(spec, backend, resources, params, arn)
    if spec.after is not None:
        spec.after(backend, arn)
    return spec.response(resource) if spec.response else {kind.arn_param: arn}


def create_in(
    spec: Create, backend: PersonalizeBackend, resources: Resources, params: dict[str, Any], arn: str
) -> Resource:
    """The checks and the record of :func:`create`, inside the caller's write transaction (the caller starts
    ``spec.after`` once it has committed)."""
    kind = KINDS[spec.kind]
    parent = None
    if spec.parent_param is not None:
        parent = resources.find(params[spec.parent_param], spec.parent_kind or kind.parent or "")
        parent.require_active()
    if resources.get(arn) is not None:
        raise ResourceAlreadyExistsException.for_arn(arn)
    group = group_of(parent)
    _check_quota(resources, kind, group)
    if spec.check is not None:
        spec.check(resources, params, parent)
    attrs = spec.attrs(resources, params, parent)
    attrs[kind.arn_param] = arn
    if spec.status is not None:
        attrs["status"] = spec.status
    resource = new_resource(arn, attrs, params.get("tags"))
    if group is not None:
        resource.internal["datasetGroupArn"] = group
    if spec.status == ACTIVE:
        lifecycle.start_create(resource, backend.settings.pace)
    if spec.after is not None:
        lifecycle.claim(resource)
    if spec.added is not None:
        spec.added(resources, resource)
    return resources.add(resource)


def describe(backend: PersonalizeBackend, params: dict[str, Any], kind_name: str) -> dict[str, Any]:
    kind = KINDS[kind_name]
    return {kind.noun: backend.get(params[kind.arn_param], kind_name).to_dict()}


def list_of(
    backend: PersonalizeBackend, params: dict[str, Any], kind_name: str, resources: list[Resource] | None = None
) -> dict[str, Any]:
    """One page of summaries, newest first; by default every resource of the kind whose attributes match the
    request's ``...Arn`` members."""
    kind = KINDS[kind_name]
    if resources is None:
        where = {key: value for key, value in params.items() if key.endswith("Arn")}
        resources = backend.read().all(kind_name, region=backend.region, **where)
    return paginate([r.to_dict() for r in reversed(resources)], params, kind.list_key)


def delete(
    backend: PersonalizeBackend,
    params: dict[str, Any],
    kind_name: str,
    check: Callable[[Resources, Resource], None] | None = None,
) -> dict[str, Any]:
    """Delete a resource the shared way: ``check`` (dependents), then DELETE PENDING -> gone at the pace;
    what goes with it is its kind's finalizer (``lifecycle.FINALIZERS``)."""
    kind = KINDS[kind_name]
    with backend.transaction() as resources:
        resource = resources.find(params[kind.arn_param], kind_name)
        lifecycle.check_deletable(resource)
        if check is not None:
            check(resources, resource)
        lifecycle.start_delete(backend, resources, resource)
    return {}


def delete_blocked(arn: str, what: str, dependents: list[str]) -> ResourceInUseException:
    return ResourceInUseException(
        f"Cannot delete {arn}: it still has {len(dependents)} {what} ({', '.join(dependents[:3])}). Delete them first."
    )


def register_reads(*kind_names: str) -> None:
    """Describe and List operations of kinds, where a family module did not define its own."""
    for name in kind_names:
        kind = KINDS[name]
        OPERATIONS.setdefault(kind.describe, lambda backend, params, _n=name: describe(backend, params, _n))
        OPERATIONS.setdefault(kind.list, lambda backend, params, _n=name: list_of(backend, params, _n))
